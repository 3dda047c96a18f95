package vulndb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/sbom"
)

// fullGoZip is the whole Go vulnerability database, kept beside the
// checkout (shared/data/README.md); tests that need it skip without it.
const fullGoZip = "../../../shared/data/osv-go-all.zip"

func fullOrSubset(t testing.TB) string {
	if _, err := os.Stat(fullGoZip); err == nil {
		return fullGoZip
	}
	t.Logf("%s is absent; using the subset %s", fullGoZip, goZip)
	return goZip
}

func sourceDigest(t testing.TB, db *DB) [32]byte {
	t.Helper()
	var s [32]byte
	b, err := hex.DecodeString(db.Version().SHA256)
	if err != nil || len(b) != 32 {
		t.Fatalf("digest %q", db.Version().SHA256)
	}
	copy(s[:], b)
	return s
}

// probes are components over every package the database knows, at
// versions inside, between and outside real ranges, written with and
// without the "v", plus unknown packages: what matching sees in practice.
func probes(db *DB) []sbom.Component {
	var out []sbom.Component
	versions := []string{"v0.0.1", "0.3.5", "v0.3.5", "v1.2.3", "1.21.3", "v2.0.0+incompatible", "v0.0.0-20200101000000-abcdefabcdef", "v99.0.0", "not-a-version"}
	for _, k := range db.AffectedPackages() {
		eco, name, _ := strings.Cut(k, "/")
		for _, v := range versions {
			out = append(out, sbom.Component{Ecosystem: eco, Name: name, Version: v})
		}
	}
	return append(out, sbom.Component{Ecosystem: "Go", Name: "example.com/unknown", Version: "v1.0.0"})
}

// TestIndexMatchesImport: a database read from its prepared index answers
// every match exactly as the imported one does, byte for byte as JSON
// (nil and empty alias lists included), over the real Go database.
func TestIndexMatchesImport(t *testing.T) {
	t.Parallel()
	db, err := Load(fullOrSubset(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeIndex(db)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeIndex(b, sourceDigest(t, db))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != db.Version() || got.Stats() != db.Stats() {
		t.Errorf("version/stats: got %v %+v, want %v %+v", got.Version(), got.Stats(), db.Version(), db.Stats())
	}
	if got.Version().String() != db.Version().String() {
		t.Errorf("version string %q, want %q", got.Version(), db.Version())
	}
	matched := 0
	for _, c := range probes(db) {
		want, _ := json.Marshal(db.Match(c))
		have, _ := json.Marshal(got.Match(c))
		if !bytes.Equal(want, have) {
			t.Fatalf("%v: index gives %s, import gives %s", c, have, want)
		}
		if string(want) != "null" {
			matched++
		}
	}
	if matched < 10 {
		t.Fatalf("only %d probes matched; the comparison proves little", matched)
	}
	again, _ := encodeIndex(got)
	if !bytes.Equal(again, b) {
		t.Error("re-encoding a decoded index gives other bytes")
	}
}

func TestDecodeIndexRejects(t *testing.T) {
	t.Parallel()
	db := goDatabase(t)
	good, err := encodeIndex(db)
	if err != nil {
		t.Fatal(err)
	}
	src := sourceDigest(t, db)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	other := src
	other[0] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		src  [32]byte
		want string
	}{
		{"empty", nil, src, "not a prepared index"},
		{"other magic", append([]byte("gatehouse-vulndb\n"), good[17:]...), src, "not a prepared index"},
		{"other format", flip(len(indexMagic) + 3), src, "format"},
		{"other archive", good, other, "another database"},
		{"truncated", good[:len(good)-10], src, "truncated"},
		{"flipped payload byte", flip(len(good) - 5), src, "digest mismatch"},
		{"flipped payload digest", flip(len(indexMagic) + 40), src, "digest mismatch"},
	} {
		if _, err := decodeIndex(tc.b, tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// withPayload wraps a payload in a header that is valid for it, so the
// fuzzer reaches the payload parser instead of stopping at the digest.
func withPayload(src [32]byte, p []byte) []byte {
	sum := sha256.Sum256(p)
	out := append([]byte(indexMagic), 0, 0, 0, indexFormat)
	out = append(out, src[:]...)
	out = append(out, sum[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(p)))
	return append(out, p...)
}

// FuzzDecodeIndex: a prepared index is read from the user's cache
// directory, where anything may have happened to it. Whatever the bytes,
// decoding fails cleanly or yields a database that passes its check and
// matches without panicking.
func FuzzDecodeIndex(f *testing.F) {
	db := goDatabase(f)
	good, err := encodeIndex(db)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[indexHeader:], false)
	f.Add(good, true)
	f.Add([]byte{}, false)
	src := sourceDigest(f, db)
	f.Fuzz(func(t *testing.T, b []byte, whole bool) {
		if !whole {
			b = withPayload(src, b)
		}
		got, err := decodeIndex(b, src)
		if err != nil {
			return
		}
		if err := got.d.check(); err != nil {
			t.Fatalf("decoded an index that fails its check: %v", err)
		}
		for i, k := range got.AffectedPackages() {
			if i == 20 { // enough to touch decoded ranges; keeps execs fast
				break
			}
			eco, name, _ := strings.Cut(k, "/")
			for _, v := range []string{"v0.0.1", "v1.0.0", "1", "v99.0.0"} {
				got.Match(sbom.Component{Ecosystem: eco, Name: name, Version: v})
			}
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func indexFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "osv-*.idx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCacheLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "all.zip")
	copyFile(t, goZip, zipPath)
	c := Cache{Dir: filepath.Join(dir, "cache")}
	var warnings []string
	warn := func(s string) { warnings = append(warnings, s) }
	want := goDatabase(t)
	load := func(wantOutcome CacheOutcome) *DB {
		t.Helper()
		db, outcome, err := c.Load(zipPath, warn)
		if err != nil {
			t.Fatal(err)
		}
		if outcome != wantOutcome {
			t.Fatalf("outcome %q, want %q (warnings %q)", outcome, wantOutcome, warnings)
		}
		for _, p := range probes(want) {
			w, _ := json.Marshal(want.Match(p))
			g, _ := json.Marshal(db.Match(p))
			if !bytes.Equal(w, g) {
				t.Fatalf("%s load: %v matches %s, want %s", outcome, p, g, w)
			}
		}
		return db
	}

	load(Prepared)
	load(FromIndex)
	files := indexFiles(t, c.Dir)
	if len(files) != 1 {
		t.Fatalf("index files %q", files)
	}
	if fi, _ := os.Stat(c.Dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v, want 0700", fi.Mode().Perm())
	}

	// Damaged in every way a disk or a person can: rebuilt, never trusted.
	good, _ := os.ReadFile(files[0])
	for name, bad := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"garbage":   []byte("garbage"),
		"flipped":   append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
		"empty":     {},
	} {
		warnings = nil
		os.WriteFile(files[0], bad, 0o600)
		load(Rebuilt)
		if len(warnings) != 1 || !strings.Contains(warnings[0], "rebuilding") {
			t.Errorf("%s index: warnings %q", name, warnings)
		}
		load(FromIndex)
	}

	// An index prepared from another archive, under this archive's name
	// (a copy or a rename): its header names the other archive.
	otherZip := filepath.Join(dir, "other.zip")
	os.WriteFile(otherZip, makeZip(t, "G-1.json", record("G-1", "Go", "m", semverRange(`{"introduced": "0"}, {"fixed": "1.0.0"}`))), 0o600)
	other, _, err := c.Load(otherZip, warn)
	if err != nil {
		t.Fatal(err)
	}
	otherIdx, _ := encodeIndex(other)
	os.WriteFile(files[0], otherIdx, 0o600)
	load(Rebuilt)

	// A newer archive at the same path gets its own index: the old one
	// is not used for it.
	newer := makeZip(t, "G-2.json", record("G-2", "Go", "m", semverRange(`{"introduced": "0"}, {"fixed": "2.0.0"}`)))
	os.WriteFile(zipPath, newer, 0o600)
	newerDB, _ := importBytes(newer)
	db, outcome, err := c.Load(zipPath, warn)
	if err != nil || outcome != Prepared || db.Version() != newerDB.Version() {
		t.Fatalf("newer archive at the same path: %v %q %v", db.Version(), outcome, err)
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := Cache{Dir: filepath.Join(dir, "cache")}
	var paths []string
	for i := range maxCacheFiles + 3 {
		p := filepath.Join(dir, "db.zip")
		id := "G-" + string(rune('A'+i))
		os.WriteFile(p, makeZip(t, id+".json", record(id, "Go", "m", semverRange(`{"introduced": "0"}, {"fixed": "1.0.0"}`))), 0o600)
		if _, outcome, err := c.Load(p, nil); err != nil || outcome != Prepared {
			t.Fatalf("load %d: %q %v", i, outcome, err)
		}
		paths = append(paths, p)
	}
	if n := len(indexFiles(t, c.Dir)); n != maxCacheFiles {
		t.Errorf("%d index files kept, want the limit %d", n, maxCacheFiles)
	}
	// A byte budget smaller than two indexes keeps only the newest.
	small := Cache{Dir: c.Dir, MaxBytes: 1}
	os.WriteFile(paths[0], makeZip(t, "G-Z.json", record("G-Z", "Go", "m", semverRange(`{"introduced": "0"}`))), 0o600)
	_, outcome, err := small.Load(paths[0], nil)
	if err != nil || outcome != Uncached {
		t.Fatalf("index over the budget: %q %v", outcome, err)
	}
	zb, _ := os.ReadFile(paths[0])
	zdb, _ := importBytes(zb)
	ib, _ := encodeIndex(zdb)
	small.MaxBytes = int64(len(ib))
	if _, outcome, err := small.Load(paths[0], nil); err != nil || outcome != Prepared {
		t.Fatalf("%q %v", outcome, err)
	}
	if n := len(indexFiles(t, c.Dir)); n != 1 {
		t.Errorf("%d index files kept under a budget of one, want 1", n)
	}
}

// TestCacheDatabaseFile: a database file written by a server is read as
// it is; no index is kept for it.
func TestCacheDatabaseFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "osv.db")
	if err := goDatabase(t).WriteFile(p); err != nil {
		t.Fatal(err)
	}
	c := Cache{Dir: filepath.Join(dir, "cache")}
	db, outcome, err := c.Load(p, nil)
	if err != nil || outcome != Uncached || db.Version() != goDatabase(t).Version() {
		t.Fatalf("%q %v", outcome, err)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("a cache directory was made for a database file: %v", err)
	}
	if _, _, err := c.Load(filepath.Join(dir, "missing.zip"), nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
