// Package plugintest builds the real plugins under internal/vet/testdata/plugins and
// small hand-assembled WebAssembly modules for the analyzers' tests, and
// packs them into packages the way `gatehouse plugin pack` does.
package plugintest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/pkgfile"
)

var (
	mu     sync.Mutex
	built  = map[string][]byte{}
	errs   = map[string]error{}
	outDir string
)

// ModuleRoot returns the directory of the gatehouse module (the folder
// holding go.mod), found from the working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module gatehouse.dev/gatehouse\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod of gatehouse.dev/gatehouse not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles internal/vet/testdata/plugins/NAME for wasip1 as a reactor and
// returns the module's bytes. Each plugin is built once per test binary.
func Build(t testing.TB, name string) []byte {
	t.Helper()
	return BuildEdited(t, name, "", "")
}

// BuildEdited is Build with the first old in the plugin's main.go
// replaced by new, as an author's update edits one line: the tree is not
// written, the edit reaches the compiler as a go build -overlay. An empty
// old builds the plugin as it is. Each plugin and edit is built once per
// test binary.
func BuildEdited(t testing.TB, name, old, new string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	id := name
	if old != "" {
		id = fmt.Sprintf("%s with %q for %q", name, new, old)
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[id]; ok {
		return b
	}
	if err, ok := errs[id]; ok {
		t.Fatal(err)
	}
	root := ModuleRoot(t)
	if outDir == "" {
		d, err := os.MkdirTemp("", "vet-plugins-")
		if err != nil {
			t.Fatal(err)
		}
		outDir = d // left for the OS to clean: it outlives any one test
	}
	out := filepath.Join(outDir, fmt.Sprintf("%s-%d.wasm", name, len(built)))
	args := []string{"build", "-buildmode=c-shared", "-trimpath", "-o", out}
	if old != "" {
		overlay, err := editOverlay(filepath.Join(root, "internal", "vet", "testdata", "plugins", name, "main.go"), strings.TrimSuffix(out, ".wasm"), old, new)
		if err != nil {
			errs[id] = err
			t.Fatal(err)
		}
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.Command("go", append(args, "./internal/vet/testdata/plugins/"+name)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		errs[id] = fmt.Errorf("building plugin %s: %v\n%s", id, err, msg)
		t.Fatal(errs[id])
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built[id] = b
	return b
}

// editOverlay writes src with old replaced by new as prefix.go, and a go
// build overlay that puts it in place of src as prefix.json, whose path it
// returns.
func editOverlay(src, prefix, old, new string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(b, []byte(old)) {
		return "", fmt.Errorf("plugintest: %s does not hold %q", src, old)
	}
	edited := prefix + ".go"
	if err := os.WriteFile(edited, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		return "", err
	}
	js, err := json.Marshal(map[string]map[string]string{"Replace": {src: edited}})
	if err != nil {
		return "", err
	}
	overlay := prefix + ".json"
	return overlay, os.WriteFile(overlay, js, 0o644)
}

// Source returns the text of internal/vet/testdata/plugins/NAME/FILE.
func Source(t testing.TB, name, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ModuleRoot(t), "internal", "vet", "testdata", "plugins", name, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Package writes files as a package and reads it back.
func Package(t testing.TB, files map[string][]byte) *pkgfile.Package {
	t.Helper()
	var list []pkgfile.File
	for p, b := range files {
		list = append(list, pkgfile.File{Path: p, Data: b})
	}
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, list); err != nil {
		t.Fatal(err)
	}
	p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Import is a function import of a hand-assembled module.
type Import struct {
	Module, Name    string
	Params, Results []byte // value types, such as 0x7f for i32
}

// Module assembles a minimal valid core module with the given function
// imports, function exports (each a defined function of type () -> i32
// whose body returns 0), one memory of minPages (with max when max >= 0)
// and one active data segment holding data at address 1024.
func Module(imports []Import, exports []string, minPages uint32, max int64, data []byte) []byte {
	var types [][2][]byte
	typeIdx := func(p, r []byte) uint32 {
		for i, t := range types {
			if bytes.Equal(t[0], p) && bytes.Equal(t[1], r) {
				return uint32(i)
			}
		}
		types = append(types, [2][]byte{p, r})
		return uint32(len(types) - 1)
	}
	var imp bytes.Buffer
	uleb(&imp, uint32(len(imports)))
	for _, im := range imports {
		name(&imp, im.Module)
		name(&imp, im.Name)
		imp.WriteByte(0x00)
		uleb(&imp, typeIdx(im.Params, im.Results))
	}
	exportType := typeIdx(nil, []byte{0x7f})

	var ty bytes.Buffer
	uleb(&ty, uint32(len(types)))
	for _, t := range types {
		ty.WriteByte(0x60)
		uleb(&ty, uint32(len(t[0])))
		ty.Write(t[0])
		uleb(&ty, uint32(len(t[1])))
		ty.Write(t[1])
	}
	var fn bytes.Buffer
	uleb(&fn, uint32(len(exports)))
	for range exports {
		uleb(&fn, exportType)
	}
	var mem bytes.Buffer
	uleb(&mem, 1)
	if max >= 0 {
		mem.WriteByte(0x01)
		uleb(&mem, minPages)
		uleb(&mem, uint32(max))
	} else {
		mem.WriteByte(0x00)
		uleb(&mem, minPages)
	}
	var exp bytes.Buffer
	uleb(&exp, uint32(len(exports)+1))
	name(&exp, "memory")
	exp.WriteByte(0x02)
	uleb(&exp, 0)
	for i, e := range exports {
		name(&exp, e)
		exp.WriteByte(0x00)
		uleb(&exp, uint32(len(imports)+i))
	}
	var code bytes.Buffer
	uleb(&code, uint32(len(exports)))
	for range exports {
		body := []byte{0x00, 0x41, 0x00, 0x0b} // no locals; i32.const 0; end
		uleb(&code, uint32(len(body)))
		code.Write(body)
	}
	var dat bytes.Buffer
	uleb(&dat, 1)
	dat.WriteByte(0x00)
	dat.Write([]byte{0x41, 0x80, 0x08, 0x0b}) // i32.const 1024; end
	uleb(&dat, uint32(len(data)))
	dat.Write(data)

	var m bytes.Buffer
	m.Write([]byte("\x00asm\x01\x00\x00\x00"))
	section(&m, 1, ty.Bytes())
	section(&m, 2, imp.Bytes())
	section(&m, 3, fn.Bytes())
	section(&m, 5, mem.Bytes())
	section(&m, 7, exp.Bytes())
	section(&m, 10, code.Bytes())
	section(&m, 11, dat.Bytes())
	return m.Bytes()
}

func section(w *bytes.Buffer, id byte, body []byte) {
	w.WriteByte(id)
	uleb(w, uint32(len(body)))
	w.Write(body)
}

func name(w *bytes.Buffer, s string) {
	uleb(w, uint32(len(s)))
	w.WriteString(s)
}

func uleb(w *bytes.Buffer, v uint32) {
	w.Write(binary.AppendUvarint(nil, uint64(v)))
}
