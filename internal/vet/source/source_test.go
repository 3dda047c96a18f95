package source

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

// pluginInput packages a test plugin the way an author ships one: its
// manifest, the module built from its source, and the source itself.
func pluginInput(t testing.TB, name, srcPath string) *vet.Input {
	t.Helper()
	mod := plugintest.Build(t, name)
	man := plugintest.Source(t, name, "manifest.json")
	files := map[string][]byte{
		"manifest.json": man,
		"plugin.wasm":   mod,
		srcPath:         plugintest.Source(t, name, "main.go"),
	}
	m, err := manifest.Parse(man, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &vet.Input{Package: plugintest.Package(t, files), Manifest: m, Module: mod}
}

type want struct {
	rule string
	line int
	sev  vet.Severity
}

func TestGosecPatternPlugin(t *testing.T) {
	t.Parallel()
	// Under src/, as `gatehouse plugin pack` lays out a plugin kept
	// inside a larger module, with no go.mod of its own.
	in := pluginInput(t, "gosecpattern", "src/main.go")
	rep, err := New().Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Detail.(*Detail)
	if d.Loader != LoaderPackages || !d.SSA || d.TypeErrors != 0 {
		t.Errorf("detail %+v: want the go/packages loader, fully typed (the kit resolves), with SSA", d)
	}
	wants := []want{
		{"source/G501", 11, vet.Medium}, // import "crypto/md5"
		{"source/G404", 31, vet.High},   // rand.Uint64 for a token
		{"source/G401", 32, vet.Medium}, // md5.Sum
	}
	if len(rep.Findings) != len(wants) {
		t.Errorf("%d findings, want exactly %d: %s", len(rep.Findings), len(wants), summary(rep.Findings))
	}
	for _, w := range wants {
		f, ok := findIn(rep.Findings, "src/main.go", w.rule, w.line)
		if !ok {
			t.Errorf("no %s at src/main.go:%d; findings: %s", w.rule, w.line, summary(rep.Findings))
			continue
		}
		if f.Severity != w.sev || f.Location.Column == 0 || f.Remediation == "" || f.Properties["cwe"] == nil || f.Location.Snippet == "" {
			t.Errorf("%s: %+v", w.rule, f)
		}
	}
	if rep.Databases["gosec"] == "" {
		t.Error("gosec's version is not recorded")
	}
}

func TestCleanPluginHasNoFailingFinding(t *testing.T) {
	t.Parallel()
	in := pluginInput(t, "clean", "main.go")
	rep, err := New().Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity.Fails() {
			t.Errorf("clean plugin: %s", f.Message)
		}
	}
	if d := rep.Detail.(*Detail); d.Files != 1 || d.Loader != LoaderPackages {
		t.Errorf("detail %+v", d)
	}
}

func TestNoGoSourceIsSkipped(t *testing.T) {
	t.Parallel()
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "README.md": []byte("hi")})
	_, err := New().Analyze(context.Background(), &vet.Input{Package: pkg})
	if !errors.Is(err, vet.ErrSkipped) || !strings.Contains(err.Error(), "no Go source") {
		t.Errorf("err = %v, want skipped: no Go source", err)
	}
}

func find(fs []vet.Finding, rule string, line int) (vet.Finding, bool) {
	return findIn(fs, "main.go", rule, line)
}

func findIn(fs []vet.Finding, file, rule string, line int) (vet.Finding, bool) {
	for _, f := range fs {
		if f.RuleID == rule && f.Location.File == file && f.Location.Line == line {
			return f, true
		}
	}
	return vet.Finding{}, false
}

func summary(fs []vet.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n\t" + f.Message)
	}
	return b.String()
}

// weakHash is a plugin source whose import of a third-party module cannot
// resolve offline; the weak hash is still found, through the partly typed
// package.
const weakHash = `//go:build wasip1

package main

import (
	"crypto/md5"

	"github.com/acme/missing/helper"
)

func sum(b []byte) [16]byte {
	helper.Use(b)
	return md5.Sum(b)
}

func main() {}
`

func TestUnresolvedImportStillAnalysed(t *testing.T) {
	t.Parallel()
	gomod := "module plugins.local/acme/t\n\ngo 1.26\n\nrequire (\n\tgatehouse.dev/gatehouse v0.0.0\n\tgithub.com/acme/missing v1.2.3\n)\n"
	other := "//go:build windows\n\npackage main\n\nimport \"crypto/sha1\"\n\nvar _ = sha1.New\n"
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "main.go": []byte(weakHash), "go.mod": []byte(gomod), "windows.go": []byte(other)})
	rep, err := New().Analyze(context.Background(), &vet.Input{Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Detail.(*Detail)
	if len(d.NotAnalysed) != 1 || d.NotAnalysed[0] != "windows.go" {
		t.Errorf("not analysed %v, want the file a wasip1 build leaves out", d.NotAnalysed)
	}
	if d.Loader != LoaderPackages || d.TypeErrors == 0 || d.SSA {
		t.Errorf("detail %+v: want go/packages with type errors and no SSA", d)
	}
	for _, s := range d.TypeErrorSamples {
		if strings.Contains(s, "gatehouse-source-") {
			t.Errorf("a type error names the temporary folder: %s", s)
		}
	}
	for _, w := range []want{{"source/G501", 6, vet.Medium}, {"source/G401", 13, vet.Medium}} {
		if _, ok := find(rep.Findings, w.rule, w.line); !ok {
			t.Errorf("no %s at main.go:%d; findings: %s", w.rule, w.line, summary(rep.Findings))
		}
	}
}

func TestFallbackWhenTheGoCommandRefuses(t *testing.T) {
	t.Parallel()
	// A go.mod for a Go release this toolchain does not have: with
	// GOTOOLCHAIN=local the go command refuses to load anything.
	gomod := "module plugins.local/acme/t\n\ngo 1.999\n"
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "main.go": []byte(weakHash), "go.mod": []byte(gomod)})
	rep, err := New().Analyze(context.Background(), &vet.Input{Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Detail.(*Detail)
	if d.Loader != LoaderParser || d.Note == "" || d.SSA {
		t.Errorf("detail %+v: want the parser fallback, saying why", d)
	}
	for _, w := range []want{{"source/G501", 6, vet.Medium}, {"source/G401", 13, vet.Medium}} {
		f, ok := find(rep.Findings, w.rule, w.line)
		if !ok {
			t.Errorf("no %s at main.go:%d; findings: %s", w.rule, w.line, summary(rep.Findings))
		} else if f.Properties["loader"] != LoaderParser {
			t.Errorf("finding does not say it came from the fallback: %+v", f)
		}
	}
}

func TestFallbackWithoutGoCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "cmd/tool/main.go": []byte(weakHash)})
	rep, err := New().Analyze(context.Background(), &vet.Input{Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Detail.(*Detail); d.Loader != LoaderParser || !strings.Contains(d.Note, "no go command") {
		t.Errorf("detail %+v", d)
	}
	if len(rep.Findings) == 0 || rep.Findings[0].Location.File != "cmd/tool/main.go" {
		t.Errorf("findings: %s", summary(rep.Findings))
	}
}

// TestFingerprintIgnoresLineMoves: the same code moved down by an edit
// above it keeps its fingerprint, so a reviewer's decision carries over.
func TestFingerprintIgnoresLineMoves(t *testing.T) {
	t.Parallel()
	fp := func(src string) string {
		pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "main.go": []byte(src)})
		rep, err := New().Analyze(context.Background(), &vet.Input{Package: pkg})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Findings {
			if f.RuleID == "source/G401" {
				return f.Fingerprint
			}
		}
		t.Fatalf("no G401: %s", summary(rep.Findings))
		return ""
	}
	a := fp(weakHash)
	b := fp(strings.Replace(weakHash, "func sum", "// sum hashes b.\n// It is for tests.\nfunc sum", 1))
	if a != b {
		t.Errorf("fingerprint changed when the code moved: %s, %s", a, b)
	}
}

// TestThroughTheRunner: the runner records the gosec pattern plugin as
// failed with gosec's version, and a package without Go source as
// skipped with the reason.
func TestThroughTheRunner(t *testing.T) {
	t.Parallel()
	a := New()
	in := pluginInput(t, "gosecpattern", "main.go")
	res := vet.Run(context.Background(), []vet.Analyzer{a}, in, vet.Config{}, nil)
	if len(res) != 1 || res[0].Status != vet.Failed || res[0].Databases["gosec"] == "" || len(res[0].Findings) != 3 {
		t.Errorf("result %+v", res)
	}
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}")})
	res = vet.Run(context.Background(), []vet.Analyzer{a}, &vet.Input{Package: pkg}, vet.Config{}, nil)
	if len(res) != 1 || res[0].Status != vet.Skipped || !strings.Contains(res[0].Reason, "no Go source") {
		t.Errorf("result %+v", res)
	}
}

// TestVendoredDependencyIsTyped: a package that carries its dependencies
// in vendor/ (as `gatehouse plugin build` packs them) loads fully typed
// from the package alone, offline, so the SSA analyzers run over code that
// calls into a third-party module.
func TestVendoredDependencyIsTyped(t *testing.T) {
	t.Parallel()
	gomod := "module plugins.local/acme/t\n\ngo 1.26\n\nrequire example.org/dep v1.0.0\n"
	modules := "# example.org/dep v1.0.0\n## explicit; go 1.26\nexample.org/dep\n"
	dep := "package dep\n\n// Big returns a number past int32.\nfunc Big() int { return 1 << 40 }\n"
	main := "package main\n\nimport \"example.org/dep\"\n\nfunc narrow() int32 { return int32(dep.Big()) }\n\nfunc main() { _ = narrow() }\n"
	pkg := plugintest.Package(t, map[string][]byte{
		"manifest.json": []byte("{}"), "go.mod": []byte(gomod), "main.go": []byte(main),
		"vendor/modules.txt": []byte(modules), "vendor/example.org/dep/dep.go": []byte(dep),
	})
	rep, err := New().Analyze(context.Background(), &vet.Input{Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Detail.(*Detail)
	if d.Loader != LoaderPackages || d.TypeErrors != 0 || !d.SSA {
		t.Fatalf("detail %+v: want go/packages, no type errors, SSA", d)
	}
	if _, ok := find(rep.Findings, "source/G115", 5); !ok {
		t.Errorf("no G115 for the narrowing of the dependency's int; findings: %s", summary(rep.Findings))
	}
}
