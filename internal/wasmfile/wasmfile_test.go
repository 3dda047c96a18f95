package wasmfile

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Hand-made modules. sec builds a section from its id and payload.
func sec(id byte, payload ...byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(payload)))...), payload...)
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func str(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func module(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// small is a module with every section the reader interprets.
func small() []byte {
	return module(
		sec(0, cat(str("go:buildid"), []byte("abc"))...),
		sec(1, cat([]byte{2}, // two types
			[]byte{0x60, 2, 0x7f, 0x7e, 1, 0x7f}, // (i32, i64) -> (i32)
			[]byte{0x60, 0, 0})...),              // () -> ()
		sec(2, cat([]byte{2},
			str("gatehouse_v1"), str("kv_get"), []byte{0, 0},
			str("env"), str("memory"), []byte{2, 0x01, 1, 2})...), // memory min 1 max 2
		sec(3, 2, 1, 0),
		sec(7, cat([]byte{2}, str("run"), []byte{0, 1}, str("mem"), []byte{2, 0})...),
		sec(12, 2),
		sec(11, cat([]byte{2},
			[]byte{0, 0x41, 0x80, 0x08, 0x0b}, str("hello"), // active at 1024
			[]byte{1}, str("passive"))...),
	)
}

func TestParseSmall(t *testing.T) {
	t.Parallel()
	b := small()
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Types) != 2 || m.Types[0].String() != "(i32, i64) -> (i32)" {
		t.Errorf("types = %v", m.Types)
	}
	if len(m.Imports) != 2 {
		t.Fatalf("imports = %+v", m.Imports)
	}
	im := m.Imports[0]
	if im.Module != "gatehouse_v1" || im.Name != "kv_get" || im.Kind != KindFunc || !im.Type.Equal(m.Types[0]) {
		t.Errorf("import 0 = %+v", im)
	}
	if mem := m.Imports[1].Memory; mem == nil || mem.Min != 1 || mem.Max != 2 || !mem.HasMax || !mem.Imported {
		t.Errorf("memory import = %+v", m.Imports[1])
	}
	if len(m.Exports) != 2 || m.Exports[0] != (Export{Name: "run", Kind: KindFunc, Index: 1}) {
		t.Errorf("exports = %+v", m.Exports)
	}
	if ft, ok := m.FuncType(1); !ok || !ft.Equal(m.Types[1]) {
		t.Errorf("FuncType(1) = %v, %v; want the defined function's () -> ()", ft, ok)
	}
	if _, ok := m.FuncType(3); ok {
		t.Error("FuncType(3) found a function that does not exist")
	}
	if len(m.Data) != 2 {
		t.Fatalf("data = %+v", m.Data)
	}
	d := m.Data[0]
	if string(d.Data) != "hello" || !d.AddressKnown || d.Address != 1024 || d.Passive {
		t.Errorf("segment 0 = %+v", d)
	}
	if got := string(b[d.Offset : d.Offset+5]); got != "hello" {
		t.Errorf("segment 0 offset %d points at %q", d.Offset, got)
	}
	if !m.Data[1].Passive || string(m.Data[1].Data) != "passive" {
		t.Errorf("segment 1 = %+v", m.Data[1])
	}
	if len(m.Custom) != 1 || m.Custom[0].Name != "go:buildid" || m.Custom[0].Size != 3 {
		t.Errorf("custom = %+v", m.Custom)
	}
}

func TestParseMemories(t *testing.T) {
	t.Parallel()
	// An imported memory, then two defined ones (multi-memory), one
	// shared and one 64-bit.
	m, err := Parse(module(
		sec(2, cat([]byte{1}, str("env"), str("mem"), []byte{2, 0x00, 3})...),
		sec(5, 2, 0x03, 1, 4, 0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02),
	))
	if err != nil {
		t.Fatal(err)
	}
	want := []Memory{
		{Min: 3, Imported: true},
		{Min: 1, Max: 4, HasMax: true, Shared: true},
		{Min: 1 << 35, Max: 1 << 36, HasMax: true, Memory64: true},
	}
	if len(m.Memories) != 3 || m.Memories[0] != want[0] || m.Memories[1] != want[1] || m.Memories[2] != want[2] {
		t.Errorf("memories = %+v, want %+v", m.Memories, want)
	}
	if m.Imports[0].Memory == nil || *m.Imports[0].Memory != want[0] {
		t.Errorf("memory import = %+v", m.Imports[0].Memory)
	}
}

func TestParseGoModule(t *testing.T) {
	t.Parallel()
	b := goModule(t)
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var fdWrite *Import
	for i := range m.Imports {
		if m.Imports[i].Module == "wasi_snapshot_preview1" && m.Imports[i].Name == "fd_write" {
			fdWrite = &m.Imports[i]
		}
	}
	if fdWrite == nil || fdWrite.Type.String() != "(i32, i32, i32, i32) -> (i32)" {
		t.Errorf("fd_write import = %+v", fdWrite)
	}
	exports := map[string]Export{}
	for _, ex := range m.Exports {
		exports[ex.Name] = ex
	}
	ans, ok := exports["answer"]
	if !ok || ans.Kind != KindFunc {
		t.Fatalf("exports = %v, want a func named answer", m.Exports)
	}
	if ft, ok := m.FuncType(ans.Index); !ok || ft.String() != "(i32) -> (i32)" {
		t.Errorf("answer's signature = %v (%v), want (i32) -> (i32)", ft, ok)
	}
	if _, ok := exports["memory"]; !ok || len(m.Memories) != 1 || m.Memories[0].Min == 0 {
		t.Errorf("memories = %+v, exports = %v", m.Memories, m.Exports)
	}
	found := false
	for _, d := range m.Data {
		if !bytes.Equal(b[d.Offset:d.Offset+int64(len(d.Data))], d.Data) {
			t.Fatalf("segment at %d: Data is not the file's bytes at Offset", d.Offset)
		}
		if bytes.Contains(d.Data, []byte("wasmfile test greeting")) {
			found = true
		}
	}
	if !found {
		t.Error("the program's string constant is in no data segment")
	}
	names := map[string]bool{}
	for _, c := range m.Custom {
		names[c.Name] = true
	}
	if !names["go:buildid"] {
		t.Errorf("custom sections = %+v, want go:buildid", m.Custom)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	ok := small()
	tests := []struct {
		name    string
		in      []byte
		section string
		want    string
		is      error
	}{
		{"empty", nil, "module header", "shorter than", ErrTruncated},
		{"magic", []byte("\x7fELF\x01\x00\x00\x00"), "module header", "not a WebAssembly module", nil},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "module header", "component", nil},
		{"truncated everywhere", ok[:len(ok)-3], "section header", "declares", ErrTruncated},
		{"section size overflow", module([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x7f}), "section header", "u32", ErrOverflow},
		{"unknown section", module(sec(42)), "section header", "unknown section id 42", nil},
		{"out of order", module(sec(3, 0), sec(1, 0)), "type section", "out of order", nil},
		{"duplicate", module(sec(1, 0), sec(1, 0)), "type section", "out of order or duplicated", nil},
		{"huge count", module(sec(1, 0xff, 0xff, 0xff, 0xff, 0x0f)), "type section", "limit", ErrLimit},
		{"count beyond bytes", module(sec(1, 10, 0x60, 0, 0)), "type section", "cannot fit", ErrTruncated},
		{"bad value type", module(sec(1, 1, 0x60, 1, 0x01, 0)), "type section", "unknown value type", nil},
		{"gc type", module(sec(1, 1, 0x5f, 0, 0)), "type section", "not a function type", nil},
		{"type index out of range", module(sec(1, 0), sec(3, 1, 5)), "function section", "type index 5", nil},
		{"name too long", module(sec(2, cat([]byte{1}, []byte{50}, []byte("abc"))...)), "import section", "exceeds", ErrTruncated},
		{"invalid utf8", module(sec(2, cat([]byte{1}, str("\xff\xfe"), str("x"), []byte{0, 0})...)), "import section", "UTF-8", nil},
		{"duplicate export", module(sec(7, cat([]byte{2}, str("a"), []byte{0, 0}, str("a"), []byte{0, 0})...)), "export section", "duplicate export", nil},
		{"shared without max", module(sec(5, 1, 0x02, 1)), "memory section", "shared memory", nil},
		{"max below min", module(sec(5, 1, 0x01, 5, 1)), "memory section", "below minimum", nil},
		{"data bad flags", module(sec(11, 1, 7, 0)), "data section", "flags 7", nil},
		{"data bad const", module(sec(11, 1, 0, 0x01, 0x0b, 0)), "data section", "opcode 0x01", nil},
		{"data too long", module(sec(11, 1, 1, 9, 'a')), "data section", "exceeds", ErrTruncated},
		{"data count mismatch", module(sec(12, 3), sec(11, 1, 1, 0)), "data count section", "declares 3", nil},
		{"trailing bytes", module(sec(3, 0, 0)), "function section", "unread bytes", nil},
		{"i32.const overflow", module(sec(11, 1, 0, 0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x0b, 0)), "data section", "s32", ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.in)
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			if perr.Section != tt.section || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want section %q and %q", err, tt.section, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Parse = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestLEB(t *testing.T) {
	t.Parallel()
	u32 := []struct {
		in   []byte
		want uint64
		err  error
	}{
		{[]byte{0}, 0, nil},
		{[]byte{0x7f}, 127, nil},
		{[]byte{0x80, 0x01}, 128, nil},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, nil}, // padded zero is valid
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1<<32 - 1, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, ErrOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, ErrOverflow},
		{[]byte{0x80}, 0, ErrTruncated},
	}
	for _, tt := range u32 {
		r := &reader{b: tt.in}
		got, err := r.uleb(32)
		if !errors.Is(err, tt.err) || (err == nil && got != tt.want) {
			t.Errorf("uleb32(% x) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	s := []struct {
		in   []byte
		bits uint
		want int64
		err  error
	}{
		{[]byte{0x7f}, 32, -1, nil},
		{[]byte{0x3f}, 32, 63, nil},
		{[]byte{0x40}, 32, -64, nil},
		{[]byte{0x80, 0x7f}, 32, -128, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x07}, 32, 1<<31 - 1, nil},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, -1 << 31, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 32, 0, ErrOverflow}, // 2^32-1 does not fit s32
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x70}, 32, 0, ErrOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 64, -1 << 63, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 64, 1<<63 - 1, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 64, 0, ErrOverflow},
	}
	for _, tt := range s {
		r := &reader{b: tt.in}
		got, err := r.sleb(tt.bits)
		if !errors.Is(err, tt.err) || (err == nil && got != tt.want) {
			t.Errorf("sleb%d(% x) = %d, %v; want %d, %v", tt.bits, tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(small())
	f.Add(module(sec(5, 1, 0x07, 1, 2)))
	f.Add(module(sec(11, 1, 2, 0, 0x42, 0x7f, 0x23, 0, 0x7c, 0x0b, 1, 'x')))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(module(sec(0, cat(str("producers"), []byte{1}, str("language"), []byte{1}, str("Go"), str("go1.26.8"))...)))
	if !testing.Short() {
		// A real Go module's first 16 KiB (header, types, imports, the
		// start of the code section): the whole 2 MB module would make
		// every fuzzing iteration slow.
		f.Add(goModule(f)[:16<<10])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Offset < 0 || perr.Offset > int64(len(b)) {
				t.Fatalf("error %v is not an *Error with an offset inside the input", err)
			}
			return
		}
		_, _ = m.Producers() // must not panic
		for _, d := range m.Data {
			if d.Offset < 0 || d.Offset+int64(len(d.Data)) > int64(len(b)) || !bytes.Equal(b[d.Offset:d.Offset+int64(len(d.Data))], d.Data) {
				t.Fatalf("data segment at %d does not match the input", d.Offset)
			}
		}
		for _, im := range m.Imports {
			if (im.Kind == KindFunc) != (im.Type != nil) && im.Kind != KindTag {
				t.Fatalf("import %+v: function without a type or a type on a non-function", im)
			}
		}
	})
}

func TestProducers(t *testing.T) {
	t.Parallel()
	m, err := Parse(goModule(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Producers()
	if err != nil {
		t.Fatal(err)
	}
	if v := p["language"]["Go"]; !strings.HasPrefix(v, "go1.") {
		t.Errorf("producers = %v, want language Go go1.x", p)
	}
	bad := module(sec(0, cat(str("producers"), []byte{1}, str("language"), []byte{3}, str("Go"))...))
	m, err = Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Producers(); err == nil || !strings.Contains(err.Error(), "producers custom section") {
		t.Errorf("Producers of a truncated section = %v, want an error naming the section", err)
	}
}
