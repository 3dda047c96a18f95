package sbom

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

const cdxDoc = `{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": {"component": {"type": "application", "name": "acme/hello", "version": "1.0.0"}},
  "components": [
    {"type": "library", "name": "text", "group": "golang.org/x", "version": "v0.3.5", "purl": "pkg:golang/golang.org/x/text@v0.3.5"},
    {"type": "library", "name": "core", "version": "7.1.0", "purl": "pkg:npm/%40babel/core@7.1.0",
     "components": [{"type": "library", "name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"}]},
    {"type": "library", "name": "Django_Rest", "purl": "pkg:pypi/Django_Rest@3.0"},
    {"type": "library", "name": "log4j-core", "group": "org.apache.logging.log4j", "version": "2.14.1", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"},
    {"type": "library", "name": "text", "group": "golang.org/x", "version": "v0.3.5", "purl": "pkg:golang/golang.org/x/text@v0.3.5"}
  ]
}`

const spdxDoc = `{
  "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "hello",
  "packages": [
    {"SPDXID": "SPDXRef-1", "name": "golang.org/x/net", "versionInfo": "v0.7.0",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:golang/golang.org/x/net@v0.7.0"}]},
    {"SPDXID": "SPDXRef-2", "name": "left-pad", "versionInfo": "1.3.0",
     "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/left-pad@1.3.0"}]},
    {"SPDXID": "SPDXRef-3", "name": "vendored-thing", "versionInfo": "2.0"}
  ]
}`

func TestParseCycloneDX(t *testing.T) {
	t.Parallel()
	cs, f, err := Parse([]byte(cdxDoc))
	if err != nil {
		t.Fatal(err)
	}
	if f != CycloneDX {
		t.Errorf("format = %q", f)
	}
	want := []Component{
		{Name: "acme/hello", Version: "1.0.0"},
		{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
		{Name: "@babel/core", Version: "7.1.0", Ecosystem: "npm", PURL: "pkg:npm/%40babel/core@7.1.0"},
		{Name: "lodash", Version: "4.17.20", Ecosystem: "npm", PURL: "pkg:npm/lodash@4.17.20"},
		{Name: "django-rest", Version: "3.0", Ecosystem: "PyPI", PURL: "pkg:pypi/Django_Rest@3.0"},
		{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Ecosystem: "Maven", PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("components:\n got %+v\nwant %+v", cs, want)
	}
}

func TestParseSPDX(t *testing.T) {
	t.Parallel()
	cs, f, err := Parse([]byte("\xef\xbb\xbf" + spdxDoc))
	if err != nil {
		t.Fatal(err)
	}
	want := []Component{
		{Name: "golang.org/x/net", Version: "v0.7.0", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/net@v0.7.0"},
		{Name: "left-pad", Version: "1.3.0", Ecosystem: "npm", PURL: "pkg:npm/left-pad@1.3.0"},
		{Name: "vendored-thing", Version: "2.0"},
	}
	if f != SPDX || !slices.Equal(cs, want) {
		t.Errorf("Parse = %q %+v, want SPDX %+v", f, cs, want)
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, want string }{
		{"not json", `{"bomFormat": "CycloneDX", `, "not valid JSON"},
		{"unknown", `{"hello": 1}`, "neither a CycloneDX nor an SPDX"},
		{"spdx 3", `{"spdxVersion": "SPDX-3.0"}`, "not supported"},
		{"cdx wrong type", `{"bomFormat": "CycloneDX", "components": {"name": 1}}`, "malformed CycloneDX"},
		{"spdx wrong type", `{"spdxVersion": "SPDX-2.3", "packages": [{"name": 7}]}`, "malformed SPDX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	deep := strings.Repeat(`{"type":"library","name":"x","components":[`, maxDepth+2) + strings.Repeat(`]}`, maxDepth+2)
	if _, _, err := Parse([]byte(`{"bomFormat":"CycloneDX","components":[` + deep + `]}`)); err == nil || !strings.Contains(err.Error(), "nest deeper") {
		t.Errorf("deep nesting: %v", err)
	}
}

// TestParseKeepsReadableComponents: a component that cannot be read is
// set aside, named, and the rest of the document is kept.
func TestParseKeepsReadableComponents(t *testing.T) {
	t.Parallel()
	cdx := `{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
		{"type": "library", "name": "broken", "version": "v1.0.0", "purl": "pkg:golang/example.com/%zz/broken@v1.0.0"},
		{"type": "library", "name": "local", "version": "v0.0.0", "purl": "pkg:golang/example.com//local@v0.0.0"},
		{"type": "library", "name": "x", "purl": "http://x"},
		{"type": "library", "name": "text", "version": "v0.3.5", "purl": "pkg:golang/golang.org/x/text@v0.3.5"}]}`
	d, err := ParseDocument([]byte(cdx))
	if err != nil {
		t.Fatal(err)
	}
	want := []Component{
		{Name: "example.com/local", Version: "v0.0.0", Ecosystem: "Go", PURL: "pkg:golang/example.com//local@v0.0.0"},
		{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
	}
	if d.Format != CycloneDX || !slices.Equal(d.Components, want) {
		t.Errorf("components:\n got %+v\nwant %+v", d.Components, want)
	}
	if len(d.Skipped) != 2 || d.Skipped[0].Index != 0 || d.Skipped[0].Name != "broken" || !strings.Contains(d.Skipped[0].Reason, "badly escaped") ||
		d.Skipped[1].Index != 2 || !strings.Contains(d.Skipped[1].Reason, "does not start with pkg:") {
		t.Errorf("skipped = %+v", d.Skipped)
	}
	if cs, _, err := Parse([]byte(cdx)); err != nil || !slices.Equal(cs, want) {
		t.Errorf("Parse = %+v, %v", cs, err)
	}

	spdx := `{"spdxVersion": "SPDX-2.3", "packages": [{"versionInfo": "1"}, {"name": "golang.org/x/text", "versionInfo": "v0.3.5",
		"externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:golang/golang.org/x/text@v0.3.5"}]}]}`
	d, err = ParseDocument([]byte(spdx))
	if err != nil || len(d.Components) != 1 || len(d.Skipped) != 1 || d.Skipped[0].String() != "component 1" || !strings.Contains(d.Skipped[0].Reason, "no name") {
		t.Errorf("SPDX: %+v, %v", d, err)
	}
}

// TestParseCapCountsSkipped: components that cannot be read count toward
// MaxComponents, so a document of bad entries is still bounded.
func TestParseCapCountsSkipped(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"spdxVersion": "SPDX-2.3", "packages": [`)
	for i := 0; i < MaxComponents; i++ {
		b.WriteString(`{},`)
	}
	b.WriteString(`{"name": "one-too-many"}]}`)
	if _, err := ParseDocument([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("over the cap: %v", err)
	}
}

func TestParsePURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want PURL
		name string
	}{
		{"pkg:golang/golang.org/x/text@v0.3.5", PURL{"golang", "golang.org/x", "text", "v0.3.5"}, "golang.org/x/text"},
		{"pkg:npm/@scope/name@1.0.0", PURL{"npm", "@scope", "name", "1.0.0"}, "@scope/name"},
		{"pkg:npm/%40scope/name", PURL{"npm", "@scope", "name", ""}, "@scope/name"},
		{"PKG:Cargo/serde@1.0.0#sub/path", PURL{"cargo", "", "serde", "1.0.0"}, "serde"},
		{"pkg://gem/rails@7.0.0?platform=ruby", PURL{"gem", "", "rails", "7.0.0"}, "rails"},
		// Empty namespace segments are discarded, as the specification says.
		{"pkg:npm//x", PURL{"npm", "", "x", ""}, "x"},
		{"pkg:golang/example.com//local/mod@v0.0.0", PURL{"golang", "example.com/local", "mod", "v0.0.0"}, "example.com/local/mod"},
	}
	for _, tt := range tests {
		p, err := ParsePURL(tt.in)
		if err != nil || p != tt.want || p.OSVName() != tt.name {
			t.Errorf("ParsePURL(%q) = %+v (%q), %v; want %+v (%q)", tt.in, p, p.OSVName(), err, tt.want, tt.name)
		}
	}
	for _, bad := range []string{"", "pkg:", "pkg:npm", "pkg:npm/", "pkg:npm/a/%zz", "pkg:npm/%zz/a", "pkg:npm/a/b@%zz"} {
		if p, err := ParsePURL(bad); err == nil {
			t.Errorf("ParsePURL(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestFromGoBuildInfo(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{
		GoVersion: "go1.21.3",
		Main:      debug.Module{Path: "example.com/plugin", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "golang.org/x/text", Version: "v0.3.5"},
			{Path: "github.com/old/mod", Version: "v1.0.0", Replace: &debug.Module{Path: "github.com/fork/mod", Version: "v1.0.1-0.20230101000000-abcdefabcdef"}},
			{Path: "github.com/local/mod", Version: "v1.0.0", Replace: &debug.Module{Path: "../mod"}},
		},
	}
	want := []Component{
		{Name: "stdlib", Version: "1.21.3", Ecosystem: "Go"},
		{Name: "example.com/plugin", Version: "(devel)", Ecosystem: "Go"},
		{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.5"},
		{Name: "github.com/fork/mod", Version: "v1.0.1-0.20230101000000-abcdefabcdef", Ecosystem: "Go", PURL: "pkg:golang/github.com/fork/mod@v1.0.1-0.20230101000000-abcdefabcdef"},
		{Name: "github.com/local/mod", Version: "(devel)", Ecosystem: "Go"},
	}
	if got := FromGoBuildInfo(bi); !slices.Equal(got, want) {
		t.Errorf("FromGoBuildInfo:\n got %+v\nwant %+v", got, want)
	}
}

func TestGoVersionToSemver(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"go1.21.3":           "1.21.3",
		"go1.22":             "1.22.0",
		"go1.22rc1":          "1.22.0-rc.1",
		"go1.21beta2":        "1.21.0-beta.2",
		"go1.26.8 X:jsonv2":  "1.26.8",
		"go1.21.3-fips":      "1.21.3",
		"devel go1.23-abcde": "",
		"":                   "",
		"go1":                "",
		"go1.x.1":            "",
		"go1.22rcX":          "",
	} {
		if got := GoVersionToSemver(in); got != want {
			t.Errorf("GoVersionToSemver(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(cdxDoc))
	f.Add([]byte(spdxDoc))
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"purl":"pkg:npm/x@1"}]}`))
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"name":"a","purl":"pkg:golang/a//b@v1"},{"name":"c","purl":"pkg:golang/%zz/c"},{"purl":"pkg:"}]}`))
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","packages":[{},{"name":"x","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:npm//x@1"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDocument(b)
		if err != nil {
			return
		}
		for _, c := range d.Components {
			if c.Name == "" {
				t.Fatalf("component without a name: %+v", c)
			}
		}
		if len(d.Components)+len(d.Skipped) > MaxComponents {
			t.Fatalf("%d components and %d skipped, over the cap", len(d.Components), len(d.Skipped))
		}
		for i, s := range d.Skipped {
			if s.Reason == "" || (i > 0 && s.Index <= d.Skipped[i-1].Index) || len(s.Name) > maxReason+3 || len(s.PURL) > maxReason+3 {
				t.Fatalf("skipped %+v", s)
			}
		}
	})
}

// TestGoBuildInfoLocalReplacement: a module replaced by a folder (a
// plugin's carried kit) is listed under its module path, with nothing to
// match; a module replaced by another module is listed as the replacement.
func TestGoBuildInfoLocalReplacement(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "plugins.local/acme/dep", Version: "(devel)"}, Deps: []*debug.Module{
		{Path: "gatehouse.dev/gatehouse", Version: "v0.0.0", Replace: &debug.Module{Path: "./.gatehouse/kit", Version: "(devel)"}},
		{Path: "golang.org/x/text", Version: "v0.3.7"},
		{Path: "example.org/a", Version: "v1.0.0", Replace: &debug.Module{Path: "example.org/fork", Version: "v1.0.1"}},
	}}
	got := FromGoBuildInfo(bi)
	want := []Component{
		{Name: "stdlib", Version: "1.26.8", Ecosystem: "Go"},
		{Name: "plugins.local/acme/dep", Version: "(devel)", Ecosystem: "Go"},
		{Name: "gatehouse.dev/gatehouse", Version: "(devel)", Ecosystem: "Go"},
		{Name: "golang.org/x/text", Version: "v0.3.7", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.7"},
		{Name: "example.org/fork", Version: "v1.0.1", Ecosystem: "Go", PURL: "pkg:golang/example.org/fork@v1.0.1"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("component %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
