package vulndb

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/sbom"
)

// goZip is a real subset of the Go vulnerability database that the
// repository carries (testdata/osv/README.md says how it was cut).
const goZip = "../../testdata/osv/go-subset.zip"

var (
	goOnce sync.Once
	goDB   *DB
	goErr  error
)

func goDatabase(tb testing.TB) *DB {
	tb.Helper()
	goOnce.Do(func() { goDB, goErr = Load(goZip) })
	if goErr != nil {
		tb.Fatalf("importing %s: %v", goZip, goErr)
	}
	return goDB
}

func makeZip(tb testing.TB, files ...string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		w, err := zw.Create(files[i])
		if err != nil {
			tb.Fatal(err)
		}
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func importBytes(b []byte) (*DB, error) { return Import(bytes.NewReader(b), int64(len(b))) }

func TestImportGoDatabase(t *testing.T) {
	t.Parallel()
	db := goDatabase(t)
	raw, err := os.ReadFile(goZip)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	records, withdrawn := 0, 0
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		records++
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"withdrawn"`)) {
			withdrawn++
		}
	}
	v := db.Version()
	// Every record's modified time is zero; the entries are dated 2026-08-21.
	if v.SHA256 != hex.EncodeToString(sum[:]) || v.Records != records || v.Newest.Format(time.DateOnly) != "2026-08-21" {
		t.Errorf("Version = %+v, want the zip's digest, %d records and the export date", v, records)
	}
	if want := fmt.Sprintf("sha256:%s records=%d newest=", v.SHA256, records); !strings.HasPrefix(v.String(), want) {
		t.Errorf("Version.String = %q, want prefix %q", v, want)
	}
	st := db.Stats()
	t.Logf("Go database: %+v", st)
	if st.Records != records || st.Withdrawn != withdrawn || withdrawn == 0 || !slices.Contains(db.AffectedPackages(), "Go/golang.org/x/text") || !slices.Contains(db.AffectedPackages(), "Go/stdlib") {
		t.Errorf("stats %+v, want %d records, %d withdrawn; x/text indexed: %v", st, records, withdrawn, slices.Contains(db.AffectedPackages(), "Go/golang.org/x/text"))
	}

	ms := db.Match(sbom.Component{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go"})
	i := slices.IndexFunc(ms, func(m Match) bool { return m.ID == "GO-2021-0113" })
	if i < 0 {
		t.Fatalf("x/text v0.3.5 matches %+v, want GO-2021-0113", ms)
	}
	m := ms[i]
	if !slices.Contains(m.Aliases, "CVE-2021-38561") || !slices.Contains(m.Aliases, "GHSA-ppp9-7jff-5vj2") ||
		m.Fixed != "v0.3.7" || m.Installed != "v0.3.5" || m.URL != "https://pkg.go.dev/vuln/GO-2021-0113" || m.Severity != DefaultSeverity {
		t.Errorf("GO-2021-0113 match = %+v", m)
	}
	// v0.3.7 fixes GO-2021-0113 but not GO-2022-1059 (fixed in v0.3.8).
	ids := func(ms []Match) []string {
		var s []string
		for _, m := range ms {
			s = append(s, m.ID)
		}
		return s
	}
	got := ids(db.Match(sbom.Component{Name: "golang.org/x/text", Version: "v0.3.7", Ecosystem: "Go"}))
	if slices.Contains(got, "GO-2021-0113") || !slices.Contains(got, "GO-2022-1059") {
		t.Errorf("x/text v0.3.7 matches %v", got)
	}
	// The standard library, written as OSV writes it: fixed in 1.21.4.
	std := db.Match(sbom.Component{Name: "stdlib", Version: "1.21.3", Ecosystem: "Go"})
	i = slices.IndexFunc(std, func(m Match) bool { return m.ID == "GO-2023-2185" })
	if i < 0 || std[i].Fixed != "1.21.4" {
		t.Errorf("stdlib 1.21.3: GO-2023-2185 missing or wrong fix in %v", ids(std))
	}
	// Not a Go component, no version, an unknown package: nothing.
	for _, c := range []sbom.Component{
		{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "npm"},
		{Name: "golang.org/x/text", Ecosystem: "Go"},
		{Name: "golang.org/x/text", Version: "(devel)", Ecosystem: "Go"},
		{Name: "example.com/none", Version: "v1.0.0", Ecosystem: "Go"},
	} {
		if ms := db.Match(c); len(ms) != 0 {
			t.Errorf("Match(%v) = %v, want none", c, ids(ms))
		}
	}
}

// record builds a minimal OSV record for one package.
func record(id, eco, name, ranges string, extra ...string) string {
	s := `{"id": "` + id + `", "modified": "2024-01-02T03:04:05Z", "aliases": ["CVE-2024-0001"], "summary": "s", ` +
		`"affected": [{"package": {"ecosystem": "` + eco + `", "name": "` + name + `"}, "ranges": [` + ranges + `]`
	if len(extra) > 0 {
		s += ", " + extra[0]
	}
	s += "}]"
	if len(extra) > 1 {
		s += ", " + extra[1]
	}
	return s + "}"
}

func semverRange(events string) string { return `{"type": "SEMVER", "events": [` + events + `]}` }

func TestMatchRanges(t *testing.T) {
	t.Parallel()
	db, err := importBytes(makeZip(t,
		"A-1.json", record("A-1", "Go", "example.com/m", semverRange(`{"introduced": "0"}, {"fixed": "1.2.0"}, {"introduced": "1.5.0"}, {"fixed": "1.5.3"}`)),
		"A-2.json", record("A-2", "Go", "example.com/m", semverRange(`{"introduced": "1.1.0"}, {"last_affected": "1.6.0"}`)),
		"A-3.json", record("A-3", "Go", "example.com/inc", semverRange(`{"introduced": "2.0.0+incompatible"}, {"fixed": "2.3.0+incompatible"}`)),
		"A-4.json", record("A-4", "Go", "example.com/pseudo", semverRange(`{"introduced": "0"}, {"fixed": "0.0.0-20200131131040-063a3fb69896"}`)),
		"A-5.json", record("A-5", "PyPI", "Django", `{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.2.1"}]}`, `"versions": ["3.0", "3.1.post1"]`),
		"A-7.json", record("A-7", "PyPI", "zope.interface", `{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}`, `"versions": ["5.0"]`),
		// Out of order events, and the same package twice in one advisory.
		"A-6.json", `{"id": "A-6", "modified": "2024-01-02T03:04:05Z", "affected": [
			{"package": {"ecosystem": "npm", "name": "left-pad"}, "ranges": [`+semverRange(`{"fixed": "2.0.0"}, {"introduced": "1.0.0"}`)+`]},
			{"package": {"ecosystem": "npm", "name": "left-pad"}, "ranges": [`+semverRange(`{"introduced": "1.0.0"}, {"fixed": "1.4.0"}`)+`]}]}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		eco, name, version string
		want               []string // "ID fixed"
	}{
		{"Go", "example.com/m", "v1.0.0", []string{"A-1 v1.2.0"}},
		{"Go", "example.com/m", "v1.2.0", []string{"A-2 "}},
		{"Go", "example.com/m", "v1.5.1", []string{"A-1 v1.5.3", "A-2 "}},
		{"Go", "example.com/m", "1.5.1", []string{"A-1 1.5.3", "A-2 "}}, // written without "v": answered alike
		{"Go", "example.com/m", "v1.6.0", []string{"A-2 "}},
		{"Go", "example.com/m", "v1.6.1", nil},
		{"Go", "example.com/m", "v1.5.3-rc.1", []string{"A-1 v1.5.3", "A-2 "}},
		{"Go", "example.com/inc", "v2.1.0+incompatible", []string{"A-3 v2.3.0+incompatible"}},
		{"Go", "example.com/inc", "v2.3.0+incompatible", nil},
		{"Go", "example.com/pseudo", "v0.0.0-20190101000000-aaaaaaaaaaaa", []string{"A-4 v0.0.0-20200131131040-063a3fb69896"}},
		{"Go", "example.com/pseudo", "v0.0.0-20210101000000-aaaaaaaaaaaa", nil},
		{"PyPI", "django", "3.1.post1", []string{"A-5 "}}, // by the versions list; the ECOSYSTEM range is not ordered
		{"PyPI", "Django", "3.2.0", nil},
		{"PyPI", "zope-interface", "5.0", []string{"A-7 "}}, // PEP 503: zope.interface
		{"PyPI", "Zope_Interface", "5.0", []string{"A-7 "}},
		{"npm", "left-pad", "1.3.0", []string{"A-6 1.4.0"}},
		{"npm", "left-pad", "1.5.0", []string{"A-6 2.0.0"}},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range db.Match(sbom.Component{Ecosystem: tt.eco, Name: tt.name, Version: tt.version}) {
			got = append(got, m.ID+" "+m.Fixed)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s %s@%s matches %q, want %q", tt.eco, tt.name, tt.version, got, tt.want)
		}
	}
	if n := db.Version().Newest; !n.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("Newest = %v, want the records' modified time", n)
	}
	if st := db.Stats(); st.UnusableRanges != 2 {
		t.Errorf("UnusableRanges = %d, want 2 (the PyPI ECOSYSTEM ranges)", st.UnusableRanges)
	}
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	r := semverRange(`{"introduced": "0"}`)
	db, err := importBytes(makeZip(t,
		"S-1.json", record("S-1", "Go", "a", r, `"database_specific": {"severity": "LOW"}`, `"database_specific": {"severity": "CRITICAL"}`),
		"S-2.json", record("S-2", "Go", "b", r, `"database_specific": {}`, `"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]`),
		"S-3.json", record("S-3", "Go", "c", r, `"database_specific": {}`, `"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}]`),
		"S-4.json", record("S-4", "Go", "d", r, `"database_specific": {"severity": "moderate"}`),
		"S-5.json", record("S-5", "Go", "e", r),
	))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Severity{"a": Critical, "b": Critical, "c": Medium, "d": Medium, "e": DefaultSeverity} {
		ms := db.Match(sbom.Component{Ecosystem: "Go", Name: name, Version: "v1.0.0"})
		if len(ms) != 1 || ms[0].Severity != want {
			t.Errorf("package %s: %+v, want severity %s", name, ms, want)
		}
	}
	for vec, want := range map[string]float64{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N": 6.1,
		"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N": 1.8, // 6.42*0.22 + 8.22*0.55*0.44*0.27*0.62 = 1.7455
		"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H": 9.9,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0,
	} {
		if got, ok := cvss3BaseScore(vec); !ok || got != want {
			t.Errorf("cvss3BaseScore(%s) = %v, %v; want %v", vec, got, ok, want)
		}
	}
	for _, bad := range []string{"", "CVSS:2.0/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"} {
		if _, ok := cvss3BaseScore(bad); ok {
			t.Errorf("cvss3BaseScore(%q) accepted", bad)
		}
	}
}

func TestImportRejects(t *testing.T) {
	t.Parallel()
	good := record("G-1", "Go", "m", semverRange(`{"introduced": "0"}`))
	valid := makeZip(t, "G-1.json", good)
	tests := []struct {
		name string
		zip  []byte
		want string
	}{
		{"truncated", valid[:len(valid)-10], "not a readable zip"},
		{"empty file", nil, "not a readable zip"},
		{"not json", makeZip(t, "G-1.json", good, "B-1.json", `{"id": `), "B-1.json"},
		{"no package", makeZip(t, "B-1.json", `{"id": "B-1", "modified": "2024-01-02T03:04:05Z", "affected": [{"ranges": [`+semverRange(`{"introduced": "0"}`)+`]}]}`), "no package ecosystem and name"},
		{"bad range type", makeZip(t, "B-1.json", record("B-1", "Go", "m", `{"type": "DATE", "events": [{"introduced": "0"}]}`)), `type "DATE"`},
		{"two kinds in one event", makeZip(t, "B-1.json", record("B-1", "Go", "m", semverRange(`{"introduced": "0", "fixed": "1.0.0"}`))), "exactly one"},
		{"no introduced", makeZip(t, "B-1.json", record("B-1", "Go", "m", semverRange(`{"fixed": "1.0.0"}`))), "no introduced event"},
		{"no modified", makeZip(t, "B-1.json", `{"id": "B-1", "affected": []}`), "no modified time"},
		{"id and name differ", makeZip(t, "X-9.json", good), "file name and id differ"},
		{"duplicate", makeZip(t, "G-1.json", good, "dir/G-1.json", good), "appears twice"},
		{"no records", makeZip(t, "README.md", "hello"), "no OSV records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := importBytes(tt.zip)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import = %v, %v; want an error containing %q", db, err, tt.want)
			}
		})
	}
	small := Limits{MaxEntries: 1, MaxEntrySize: 1 << 20, MaxTotal: 1 << 20}
	two := makeZip(t, "G-1.json", good, "G-2.json", strings.ReplaceAll(good, "G-1", "G-2"))
	if _, err := small.Import(bytes.NewReader(two), int64(len(two))); err == nil || !strings.Contains(err.Error(), "2 entries, the limit is 1") {
		t.Errorf("entry limit: %v", err)
	}
	tiny := Limits{MaxEntries: 10, MaxEntrySize: 50, MaxTotal: 1 << 20}
	if _, err := tiny.Import(bytes.NewReader(valid), int64(len(valid))); err == nil || !strings.Contains(err.Error(), "the limit is 50") {
		t.Errorf("entry size limit: %v", err)
	}
	// A flipped byte in the compressed data fails the CRC or inflate.
	corrupt := makeZip(t, "G-1.json", strings.Repeat(good, 1)+strings.Repeat(" ", 5000))
	corrupt[60] ^= 0xff
	if _, err := importBytes(corrupt); err == nil {
		t.Error("Import of a corrupted archive succeeded")
	}
}

func TestWriteFileOpen(t *testing.T) {
	t.Parallel()
	db := goDatabase(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "go.db")
	if err := db.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	back, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version() != db.Version() || back.Stats() != db.Stats() {
		t.Errorf("reopened %v %+v, want %v %+v", back.Version(), back.Stats(), db.Version(), db.Stats())
	}
	c := sbom.Component{Name: "stdlib", Version: "1.21.3", Ecosystem: "Go"}
	if a, b := db.Match(c), back.Match(c); len(a) == 0 || !slices.EqualFunc(a, b, func(x, y Match) bool { return x.ID == y.ID && x.Fixed == y.Fixed }) {
		t.Errorf("matches differ after reopening: %d vs %d", len(a), len(b))
	}
	if viaLoad, err := Load(p); err != nil || viaLoad.Version() != db.Version() {
		t.Errorf("Load of a database file: %v", err)
	}
	fi, _ := os.Stat(p)
	t.Logf("database file: %d bytes", fi.Size())

	raw, _ := os.ReadFile(p)
	for name, b := range map[string][]byte{
		"truncated": raw[:len(raw)/2],
		"not ours":  []byte("hello, world\n"),
		"empty":     nil,
	} {
		bad := filepath.Join(dir, name)
		os.WriteFile(bad, b, 0o600)
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%s) succeeded", name)
		}
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != nil {
		t.Fatal("a new store has an active database")
	}
	// Nothing imported yet: a bad import says so.
	if _, err := s.Import(bytes.NewReader([]byte("PK\x03\x04junk")), 8); err == nil || !strings.Contains(err.Error(), "no database is active") {
		t.Errorf("first bad import: %v", err)
	}
	// Readers see the old database or the new one while an import runs.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			if db := s.DB(); db != nil {
				db.Match(sbom.Component{Ecosystem: "Go", Name: "golang.org/x/text", Version: "v0.3.5"})
			}
		}
	}()
	first, err := s.ImportFile(goZip)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != first {
		t.Fatal("the imported database is not active")
	}
	raw, err := os.ReadFile(goZip)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"truncated": raw[:len(raw)/2],
		"malformed": makeZip(t, "G-1.json", record("G-1", "Go", "m", semverRange(`{"introduced": "0"}`)), "B-1.json", `{"id": "B-1", "modified": "2024-01-02T03:04:05Z", "affected": [{"package": {"ecosystem": "Go"}, "ranges": []}]}`),
	}
	for name, b := range bad {
		_, err := s.Import(bytes.NewReader(b), int64(len(b)))
		if err == nil || !strings.Contains(err.Error(), "the active database is unchanged ("+first.Version().String()+")") {
			t.Errorf("%s import: %v", name, err)
		}
		if s.DB() != first {
			t.Errorf("%s import replaced the active database", name)
		}
	}
	// The switch survives a restart, and a good import replaces the old file.
	second := makeZip(t, "G-1.json", record("G-1", "Go", "m", semverRange(`{"introduced": "0"}`)))
	if _, err := s.Import(bytes.NewReader(second), int64(len(second))); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.DB() == nil || s2.DB().Version() != s.DB().Version() || s2.DB().Version().Records != 1 {
		t.Errorf("reopened store: %+v", s2.DB())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "osv-*.db"))
	if len(files) != 1 {
		t.Errorf("database files after two imports: %v, want only the active one", files)
	}
	// A damaged active file fails closed, naming the problem.
	os.WriteFile(files[0], []byte("garbage"), 0o600)
	if _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "active database cannot be read") {
		t.Errorf("OpenStore with a damaged file: %v", err)
	}
}

func FuzzImport(f *testing.F) {
	f.Add(makeZip(f, "G-1.json", record("G-1", "Go", "m", semverRange(`{"introduced": "0"}, {"fixed": "1.0.0"}`))))
	f.Add(makeZip(f, "A-6.json", `{"id": "A-6", "modified": "2024-01-02T03:04:05Z", "affected": [{"package": {"ecosystem": "npm", "name": "x"}, "versions": ["1"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxEntries: 100, MaxEntrySize: 1 << 16, MaxTotal: 1 << 20}
		db, err := lim.Import(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, k := range db.AffectedPackages() {
			eco, name, _ := strings.Cut(k, "/")
			for _, v := range []string{"v0.0.1", "v1.0.0", "1", "v99.0.0"} {
				db.Match(sbom.Component{Ecosystem: eco, Name: name, Version: v})
			}
		}
		if err := db.d.check(); err != nil {
			t.Fatalf("an imported database fails its own check: %v", err)
		}
	})
}

func TestOpenFuzzedFile(t *testing.T) {
	t.Parallel()
	// decode must reject, not panic on, files whose gob is valid but whose
	// index is not.
	db := &DB{d: data{Format: formatVersion, Version: Version{SHA256: strings.Repeat("a", 64)},
		Index: map[string][]affected{"Go/m": {{Adv: 3}}}}}
	p := filepath.Join(t.TempDir(), "x.db")
	if err := db.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "points at advisory 3 of 0") {
		t.Errorf("Open of an inconsistent index: %v", err)
	}
}

// benchZip is the database the benchmarks measure: the one
// GATEHOUSE_BENCH_OSV_ZIP names (the whole Go database, osv.dev's
// Go/all.zip, which docs/benchmarks.md quotes), else the subset kept in
// testdata.
func benchZip(b *testing.B) string {
	if full := os.Getenv("GATEHOUSE_BENCH_OSV_ZIP"); full != "" {
		return full
	}
	b.Logf("GATEHOUSE_BENCH_OSV_ZIP is unset; measuring the subset %s", goZip)
	return goZip
}

func BenchmarkImport(b *testing.B) {
	raw, err := os.ReadFile(benchZip(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := importBytes(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch1000(b *testing.B) {
	db, err := Load(benchZip(b))
	if err != nil {
		b.Fatal(err)
	}
	// 1,000 components over real advisories' packages, at versions that
	// sit inside and outside their ranges, plus some unknown packages.
	keys := db.AffectedPackages()
	comps := make([]sbom.Component, 0, 1000)
	versions := []string{"v0.0.1", "v0.3.5", "v1.2.3", "v2.0.0+incompatible", "v0.0.0-20200101000000-abcdefabcdef"}
	for i := 0; len(comps) < 1000; i++ {
		name := strings.TrimPrefix(keys[i%len(keys)], "Go/")
		if i%10 == 9 {
			name = "example.com/unknown/" + name
		}
		comps = append(comps, sbom.Component{Ecosystem: "Go", Name: name, Version: versions[i%len(versions)]})
	}
	comps[0] = sbom.Component{Ecosystem: "Go", Name: "stdlib", Version: "1.21.3"}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = 0
		for _, c := range comps {
			n += len(db.Match(c))
		}
	}
	b.ReportMetric(float64(n), "matches/op")
}
