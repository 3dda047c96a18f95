package behaviour

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

var (
	buildMu  sync.Mutex
	builtDir = map[string]string{} // example name → built copy
	kitCache string
)

// example builds examples/plugins/NAME with pluginkit.Build from a copy
// outside the repository, as an author would, once per test binary, and
// returns the copy's folder (holding plugin.wasm).
func example(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if dir, ok := builtDir[name]; ok {
		return dir
	}
	root := plugintest.ModuleRoot(t)
	base, err := os.MkdirTemp("", "behaviour-example-")
	if err != nil {
		t.Fatal(err)
	}
	if kitCache == "" {
		kitCache = filepath.Join(base, "kit")
	}
	dir := filepath.Join(base, name)
	copyPlugin(t, filepath.Join(root, "examples", "plugins", name), dir, false)
	t.Setenv("GOWORK", "off")
	if _, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: kitCache}); err != nil {
		t.Fatalf("building example %s: %v", name, err)
	}
	builtDir[name] = dir // left for the OS to clean: it outlives one test
	return dir
}

// examplePackage packs a built example, with its tests/ replaced by
// tests when tests is not nil.
func examplePackage(t testing.TB, name string, tests map[string]string) *vet.Input {
	t.Helper()
	src := example(t, name)
	if tests != nil {
		dir := filepath.Join(t.TempDir(), name)
		copyPlugin(t, src, dir, true)
		if err := os.RemoveAll(filepath.Join(dir, "tests")); err != nil {
			t.Fatal(err)
		}
		writeTests(t, dir, tests)
		src = dir
	}
	var buf bytes.Buffer
	if _, _, err := pkgfile.PackDir(src, &buf); err != nil {
		t.Fatal(err)
	}
	pkg, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return input(t, pkg)
}

// probePackage packs internal/vet/testdata/plugins/behaviourprobe with manifest
// (the plugin's own when empty) and the given scenario files.
func probePackage(t testing.TB, man string, tests map[string]string) *vet.Input {
	t.Helper()
	mod := plugintest.Build(t, "behaviourprobe")
	if man == "" {
		man = string(plugintest.Source(t, "behaviourprobe", "manifest.json"))
	}
	files := map[string][]byte{"manifest.json": []byte(man), "plugin.wasm": mod}
	for p, s := range tests {
		files["tests/"+p] = []byte(s)
	}
	return input(t, plugintest.Package(t, files))
}

func input(t testing.TB, pkg *pkgfile.Package) *vet.Input {
	t.Helper()
	m, err := manifest.Parse(pkg.Manifest(), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mod, ok := pkg.File(m.Runtime.Module)
	if !ok {
		t.Fatalf("the package lacks %s", m.Runtime.Module)
	}
	return &vet.Input{Package: pkg, Manifest: m, Module: mod}
}

func writeTests(t testing.TB, dir string, tests map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range tests {
		if err := os.WriteFile(filepath.Join(dir, "tests", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyPlugin copies a plugin folder, leaving out any module built in
// place unless keepWasm.
func copyPlugin(t testing.TB, from, to string, keepWasm bool) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if strings.HasSuffix(rel, ".wasm") && !keepWasm {
			return nil
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

func newAnalyzer(t testing.TB) *Analyzer {
	t.Helper()
	a, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return a
}

func analyze(t testing.TB, a *Analyzer, in *vet.Input) (*vet.Report, *Detail) {
	t.Helper()
	rep, err := a.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rep, rep.Detail.(*Detail)
}

func byRule(fs []vet.Finding, rule string) []vet.Finding {
	var out []vet.Finding
	for _, f := range fs {
		if f.RuleID == rule {
			out = append(out, f)
		}
	}
	return out
}

func messages(fs []vet.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n\t" + f.RuleID + ": " + f.Message)
	}
	return b.String()
}
