package pkgfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleFiles() []File {
	return []File{
		{ManifestPath, testManifest},
		{"plugin.wasm", testModule},
		{"README.md", []byte("# hello\n")},
		{"LICENSE", []byte("MIT\n")},
		{"tests/greet.json", []byte(`{"input":{},"output":{}}`)},
		{"src/main.go", []byte("package main\n")},
		{"sbom.cdx.json", []byte(`{"bomFormat":"CycloneDX"}`)},
		{"empty.txt", nil},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	files := sampleFiles()
	var b bytes.Buffer
	digest, err := Write(&b, files)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Read(bytes.NewReader(b.Bytes()), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != digest || !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		t.Errorf("Read digest %s, Write digest %s", p.Digest, digest)
	}
	if want := "sha256:" + sha(b.Bytes()); digest != want {
		t.Errorf("digest %s is not the SHA-256 of the bytes (%s)", digest, want)
	}
	if p.Size != int64(b.Len()) {
		t.Errorf("Size %d, want %d", p.Size, b.Len())
	}
	if len(p.Files) != len(files) {
		t.Fatalf("%d files, want %d", len(p.Files), len(files))
	}
	if !slices.IsSortedFunc(p.Files, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("Files are not sorted: %v", p.Files)
	}
	for _, f := range files {
		got, ok := p.File(f.Path)
		if !ok || !bytes.Equal(got, f.Data) {
			t.Errorf("File(%q) = %q, %v; want %q", f.Path, got, ok, f.Data)
		}
		i := slices.IndexFunc(p.Files, func(e Entry) bool { return e.Path == f.Path })
		if i < 0 || p.Files[i].Size != int64(len(f.Data)) || p.Files[i].SHA256 != sha(f.Data) {
			t.Errorf("entry for %q: %+v", f.Path, p.Files)
		}
	}
	if _, ok := p.File(SumsPath); ok {
		t.Error("SHA256SUMS is exposed as a package file")
	}
	if !bytes.Equal(p.Manifest(), testManifest) {
		t.Errorf("Manifest() = %q", p.Manifest())
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	t.Parallel()
	files := sampleFiles()
	var first bytes.Buffer
	d1, err := Write(&first, files)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		shuffled := slices.Clone(files)
		// A fixed rotation and reversal: every order must give the same bytes.
		slices.Reverse(shuffled)
		shuffled = append(shuffled[i:], shuffled[:i]...)
		var again bytes.Buffer
		d2, err := Write(&again, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if d1 != d2 || !bytes.Equal(first.Bytes(), again.Bytes()) {
			t.Fatalf("order %d gave digest %s, want %s", i, d2, d1)
		}
	}
}

// TestWriteGolden pins the canonical form: if this digest changes, every
// package written from now on gets a new identity, so the change must be
// deliberate (a new format version), not a side effect.
func TestWriteGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	digest, err := Write(&b, sampleFiles())
	if err != nil {
		t.Fatal(err)
	}
	const want = "sha256:8d06ebefda38a3d2de357d51fa721ae115e2c49395e0b47e68ba43f8db4bcad8"
	if digest != want {
		t.Errorf("digest %s, want %s", digest, want)
	}
}

func TestWriteCanonicalHeaders(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("l", 120)
	files := append(sampleFiles(), File{long, []byte("x")}, File{"é.txt", []byte("y")})
	var b bytes.Buffer
	if _, err := Write(&b, files); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	if raw[3] != 0 || !bytes.Equal(raw[4:8], []byte{0, 0, 0, 0}) || raw[9] != 255 {
		t.Errorf("gzip header flags %#x, mtime % x, OS %d; want no name, mtime 0, OS unknown", raw[3], raw[4:8], raw[9])
	}
	zr, err := gzip.NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Typeflag != tar.TypeReg || h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%q: non-canonical header %+v", h.Name, h)
		}
		wantFormat := tar.FormatUSTAR
		if !fitsUSTAR(h.Name) {
			wantFormat = tar.FormatPAX
		}
		if h.Format != wantFormat {
			t.Errorf("%q: format %v, want %v", h.Name, h.Format, wantFormat)
		}
	}
	if names[0] != SumsPath || !slices.IsSorted(names[1:]) {
		t.Errorf("entry order %q; want SHA256SUMS then sorted paths", names)
	}
}

func TestWriteRefusals(t *testing.T) {
	t.Parallel()
	with := func(extra ...File) []File { return append(slices.Clone(baseFiles), extra...) }
	cases := []struct {
		name  string
		files []File
		rule  string
	}{
		{"traversal", with(File{"../x", nil}), RulePathTraversal},
		{"absolute", with(File{"/x", nil}), RuleAbsolutePath},
		{"backslash", with(File{`a\b`, nil}), RuleBackslash},
		{"empty", with(File{"", nil}), RuleEmptyComponent},
		{"control", with(File{"a\tb", nil}), RuleControlCharacter},
		{"invalid utf8", with(File{"\xc3", nil}), RuleInvalidUTF8},
		{"too long", with(File{strings.Repeat("a", 256), nil}), RulePathLength},
		{"too deep", with(File{strings.Repeat("a/", 16) + "b", nil}), RulePathDepth},
		{"NUL", with(File{"a\x00b", nil}), RuleControlCharacter},
		{"colon", with(File{"notes.txt:hidden", nil}), RuleColon},
		{"trailing dot", with(File{"README.", nil}), RuleTrailingDotOrSpace},
		{"trailing space", with(File{"src /main.go", nil}), RuleTrailingDotOrSpace},
		{"device name", with(File{"src/aux.go", nil}), RuleDeviceName},
		{"device name with a superscript digit", with(File{"LPT\u00b2.txt", nil}), RuleDeviceName},
		{"NFC collision", with(File{"zcafe\u0301", nil}, File{"zcaf\u00e9", nil}), RuleNormalizationCollision},
		{"duplicate", with(File{"plugin.wasm", nil}), RuleDuplicate},
		{"case", with(File{"MANIFEST.JSON", nil}), RuleCaseCollision},
		{"conflict", with(File{"plugin.wasm/x", nil}), RulePathConflict},
		{"reserved", with(File{SumsPath, nil}), RuleReservedName},
		{"reserved in another case", with(File{"sha256sums", nil}), RuleCaseCollision},
		{"reserved as a folder", with(File{"SHA256SUMS/x", nil}), RulePathConflict},
		{"nested", with(File{"inner.tgz", gz(t, []byte("x"))}), RuleNestedArchive},
		{"no manifest", []File{{"plugin.wasm", testModule}}, RuleManifestMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			_, err := Write(&b, tc.files)
			var re *RefusalError
			if !errors.As(err, &re) || re.Rule != tc.rule {
				t.Fatalf("got %v; want rule %s", err, tc.rule)
			}
			if b.Len() != 0 {
				t.Errorf("Write wrote %d bytes before refusing", b.Len())
			}
		})
	}
}

func TestWriteRefusesWhatDefaultLimitsWouldRefuse(t *testing.T) {
	t.Parallel()
	lim := DefaultLimits()
	many := slices.Clone(baseFiles)
	for i := range lim.MaxFiles {
		many = append(many, File{Path: "f/" + strings.Repeat("x", i%7) + strconv.Itoa(i)})
	}
	var re *RefusalError
	if _, err := Write(io.Discard, many); !errors.As(err, &re) || re.Rule != RuleFileCount {
		t.Errorf("got %v; want rule %s", err, RuleFileCount)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestWritePassesThroughWriteErrors(t *testing.T) {
	t.Parallel()
	if _, err := Write(failingWriter{}, sampleFiles()); !errors.Is(err, errDisk) {
		t.Fatalf("got %v; want the writer's error", err)
	}
}

func TestWriteRefusesTooLargeCompressed(t *testing.T) {
	t.Parallel()
	lim := DefaultLimits()
	lim.MaxPackageBytes = 4096
	noise := benchFiles(20_000)[1].Data // a module that compresses little
	_, _, err := write(io.Discard, append(slices.Clone(baseFiles), File{"noise.bin", noise}), lim)
	var re *RefusalError
	if !errors.As(err, &re) || re.Rule != RulePackageTooLarge {
		t.Fatalf("got %v; want rule %s", err, RulePackageTooLarge)
	}
}
