package dependencies

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// goZip is a real subset of the Go vulnerability database that the
// repository carries (testdata/osv/README.md says how it was cut).
const goZip = "../../../testdata/osv/go-subset.zip"

var (
	dbOnce sync.Once
	goDB   *vulndb.DB
	dbErr  error
)

func database(t testing.TB) *vulndb.DB {
	t.Helper()
	dbOnce.Do(func() { goDB, dbErr = vulndb.Load(goZip) })
	if dbErr != nil {
		t.Fatal(dbErr)
	}
	return goDB
}

var (
	vulnOnce sync.Once
	vulnWasm []byte
	vulnErr  error
)

// vulnPlugin builds testdata/vulnplugin, its own Go module pinning
// golang.org/x/text v0.3.5, for wasip1.
func vulnPlugin(t testing.TB) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	vulnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vulnplugin-")
		if err != nil {
			vulnErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "plugin.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join("testdata", "vulnplugin")
		// Its own module: no workspace, and its go.sum pins x/text.
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
		if msg, err := cmd.CombinedOutput(); err != nil {
			vulnErr = errors.New("building testdata/vulnplugin: " + err.Error() + "\n" + string(msg))
			return
		}
		vulnWasm, vulnErr = os.ReadFile(out)
	})
	if vulnErr != nil {
		t.Fatal(vulnErr)
	}
	return vulnWasm
}

func input(module []byte) *vet.Input {
	return &vet.Input{
		Module:   module,
		Manifest: &manifest.Manifest{Runtime: manifest.Runtime{Module: "plugin.wasm"}},
	}
}

func withPackage(t *testing.T, in *vet.Input, files map[string][]byte) *vet.Input {
	t.Helper()
	all := map[string][]byte{pkgfile.ManifestPath: []byte(`{"manifestVersion": 1}`)}
	if in.Module != nil {
		all["plugin.wasm"] = in.Module
	}
	for k, v := range files {
		all[k] = v
	}
	in.Package = plugintest.Package(t, all)
	return in
}

func analyze(t *testing.T, a *Analyzer, in *vet.Input) (*vet.Report, Detail) {
	t.Helper()
	rep, err := a.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := rep.Detail.(Detail)
	if !ok {
		t.Fatalf("Detail is %T", rep.Detail)
	}
	return rep, d
}

func byAdvisory(fs []vet.Finding, id string) *vet.Finding {
	for i := range fs {
		if fs[i].Properties["advisory"] == id {
			return &fs[i]
		}
	}
	return nil
}

func TestVulnerableGoModule(t *testing.T) {
	t.Parallel()
	wasm := vulnPlugin(t)
	db := database(t)
	rep, d := analyze(t, New(db), input(wasm))

	f := byAdvisory(rep.Findings, "GO-2021-0113")
	if f == nil {
		t.Fatalf("no finding for GO-2021-0113 in %+v", rep.Findings)
	}
	if f.RuleID != RuleKnownVulnerability || f.Analyzer != Name || f.Location.File != "plugin.wasm" || f.Severity != vet.Medium {
		t.Errorf("finding = %+v", f)
	}
	// The location points at the module information, which names x/text.
	at := wasm[f.Location.Offset : f.Location.Offset+f.Location.Length]
	if !bytes.HasPrefix(at, []byte("path\texample.com/vulnplugin\n")) || !bytes.Contains(at, []byte("dep\tgolang.org/x/text\tv0.3.5\t")) {
		t.Errorf("location offset %d, length %d: %q", f.Location.Offset, f.Location.Length, at)
	}
	for _, want := range []string{"GO-2021-0113", "CVE-2021-38561", "GHSA-ppp9-7jff-5vj2", "upgrade golang.org/x/text from v0.3.5 to v0.3.7 or later"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q lacks %q", f.Message, want)
		}
	}
	if !strings.Contains(f.Remediation, "go get golang.org/x/text@v0.3.7") {
		t.Errorf("remediation = %q", f.Remediation)
	}
	if g := byAdvisory(rep.Findings, "GO-2022-1059"); g == nil || !strings.Contains(g.Message, "to v0.3.8 or later") || g.Fingerprint == f.Fingerprint {
		t.Errorf("GO-2022-1059 finding = %+v", g)
	}
	for _, f := range rep.Findings {
		if f.Properties["package"] != "golang.org/x/text" && f.Properties["package"] != sbom.GoStdlib {
			t.Errorf("unexpected finding for %v: %s", f.Properties["package"], f.Message)
		}
	}
	if rep.Databases["osv"] != db.Version().String() || d.Database != db.Version().String() {
		t.Errorf("databases = %v, detail database %q", rep.Databases, d.Database)
	}
	if !strings.HasPrefix(d.GoVersion, "go1.") {
		t.Errorf("GoVersion = %q", d.GoVersion)
	}
	i := slices.IndexFunc(d.Components, func(c Component) bool { return c.Name == "golang.org/x/text" })
	if i < 0 || d.Components[i].Version != "v0.3.5" || !slices.Contains(d.Components[i].Advisories, "GO-2021-0113") || !slices.Equal(d.Components[i].Sources, []string{"plugin.wasm"}) {
		t.Errorf("components = %+v", d.Components)
	}
	if !slices.ContainsFunc(d.Components, func(c Component) bool { return c.Name == "stdlib" && c.Version != "" }) ||
		!slices.ContainsFunc(d.Components, func(c Component) bool { return c.Name == "example.com/vulnplugin" }) {
		t.Errorf("components lack the standard library or the main module: %+v", d.Components)
	}
	// The same run again gives the same fingerprints: suppressions carry.
	rep2, _ := analyze(t, New(db), input(wasm))
	if byAdvisory(rep2.Findings, "GO-2021-0113").Fingerprint != f.Fingerprint {
		t.Error("fingerprint changed between runs")
	}
}

// TestCleanGoModule checks the clean vetting plugin: its modules (the main
// module and anything it links) have no advisories. The standard library
// is the Go toolchain's: whatever advisories the shipped database has for
// the Go release running this test are reported, not asserted away.
func TestCleanGoModule(t *testing.T) {
	t.Parallel()
	wasm := plugintest.Build(t, "clean")
	rep, d := analyze(t, New(database(t)), input(wasm))
	stdlib := 0
	for _, f := range rep.Findings {
		if f.Properties["package"] == sbom.GoStdlib {
			stdlib++
			continue
		}
		t.Errorf("clean plugin: %s: %s", f.RuleID, f.Message)
	}
	t.Logf("clean plugin built with %s: %d components, %d standard-library advisories", d.GoVersion, len(d.Components), stdlib)
	if len(d.Components) < 2 {
		t.Errorf("components = %+v, want at least the standard library and the main module", d.Components)
	}
}

const cdxDoc = `{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "components": [
    {
      "type": "library",
      "name": "golang.org/x/text",
      "version": "v0.3.5",
      "purl": "pkg:golang/golang.org/x/text@v0.3.5"
    },
    {
      "type": "library",
      "name": "golang.org/x/text",
      "version": "v0.3.8",
      "purl": "pkg:golang/golang.org/x/text@v0.3.8"
    }
  ]
}
`

func TestSBOM(t *testing.T) {
	t.Parallel()
	in := withPackage(t, input(nil), map[string][]byte{
		"sbom.cdx.json":         []byte(cdxDoc),
		"docs/broken.spdx.json": []byte(`{"spdxVersion": "SPDX-2.3", "packages": [`),
		"notes.json":            []byte(`{"bomFormat": "oops"`), // not an SBOM name: ignored
	})
	rep, d := analyze(t, New(database(t)), in)

	f := byAdvisory(rep.Findings, "GO-2021-0113")
	if f == nil || f.Location.File != "sbom.cdx.json" || f.Location.Line != 9 {
		t.Fatalf("GO-2021-0113 finding = %+v, want sbom.cdx.json line 9", f)
	}
	if !strings.Contains(f.Remediation, "regenerate the SBOM") {
		t.Errorf("remediation = %q", f.Remediation)
	}
	// v0.3.8 is past both 2021 and 2022 fixes.
	for _, f := range rep.Findings {
		if f.Properties["installed"] == "v0.3.8" && (f.Properties["advisory"] == "GO-2021-0113" || f.Properties["advisory"] == "GO-2022-1059") {
			t.Errorf("v0.3.8 reported for %v", f.Properties["advisory"])
		}
	}
	var bad []vet.Finding
	for _, f := range rep.Findings {
		if f.RuleID == RuleUnreadableSBOM {
			bad = append(bad, f)
		}
	}
	// The syntax error's position: the end of the one-line document.
	if len(bad) != 1 || bad[0].Location.File != "docs/broken.spdx.json" || !strings.Contains(bad[0].Message, "not valid JSON") || bad[0].Severity != vet.Medium ||
		bad[0].Location.Line != 1 || bad[0].Location.Column != 42 {
		t.Errorf("unreadable-sbom findings = %+v", bad)
	}
	if len(d.Components) != 2 {
		t.Errorf("components = %+v", d.Components)
	}
}

// localReplaceSBOM is what cyclonedx-gomod writes for a module with a
// local replace (an empty path segment, which the purl specification
// discards), beside a component whose package URL is badly escaped and a
// vulnerable golang.org/x/text.
const localReplaceSBOM = `{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "components": [
    {
      "type": "library",
      "name": "example.com/plugin/internal/local",
      "version": "v0.0.0",
      "purl": "pkg:golang/example.com/plugin//internal/local@v0.0.0"
    },
    {
      "type": "library",
      "name": "example.com/broken",
      "version": "v1.0.0",
      "purl": "pkg:golang/example.com/br%zzoken@v1.0.0"
    },
    {
      "type": "library",
      "name": "golang.org/x/text",
      "version": "v0.3.5",
      "purl": "pkg:golang/golang.org/x/text@v0.3.5"
    }
  ]
}
`

// TestSBOMWithABadComponent: one component that cannot be read is
// reported, by name and at its line, and the rest of the SBOM is still
// matched: the x/text advisory is found.
func TestSBOMWithABadComponent(t *testing.T) {
	t.Parallel()
	in := withPackage(t, input(nil), map[string][]byte{"bom.json": []byte(localReplaceSBOM)})
	rep, d := analyze(t, New(database(t)), in)
	if f := byAdvisory(rep.Findings, "GO-2021-0113"); f == nil || f.Location.File != "bom.json" || f.Location.Line != 21 {
		t.Errorf("GO-2021-0113 finding = %+v, want bom.json line 21", f)
	}
	var bad []vet.Finding
	for _, f := range rep.Findings {
		switch f.RuleID {
		case RuleUnreadableSBOM:
			t.Errorf("the whole SBOM was refused: %+v", f)
		case RuleUnreadableEntry:
			bad = append(bad, f)
		}
	}
	if len(bad) != 1 {
		t.Fatalf("unreadable-sbom-component findings = %+v", bad)
	}
	f := bad[0]
	if f.Location.File != "bom.json" || f.Location.Line != 15 || f.Severity != vet.Low || f.Remediation == "" ||
		!strings.Contains(f.Message, "example.com/broken") || !strings.Contains(f.Message, "badly escaped") || f.Properties["component"] != "example.com/broken" {
		t.Errorf("finding = %+v", f)
	}
	// The local module is kept, its purl normalised (the empty segment
	// discarded).
	if !slices.ContainsFunc(d.Components, func(c Component) bool {
		return c.Name == "example.com/plugin/internal/local" && c.Ecosystem == "Go"
	}) || len(d.Components) != 2 {
		t.Errorf("components = %+v", d.Components)
	}
}

// TestSBOMBadComponentsCapped: an SBOM of many bad components gives at
// most maxEntryFindings findings and one that counts the rest.
func TestSBOMBadComponentsCapped(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [`)
	for i := range maxEntryFindings + 5 {
		fmt.Fprintf(&b, `{"type": "library", "name": "bad%d", "purl": "pkg:golang/%%zz/bad%d@v1"},`, i, i)
	}
	b.WriteString(`{"type": "library", "name": "golang.org/x/text", "version": "v0.3.5", "purl": "pkg:golang/golang.org/x/text@v0.3.5"}]}`)
	in := withPackage(t, input(nil), map[string][]byte{"bom.json": []byte(b.String())})
	rep, _ := analyze(t, New(database(t)), in)
	n := 0
	for _, f := range rep.Findings {
		if f.RuleID == RuleUnreadableEntry {
			n++
			if strings.Contains(f.Message, "5 more components") {
				n += 1000
			}
		}
	}
	if n != 1000+maxEntryFindings+1 || byAdvisory(rep.Findings, "GO-2021-0113") == nil {
		t.Errorf("findings: %d unreadable-sbom-component (want %d and a count of the rest); %+v", n%1000, maxEntryFindings+1, rep.Findings)
	}
}

func TestModuleAndSBOMAgree(t *testing.T) {
	t.Parallel()
	wasm := vulnPlugin(t)
	in := withPackage(t, input(wasm), map[string][]byte{"bom.json": []byte(cdxDoc)})
	rep, d := analyze(t, New(database(t)), in)
	n := 0
	for _, f := range rep.Findings {
		if f.Properties["advisory"] == "GO-2021-0113" {
			n++
			if f.Location.File != "plugin.wasm" {
				t.Errorf("location %+v, want the module, where it was found first", f.Location)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d findings for GO-2021-0113, want one for the component both list", n)
	}
	i := slices.IndexFunc(d.Components, func(c Component) bool { return c.Name == "golang.org/x/text" && c.Version == "v0.3.5" })
	if i < 0 || !slices.Equal(d.Components[i].Sources, []string{"plugin.wasm", "bom.json"}) {
		t.Errorf("components = %+v", d.Components)
	}
}

func TestNoDatabase(t *testing.T) {
	t.Parallel()
	_, err := New(nil).Analyze(context.Background(), input([]byte("\x00asm\x01\x00\x00\x00")))
	if !errors.Is(err, vet.ErrSkipped) || !strings.Contains(err.Error(), "gatehouse vulndb import") {
		t.Errorf("Analyze without a database = %v, want skipped with the command to run", err)
	}
}

func TestModuleWithoutGoInfo(t *testing.T) {
	t.Parallel()
	db := database(t)
	// A valid module not built by Go: no components, no error.
	rep, d := analyze(t, New(db), input([]byte("\x00asm\x01\x00\x00\x00")))
	if len(rep.Findings) != 0 || len(d.Components) != 0 || d.GoVersion != "" {
		t.Errorf("report %+v, detail %+v", rep, d)
	}
	// A malformed module: an error naming the file and the cause.
	_, err := New(db).Analyze(context.Background(), input([]byte("\x00asm\x01\x00\x00\x00\x01\x05")))
	if err == nil || !strings.Contains(err.Error(), "plugin.wasm") || !strings.Contains(err.Error(), "declares 5 bytes but 0 remain") {
		t.Errorf("malformed module: %v", err)
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	a := New(nil)
	ids := map[string]bool{}
	for _, r := range a.Rules() {
		if r.Remediation == "" || r.Description == "" || r.Severity.Rank() < 0 {
			t.Errorf("rule %+v is incomplete", r)
		}
		ids[r.ID] = true
	}
	if !ids[RuleKnownVulnerability] || !ids[RuleUnreadableSBOM] || !ids[RuleUnreadableEntry] || a.Name() != "dependencies" {
		t.Errorf("rules = %v", ids)
	}
	for name, want := range map[string]bool{"sbom.cdx.json": true, "x/app.CDX.json": true, "bom.json": true, "sbom.spdx.json": true, "a/b.spdx.json": true, "bom.xml": false, "sbom.json": false, "manifest.json": false} {
		if IsSBOMFile(name) != want {
			t.Errorf("IsSBOMFile(%q) = %v", name, !want)
		}
	}
}

// TestRunner runs the analyzer through vet.Run, as the server and
// `gatehouse vet` do: a vulnerable dependency fails and blocks, the
// component list is stored, and no database means skipped, not passed.
func TestRunner(t *testing.T) {
	t.Parallel()
	wasm := vulnPlugin(t)
	db := database(t)
	res := vet.Run(context.Background(), []vet.Analyzer{New(db)}, input(wasm), vet.Config{}, nil)
	if len(res) != 1 || res[0].Status != vet.Failed || !res[0].Blocking {
		t.Fatalf("results = %+v", res)
	}
	if !bytes.Contains(res[0].Detail, []byte(`"name":"golang.org/x/text","version":"v0.3.5","ecosystem":"Go"`)) || res[0].Databases["osv"] != db.Version().String() {
		t.Errorf("detail %s, databases %v", res[0].Detail, res[0].Databases)
	}
	res = vet.Run(context.Background(), []vet.Analyzer{New(nil)}, input(wasm), vet.Config{}, nil)
	if len(res) != 1 || res[0].Status != vet.Skipped || !strings.Contains(res[0].Reason, "gatehouse vulndb import") {
		t.Errorf("without a database: %+v", res)
	}

	// Over a store: skipped until the first import, then matching.
	store, err := vulndb.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := NewDynamic(store.DB)
	if res := vet.Run(context.Background(), []vet.Analyzer{a}, input(wasm), vet.Config{}, nil); res[0].Status != vet.Skipped {
		t.Errorf("empty store: %+v", res[0])
	}
	if _, err := store.ImportFile(goZip); err != nil {
		t.Fatal(err)
	}
	if res := vet.Run(context.Background(), []vet.Analyzer{a}, input(wasm), vet.Config{}, nil); res[0].Status != vet.Failed {
		t.Errorf("after an import: %+v", res[0])
	}
}

// BenchmarkAnalyze is the analyzer's share of vetting one real plugin:
// parsing the 2.9 MB module, reading its Go module information and
// matching its components.
func BenchmarkAnalyze(b *testing.B) {
	wasm := vulnPlugin(b)
	a := New(database(b))
	in := input(wasm)
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
