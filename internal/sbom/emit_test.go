package sbom_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/sbom/sbomtest"
	"gatehouse.dev/gatehouse/internal/wasmfile/wasmtest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// goInfo is what the Go linker records for a plugin pinning x/text, with
// a local replace (no version) and a replaced module.
const goInfo = "path\texample.com/plugin/cmd\nmod\texample.com/plugin\t(devel)\t\n" +
	"dep\tgolang.org/x/text\tv0.3.5\th1:abc=\n" +
	"dep\texample.com/old\tv1.0.0\t\n=>\texample.com/new\tv1.2.0\th1:def=\n" +
	"dep\texample.com/local\tv0.0.0\t\n=>\t../local\t\t\n" +
	"build\t-trimpath=true\nbuild\tGOOS=wasip1\nbuild\tGOARCH=wasm\n"

func subject(t *testing.T) sbom.Subject {
	t.Helper()
	bi, err := debug.ParseBuildInfo(goInfo)
	if err != nil {
		t.Fatal(err)
	}
	// The Go version is not in the text: gobuildinfo takes it from the
	// module's producers section.
	bi.GoVersion = "go1.26.8"
	file := func(path, data string) sbom.File {
		s1 := sha1.Sum([]byte(data))
		return sbom.File{Path: path, SHA1: hex.EncodeToString(s1[:]), SHA256: strings.Repeat("ab", 32)}
	}
	return sbom.Subject{
		PluginID: "acme/hello", Version: "1.2.3+build.7", Digest: "sha256:" + strings.Repeat("0f", 32),
		Description: "Says <hello> & more", License: "MIT OR LicenseRef-acme-eula", Module: "plugin.wasm",
		// Out of order: the documents sort them.
		Files: []sbom.File{file("plugin.wasm", "\x00asm"), file("README.md", "# hello"), file("manifest.json", "{}")},
		Go:    []*debug.BuildInfo{bi},
		Time:  time.Date(2026, 12, 6, 15, 4, 5, 0, time.FixedZone("CET", 3600)),
	}
}

// TestEmittedDocumentsMatchTheOfficialSchemas: both documents validate
// against the official CycloneDX 1.6 and SPDX 2.3 schemas, formats
// included, for a Go-built module and for one no Go toolchain built.
func TestEmittedDocumentsMatchTheOfficialSchemas(t *testing.T) {
	t.Parallel()
	noGo := subject(t)
	noGo.Go, noGo.License = nil, ""
	for name, s := range map[string]sbom.Subject{"go": subject(t), "no go, no licence": noGo} {
		for _, f := range sbom.Formats {
			doc, err := sbom.Emit(f, s)
			if err != nil {
				t.Fatalf("%s %s: %v", name, f, err)
			}
			sbomtest.Check(t, f, doc)
		}
	}
	// The validator is not a formality: a document missing a required
	// field fails it.
	if err := sbomtest.Validate(sbom.FormatSPDX, []byte(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}`)); err == nil {
		t.Error("an SPDX document without name, dataLicense, creationInfo validated")
	}
	if err := sbomtest.Validate(sbom.FormatCycloneDX, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"not-a-urn"}`)); err == nil {
		t.Error("a CycloneDX document with a bad serial number validated")
	}
}

// TestEmittedDocumentsAreDeterministic: the same version gives the same
// bytes (a certificate lists their digests), whatever the order of its
// files; another time or package gives another document.
func TestEmittedDocumentsAreDeterministic(t *testing.T) {
	t.Parallel()
	for _, f := range sbom.Formats {
		a, err := sbom.Emit(f, subject(t))
		if err != nil {
			t.Fatal(err)
		}
		s := subject(t)
		slices.Reverse(s.Files)
		s.Time = s.Time.UTC()
		b, _ := sbom.Emit(f, s)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two emissions of one version differ:\n%s\n%s", f, a, b)
		}
		s.Time = s.Time.Add(time.Second)
		if c, _ := sbom.Emit(f, s); bytes.Equal(a, c) || sbom.Digest(a) == sbom.Digest(c) {
			t.Errorf("%s: another certification time gives the same document", f)
		}
		if !strings.Contains(string(a), "2026-12-06T14:04:05Z") {
			t.Errorf("%s: the certification time is not in UTC in the document:\n%s", f, a)
		}
	}
}

// TestEmittedDocumentsReadBack: what the marketplace emits, its own
// reader reads: the Go modules compiled in, with package URLs a
// vulnerability database matches (the replacement, not the replaced).
func TestEmittedDocumentsReadBack(t *testing.T) {
	t.Parallel()
	for _, f := range sbom.Formats {
		doc, _ := sbom.Emit(f, subject(t))
		d, err := sbom.ParseDocument(doc)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(d.Skipped) != 0 {
			t.Errorf("%s: components skipped: %v", f, d.Skipped)
		}
		has := func(name, version string) bool {
			return slices.ContainsFunc(d.Components, func(c sbom.Component) bool { return c.Name == name && c.Version == version && c.Ecosystem == "Go" })
		}
		if !has("golang.org/x/text", "v0.3.5") || !has("example.com/new", "v1.2.0") || has("example.com/old", "v1.0.0") {
			t.Errorf("%s: components %+v; want x/text v0.3.5 and the replacement example.com/new", f, d.Components)
		}
	}
}

// TestSPDXDocument checks what SPDX validators look at beyond the
// schema: the package verification code, a definition for each
// LicenseRef, every file contained, and the Go modules linked.
func TestSPDXDocument(t *testing.T) {
	t.Parallel()
	s := subject(t)
	doc, _ := sbom.SPDXDocument(s)
	var d struct {
		DocumentNamespace string
		Packages          []struct {
			SPDXID                  string
			LicenseDeclared         string
			PackageVerificationCode struct{ PackageVerificationCodeValue string }
		}
		Files []struct {
			SPDXID, FileName string
		}
		HasExtractedLicensingInfos []struct{ LicenseID string }
		Relationships              []struct{ SPDXElementID, RelationshipType, RelatedSPDXElement string }
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var sums []string
	for _, f := range s.Files {
		sums = append(sums, f.SHA1)
	}
	slices.Sort(sums)
	vc := sha1.Sum([]byte(strings.Join(sums, "")))
	if got := d.Packages[0].PackageVerificationCode.PackageVerificationCodeValue; got != hex.EncodeToString(vc[:]) {
		t.Errorf("verification code %s, want %x", got, vc)
	}
	if d.Packages[0].LicenseDeclared != "MIT OR LicenseRef-acme-eula" || len(d.HasExtractedLicensingInfos) != 1 || d.HasExtractedLicensingInfos[0].LicenseID != "LicenseRef-acme-eula" {
		t.Errorf("licence %q, extracted %+v", d.Packages[0].LicenseDeclared, d.HasExtractedLicensingInfos)
	}
	if len(d.Files) != 3 || d.Files[0].FileName != "./README.md" || d.Files[2].FileName != "./plugin.wasm" {
		t.Errorf("files %+v, want the three sorted, each ./path", d.Files)
	}
	contains, links := 0, 0
	for _, r := range d.Relationships {
		switch r.RelationshipType {
		case "CONTAINS":
			contains++
		case "STATIC_LINK":
			links++
			if r.SPDXElementID != "SPDXRef-File-3" {
				t.Errorf("a Go module is linked from %s, not the module file", r.SPDXElementID)
			}
		}
	}
	// stdlib, the main module, x/text, the replacement, the local one.
	if contains != 3 || links != 5 || len(d.Packages) != 6 {
		t.Errorf("%d CONTAINS, %d STATIC_LINK, %d packages; want 3, 5, 6", contains, links, len(d.Packages))
	}
	if strings.Contains(d.DocumentNamespace, "#") || !strings.HasPrefix(d.DocumentNamespace, "https://gatehouse.dev/spdxdocs/acme/hello/") {
		t.Errorf("namespace %q", d.DocumentNamespace)
	}
}

// TestFromPackage reads a real package: every file with both digests,
// the manifest's identity, and no Go information in a module no Go
// toolchain built.
func TestFromPackage(t *testing.T) {
	t.Parallel()
	m := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"Hello","description":"Hi.","license":"Apache-2.0","runtime":{"module":"plugin.wasm"}}`
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: wasmtest.Handle}}); err != nil {
		t.Fatal(err)
	}
	p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	s, err := sbom.FromPackage(p, at)
	if err != nil {
		t.Fatal(err)
	}
	want := sha1.Sum(wasmtest.Handle)
	if s.PluginID != "acme/hello" || s.Version != "1.0.0" || s.License != "Apache-2.0" || s.Digest != p.Digest || s.Go != nil || len(s.Files) != 2 ||
		s.Files[1].Path != "plugin.wasm" || s.Files[1].SHA1 != hex.EncodeToString(want[:]) || s.Files[1].SHA256 != p.Files[1].SHA256 {
		t.Errorf("subject = %+v", s)
	}
	for _, f := range sbom.Formats {
		doc, err := sbom.Emit(f, s)
		if err != nil {
			t.Fatal(err)
		}
		sbomtest.Check(t, f, doc)
	}
	// A manifest naming a module the package does not hold is an error
	// that names it.
	buf.Reset()
	pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(strings.Replace(m, "plugin.wasm", "gone.wasm", 1))}, {Path: "plugin.wasm", Data: wasmtest.Handle}})
	p, _ = pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if _, err := sbom.FromPackage(p, at); err == nil || !strings.Contains(err.Error(), `"gone.wasm"`) {
		t.Errorf("missing module: %v", err)
	}
}

func TestEmitRefusesBadSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*sbom.Subject)
		want string
	}{
		{"no namespace", func(s *sbom.Subject) { s.PluginID = "hello" }, "namespace/name"},
		{"bad digest", func(s *sbom.Subject) { s.Digest = "sha256:zz" }, "not sha256:HEX"},
		{"no time", func(s *sbom.Subject) { s.Time = time.Time{} }, "issue time"},
	}
	for _, tt := range tests {
		s := subject(t)
		tt.edit(&s)
		for _, f := range sbom.Formats {
			if _, err := sbom.Emit(f, s); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s, %s: %v, want an error saying %q", tt.name, f, err, tt.want)
			}
		}
	}
	if _, err := sbom.Emit("swid", subject(t)); err == nil || !strings.Contains(err.Error(), "cyclonedx and spdx") {
		t.Errorf("unknown format: %v", err)
	}
}

// FuzzEmit: whatever a hostile package puts in its file names, manifest
// and Go build information, both documents are emitted, stay valid JSON
// under their official schemas, and read back with every Go module.
func FuzzEmit(f *testing.F) {
	f.Add("README.md", "example.com/mod", "v1.0.0", "desc", "MIT")
	f.Add("a/\"b\u2028.txt", "../local\x00", "", "<script>", "LicenseRef-x OR Apache-2.0")
	f.Fuzz(func(t *testing.T, file, mod, version, desc, license string) {
		s := subject(t)
		s.Files = append(s.Files, sbom.File{Path: file, SHA1: strings.Repeat("1", 40), SHA256: strings.Repeat("2", 64)})
		s.Description, s.License = desc, license
		s.Go[0].Deps = append(s.Go[0].Deps, &debug.Module{Path: mod, Version: version})
		for _, f := range sbom.Formats {
			doc, err := sbom.Emit(f, s)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(doc) {
				t.Fatalf("%s: not JSON: %s", f, doc)
			}
			if err := sbomtest.Validate(f, doc); err != nil {
				// Only what the schema constrains and the input makes
				// impossible may fail: a date or a licence expression is
				// never taken from the input unchecked.
				t.Fatalf("%s: %v", f, err)
			}
			d, err := sbom.ParseDocument(doc)
			if err != nil {
				t.Fatalf("%s: reading back: %v", f, err)
			}
			if len(d.Components) == 0 {
				t.Fatalf("%s: no components read back", f)
			}
		}
	})
}
