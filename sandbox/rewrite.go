package sandbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// globalExportPrefix names the exports the load-time rewrite adds for the
// module's mutable globals; a module may not use it itself.
const globalExportPrefix = "__gatehouse_global_"

// resetInfo is what the load-time rewrite learnt about whether an instance
// of the module can be reset to a snapshot between calls.
type resetInfo struct {
	// globals are the export names of every mutable global, in index
	// order.
	globals []string
	// unsafe, when not empty, says why an instance cannot be reset: the
	// module holds state outside its memory and globals that the host
	// cannot restore (a table it can change, a segment it can drop) or
	// a construct this reader does not know. Such a module gets a fresh
	// instance per call instead.
	unsafe string
	// interrupt is whether the rewrite added the interrupt checks (see
	// interrupt.go); without them the plugin's runtime falls back to
	// wazero's WithCloseOnContextDone.
	interrupt bool
}

// prepareModule returns the module the sandbox compiles: its data segments
// coalesced (see coalesceData), its tables bounded (see boundTables),
// every mutable global exported under a reserved name, so that the host
// can read and restore it, and, with interrupts, the checks that let the
// host stop a running guest (see interrupt.go). The rewrite is
// deterministic, so the compilation cache still hits on the next load.
//
// A module that already exports a name under the reserved prefix is
// refused, and so is one that cannot be split into sections or whose
// sections claim more entries than they have bytes (see checkCounts). One
// whose insides this reader cannot follow is returned with only its data
// coalesced and reset marked unsafe.
func prepareModule(mod []byte, interrupts bool) ([]byte, resetInfo, error) {
	mod = coalesceData(mod)
	secs, err := splitSections(mod)
	if err != nil {
		return nil, resetInfo{}, err
	}
	if err := checkCounts(secs); err != nil {
		return nil, resetInfo{}, err
	}
	for i, s := range secs {
		if s.id != 4 {
			continue
		}
		body, err := boundTables(s.body)
		if err != nil {
			return nil, resetInfo{}, err
		}
		secs[i].body = body
		// Every module returned from here on carries the bounded tables.
		mod = joinSections(mod[:8], secs)
	}
	var (
		importedGlobals uint32
		mutable         []uint32
		exportIdx       = -1
		info            resetInfo
		code            []byte
	)
	for i, s := range secs {
		switch s.id {
		case 2:
			n, err := countImportedGlobals(s.body)
			if err != nil {
				return mod, resetInfo{unsafe: err.Error()}, nil
			}
			importedGlobals = n
		case 6:
			m, why := mutableGlobals(s.body)
			if why != "" {
				return mod, resetInfo{unsafe: why}, nil
			}
			mutable = m
		case 7:
			exportIdx = i
			names, err := exportNames(s.body)
			if err != nil {
				return mod, resetInfo{unsafe: err.Error()}, nil
			}
			for _, n := range names {
				if len(n) >= len(globalExportPrefix) && n[:len(globalExportPrefix)] == globalExportPrefix {
					return nil, resetInfo{}, fmt.Errorf("the module exports %q; names starting with %s are reserved for the sandbox", n, globalExportPrefix)
				}
			}
		case 10:
			code = s.body
		}
	}
	var extra []byte
	exports := 0
	export := func(name string, idx uint32) {
		extra = append(extra, wasmString(name)...)
		extra = append(extra, 0x03) // global
		extra = binary.AppendUvarint(extra, uint64(idx))
		exports++
	}
	for k, idx := range mutable {
		name := globalExportPrefix + strconv.Itoa(k)
		info.globals = append(info.globals, name)
		export(name, importedGlobals+idx)
	}
	// The interrupt checks (see interrupt.go): two globals after the
	// module's own, so no index the module uses moves.
	// Instrumenting reads every instruction, and says what
	// stateOutsideMemory would; otherwise that is a pass of its own.
	if interrupts {
		if secs2, why, ok := instrumentInterrupts(secs, importedGlobals); ok {
			secs = secs2
			info.interrupt, info.unsafe = true, why
			defined := importedGlobals + definedGlobals(secs) - 2
			export(countdownExport, defined)
			export(stopExport, defined+1)
		}
	}
	if !info.interrupt && code != nil {
		info.unsafe = stateOutsideMemory(code)
	}
	if exports == 0 {
		return joinSections(mod[:8], secs), info, nil
	}
	exportIdx = -1
	for i, s := range secs {
		if s.id == 7 {
			exportIdx = i
		}
	}
	var body []byte
	if exportIdx >= 0 {
		old := secs[exportIdx].body
		count, k := binary.Uvarint(old)
		body = binary.AppendUvarint(body, count+uint64(exports))
		body = append(body, old[k:]...)
	} else {
		body = binary.AppendUvarint(body, uint64(exports))
		// The export section goes after the global section and before
		// start, element, data count, code and data.
		exportIdx = insertAt(secs, 8, 9, 10, 11, 12)
		secs = append(secs[:exportIdx], append([]wasmSection{{id: 7}}, secs[exportIdx:]...)...)
	}
	body = append(body, extra...)
	secs[exportIdx].body = body

	return joinSections(mod[:8], secs), info, nil
}

// insertAt returns where a new section goes: before the first section
// whose id is one of after, or at the end.
func insertAt(secs []wasmSection, after ...byte) int {
	for i, s := range secs {
		if bytes.IndexByte(after, s.id) >= 0 {
			return i
		}
	}
	return len(secs)
}

// definedGlobals returns how many globals the global section defines.
func definedGlobals(secs []wasmSection) uint32 {
	for _, s := range secs {
		if s.id == 6 {
			r := &reader{p: s.body}
			return uint32(r.count())
		}
	}
	return 0
}

// instrumentInterrupts adds the countdown and stop globals and the checks
// that read them (see interrupt.go). It returns false, and the sections
// unchanged, for a module without a memory of its own or with code the
// reader does not know.
func instrumentInterrupts(secs []wasmSection, importedGlobals uint32) ([]wasmSection, string, bool) {
	codeIdx, memOK := -1, false
	for i, s := range secs {
		switch s.id {
		case 5:
			memOK = hasOwnMemory(s.body)
		case 10:
			codeIdx = i
		}
	}
	if !memOK || codeIdx < 0 {
		return secs, "", false
	}
	defined := definedGlobals(secs)
	countdown, stop := importedGlobals+defined, importedGlobals+defined+1
	code, why, ok := instrumentCode(secs[codeIdx].body, countdown, stop)
	if !ok {
		return secs, "", false
	}
	out := append([]wasmSection(nil), secs...)
	out[codeIdx].body = code
	// i32, mutable, i32.const interruptInterval / 0.
	globals := []byte{0x7f, 0x01, 0x41}
	globals = appendSLEB32(globals, int64(interruptInterval))
	globals = append(globals, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	gi := -1
	for i, s := range out {
		if s.id == 6 {
			gi = i
		}
	}
	if gi >= 0 {
		old := out[gi].body
		count, k := binary.Uvarint(old)
		body := binary.AppendUvarint(nil, count+2)
		body = append(body, old[k:]...)
		out[gi].body = append(body, globals...)
	} else {
		gi = insertAt(out, 7, 8, 9, 10, 11, 12)
		body := append(binary.AppendUvarint(nil, 2), globals...)
		out = append(out[:gi], append([]wasmSection{{id: 6, body: body}}, out[gi:]...)...)
	}
	return out, why, true
}

// joinSections writes a module: the header and the sections in order.
func joinSections(header []byte, secs []wasmSection) []byte {
	n := len(header)
	for _, s := range secs {
		n += 1 + binary.MaxVarintLen32 + len(s.body)
	}
	out := make([]byte, 0, n)
	out = append(out, header...)
	for _, s := range secs {
		out = append(out, s.id)
		out = binary.AppendUvarint(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out
}

// maxTableEntries bounds the entries of all of a module's tables together,
// at instantiation and after any table.grow: wazero gives each entry eight
// bytes outside the memory cap, so a sixty-byte table section asking for
// eight tables of 2^27 entries had it allocate 8 GiB, and table.grow on a
// table without a maximum can ask for 32 GiB more. Go's compiler declares
// one table of a few thousand entries and never grows it.
const maxTableEntries = 1 << 20

// boundTables returns the table section with every table's maximum set so
// that the tables together never hold more than maxTableEntries: the room
// their minimums leave is shared out evenly, and a declared maximum below
// its share is kept. table.grow past a maximum fails with -1, as the
// specification allows, instead of allocating. A module whose minimums
// alone pass the bound, or whose table form this reader does not know, is
// refused.
func boundTables(body []byte) ([]byte, error) {
	type table struct {
		ref      byte
		min, max uint64
		hasMax   bool
	}
	r := &reader{p: body}
	var (
		tables []table
		sum    uint64
	)
	for n := r.count(); n > 0 && r.err == nil; n-- {
		t := table{ref: r.byte()}
		flags := r.byte()
		if r.err == nil && (t.ref != 0x70 && t.ref != 0x6f || flags > 1) {
			return nil, fmt.Errorf("the module declares a table of a form the sandbox does not know (type 0x%x, limits 0x%x); only funcref and externref tables with 32-bit limits load", t.ref, flags)
		}
		t.min = r.uleb()
		if t.hasMax = flags == 1; t.hasMax {
			t.max = r.uleb()
		}
		if sum += t.min; sum > maxTableEntries {
			return nil, fmt.Errorf("the module's tables ask for more than %d entries; the sandbox refuses it so that they cannot exhaust the host's memory", maxTableEntries)
		}
		tables = append(tables, t)
	}
	if r.err != nil || len(r.p) != 0 {
		return nil, errors.New("the module is not valid WebAssembly: its table section is not well formed")
	}
	if len(tables) == 0 {
		return body, nil
	}
	share := (maxTableEntries - sum) / uint64(len(tables))
	out := binary.AppendUvarint(nil, uint64(len(tables)))
	for _, t := range tables {
		max := t.min + share
		if t.hasMax && t.max < max {
			max = t.max
		}
		out = append(out, t.ref, 0x01)
		out = binary.AppendUvarint(out, t.min)
		out = binary.AppendUvarint(out, max)
	}
	return out, nil
}

// checkCounts refuses a module whose section claims more entries than it
// has bytes. wazero sizes its tables by the claimed count before reading
// the entries, so a few bytes claiming a billion imports would make it
// allocate gigabytes and take the host down.
func checkCounts(secs []wasmSection) error {
	for _, s := range secs {
		switch s.id {
		case 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13:
			n, k := binary.Uvarint(s.body)
			if k <= 0 || n > uint64(len(s.body)-k) {
				return fmt.Errorf("the module is not valid WebAssembly: section %d claims %d entries in %d bytes", s.id, n, len(s.body))
			}
		}
	}
	if err := checkVectors(secs); err != nil {
		return err
	}
	return checkTypeIndices(secs)
}

// checkTypeIndices refuses a function, imported or defined, whose type
// index is past the type section: wazero v1.12.0's validator indexes the
// type section with it unchecked when it meets a call to that function,
// and panicked (found by FuzzPrepareModule).
func checkTypeIndices(secs []wasmSection) error {
	var types uint64
	for _, s := range secs {
		if s.id == 1 {
			r := &reader{p: s.body}
			types = r.count()
		}
	}
	bad := fmt.Errorf("the module is not valid WebAssembly: a function's type index is past its %d types", types)
	for _, s := range secs {
		r := &reader{p: s.body}
		switch s.id {
		case 2:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				r.name()
				r.name()
				switch r.byte() {
				case 0x00: // function
					if r.uleb() >= types && r.err == nil {
						return bad
					}
				case 0x01: // table
					r.valType()
					r.limits()
				case 0x02: // memory
					r.limits()
				case 0x03: // global
					r.valType()
					r.byte()
				case 0x04: // tag
					r.byte()
					r.uleb()
				default:
					r.fail()
				}
			}
		case 3:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				if r.uleb() >= types && r.err == nil {
					return bad
				}
			}
		}
		if r.err != nil {
			return fmt.Errorf("the module is not valid WebAssembly: section %d cannot be read", s.id)
		}
	}
	return nil
}

// maxLocals bounds the locals one function may declare. wazero allocates
// the declared count before it reads the body, so a function declaring
// four billion locals in six bytes would have it allocate gigabytes (found
// by FuzzPrepareModule). V8 and Wasmtime refuse more than 50,000; Go's
// compiler declares a few dozen.
const maxLocals = 50_000

// errInflated marks a vector that claims more entries than the bytes left
// to hold them.
var errInflated = errors.New("the module is not valid WebAssembly: a vector claims more entries than it has bytes")

// checkVectors walks the vectors inside the sections whose length wazero
// allocates before it reads their entries (function types' parameters and
// results, names of imports, exports and custom sections, element
// segments, data segments, the "name" section's names)
// and refuses one that claims more entries than the bytes that remain, and
// a function that declares more than maxLocals locals. Found by
// FuzzPrepareModule: a 17-byte element section claiming a hundred million
// entries had wazero allocate gigabytes. A section the walker cannot read
// is refused: wazero reads some forms it does not (GC reference types),
// and a vector behind one of those went unchecked.
func checkVectors(secs []wasmSection) error {
	for _, s := range secs {
		r := &reader{p: s.body}
		switch s.id {
		case 0:
			customNames(r)
		case 2:
			_, err := countImportedGlobals(s.body)
			r.err = err
		case 7:
			_, err := exportNames(s.body)
			r.err = err
		case 1:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				if r.byte() != 0x60 {
					r.fail()
					break
				}
				for k := r.count(); k > 0; k-- {
					r.valType()
				}
				for k := r.count(); k > 0; k-- {
					r.valType()
				}
			}
		case 9:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				elementSegment(r)
			}
		case 10:
			for i, n := uint64(0), r.count(); i < n && r.err == nil; i++ {
				fn := &reader{p: r.bytes(r.uleb())}
				var sum uint64
				for k := fn.count(); k > 0 && fn.err == nil; k-- {
					sum += fn.uleb()
					fn.valType()
					if sum > maxLocals {
						return fmt.Errorf("the module's function %d declares more than %d locals; the sandbox refuses it so that compiling it cannot exhaust the host's memory", i, maxLocals)
					}
				}
				if fn.err != nil {
					r.err = fn.err
				}
			}
		case 11:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				switch r.uleb() {
				case 0:
					constExpr(r)
				case 1:
				case 2:
					r.uleb()
					constExpr(r)
				default:
					r.fail()
				}
				r.bytes(r.uleb())
			}
		}
		switch {
		case errors.Is(r.err, errInflated):
			return fmt.Errorf("%w (section %d)", errInflated, s.id)
		case r.err != nil:
			// wazero may read a form this walker does not (a GC
			// reference type, say) and then size an allocation by what
			// follows, so what cannot be checked is refused.
			return fmt.Errorf("the module is not valid WebAssembly or uses a form the sandbox does not accept in section %d (only WebAssembly 2.0 value and reference types load)", s.id)
		}
	}
	return nil
}

// elementSegment reads one element segment; its flags say which fields
// follow (core specification 5.5.12).
func elementSegment(r *reader) {
	flags := r.uleb()
	if flags > 7 {
		r.fail()
		return
	}
	if flags&3 == 2 { // explicit table index
		r.uleb()
	}
	if flags&1 == 0 { // active: an offset
		constExpr(r)
	}
	if flags&3 != 0 { // element kind (funcref's 0x00) or reference type
		switch k := r.byte(); {
		case flags&4 == 0 && k != 0x00, flags&4 != 0 && k != 0x70 && k != 0x6f:
			r.fail()
			return
		}
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		if flags&4 == 0 {
			r.uleb() // function index
		} else {
			constExpr(r)
		}
	}
}

// customNames reads the "name" custom section's function and local names,
// which wazero decodes into slices sized by their counts.
func customNames(r *reader) {
	if r.name() != "name" {
		return
	}
	for len(r.p) > 0 && r.err == nil {
		id := r.byte()
		sub := &reader{p: r.bytes(r.uleb())}
		switch id {
		case 1: // function names
			for n := sub.count(); n > 0 && sub.err == nil; n-- {
				sub.uleb()
				sub.name()
			}
		case 2: // local names
			for n := sub.count(); n > 0 && sub.err == nil; n-- {
				sub.uleb()
				for k := sub.count(); k > 0 && sub.err == nil; k-- {
					sub.uleb()
					sub.name()
				}
			}
		}
		if sub.err != nil {
			r.err = sub.err
		}
	}
}

type wasmSection struct {
	id   byte
	body []byte
}

var errMalformed = errors.New("the module is not valid WebAssembly: its sections are not well formed")

func splitSections(mod []byte) ([]wasmSection, error) {
	if len(mod) < 8 || !bytes.Equal(mod[:8], []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return nil, errMalformed
	}
	var secs []wasmSection
	for i := 8; i < len(mod); {
		id := mod[i]
		size, n := binary.Uvarint(mod[i+1:])
		if n <= 0 || size > uint64(len(mod)-i-1-n) {
			return nil, errMalformed
		}
		body := mod[i+1+n : i+1+n+int(size)]
		secs = append(secs, wasmSection{id: id, body: body})
		i += 1 + n + int(size)
	}
	return secs, nil
}

func wasmString(s string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(s))), s...)
}

// reader reads the LEB128 and byte fields of a section body; the first
// malformed read sets err and every later read returns zero.
type reader struct {
	p   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errMalformed
	}
	r.p = nil
}

func (r *reader) byte() byte {
	if len(r.p) == 0 {
		r.fail()
		return 0
	}
	b := r.p[0]
	r.p = r.p[1:]
	return b
}

func (r *reader) uleb() uint64 {
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.p = r.p[n:]
	return v
}

// sleb skips a signed LEB128 of at most max bytes.
func (r *reader) sleb(max int) {
	for i := 0; i < max; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail()
}

func (r *reader) skip(n uint64) {
	if n > uint64(len(r.p)) {
		r.fail()
		return
	}
	r.p = r.p[n:]
}

func (r *reader) name() string {
	return string(r.bytes(r.uleb()))
}

func (r *reader) limits() {
	flags := r.byte()
	if flags > 7 {
		r.fail()
		return
	}
	r.uleb()
	if flags&1 != 0 {
		r.uleb()
	}
}

// valType reads a one-byte value type of WebAssembly 2.0 (numbers, v128,
// funcref, externref, and exnref, which wazero also reads); anything else,
// such as a GC reference type, fails.
func (r *reader) valType() {
	switch r.byte() {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
	default:
		r.fail()
	}
}

// count reads a vector length, bounded by the bytes left (each item takes
// at least one byte).
func (r *reader) count() uint64 {
	n := r.uleb()
	if n > uint64(len(r.p)) {
		if r.err == nil {
			r.err = errInflated
		}
		r.p = nil
		return 0
	}
	return n
}

// bytes reads a field of n bytes; a length beyond the bytes left is an
// inflated claim.
func (r *reader) bytes(n uint64) []byte {
	if n > uint64(len(r.p)) {
		if r.err == nil {
			r.err = errInflated
		}
		r.p = nil
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func countImportedGlobals(body []byte) (uint32, error) {
	r := &reader{p: body}
	var globals uint32
	for n := r.count(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch r.byte() {
		case 0x00: // function
			r.uleb()
		case 0x01: // table
			r.valType()
			r.limits()
		case 0x02: // memory
			r.limits()
		case 0x03: // global
			r.valType()
			r.byte()
			globals++
		case 0x04: // tag
			r.byte()
			r.uleb()
		default:
			r.fail()
		}
	}
	return globals, r.err
}

// mutableGlobals returns the indices (within the global section) of the
// mutable globals, or why the module cannot be reset: a mutable global of
// a type the host cannot save as one number.
func mutableGlobals(body []byte) ([]uint32, string) {
	r := &reader{p: body}
	var out []uint32
	n := r.count()
	for i := uint32(0); uint64(i) < n && r.err == nil; i++ {
		typ := r.byte()
		mut := r.byte()
		if mut == 1 {
			switch typ {
			case 0x7f, 0x7e, 0x7d, 0x7c: // i32, i64, f32, f64
				out = append(out, i)
			default:
				return nil, fmt.Sprintf("mutable global %d has a type (0x%x) the sandbox cannot save", i, typ)
			}
		}
		constExpr(r)
	}
	if r.err != nil {
		return nil, r.err.Error()
	}
	return out, ""
}

// constExpr skips a constant expression up to and including its end.
func constExpr(r *reader) {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return
		case 0x41:
			r.sleb(5)
		case 0x42:
			r.sleb(10)
		case 0x43:
			r.skip(4)
		case 0x44:
			r.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.uleb()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		default:
			r.fail()
		}
	}
}

func exportNames(body []byte) ([]string, error) {
	r := &reader{p: body}
	var names []string
	for n := r.count(); n > 0 && r.err == nil; n-- {
		names = append(names, r.name())
		r.byte()
		r.uleb()
	}
	return names, r.err
}

// stateOutsideMemory reads every function body and says why an instance
// keeps state that a reset of memory and globals would not undo: an
// instruction that changes a table (table.set, table.grow, table.fill,
// table.copy, table.init) or drops or reads a passive segment (data.drop,
// memory.init, elem.drop). An instruction it does not know (SIMD, atomics,
// exceptions, GC) makes it give up, which is safe: the module then gets a
// fresh instance per call. Go's compiler emits none of these.
func stateOutsideMemory(code []byte) string {
	r := &reader{p: code}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		size := r.uleb()
		if size > uint64(len(r.p)) {
			r.fail()
			break
		}
		fn := &reader{p: r.p[:size]}
		r.skip(size)
		for k := fn.count(); k > 0 && fn.err == nil; k-- {
			fn.uleb()
			fn.byte()
		}
		for len(fn.p) > 0 && fn.err == nil {
			if why, _ := instruction(fn); why != "" {
				return why
			}
		}
		if fn.err != nil {
			return fn.err.Error()
		}
	}
	if r.err != nil {
		return r.err.Error()
	}
	return ""
}

// instruction reads one instruction and its immediates; it returns a
// reason if the instruction keeps state outside memory and globals, or is
// one this reader does not know (then unknown is true too).
func instruction(r *reader) (why string, unknown bool) {
	op := r.byte()
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b, op == 0xd1:
	case op == 0x02, op == 0x03, op == 0x04: // block, loop, if
		switch bt := r.p; {
		case len(bt) > 0 && (bt[0] == 0x40 || bt[0] >= 0x6f && bt[0] <= 0x7f):
			r.byte()
		default:
			r.sleb(5) // type index as s33
		}
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0x12: // br, br_if, call, return_call
		r.uleb()
	case op == 0x0e: // br_table
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.uleb()
		}
		r.uleb()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.uleb()
		r.uleb()
	case op == 0x1c: // select t*
		r.skip(r.count())
	case op >= 0x20 && op <= 0x25: // locals, globals, table.get
		r.uleb()
	case op == 0x26:
		return "the module changes a table (table.set)", false
	case op >= 0x28 && op <= 0x3e: // loads and stores: memarg
		if align := r.uleb(); align&0x40 != 0 {
			r.uleb() // memory index
		}
		r.uleb()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.uleb()
	case op == 0x41:
		r.sleb(5)
	case op == 0x42:
		r.sleb(10)
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op >= 0x45 && op <= 0xc4: // numeric
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xd2: // ref.func
		r.uleb()
	case op == 0xfc:
		switch sub := r.uleb(); {
		case sub <= 7: // saturating truncation
		case sub == 10: // memory.copy
			r.uleb()
			r.uleb()
		case sub == 11: // memory.fill
			r.uleb()
		case sub == 16: // table.size
			r.uleb()
		case sub == 8 || sub == 9:
			return "the module uses passive data segments (memory.init, data.drop)", false
		case sub >= 12 && sub <= 17:
			return "the module changes a table or drops an element segment", false
		default:
			return fmt.Sprintf("the module uses the instruction 0xfc %d, which the sandbox does not know", sub), true
		}
	default:
		return fmt.Sprintf("the module uses the instruction 0x%x, which the sandbox does not know", op), true
	}
	return "", false
}
