package gobuildinfo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/wasmfile"
)

func TestReadGoModule(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a wasip1 module")
	}
	out := filepath.Join(t.TempDir(), "src.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "../testdata/src")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasmfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Read(m)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != "gatehouse.dev/gatehouse/internal/wasmfile/testdata/src" || info.Main.Path != "gatehouse.dev/gatehouse" {
		t.Errorf("path %q, main %q", info.Path, info.Main.Path)
	}
	// The test binary and the go command in PATH are the same toolchain.
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", info.GoVersion, runtime.Version())
	}
	if got := string(b[info.Offset : info.Offset+info.Length]); !strings.HasPrefix(got, "path\t") {
		t.Errorf("Offset %d points at %q, want the module information text", info.Offset, got[:min(len(got), 20)])
	}
	var goos string
	for _, s := range info.Settings {
		if s.Key == "GOOS" {
			goos = s.Value
		}
	}
	if goos != "wasip1" {
		t.Errorf("settings = %v, want GOOS=wasip1", info.Settings)
	}
}

const modinfo = "path\texample.com/p\nmod\texample.com/p\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.5\th1:abc=\n"

func seg(addr uint64, off int64, data []byte) wasmfile.DataSegment {
	return wasmfile.DataSegment{Address: addr, AddressKnown: true, Offset: off, Data: data}
}

func TestReadSegments(t *testing.T) {
	t.Parallel()
	full := cat(startSentinel, []byte(modinfo), endSentinel)
	cut := 16 + 30 // inside the text

	tests := []struct {
		name string
		segs []wasmfile.DataSegment
		err  string
	}{
		{"one segment", []wasmfile.DataSegment{seg(1000, 100, cat([]byte("xx"), full))}, ""},
		{"split, contiguous", []wasmfile.DataSegment{seg(1000, 100, full[:cut]), seg(1000+uint64(cut), 500, full[cut:])}, ""},
		{"no sentinel", []wasmfile.DataSegment{seg(0, 0, []byte(modinfo))}, ErrNotFound.Error()},
		{"no end", []wasmfile.DataSegment{seg(1000, 100, full[:cut])}, "no end sentinel"},
		{"end behind", []wasmfile.DataSegment{seg(1000, 100, full[:cut]), seg(0, 500, full[cut:])}, "no end sentinel"},
		{"bad text", []wasmfile.DataSegment{seg(0, 0, cat(startSentinel, []byte("mod\tonly-two\n"), endSentinel))}, "offset 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := Read(&wasmfile.Module{Data: tt.segs})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Read = %v, want error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(info.Deps) != 1 || info.Deps[0].Path != "golang.org/x/text" || info.Deps[0].Version != "v0.3.5" {
				t.Errorf("deps = %+v", info.Deps)
			}
			if info.Offset != tt.segs[0].Offset+int64(bytes.Index(tt.segs[0].Data, startSentinel))+16 {
				t.Errorf("Offset = %d", info.Offset)
			}
		})
	}
	// Two blocks: Read returns the first, ReadAll both.
	second := cat(startSentinel, []byte(strings.Replace(modinfo, "v0.3.5", "v0.3.8", 1)), endSentinel)
	m := &wasmfile.Module{Data: []wasmfile.DataSegment{seg(0, 0, cat(full, []byte("gap"), second))}}
	all, err := ReadAll(m)
	if err != nil || len(all) != 2 || all[0].Deps[0].Version != "v0.3.5" || all[1].Deps[0].Version != "v0.3.8" || all[1].Offset != int64(len(full)+3+16) {
		t.Errorf("ReadAll = %v, %v", all, err)
	}
	if one, err := Read(m); err != nil || one.Deps[0].Version != "v0.3.5" {
		t.Errorf("Read = %v, %v", one, err)
	}
	many := bytes.Repeat(full, maxBlocks+1)
	if _, err := ReadAll(&wasmfile.Module{Data: []wasmfile.DataSegment{seg(0, 0, many)}}); err == nil || !strings.Contains(err.Error(), "more than 16") {
		t.Errorf("ReadAll of %d blocks: %v", maxBlocks+1, err)
	}
	if _, err := Read(&wasmfile.Module{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read of an empty module = %v, want ErrNotFound", err)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func FuzzRead(f *testing.F) {
	full := cat(startSentinel, []byte(modinfo), endSentinel)
	f.Add(full, 20)
	f.Add(full, 0)
	f.Add(cat(startSentinel, []byte("go\tgo1.26.8\nbuild\tGOOS=wasip1\n"), endSentinel), 5)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if cut < 0 || cut > len(data) {
			cut = len(data)
		}
		m := &wasmfile.Module{Data: []wasmfile.DataSegment{seg(64, 0, data[:cut]), seg(64+uint64(cut)+3, int64(cut), data[cut:])}}
		all, err := ReadAll(m)
		for _, info := range all {
			if err == nil && (info.Offset < 0 || info.Length > maxModInfo) {
				t.Fatalf("ReadAll = %+v", info)
			}
		}
	})
}
