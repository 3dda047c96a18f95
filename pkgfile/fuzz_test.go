package pkgfile

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// fuzzLimits are small so that every input the fuzzer finds is cheap and the
// memory a run holds stays bounded.
var fuzzLimits = Limits{
	MaxPackageBytes: 64 << 10,
	MaxTotalBytes:   256 << 10,
	MaxFileBytes:    64 << 10,
	MaxFiles:        32,
	MaxPathLen:      128,
	MaxDepth:        8,
}

func FuzzRead(f *testing.F) {
	f.Add(validPackage(f))
	f.Add(validPackage(f, File{"long/" + strings.Repeat("n", 110), []byte("x")}, File{"é.txt", nil}))
	f.Add(gz(f, append(rawBase(), make([]byte, 2048)...)))
	for _, tc := range hostileCases(f) {
		f.Add(tc.pkg)
	}
	f.Fuzz(checkRead)
}

// FuzzReadTar fuzzes the tar stream inside a valid gzip member, where
// mutations reach the entry rules instead of breaking the gzip checksum.
func FuzzReadTar(f *testing.F) {
	f.Add(rawBase())
	for _, tc := range hostileCases(f) {
		if zr, err := gzip.NewReader(bytes.NewReader(tc.pkg)); err == nil {
			if raw, err := io.ReadAll(zr); err == nil {
				f.Add(raw)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkRead(t, gz(t, raw))
	})
}

// FuzzNameRules checks the path rules on names alone: they never panic,
// every refusal names a rule, and two different names that are equal in
// NFC or when case is ignored can never both be in one package.
func FuzzNameRules(f *testing.F) {
	for _, pair := range [][2]string{
		{"cafe\u0301", "caf\u00e9"},
		{"z\u212b", "z\u00c5"},
		{"zk", "z\u212a"},
		{"z/a", "Z/b"},
		{"src/Main.go", "src/main.go"},
		{"CON", "con.txt"},
		{"com\u00b9.txt", "lpt\u00b3"},
		{"a.", "a "},
		{"notes.txt:hidden", "C:x"},
		{"a\x00b", "a\x7fb"},
		{"console.txt", "com10"},
	} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		lim := DefaultLimits()
		for _, name := range []string{a, b} {
			if r := checkPath(name, lim); r != nil && (r.Rule == "" || r.Entry != name) {
				t.Fatalf("checkPath(%q) = %v: a refusal without its rule or entry", name, r)
			}
		}
		if a == b || checkPath(a, lim) != nil || checkPath(b, lim) != nil {
			return
		}
		names := newNameSet()
		if r := names.add(a); r != nil {
			t.Fatalf("the first name %q was refused: %v", a, r)
		}
		r := names.add(b)
		if norm.NFC.String(a) != norm.NFC.String(b) && foldCase(a) != foldCase(b) {
			return
		}
		if r == nil || (r.Rule != RuleCaseCollision && r.Rule != RuleNormalizationCollision) {
			t.Fatalf("%q after %q: %v; want a case or normalization collision", b, a, r)
		}
	})
}

// checkRead reads data with fuzzLimits and checks the properties every input
// must have.
func checkRead(t *testing.T, data []byte) {
	p, err := Read(bytes.NewReader(data), fuzzLimits)
	// The same input with every file but the first held out of memory
	// reads the same: the same refusal, or the same files.
	spillLim := fuzzLimits
	spillLim.MaxMemoryBytes = 1
	sp, serr := Read(bytes.NewReader(data), spillLim)
	if (err == nil) != (serr == nil) || (err != nil && err.Error() != serr.Error()) {
		t.Fatalf("held in memory: %v; held out of memory: %v", err, serr)
	}
	if err == nil {
		if !slices.Equal(p.Files, sp.Files) || p.Digest != sp.Digest {
			t.Fatalf("held out of memory the package reads as %v, want %v", sp.Files, p.Files)
		}
		for _, e := range p.Files {
			a, _ := p.File(e.Path)
			b, ok := sp.File(e.Path)
			if !ok || !bytes.Equal(a, b) {
				t.Fatalf("%q reads differently held out of memory", e.Path)
			}
		}
	}
	if err != nil {
		var re *RefusalError
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not a *RefusalError", err)
		}
		if re.Rule == "" || !strings.Contains(err.Error(), "rule "+re.Rule) {
			t.Fatalf("refusal without a rule: %v", err)
		}
		return
	}
	if p.Size != int64(len(data)) || p.Digest != "sha256:"+sha(data) {
		t.Fatalf("Size %d, Digest %s for %d bytes hashing to %s", p.Size, p.Digest, len(data), sha(data))
	}
	// Anything accepted re-packs into a package that reads back the same.
	files := make([]File, 0, len(p.Files))
	for _, e := range p.Files {
		b, ok := p.File(e.Path)
		if !ok || int64(len(b)) != e.Size || sha(b) != e.SHA256 {
			t.Fatalf("entry %+v does not match File()", e)
		}
		files = append(files, File{e.Path, b})
	}
	var repacked bytes.Buffer
	digest, err := Write(&repacked, files)
	if err != nil {
		t.Fatalf("an accepted package does not re-pack: %v", err)
	}
	q, err := Read(bytes.NewReader(repacked.Bytes()), DefaultLimits())
	if err != nil {
		t.Fatalf("a re-packed package is refused: %v", err)
	}
	if q.Digest != digest || !slices.Equal(q.Files, p.Files) {
		t.Fatalf("re-packed package reads back as %v, want %v", q.Files, p.Files)
	}
	for _, e := range p.Files {
		a, _ := p.File(e.Path)
		b, _ := q.File(e.Path)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q differs after re-packing", e.Path)
		}
	}
}
