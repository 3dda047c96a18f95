// Package wasmfile is a small, strict reader of WebAssembly core module
// binaries for the analyzers: imports with their resolved signatures,
// exports, memories, data segments (with their position in the file) and
// custom section names.
//
// It exists because the runtime's compiler (wazero's CompileModule) does not
// expose data segments, and the analyzers need exactly those: Go's module
// information, embedded URLs and secrets all live there. It reads hostile
// input: every length is checked against the bytes that remain, every count
// is capped, LEB128 overflow is an error, and it never allocates more than a
// small multiple of the input. It does not validate function bodies.
package wasmfile

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ValType is a value type as encoded in the binary format.
type ValType byte

// Value types of the core specification (with SIMD and reference types).
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(0x%02x)", byte(t))
}

func (t ValType) valid() bool {
	switch t {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

// FuncType is a function signature.
type FuncType struct {
	Params  []ValType
	Results []ValType
}

// String formats the signature as "(i32, i64) -> (i32)".
func (ft FuncType) String() string {
	return "(" + joinTypes(ft.Params) + ") -> (" + joinTypes(ft.Results) + ")"
}

func joinTypes(ts []ValType) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.String()
	}
	return s
}

// Equal reports whether two signatures are identical.
func (ft FuncType) Equal(o FuncType) bool {
	if len(ft.Params) != len(o.Params) || len(ft.Results) != len(o.Results) {
		return false
	}
	for i := range ft.Params {
		if ft.Params[i] != o.Params[i] {
			return false
		}
	}
	for i := range ft.Results {
		if ft.Results[i] != o.Results[i] {
			return false
		}
	}
	return true
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// Extern kinds.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
	KindTag    ExternKind = 4
)

func (k ExternKind) String() string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Import is one entry of the import section.
type Import struct {
	Module string
	Name   string
	Kind   ExternKind
	// TypeIndex is the function type index (KindFunc, KindTag).
	TypeIndex uint32
	// Type is the resolved signature for KindFunc and KindTag imports.
	Type *FuncType
	// Memory is set for KindMemory imports.
	Memory *Memory
	// Offset is the file offset of the import entry.
	Offset int64
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// Memory is a linear memory's limits, in 64 KiB pages.
type Memory struct {
	Min      uint64
	Max      uint64 // meaningful only when HasMax
	HasMax   bool
	Shared   bool
	Memory64 bool
	Imported bool
}

// DataSegment is one entry of the data section.
type DataSegment struct {
	// Passive segments are copied by memory.init; active ones are placed
	// at Address of memory MemIndex at instantiation.
	Passive  bool
	MemIndex uint32
	// Address is the constant load address of an active segment, when its
	// offset expression is a plain constant (AddressKnown).
	Address      uint64
	AddressKnown bool
	// Offset is the file offset of the segment's first data byte.
	Offset int64
	// Data is the segment's bytes: a sub-slice of the input, not a copy.
	Data []byte
}

// CustomSection is a custom section's name and payload.
type CustomSection struct {
	Name   string
	Offset int64 // file offset of the payload after the name
	Size   int64
	// Data is the payload: a sub-slice of the input, not a copy.
	Data []byte
}

// Module is what Parse read.
type Module struct {
	Types     []FuncType
	Imports   []Import
	Functions []uint32 // type index of each defined function
	Memories  []Memory // imported memories first, then defined ones
	Exports   []Export
	Data      []DataSegment
	Custom    []CustomSection
	// HasStart is set when the module has a start function (which runs at
	// instantiation, before any export is called).
	HasStart   bool
	StartIndex uint32
}

// FuncType returns the signature of the function at index idx of the
// function index space (imported functions first, then defined ones).
func (m *Module) FuncType(idx uint32) (FuncType, bool) {
	n := uint32(0)
	for _, im := range m.Imports {
		if im.Kind != KindFunc {
			continue
		}
		if n == idx {
			return *im.Type, true
		}
		n++
	}
	i := uint64(idx) - uint64(n)
	if uint64(idx) < uint64(n) || i >= uint64(len(m.Functions)) {
		return FuncType{}, false
	}
	return m.Types[m.Functions[i]], true
}

// Limits on counts. Each mirrors the implementation limits that the
// WebAssembly JS API mandates for every engine, so a module rejected here
// would not load in a browser either.
const (
	maxTypes      = 1_000_000
	maxFunctions  = 1_000_000
	maxImports    = 100_000
	maxExports    = 100_000
	maxDataSegs   = 100_000
	maxParams     = 1_000
	maxResults    = 1_000
	maxMemories   = 100
	maxNameLen    = 100_000 // bytes in one import, export or custom-section name
	maxConstInstr = 64      // instructions in one constant expression
)

// Error is a parse error: which section, at which file offset, and why.
type Error struct {
	Section string
	Offset  int64
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("wasmfile: %s at offset %d (0x%x): %v", e.Section, e.Offset, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes, for errors.Is.
var (
	ErrTruncated = errors.New("unexpected end of data")
	ErrOverflow  = errors.New("LEB128 integer overflows its type")
	ErrLimit     = errors.New("count exceeds the limit")
)

var sectionNames = [...]string{
	0: "custom section", 1: "type section", 2: "import section", 3: "function section",
	4: "table section", 5: "memory section", 6: "global section", 7: "export section",
	8: "start section", 9: "element section", 10: "code section", 11: "data section",
	12: "data count section", 13: "tag section",
}

// sectionOrder is the position each known non-custom section must keep; the
// tag section sits between memory and global, data count before code.
var sectionOrder = map[byte]int{
	1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13,
}

// Parse reads a WebAssembly core module. The returned module's data
// segments share memory with b.
func Parse(b []byte) (*Module, error) {
	top := &reader{b: b, section: "module header"}
	if len(b) < 8 {
		return nil, top.errf(ErrTruncated, "%d bytes is shorter than the 8-byte header", len(b))
	}
	if string(b[:4]) != "\x00asm" {
		return nil, top.errf(nil, "not a WebAssembly module: magic %q, want \"\\x00asm\"", b[:4])
	}
	switch v := b[4:8]; {
	case v[0] == 1 && v[1] == 0 && v[2] == 0 && v[3] == 0:
	case v[2] == 1 && v[3] == 0:
		return nil, top.errf(nil, "a WebAssembly component (layer 1), not a core module")
	default:
		return nil, top.errf(nil, "unsupported binary version % x, want 01 00 00 00", v)
	}
	top.pos = 8

	m := &Module{}
	last := 0
	var dataCount int64 = -1
	for top.pos < len(b) {
		top.section = "section header"
		idOff := top.pos
		id, err := top.byte()
		if err != nil {
			return nil, err
		}
		size, err := top.u32()
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(top.left()) {
			return nil, top.errf(ErrTruncated, "section %d declares %d bytes but %d remain", id, size, top.left())
		}
		body := &reader{b: b[:top.pos+int(size)], pos: top.pos, section: sectionName(id)}
		top.pos += int(size)

		if id != 0 {
			ord, ok := sectionOrder[id]
			if !ok {
				return nil, &Error{Section: "section header", Offset: int64(idOff), Err: fmt.Errorf("unknown section id %d", id)}
			}
			if ord <= last {
				return nil, &Error{Section: sectionName(id), Offset: int64(idOff), Err: errors.New("out of order or duplicated")}
			}
			last = ord
		}
		switch id {
		case 0:
			err = body.custom(m)
		case 1:
			err = body.types(m)
		case 2:
			err = body.imports(m)
		case 3:
			err = body.functions(m)
		case 5:
			err = body.memories(m)
		case 7:
			err = body.exports(m)
		case 8:
			m.StartIndex, err = body.u32()
			m.HasStart = err == nil
		case 11:
			err = body.data(m)
		case 12:
			var n uint32
			n, err = body.u32()
			dataCount = int64(n)
		default:
			// Tables, globals, elements, code and tags are not needed by
			// the analyzers; their bounds were checked above.
			body.pos = len(body.b)
		}
		if err != nil {
			return nil, err
		}
		if body.pos != len(body.b) {
			return nil, body.errf(nil, "%d unread bytes at the end of the section", len(body.b)-body.pos)
		}
	}
	if dataCount >= 0 && dataCount != int64(len(m.Data)) {
		return nil, &Error{Section: "data count section", Offset: int64(len(b)), Err: fmt.Errorf("declares %d data segments but the data section has %d", dataCount, len(m.Data))}
	}
	return m, nil
}

func sectionName(id byte) string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("section %d", id)
}

// reader reads b[pos:]; b is the enclosing slice cut at the section's end,
// so positions are file offsets.
type reader struct {
	b       []byte
	pos     int
	section string
}

func (r *reader) left() int { return len(r.b) - r.pos }

func (r *reader) errf(sentinel error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if sentinel != nil {
		err = fmt.Errorf("%w: %w", sentinel, err)
	}
	return &Error{Section: r.section, Offset: int64(r.pos), Err: err}
}

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, r.errf(ErrTruncated, "want 1 more byte")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) bytes(n uint64) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, r.errf(ErrTruncated, "length %d exceeds the %d bytes left", n, r.left())
	}
	s := r.b[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	start := r.pos
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if r.pos >= len(r.b) {
			r.pos = start
			return 0, r.errf(ErrTruncated, "in a LEB128 integer")
		}
		c := r.b[r.pos]
		r.pos++
		if shift+7 >= bits {
			// Last permitted byte: no continuation, and the bits above
			// the type's width must be zero.
			if c&0x80 != 0 || uint64(c)>>(bits-shift) != 0 {
				r.pos = start
				return 0, r.errf(ErrOverflow, "u%d", bits)
			}
			return v | uint64(c)<<shift, nil
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

// sleb reads a signed LEB128 of at most bits bits.
func (r *reader) sleb(bits uint) (int64, error) {
	start := r.pos
	var v int64
	for shift := uint(0); ; shift += 7 {
		if r.pos >= len(r.b) {
			r.pos = start
			return 0, r.errf(ErrTruncated, "in a LEB128 integer")
		}
		c := r.b[r.pos]
		r.pos++
		if shift+7 >= bits {
			// Last permitted byte: the payload bits from the sign bit up
			// must all equal the sign bit.
			payload := c & 0x7f
			rem := bits - shift // value bits in this byte, 1..7
			high, mask := payload>>(rem-1), byte(0x7f)>>(rem-1)
			if c&0x80 != 0 || (high != 0 && high != mask) {
				r.pos = start
				return 0, r.errf(ErrOverflow, "s%d", bits)
			}
			v |= int64(payload) << shift
			return v << (64 - bits) >> (64 - bits), nil
		}
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v, nil
		}
	}
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	return uint32(v), err
}

// count reads a vector length, capped by limit and by the bytes left (every
// element takes at least minSize bytes).
func (r *reader) count(what string, limit, minSize int) (int, error) {
	at := r.pos
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(limit) {
		r.pos = at
		return 0, r.errf(ErrLimit, "%d %s, the limit is %d", n, what, limit)
	}
	if left := r.left(); uint64(n)*uint64(minSize) > uint64(left) {
		r.pos = at
		return 0, r.errf(ErrTruncated, "%d %s cannot fit in the %d bytes left", n, what, left)
	}
	return int(n), nil
}

func (r *reader) name() (string, error) {
	at := r.pos
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if n > maxNameLen {
		r.pos = at
		return "", r.errf(ErrLimit, "name of %d bytes, the limit is %d", n, maxNameLen)
	}
	b, err := r.bytes(uint64(n))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		r.pos = at
		return "", r.errf(nil, "name is not valid UTF-8")
	}
	return string(b), nil
}

func (r *reader) custom(m *Module) error {
	name, err := r.name()
	if err != nil {
		return err
	}
	m.Custom = append(m.Custom, CustomSection{Name: name, Offset: int64(r.pos), Size: int64(r.left()), Data: r.b[r.pos:len(r.b):len(r.b)]})
	r.pos = len(r.b)
	return nil
}

func (r *reader) valTypes(what string, limit int) ([]ValType, error) {
	n, err := r.count(what, limit, 1)
	if err != nil {
		return nil, err
	}
	ts := make([]ValType, n)
	for i := range ts {
		c, _ := r.byte() // count checked the length
		if t := ValType(c); !t.valid() {
			r.pos--
			return nil, r.errf(nil, "unknown value type 0x%02x", c)
		}
		ts[i] = ValType(c)
	}
	return ts, nil
}

func (r *reader) types(m *Module) error {
	n, err := r.count("types", maxTypes, 3)
	if err != nil {
		return err
	}
	m.Types = make([]FuncType, 0, n)
	for range n {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			r.pos--
			return r.errf(nil, "type form 0x%02x is not a function type (0x60); GC types are not supported", form)
		}
		var ft FuncType
		if ft.Params, err = r.valTypes("parameters", maxParams); err != nil {
			return err
		}
		if ft.Results, err = r.valTypes("results", maxResults); err != nil {
			return err
		}
		m.Types = append(m.Types, ft)
	}
	return nil
}

func (r *reader) typeIndex(m *Module) (uint32, *FuncType, error) {
	at := r.pos
	idx, err := r.u32()
	if err != nil {
		return 0, nil, err
	}
	if uint64(idx) >= uint64(len(m.Types)) {
		r.pos = at
		return 0, nil, r.errf(nil, "type index %d out of range (%d types)", idx, len(m.Types))
	}
	return idx, &m.Types[idx], nil
}

func (r *reader) limits(memory bool) (Memory, error) {
	at := r.pos
	flags, err := r.byte()
	if err != nil {
		return Memory{}, err
	}
	allowed := byte(0x05) // has max, 64-bit
	if memory {
		allowed = 0x07 // and shared
	}
	if flags&^allowed != 0 {
		r.pos = at
		return Memory{}, r.errf(nil, "unknown limits flags 0x%02x", flags)
	}
	mem := Memory{HasMax: flags&1 != 0, Shared: flags&2 != 0, Memory64: flags&4 != 0}
	bits := uint(32)
	if mem.Memory64 {
		bits = 64
	}
	if mem.Min, err = r.uleb(bits); err != nil {
		return Memory{}, err
	}
	if mem.HasMax {
		if mem.Max, err = r.uleb(bits); err != nil {
			return Memory{}, err
		}
		if mem.Max < mem.Min {
			r.pos = at
			return Memory{}, r.errf(nil, "maximum %d is below minimum %d", mem.Max, mem.Min)
		}
	}
	if mem.Shared && !mem.HasMax {
		r.pos = at
		return Memory{}, r.errf(nil, "a shared memory must declare a maximum")
	}
	return mem, nil
}

func (r *reader) imports(m *Module) error {
	n, err := r.count("imports", maxImports, 4)
	if err != nil {
		return err
	}
	m.Imports = make([]Import, 0, n)
	for range n {
		im := Import{Offset: int64(r.pos)}
		if im.Module, err = r.name(); err != nil {
			return err
		}
		if im.Name, err = r.name(); err != nil {
			return err
		}
		k, err := r.byte()
		if err != nil {
			return err
		}
		im.Kind = ExternKind(k)
		switch im.Kind {
		case KindFunc:
			if im.TypeIndex, im.Type, err = r.typeIndex(m); err != nil {
				return err
			}
		case KindTable:
			if _, err = r.byte(); err != nil { // reference type
				return err
			}
			if _, err = r.limits(false); err != nil {
				return err
			}
		case KindMemory:
			mem, err := r.limits(true)
			if err != nil {
				return err
			}
			if len(m.Memories) >= maxMemories {
				return r.errf(ErrLimit, "more than %d memories", maxMemories)
			}
			mem.Imported = true
			m.Memories = append(m.Memories, mem)
			im.Memory = &mem // a copy: m.Memories may still grow
		case KindGlobal:
			t, err := r.byte()
			if err != nil {
				return err
			}
			if !ValType(t).valid() {
				r.pos--
				return r.errf(nil, "unknown global type 0x%02x", t)
			}
			mut, err := r.byte()
			if err != nil {
				return err
			}
			if mut > 1 {
				r.pos--
				return r.errf(nil, "global mutability %d is neither 0 nor 1", mut)
			}
		case KindTag:
			attr, err := r.byte()
			if err != nil {
				return err
			}
			if attr != 0 {
				r.pos--
				return r.errf(nil, "tag attribute %d, want 0", attr)
			}
			if im.TypeIndex, im.Type, err = r.typeIndex(m); err != nil {
				return err
			}
		default:
			r.pos--
			return r.errf(nil, "unknown import kind %d for %q.%q", k, im.Module, im.Name)
		}
		m.Imports = append(m.Imports, im)
	}
	return nil
}

func (r *reader) functions(m *Module) error {
	n, err := r.count("functions", maxFunctions, 1)
	if err != nil {
		return err
	}
	m.Functions = make([]uint32, n)
	for i := range m.Functions {
		if m.Functions[i], _, err = r.typeIndex(m); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) memories(m *Module) error {
	n, err := r.count("memories", maxMemories, 2)
	if err != nil {
		return err
	}
	if len(m.Memories)+n > maxMemories {
		return r.errf(ErrLimit, "more than %d memories", maxMemories)
	}
	for range n {
		mem, err := r.limits(true)
		if err != nil {
			return err
		}
		m.Memories = append(m.Memories, mem)
	}
	return nil
}

func (r *reader) exports(m *Module) error {
	n, err := r.count("exports", maxExports, 3)
	if err != nil {
		return err
	}
	m.Exports = make([]Export, 0, n)
	seen := make(map[string]struct{}, n)
	for range n {
		at := r.pos
		var ex Export
		if ex.Name, err = r.name(); err != nil {
			return err
		}
		k, err := r.byte()
		if err != nil {
			return err
		}
		if k > byte(KindTag) {
			r.pos--
			return r.errf(nil, "unknown export kind %d for %q", k, ex.Name)
		}
		ex.Kind = ExternKind(k)
		if ex.Index, err = r.u32(); err != nil {
			return err
		}
		if _, dup := seen[ex.Name]; dup {
			r.pos = at
			return r.errf(nil, "duplicate export name %q", ex.Name)
		}
		seen[ex.Name] = struct{}{}
		m.Exports = append(m.Exports, ex)
	}
	return nil
}

func (r *reader) data(m *Module) error {
	n, err := r.count("data segments", maxDataSegs, 2)
	if err != nil {
		return err
	}
	m.Data = make([]DataSegment, 0, n)
	for range n {
		at := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		var seg DataSegment
		switch flags {
		case 0:
			seg.Address, seg.AddressKnown, err = r.constExpr()
		case 1:
			seg.Passive = true
		case 2:
			if seg.MemIndex, err = r.u32(); err == nil {
				seg.Address, seg.AddressKnown, err = r.constExpr()
			}
		default:
			r.pos = at
			return r.errf(nil, "unknown data segment flags %d", flags)
		}
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		seg.Offset = int64(r.pos)
		if seg.Data, err = r.bytes(uint64(size)); err != nil {
			return err
		}
		m.Data = append(m.Data, seg)
	}
	return nil
}

// constExpr reads a constant expression up to its end opcode. It returns
// the value when the expression is a single i32.const or i64.const, the
// form every toolchain emits for data offsets.
func (r *reader) constExpr() (uint64, bool, error) {
	var (
		val   uint64
		known bool
	)
	for i := 0; ; i++ {
		if i == maxConstInstr {
			return 0, false, r.errf(ErrLimit, "constant expression longer than %d instructions", maxConstInstr)
		}
		op, err := r.byte()
		if err != nil {
			return 0, false, err
		}
		switch op {
		case 0x0b: // end
			return val, known && i == 1, nil
		case 0x41: // i32.const
			v, err := r.sleb(32)
			if err != nil {
				return 0, false, err
			}
			val, known = uint64(uint32(v)), true
		case 0x42: // i64.const
			v, err := r.sleb(64)
			if err != nil {
				return 0, false, err
			}
			val, known = uint64(v), true
		case 0x23, 0xd2: // global.get, ref.func
			if _, err := r.u32(); err != nil {
				return 0, false, err
			}
		case 0xd0: // ref.null
			if _, err := r.byte(); err != nil {
				return 0, false, err
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		default:
			r.pos--
			return 0, false, r.errf(nil, "opcode 0x%02x is not allowed in a constant expression", op)
		}
	}
}
