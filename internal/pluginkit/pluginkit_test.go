package pluginkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	gatehouse "gatehouse.dev/gatehouse"
	"gatehouse.dev/gatehouse/manifest"
)

// outsideRepo returns a fresh folder outside the repository, and makes sure
// no go.work of the repository's (or the user's) can help the build: the
// build must stand on the embedded kit alone.
func outsideRepo(t *testing.T) string {
	t.Helper()
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod") // as a user's environment might say; Build must cope
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(filepath.Dir(wd))
	if rel, err := filepath.Rel(repo, dir); err == nil && !strings.HasPrefix(rel, "..") {
		t.Skipf("temporary folder %s is inside the repository %s", dir, repo)
	}
	return dir
}

func TestInitBuildOutsideRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	root := outsideRepo(t)
	dir := filepath.Join(root, "hello")
	if err := Init(dir, "acme/hello", InitOptions{Owner: "Acme Ltd", Year: 2026}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "main.go", "manifest.json", "tests/greet.json", "README.md", "LICENSE", ".gatehouseignore"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("scaffold lacks %s: %v", name, err)
		}
	}

	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data, manifest.Options{})
	if err != nil {
		t.Fatalf("scaffolded manifest is not valid: %v", err)
	}
	var scenarios []map[string]any
	if data, err := os.ReadFile(filepath.Join(dir, "tests", "greet.json")); err != nil || json.Unmarshal(data, &scenarios) != nil || len(scenarios) == 0 {
		t.Errorf("scaffolded tests/greet.json holds no scenarios (%v)", err)
	}
	if m.ID != "acme/hello" || m.License != "MIT" || m.Owners[0].Name != "Acme Ltd" ||
		len(m.Runtime.Exports) != 1 || m.Runtime.Exports[0] != "greet" || m.Runtime.Module != "plugin.wasm" {
		t.Errorf("scaffolded manifest = %+v", m)
	}
	lic, _ := os.ReadFile(filepath.Join(dir, "LICENSE"))
	if !bytes.Contains(lic, []byte("Copyright (c) 2026 Acme Ltd")) || !bytes.HasPrefix(lic, []byte("MIT License")) {
		t.Errorf("LICENSE does not name the owner under MIT:\n%s", lic)
	}

	cache := filepath.Join(root, "cache")
	out, err := Build(context.Background(), dir, BuildOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "plugin.wasm"); out != want {
		t.Errorf("Build returned %s, want %s", out, want)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, wasmMagic) {
		t.Fatalf("plugin.wasm starts with %q, not the WebAssembly magic", wasm[:min(8, len(wasm))])
	}
	if !bytes.Contains(wasm, []byte("greet")) || !bytes.Contains(wasm, []byte("gatehouse_v1")) {
		t.Error("plugin.wasm names neither its greet export nor the gatehouse_v1 host module")
	}

	// The same source in another folder, with the kit written to another
	// cache, gives the same bytes: the build is reproducible.
	dir2 := filepath.Join(root, "else where", "hello") // a space: go.work quoting
	if err := os.MkdirAll(dir2, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTree(t, dir, dir2, func(name string) bool { return name != "plugin.wasm" })
	out2, err := Build(context.Background(), dir2, BuildOptions{CacheDir: filepath.Join(root, "cache 2")})
	if err != nil {
		t.Fatal(err)
	}
	wasm2, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wasm, wasm2) {
		t.Errorf("two builds of the same source differ (%d and %d bytes)", len(wasm), len(wasm2))
	}

	// Two builds of one folder at once (an editor's save hook and a
	// terminal, say) both succeed and leave the same module.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Build(context.Background(), dir, BuildOptions{CacheDir: cache})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent build: %v", err)
		}
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, wasm) {
		t.Error("concurrent builds left a different module")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".gatehouse-build-*")); len(leftovers) > 0 {
		t.Errorf("builds left temporary folders: %v", leftovers)
	}
}

func TestBuildReportsCompilerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root := outsideRepo(t)
	dir := filepath.Join(root, "broken")
	if err := Init(dir, "acme/broken", InitOptions{}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "main.go")
	data, _ := os.ReadFile(src)
	data = bytes.Replace(data, []byte("return pdk.Handle(greeting)"), []byte("return pdk.Handle(undefinedThing)"), 1)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), dir, BuildOptions{CacheDir: filepath.Join(root, "cache")})
	if err == nil {
		t.Fatal("Build of a plugin that does not compile succeeded")
	}
	if !strings.Contains(err.Error(), "undefinedThing") {
		t.Errorf("error does not carry the compiler's message: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plugin.wasm")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed build left plugin.wasm behind (stat: %v)", err)
	}
}

// TestBuildFollowsGoModVersion: `go mod init` writes "go 1.26.0", which the
// go command orders after "go 1.26"; the workspace must not declare less
// than a module in it.
func TestBuildFollowsGoModVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root := outsideRepo(t)
	dir := filepath.Join(root, "patch")
	if err := Init(dir, "acme/patch", InitOptions{}); err != nil {
		t.Fatal(err)
	}
	gomod := filepath.Join(dir, "go.mod")
	data, _ := os.ReadFile(gomod)
	data = bytes.Replace(data, []byte("\ngo 1.26\n"), []byte("\ngo 1.26.0\n"), 1)
	if !bytes.Contains(data, []byte("\ngo 1.26.0\n")) {
		t.Fatalf("the scaffold's go.mod has no go 1.26 line to change:\n%s", data)
	}
	if err := os.WriteFile(gomod, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), dir, BuildOptions{CacheDir: filepath.Join(root, "cache")}); err != nil {
		t.Fatal(err)
	}
}

func TestBuildRefusesBadFolders(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	write := func(name, data string) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if data != "" {
			if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	cases := []struct {
		name, manifest, want string
	}{
		{"nomanifest", "", "no manifest.json"},
		{"badjson", "{", "reading"},
		{"nomodule", `{"runtime":{"module":""}}`, "runtime.module is empty"},
		{"escape", `{"runtime":{"module":"../x.wasm"}}`, "inside the plugin folder"},
		{"absolute", `{"runtime":{"module":"/tmp/x.wasm"}}`, "inside the plugin folder"},
		{"notwasm", `{"runtime":{"module":"plugin.so"}}`, "must end in .wasm"},
		{"nogomod", `{"runtime":{"module":"plugin.wasm"}}`, "no go.mod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := write(c.name, c.manifest)
			_, err := Build(ctx, dir, BuildOptions{CacheDir: filepath.Join(root, "cache")})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Build error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestInitRefuses(t *testing.T) {
	root := t.TempDir()
	for _, id := range []string{"", "hello", "Acme/hello", "acme/Hello", "acme/hello/x", "acme/-x", "1acme/x", strings.Repeat("a", 40) + "/x", "acme/he llo", "acme/" + strings.Repeat("a", 65), "../x"} {
		if err := Init(filepath.Join(root, "new"), id, InitOptions{}); err == nil {
			t.Errorf("Init accepted id %q", id)
		}
	}
	for _, id := range []string{"acme/hello", "a1/b-2-c", strings.Repeat("a", 39) + "/" + strings.Repeat("b", 64)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}

	full := filepath.Join(root, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(full, "main.go")
	if err := os.WriteFile(keep, []byte("package main // mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Init(full, "acme/hello", InitOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Init into a non-empty folder: %v", err)
	}
	if got, _ := os.ReadFile(keep); string(got) != "package main // mine\n" {
		t.Error("Init changed a file in a non-empty folder")
	}
	if err := Init(filepath.Join(root, "new2"), "acme/hello", InitOptions{Owner: "Evil\nLine"}); err == nil {
		t.Error("Init accepted an owner name with a newline")
	}
}

func TestKitCache(t *testing.T) {
	kit := fstest.MapFS{
		"pdk/pdk.go":           {Data: []byte("package pdk\n")},
		"pdk/pdk_test.go":      {Data: []byte("package pdk\n")},
		"hostapi/hostapi.go":   {Data: []byte("package hostapi\n")},
		"hostapi/extra/doc.go": {Data: []byte("package extra\n")},
	}
	root := t.TempDir()
	dir, err := ensureKit(root, kit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pdk", "pdk_test.go")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("test files were written into the kit")
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.HasPrefix(string(gomod), "module gatehouse.dev/gatehouse\n") {
		t.Errorf("kit go.mod = %q, %v", gomod, err)
	}

	// The same content lands in the same folder; other content elsewhere.
	again, err := ensureKit(root, kit)
	if err != nil || again != dir {
		t.Errorf("second ensureKit = %s, %v; want %s", again, err, dir)
	}
	other := fstest.MapFS{"pdk/pdk.go": {Data: []byte("package pdk // v2\n")}}
	otherDir, err := ensureKit(root, other)
	if err != nil || otherDir == dir {
		t.Errorf("a different kit went to %s (%v), the first to %s", otherDir, err, dir)
	}

	// A file planted in the cached kit would be compiled into every plugin:
	// it is refused, not used.
	plant := filepath.Join(dir, "pdk", "evil.go")
	if err := os.WriteFile(plant, []byte("package pdk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureKit(root, kit); err == nil || !strings.Contains(err.Error(), "evil.go") {
		t.Errorf("ensureKit with a planted file: %v", err)
	}
	os.Remove(plant)
	// An edited file is refused too.
	edit := filepath.Join(dir, "pdk", "pdk.go")
	os.Chmod(edit, 0o644)
	if err := os.WriteFile(edit, []byte("package pdk // edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureKit(root, kit); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("ensureKit with an edited file: %v", err)
	}

	// Concurrent writers of a fresh kit all end with the same complete folder.
	root2 := t.TempDir()
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	errs := make([]error, 8)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = ensureKit(root2, kit)
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("concurrent ensureKit %d = %s, %v", i, dirs[i], errs[i])
		}
	}
	entries, _ := os.ReadDir(root2)
	if len(entries) != 1 {
		t.Errorf("concurrent writers left %d entries in the cache, want 1 (no temporary folders)", len(entries))
	}
}

// TestEmbeddedKit checks what the gatehouse binary carries: both packages,
// no tests.
func TestEmbeddedKit(t *testing.T) {
	files, sum, err := kitFiles(gatehouse.PDKSource)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[f.name] = true
		if strings.HasSuffix(f.name, "_test.go") {
			t.Errorf("kit includes test file %s", f.name)
		}
	}
	for _, want := range []string{"go.mod", "pdk/pdk.go", "hostapi/hostapi.go"} {
		if !have[want] {
			t.Errorf("kit lacks %s", want)
		}
	}
	if len(sum) != 64 {
		t.Errorf("kit digest %q is not a hex SHA-256", sum)
	}
}

func copyTree(t *testing.T, from, to string, keep func(string) bool) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if !keep(filepath.ToSlash(rel)) {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseGoVersion(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"module x\n\ngo 1.26\n", "1.26", ""},
		{"module x\ngo 1.27.1 // newer\n", "1.27.1", ""},
		{"module x\n", minGoVersion, ""},
		{"module x\ngo banana\n", "", "does not name a Go version"},
		{"module x\ngo 1.26 1.27\n", "", "does not name a Go version"},
	} {
		got, err := parseGoVersion([]byte(c.in))
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("parseGoVersion(%q) = %q, %v; want %q, error containing %q", c.in, got, err, c.want, c.err)
		}
	}
}
