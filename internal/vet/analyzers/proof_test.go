package analyzers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// pluginPackage packs internal/vet/testdata/plugins/DIR the way an author's folder
// is packed: its files at the root (main.go as src/main.go) and the module
// built from module's source as plugin.wasm.
func pluginPackage(t testing.TB, dir, module string) (*pkgfile.Package, []byte) {
	t.Helper()
	mod := plugintest.Build(t, module)
	root := filepath.Join(plugintest.ModuleRoot(t), "internal", "vet", "testdata", "plugins", dir)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"plugin.wasm": mod}
	for _, e := range entries {
		if e.IsDir() {
			// tests/ holds the plugin's scenarios, one level deep.
			sub, err := os.ReadDir(filepath.Join(root, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range sub {
				b, err := os.ReadFile(filepath.Join(root, e.Name(), f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				files[e.Name()+"/"+f.Name()] = b
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		name := e.Name()
		if strings.HasSuffix(name, ".go") {
			name = "src/" + name
		}
		files[name] = b
	}
	return plugintest.Package(t, files), mod
}

func vetPackage(t testing.TB, pkg *pkgfile.Package) []vet.Result {
	t.Helper()
	in, err := LoadInput(pkg, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return vet.Run(context.Background(), Default(DefaultOptions{}), in, vet.Config{}, nil)
}

// failing returns the findings of Medium and above, by analyzer.
func failing(results []vet.Result) map[string][]vet.Finding {
	m := map[string][]vet.Finding{}
	for _, r := range results {
		for _, f := range r.Findings {
			if f.Severity.Fails() {
				m[r.Analyzer] = append(m[r.Analyzer], f)
			}
		}
	}
	return m
}

func describe(fs map[string][]vet.Finding) string {
	var sb strings.Builder
	for a, list := range fs {
		for _, f := range list {
			fmt.Fprintf(&sb, "\n  %s: %s %s at %s:%d+%d: %s", a, f.Severity, f.RuleID, f.Location.File, f.Location.Line, f.Location.Offset, f.Message)
		}
	}
	return sb.String()
}

// wantOnly checks that exactly one analyzer failed, that it blocks, and
// that its failing findings are exactly want (rule id and location).
func wantOnly(t *testing.T, results []vet.Result, analyzer string, want ...vet.Finding) {
	t.Helper()
	fs := failing(results)
	if len(fs) != 1 || len(fs[analyzer]) == 0 {
		t.Fatalf("want failing findings from %s alone, got:%s", analyzer, describe(fs))
	}
	got := fs[analyzer]
	if len(got) != len(want) {
		t.Errorf("%d failing findings, want %d:%s", len(got), len(want), describe(fs))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			l := g.Location
			if g.RuleID == w.RuleID && l.File == w.Location.File && l.Line == w.Location.Line && l.Offset == w.Location.Offset {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s finding at %s:%d+%d; got:%s", w.RuleID, w.Location.File, w.Location.Line, w.Location.Offset, describe(fs))
		}
	}
	blocked, reasons := vet.Summary(results)
	if !blocked || len(reasons) != 1 || !strings.HasPrefix(reasons[0], analyzer+" ") {
		t.Errorf("Summary = %v %q, want blocked by %s alone", blocked, reasons, analyzer)
	}
}

func at(file string, line int, offset int64) vet.Location {
	return vet.Location{File: file, Line: line, Offset: offset}
}

func TestCleanPluginPasses(t *testing.T) {
	pkg, _ := pluginPackage(t, "clean", "clean")
	results := vetPackage(t, pkg)
	if fs := failing(results); len(fs) > 0 {
		t.Errorf("the clean plugin has failing findings:%s", describe(fs))
	}
	for _, r := range results {
		switch {
		case r.Blocking:
			t.Errorf("%s blocks: %s %s", r.Analyzer, r.Status, r.Reason)
		case r.Status == vet.Errored:
			t.Errorf("%s errored: %s", r.Analyzer, r.Reason)
		case r.Status == vet.Skipped && r.Analyzer != "diff" && r.Analyzer != "dependencies":
			t.Errorf("%s skipped: %s", r.Analyzer, r.Reason)
		}
	}
	if blocked, reasons := vet.Summary(results); blocked {
		t.Errorf("blocked: %q", reasons)
	}
}

func TestSecretInStringConstant(t *testing.T) {
	t.Parallel()
	pkg, mod := pluginPackage(t, "secret", "secret")
	results := vetPackage(t, pkg)
	key := "AKIA" + "QYLPMN5HHHFPZAM2"
	off := bytes.Index(mod, []byte(key))
	if off < 0 {
		t.Fatal("the built module does not hold the key; the test plugin is broken")
	}
	wantOnly(t, results, "secrets", vet.Finding{RuleID: "secrets/aws-access-token", Location: at("plugin.wasm", 0, int64(off))})

	// The key appears nowhere in what vetting hands out.
	var out bytes.Buffer
	if err := json.NewEncoder(&out).Encode(results); err != nil {
		t.Fatal(err)
	}
	if err := sarif.Write(&out, results, Rules(Default(DefaultOptions{})), sarif.ToolInfo{Name: "gatehouse"}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte(key)) || bytes.Contains(out.Bytes(), []byte(key[4:])) {
		t.Error("the secret appears in the JSON or SARIF output")
	}
}

func TestUndeclaredHostImport(t *testing.T) {
	t.Parallel()
	pkg, mod := pluginPackage(t, "undeclaredimport", "undeclaredimport")
	m, err := wasmfile.Parse(mod)
	if err != nil {
		t.Fatal(err)
	}
	var want []vet.Finding
	for _, im := range m.Imports {
		if im.Module == "gatehouse_v1" && (im.Name == "kv_get" || im.Name == "kv_set") {
			want = append(want, vet.Finding{RuleID: "capabilities/undeclared-import", Location: at("plugin.wasm", 0, im.Offset)})
		}
	}
	if len(want) != 2 {
		t.Fatalf("the module imports %d of kv_get and kv_set, want both", len(want))
	}
	wantOnly(t, vetPackage(t, pkg), "capabilities", want...)
}

func TestURLToUndeclaredHost(t *testing.T) {
	t.Parallel()
	pkg, mod := pluginPackage(t, "undeclaredorigin", "undeclaredorigin")
	url := "https://telemetry.example.net"
	off := bytes.Index(mod, []byte(url))
	src, _ := pkg.File("src/main.go")
	line, _ := vet.LineCol(src, bytes.Index(src, []byte(url)))
	// Found twice: in the module's data and in the shipped source.
	wantOnly(t, vetPackage(t, pkg), "capabilities",
		vet.Finding{RuleID: "capabilities/undeclared-origin", Location: at("plugin.wasm", 0, int64(off))},
		vet.Finding{RuleID: "capabilities/undeclared-origin", Location: at("src/main.go", line, 0)},
	)
}

func TestLicenceMismatch(t *testing.T) {
	t.Parallel()
	pkg, _ := pluginPackage(t, "licensemismatch", "clean")
	lic, _ := pkg.File("LICENSE")
	line, _ := vet.LineCol(lic, bytes.Index(lic, []byte("Apache License")))
	wantOnly(t, vetPackage(t, pkg), "licenses", vet.Finding{RuleID: "licenses/mismatch", Location: at("LICENSE", line, 0)})
}

func TestInvalidManifest(t *testing.T) {
	t.Parallel()
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, nil)
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": []byte(`{"manifestVersion": 1, "id": "x"}`), "plugin.wasm": mod})
	in, err := LoadInput(pkg, manifest.Options{})
	if err != nil || in.Manifest != nil {
		t.Fatalf("LoadInput = %+v, %v", in, err)
	}
	res := map[string]vet.Result{}
	for _, r := range vet.Run(context.Background(), Default(DefaultOptions{}), in, vet.Config{}, nil) {
		res[r.Analyzer] = r
	}
	if r := res["manifest"]; r.Status != vet.Failed || !r.Blocking || len(r.Findings) == 0 {
		t.Errorf("manifest: %+v", r)
	}
	// The core check fails closed; the licence check has nothing to
	// compare and is skipped.
	if r := res["capabilities"]; r.Status != vet.Errored || !r.Blocking {
		t.Errorf("capabilities: %s %s", r.Status, r.Reason)
	}
	if r := res["licenses"]; r.Status != vet.Skipped || r.Blocking {
		t.Errorf("licenses: %s %s", r.Status, r.Reason)
	}
	if _, err := LoadInput(nil, manifest.Options{}); err == nil {
		t.Error("LoadInput(nil) succeeded")
	}
}
