package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/pluginkit"
	prov "gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/internal/wasmfile/gobuildinfo"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

var (
	counterOnce  sync.Once
	counterFiles map[string][]byte
	counterErr   error
)

// counter builds examples/plugins/counter with pluginkit.Build from a copy
// outside the repository and packs it with pkgfile.PackDir, as `gatehouse
// plugin build` and `gatehouse plugin pack` do, once per test binary, and
// returns the package's files: the source comes along with the module.
func counter(t testing.TB) map[string][]byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	root := plugintest.ModuleRoot(t)
	counterOnce.Do(func() {
		work, err := os.MkdirTemp("", "provenance-example-")
		if err != nil {
			counterErr = err
			return
		}
		defer os.RemoveAll(work)
		dir := filepath.Join(work, "counter")
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "examples", "plugins", "counter"))); err != nil {
			counterErr = err
			return
		}
		if _, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "kit")}); err != nil {
			counterErr = err
			return
		}
		var buf bytes.Buffer
		if _, _, err := pkgfile.PackDir(dir, &buf); err != nil {
			counterErr = err
			return
		}
		p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
		if err != nil {
			counterErr = err
			return
		}
		counterFiles = map[string][]byte{}
		for _, e := range p.Files {
			counterFiles[e.Path], _ = p.File(e.Path)
		}
	})
	if counterErr != nil {
		t.Fatal(counterErr)
	}
	files := make(map[string][]byte, len(counterFiles))
	for k, v := range counterFiles {
		files[k] = bytes.Clone(v)
	}
	return files
}

func input(t testing.TB, files map[string][]byte) *vet.Input {
	t.Helper()
	pkg := plugintest.Package(t, files)
	m, err := manifest.Parse(pkg.Manifest(), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mod, _ := pkg.File(m.Runtime.Module)
	return &vet.Input{Package: pkg, Manifest: m, Module: mod}
}

func analyze(t *testing.T, a *Analyzer, files map[string][]byte) (*vet.Report, prov.Detail) {
	t.Helper()
	rep, err := a.Analyze(context.Background(), input(t, files))
	if err != nil {
		t.Fatal(err)
	}
	// Detail goes through JSON into the store, and certification reads
	// it back with ParseDetail.
	raw, err := json.Marshal(rep.Detail)
	if err != nil {
		t.Fatal(err)
	}
	d, err := prov.ParseDetail(raw)
	if err != nil {
		t.Fatal(err)
	}
	return rep, d
}

func ruleIDs(fs []vet.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}

func TestExampleRebuildsReproducibly(t *testing.T) {
	t.Parallel()
	files := counter(t)
	at := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	rep, d := analyze(t, New(Options{Now: func() time.Time { return at }}), files)
	r := d.Rebuild
	if !r.Attempted || !r.Reproducible {
		t.Fatalf("the example did not rebuild reproducibly: %+v", r)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings on a reproducible example: %v", ruleIDs(rep.Findings))
	}
	if r.RebuiltDigest != prov.Digest(files["plugin.wasm"]) || r.GoVersion == "" || r.MainModule != "plugins.local/acme/counter" {
		t.Errorf("detail %+v", r)
	}
	if c := d.Checks(); len(c) != 1 || c[0] != prov.CheckReproducible {
		t.Errorf("checks %q; want just reproducible", c)
	}
	if !r.FinishedAt.Equal(at) {
		t.Errorf("rebuild dated %v; want the clock's %v", r.FinishedAt, at)
	}
	if len(r.Dependencies) != 2 {
		t.Errorf("dependencies %+v; want the source and the plugin kit", r.Dependencies)
	}
	// The marketplace can state its own provenance for it.
	st, err := prov.MarketplaceStatement(d, r.ModuleDigest, prov.StatementInput{PluginID: "acme/counter", Version: "1.0.0", PackageDigest: prov.Digest([]byte("package"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Parse(st); err != nil {
		t.Fatalf("marketplace statement: %v", err)
	}
}

func TestTamperingIsNotReproducible(t *testing.T) {
	t.Parallel()
	cases := map[string]func(files map[string][]byte){
		// A section appended after the build: the build information
		// is intact, so only the rebuild tells.
		"module with an extra section": func(files map[string][]byte) {
			files["plugin.wasm"] = append(files["plugin.wasm"], 0x00, 0x05, 0x04, 'e', 'v', 'i', 'l')
		},
		// The source reviewers read is not the source that was built.
		"source edited after the build": func(files map[string][]byte) {
			files["main.go"] = bytes.Replace(files["main.go"], []byte(`const keyPrefix = "counter/"`), []byte(`const keyPrefix = "tallies/"`), 1)
		},
		"source that does not build": func(files map[string][]byte) {
			files["main.go"] = append(files["main.go"], []byte("\nfunc broken() { return 1 }\n")...)
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files := counter(t)
			tamper(files)
			rep, d := analyze(t, New(Options{}), files)
			if d.Rebuild.Reproducible || !d.Rebuild.Attempted {
				t.Fatalf("rebuild %+v; want attempted and not reproducible", d.Rebuild)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].RuleID != RuleNotReproducible {
				t.Fatalf("findings %v; want %s", ruleIDs(rep.Findings), RuleNotReproducible)
			}
			f := rep.Findings[0]
			if f.Location.File != "plugin.wasm" || !f.Severity.Fails() || f.Fingerprint == "" {
				t.Errorf("finding %+v", f)
			}
			if len(d.Checks()) != 0 {
				t.Errorf("checks %q for a module that does not reproduce", d.Checks())
			}
		})
	}
}

func TestOtherGoVersionIsNotAttempted(t *testing.T) {
	t.Parallel()
	files := counter(t)
	m, err := wasmfile.Parse(files["plugin.wasm"])
	if err != nil {
		t.Fatal(err)
	}
	bi, err := gobuildinfo.Read(m)
	if err != nil {
		t.Fatal(err)
	}
	// The same length keeps the data section well formed.
	other := strings.Repeat("9", len(strings.TrimPrefix(bi.GoVersion, "go1.")))
	other = "go1." + other[:len(other)-2] + ".9"
	// Wherever the version is recorded (the producers section, the
	// runtime's own string).
	files["plugin.wasm"] = bytes.ReplaceAll(files["plugin.wasm"], []byte(bi.GoVersion), []byte(other))
	rep, d := analyze(t, New(Options{}), files)
	want := fmt.Sprintf("not attempted: needs %s, this marketplace has %s", other, bi.GoVersion)
	if d.Rebuild.Attempted || d.Rebuild.Reason != want {
		t.Fatalf("rebuild %+v; want reason %q", d.Rebuild, want)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings %v; a toolchain the marketplace lacks is no fault of the package", ruleIDs(rep.Findings))
	}
}

// noGo is a go command that does not exist: a test that passes with it
// never ran the toolchain.
func noGo(t *testing.T) Options {
	return Options{Go: filepath.Join(t.TempDir(), "no-such-go")}
}

func TestWithoutSourceNoToolchainRuns(t *testing.T) {
	t.Parallel()
	module := plugintest.Module(nil, []string{"run"}, 1, -1, nil)
	mf := []byte(`{"manifestVersion":1,"id":"acme/tiny","version":"1.0.0","name":"Tiny","owners":[{"name":"Acme","email":"a@acme.example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":[]}`)
	cases := map[string]struct {
		files  map[string][]byte
		reason string
	}{
		"no source": {
			map[string][]byte{"manifest.json": mf, "plugin.wasm": module},
			"not attempted: the package includes no Go source",
		},
		"source without go.mod": {
			map[string][]byte{"manifest.json": mf, "plugin.wasm": module, "main.go": []byte("package main\n")},
			"not attempted: the package's Go source has no go.mod at the package root, so the module it builds cannot be told",
		},
		"module not built by Go": {
			map[string][]byte{"manifest.json": mf, "plugin.wasm": module, "main.go": []byte("package main\n"), "go.mod": []byte("module x\n")},
			"not attempted: the module carries no Go build information",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep, d := analyze(t, New(noGo(t)), c.files)
			if !strings.HasPrefix(d.Rebuild.Reason, c.reason) || d.Rebuild.Attempted {
				t.Fatalf("rebuild %+v; want reason %q", d.Rebuild, c.reason)
			}
			if len(rep.Findings) != 0 || d.Provenance.Present {
				t.Errorf("findings %v, provenance %+v", ruleIDs(rep.Findings), d.Provenance)
			}
		})
	}
}

func TestSourceTheRebuildRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		edit   func(files map[string][]byte)
		reason string
	}{
		"replace directive": {
			func(f map[string][]byte) {
				f["go.mod"] = append(f["go.mod"], []byte("\nreplace gatehouse.dev/gatehouse => /etc\n")...)
			},
			"not attempted: the package's go.mod has replace directives",
		},
		"other module": {
			func(f map[string][]byte) {
				f["go.mod"] = bytes.Replace(f["go.mod"], []byte("module plugins.local/acme/counter"), []byte("module plugins.local/acme/other"), 1)
			},
			`not attempted: the package's go.mod declares module "plugins.local/acme/other", but the module was built from "plugins.local/acme/counter"`,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files := counter(t)
			c.edit(files)
			rep, d := analyze(t, New(noGo(t)), files)
			if !strings.HasPrefix(d.Rebuild.Reason, c.reason) || d.Rebuild.Attempted {
				t.Fatalf("rebuild %+v; want reason %q", d.Rebuild, c.reason)
			}
			if len(rep.Findings) != 0 {
				t.Errorf("findings %v", ruleIDs(rep.Findings))
			}
		})
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	base := []debug.BuildSetting{
		{Key: "-buildmode", Value: "c-shared"}, {Key: "-compiler", Value: "gc"}, {Key: "-trimpath", Value: "true"},
		{Key: "CGO_ENABLED", Value: "0"}, {Key: "GOARCH", Value: "wasm"}, {Key: "GOOS", Value: "wasip1"},
	}
	with := func(extra ...debug.BuildSetting) *debug.BuildInfo {
		var out []debug.BuildSetting
		for _, s := range base {
			replaced := false
			for _, e := range extra {
				if e.Key == s.Key {
					replaced = true
				}
			}
			if !replaced {
				out = append(out, s)
			}
		}
		return &debug.BuildInfo{Settings: append(out, extra...)}
	}
	var p plan
	if err := p.settings(with(debug.BuildSetting{Key: "-tags", Value: "purego,netgo"}, debug.BuildSetting{Key: "GOWASM", Value: "satconv"})); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.flags, " "); got != "-buildmode=c-shared -buildvcs=false -tags=purego,netgo -trimpath" {
		t.Errorf("flags %q", got)
	}
	if len(p.recordedEnv) != 1 || p.recordedEnv[0] != "GOWASM=satconv" {
		t.Errorf("env %q", p.recordedEnv)
	}
	for name, bi := range map[string]*debug.BuildInfo{
		"no trimpath":   with(debug.BuildSetting{Key: "-trimpath", Value: "false"}),
		"vcs stamped":   with(debug.BuildSetting{Key: "vcs.revision", Value: "abc"}),
		"gcflags":       with(debug.BuildSetting{Key: "-gcflags", Value: "-N -l"}),
		"cgo":           with(debug.BuildSetting{Key: "CGO_ENABLED", Value: "1"}),
		"other OS":      with(debug.BuildSetting{Key: "GOOS", Value: "js"}),
		"odd tags":      with(debug.BuildSetting{Key: "-tags", Value: "a -toolexec=/bin/sh"}),
		"unknown":       with(debug.BuildSetting{Key: "-pgo", Value: "/home/x/default.pgo"}),
		"no GOOS":       {Settings: base[:5]},
		"plugin build":  with(debug.BuildSetting{Key: "-buildmode", Value: "plugin"}),
		"odd GOWASM":    with(debug.BuildSetting{Key: "GOWASM", Value: "a b"}),
		"other compile": with(debug.BuildSetting{Key: "-compiler", Value: "gccgo"}),
	} {
		var p plan
		err := p.settings(bi)
		if _, ok := err.(errNotAttempted); !ok {
			t.Errorf("%s: %v; want not attempted", name, err)
		}
	}
}

func TestAttestation(t *testing.T) {
	t.Parallel()
	files := counter(t)
	mod := files["plugin.wasm"]
	const builder = "https://builders.example.com/go@v1"
	att := func(subject []byte, builder string) []byte {
		sum := strings.TrimPrefix(prov.Digest(subject), "sha256:")
		return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"plugin.wasm","digest":{"sha256":%q}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://builders.example.com/go/v1","externalParameters":{"source":"git+https://example.com/acme/counter"}},"runDetails":{"builder":{"id":%q}}}}`, sum, builder)
	}
	trusted := Options{Policy: prov.Policy{Builders: []prov.Builder{{ID: builder}}}}
	cases := []struct {
		name     string
		opts     Options
		att      []byte
		rule     string
		verified bool
	}{
		{"default policy: reported, not trusted", Options{}, att(mod, builder), "", false},
		{"trusted builder", trusted, att(mod, builder), "", true},
		{"other module's provenance", trusted, att([]byte("other"), builder), RuleSubjectMismatch, false},
		{"untrusted builder", trusted, att(mod, "https://evil.example.com/b"), RuleBuilder, false},
		{"malformed", trusted, []byte(`{"_type": "https://in-toto.io/Statement/v1"}`), RuleInvalid, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files := counter(t)
			files[prov.Path] = c.att
			rep, d := analyze(t, New(c.opts), files)
			var rules []string
			for _, f := range rep.Findings {
				rules = append(rules, f.RuleID)
				if f.Location.File != prov.Path || f.Remediation != "" && f.Message == "" {
					t.Errorf("finding %+v", f)
				}
			}
			if c.rule == "" && len(rules) != 0 || c.rule != "" && (len(rules) != 1 || rules[0] != c.rule) {
				t.Fatalf("findings %q; want %q", rules, c.rule)
			}
			if !d.Provenance.Present || d.Provenance.Verified != c.verified {
				t.Fatalf("provenance %+v; want verified %v", d.Provenance, c.verified)
			}
			// The attestation is not part of what the rebuild compiles.
			if !d.Rebuild.Reproducible {
				t.Errorf("an attestation broke the rebuild: %+v", d.Rebuild)
			}
			hasCheck := strings.Contains(strings.Join(d.Checks(), ","), prov.CheckProvenance)
			if hasCheck != c.verified {
				t.Errorf("checks %q", d.Checks())
			}
		})
	}
}

// TestRunnerRecordsFindings: run through vet.Run as the marketplace does,
// a module that does not reproduce fails the result and blocks.
func TestRunnerRecordsFindings(t *testing.T) {
	t.Parallel()
	files := counter(t)
	files["plugin.wasm"] = append(files["plugin.wasm"], 0x00, 0x02, 0x01, 'x')
	res := vet.Run(context.Background(), []vet.Analyzer{New(Options{})}, input(t, files), vet.Config{}, nil)
	if len(res) != 1 || res[0].Status != vet.Failed || !res[0].Blocking {
		t.Fatalf("result %+v", res)
	}
	if _, err := prov.ParseDetail(res[0].Detail); err != nil {
		t.Fatal(err)
	}
}

// scaffold builds a fresh `gatehouse plugin init` scaffold (which carries
// the kit and vendors it) and packs it, as an author would.
func scaffold(t *testing.T) map[string][]byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	work := t.TempDir()
	dir := filepath.Join(work, "hello")
	if err := pluginkit.Init(dir, "acme/hello", pluginkit.InitOptions{Year: 2026}); err != nil {
		t.Fatal(err)
	}
	if _, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "kit")}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, _, err := pkgfile.PackDir(dir, &buf); err != nil {
		t.Fatal(err)
	}
	p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range p.Files {
		files[e.Path], _ = p.File(e.Path)
	}
	return files
}

// TestVendoredScaffoldRebuilds: a scaffold packs its kit in vendor/ (the
// carried .gatehouse/kit stays out), and the rebuild uses vendor/ alone;
// a replace beyond the kit's, or a vendor/ that is not what was built,
// is refused or not reproduced.
func TestVendoredScaffoldRebuilds(t *testing.T) {
	t.Parallel()
	files := scaffold(t)
	if _, ok := files["vendor/modules.txt"]; !ok {
		t.Fatal("the packed scaffold has no vendor/modules.txt")
	}
	for p := range files {
		if strings.HasPrefix(p, ".gatehouse/") {
			t.Fatalf("the package carries %s; the carried kit is the author's tool's, vendor/ is the package's", p)
		}
	}
	_, d := analyze(t, New(Options{}), files)
	if r := d.Rebuild; !r.Attempted || !r.Reproducible {
		t.Fatalf("the scaffold did not rebuild from vendor/: %+v", r)
	}
	var kit bool
	for _, dep := range d.Rebuild.Dependencies {
		kit = kit || (dep.Name == "gatehouse.dev/gatehouse@v0.0.0" && len(dep.SHA256) == 64)
	}
	if !kit {
		t.Errorf("dependencies %+v; want the vendored kit with its digest", d.Rebuild.Dependencies)
	}

	t.Run("another replace", func(t *testing.T) {
		t.Parallel()
		f := cloneFiles(files)
		f["go.mod"] = append(f["go.mod"], []byte("\nreplace example.org/x => /etc\n")...)
		_, d := analyze(t, New(noGo(t)), f)
		if d.Rebuild.Attempted || !strings.Contains(d.Rebuild.Reason, "replace directives other than") {
			t.Errorf("rebuild %+v; want it refused for the replace", d.Rebuild)
		}
	})
	t.Run("vendored kit edited", func(t *testing.T) {
		t.Parallel()
		f := cloneFiles(files)
		p := "vendor/gatehouse.dev/gatehouse/pdk/pdk.go"
		f[p] = append(f[p], []byte("\nvar Planted = 1\n")...)
		rep, d := analyze(t, New(Options{}), f)
		if d.Rebuild.Reproducible || !slices.Contains(ruleIDs(rep.Findings), RuleNotReproducible) {
			t.Errorf("rebuild %+v, findings %v; want not reproducible", d.Rebuild, ruleIDs(rep.Findings))
		}
	})
}

func cloneFiles(files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out[k] = bytes.Clone(v)
	}
	return out
}
