package pkgfile

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type hostileCase struct {
	name      string
	pkg       []byte
	lim       func(*Limits) // adjusts DefaultLimits, if set
	wantRule  string
	wantEntry string // checked when not empty
}

// hostileCases builds a real archive for every refusal rule. The fuzz target
// uses them as seeds.
func hostileCases(t testing.TB) []hostileCase {
	valid := validPackage(t)
	f := func(name string, data string) part { return rawFile(name, []byte(data)) }
	// withSums is a package whose SHA256SUMS lists exactly files, in order.
	withSums := func(files ...File) []byte {
		ps := []part{rawFile(SumsPath, sumsFor(files...))}
		for _, fl := range files {
			ps = append(ps, rawFile(fl.Path, fl.Data))
		}
		return gz(t, rawTar(append(ps, endMarker)...))
	}
	sumsText := func(text string) []byte {
		return gz(t, rawTar(rawFile(SumsPath, []byte(text)), rawFile(ManifestPath, testManifest), endMarker))
	}
	manifestLine := sha(testManifest) + "  " + ManifestPath + "\n"

	badCRC := slices.Clone(valid)
	binary.LittleEndian.PutUint32(badCRC[len(badCRC)-8:], binary.LittleEndian.Uint32(badCRC[len(badCRC)-8:])^1)
	badDeflate := slices.Clone(valid)
	badDeflate[10] = 0xff // first deflate block header: reserved block type 3

	tarNoEnd := rawBase()
	tarNoEnd = tarNoEnd[:len(tarNoEnd)-len(endMarker)]
	oneZeroBlock := append(slices.Clone(tarNoEnd), make([]byte, blockSize)...)

	long := strings.Repeat("a", 300)
	deep := strings.Repeat("d/", 20) + "f"

	// A header that claims a large file but carries 10 bytes.
	liar := gz(t, rawTar(f(SumsPath, manifestLine), rawHeader(ManifestPath, tar.TypeReg, 1<<30), rawData(testManifest)))
	shortLiar := gz(t, rawTar(f(SumsPath, manifestLine), rawHeader(ManifestPath, tar.TypeReg, 5000), rawData(testManifest)))

	nested := func(kind string, data []byte) hostileCase {
		return hostileCase{name: "nested " + kind, pkg: withSums(append(slices.Clone(baseFiles), File{"z.bin", data})...), wantRule: RuleNestedArchive, wantEntry: "z.bin"}
	}
	tarContent := make([]byte, 600)
	copy(tarContent[257:], "ustar\x0000")

	return []hostileCase{
		{name: "package too large", pkg: valid, lim: func(l *Limits) { l.MaxPackageBytes = 100 }, wantRule: RulePackageTooLarge},
		{name: "empty input", pkg: nil, wantRule: RuleNotGzip},
		{name: "one byte", pkg: []byte("x"), wantRule: RuleNotGzip},
		{name: "half a gzip signature", pkg: []byte{0x1f}, wantRule: RuleTruncated},
		{name: "sha256sums in another case", pkg: gz(t, rawBase(f("sha256sums", ""))), wantRule: RuleCaseCollision},
		{name: "plain tar", pkg: rawBase(), wantRule: RuleNotGzip},
		{name: "zip", pkg: []byte("PK\x03\x04 not a package"), wantRule: RuleNotGzip},
		{name: "gzip header only", pkg: valid[:5], wantRule: RuleTruncated},
		{name: "bad gzip checksum", pkg: badCRC, wantRule: RuleCorruptGzip},
		{name: "bad deflate data", pkg: badDeflate, wantRule: RuleCorruptGzip},
		{name: "truncated gzip", pkg: valid[:len(valid)-12], wantRule: RuleTruncated},
		{name: "truncated tar mid-file", pkg: gz(t, rawBase()[:3*blockSize+10]), wantRule: RuleTruncated},
		{name: "tar without end marker", pkg: gz(t, tarNoEnd), wantRule: RuleTruncated},
		{name: "tar with one end block", pkg: gz(t, oneZeroBlock), wantRule: RuleTruncated},
		{name: "empty tar stream", pkg: gz(t, nil), wantRule: RuleTruncated},
		{name: "garbage after gzip", pkg: append(slices.Clone(valid), "garbage"...), wantRule: RuleTrailingData},
		{name: "concatenated gzip", pkg: append(slices.Clone(valid), valid...), wantRule: RuleGzipMultistream},
		{name: "garbage after tar end", pkg: gz(t, append(rawBase(), "trailing"...)), wantRule: RuleTrailingData},
		{name: "garbage header", pkg: gz(t, append(rawBase()[:2*blockSize], bytes.Repeat([]byte("junk"), 256)...)), wantRule: RuleCorruptTar},
		{name: "total size", pkg: valid, lim: func(l *Limits) { l.MaxTotalBytes = 1500 }, wantRule: RuleTotalSize},
		{name: "file size", pkg: validPackage(t, File{"big", bytes.Repeat([]byte("x"), 1000)}), lim: func(l *Limits) { l.MaxFileBytes = 500 }, wantRule: RuleFileSize, wantEntry: "big"},
		{name: "header claims a huge file", pkg: liar, wantRule: RuleFileSize, wantEntry: ManifestPath},
		{name: "header claims more than the data", pkg: shortLiar, wantRule: RuleTruncated, wantEntry: ManifestPath},
		{name: "file count", pkg: valid, lim: func(l *Limits) { l.MaxFiles = 2 }, wantRule: RuleFileCount},
		{name: "path length", pkg: gz(t, rawBase(rawPAX("path="+long), f(long, "x"))), wantRule: RulePathLength, wantEntry: long},
		{name: "path depth", pkg: gz(t, rawBase(f(deep, "x"))), wantRule: RulePathDepth, wantEntry: deep},
		{name: "absolute path", pkg: gz(t, rawBase(f("/etc/passwd", "x"))), wantRule: RuleAbsolutePath, wantEntry: "/etc/passwd"},
		{name: "drive letter", pkg: gz(t, rawBase(f("C:/evil", "x"))), wantRule: RuleAbsolutePath},
		{name: "dot dot", pkg: gz(t, rawBase(f("../evil", "x"))), wantRule: RulePathTraversal, wantEntry: "../evil"},
		{name: "inner dot dot", pkg: gz(t, rawBase(f("a/../../evil", "x"))), wantRule: RulePathTraversal},
		{name: "backslash", pkg: gz(t, rawBase(f(`..\evil`, "x"))), wantRule: RuleBackslash},
		{name: "empty component", pkg: gz(t, rawBase(f("a//b", "x"))), wantRule: RuleEmptyComponent},
		{name: "trailing slash on a file", pkg: gz(t, rawBase(f("a/", ""))), wantRule: RuleEmptyComponent},
		{name: "dot component", pkg: gz(t, rawBase(f("./a", "x"))), wantRule: RuleDotComponent},
		{name: "invalid utf8", pkg: gz(t, rawBase(f("bad\xff.txt", "x"))), wantRule: RuleInvalidUTF8},
		{name: "control character", pkg: gz(t, rawBase(f("a\nb", "x"))), wantRule: RuleControlCharacter},
		{name: "bidi override", pkg: gz(t, rawBase(rawPAX("path=evil\u202egpj.exe"), f("evil-gpj.exe", "x"))), wantRule: RuleControlCharacter},
		{name: "zero-width space", pkg: gz(t, rawBase(rawPAX("path=manifest\u200b.json"), f("manifest-zw.json", "x"))), wantRule: RuleControlCharacter},
		{name: "escape sequence", pkg: gz(t, rawBase(f("a\x1b[2J", "x"))), wantRule: RuleControlCharacter},
		{name: "delete character", pkg: gz(t, rawBase(f("a\x7fb", "x"))), wantRule: RuleControlCharacter},
		{name: "C1 control character", pkg: gz(t, rawBase(rawPAX("path=z\u0085"), f("z-nel", "x"))), wantRule: RuleControlCharacter},
		{name: "NUL in a PAX path", pkg: gz(t, rawBase(rawPAX("path=z\x00evil"), f("z", "x"))), wantRule: RuleCorruptTar},
		{name: "colon", pkg: gz(t, rawBase(f("zz:stream", "x"))), wantRule: RuleColon, wantEntry: "zz:stream"},
		{name: "colon in a folder", pkg: gz(t, rawBase(f("zz:/a", "x"))), wantRule: RuleColon},
		{name: "trailing dot", pkg: gz(t, rawBase(f("z.", "x"))), wantRule: RuleTrailingDotOrSpace, wantEntry: "z."},
		{name: "trailing dots", pkg: gz(t, rawBase(f("z/...", "x"))), wantRule: RuleTrailingDotOrSpace},
		{name: "trailing space", pkg: gz(t, rawBase(f("z ", "x"))), wantRule: RuleTrailingDotOrSpace, wantEntry: "z "},
		{name: "trailing dot on a folder", pkg: gz(t, rawBase(f("z./a", "x"))), wantRule: RuleTrailingDotOrSpace},
		{name: "device name", pkg: gz(t, rawBase(f("con", "x"))), wantRule: RuleDeviceName, wantEntry: "con"},
		{name: "device name in upper case", pkg: gz(t, rawBase(f("NUL", "x"))), wantRule: RuleDeviceName},
		{name: "device name with an extension", pkg: gz(t, rawBase(f("z/Aux.go", "x"))), wantRule: RuleDeviceName, wantEntry: "z/Aux.go"},
		{name: "device name with two extensions", pkg: gz(t, rawBase(f("prn.tar.txt", "x"))), wantRule: RuleDeviceName},
		{name: "device name as a folder", pkg: gz(t, rawBase(f("lpt1/a", "x"))), wantRule: RuleDeviceName},
		{name: "device name with spaces before the extension", pkg: gz(t, rawBase(f("com9 .log", "x"))), wantRule: RuleDeviceName},
		{name: "serial port zero", pkg: gz(t, rawBase(f("COM0", "x"))), wantRule: RuleDeviceName},
		{name: "device name with a superscript digit", pkg: gz(t, rawBase(rawPAX("path=z/com\u00b9.txt"), f("z/com1-sup", "x"))), wantRule: RuleDeviceName, wantEntry: "z/com\u00b9.txt"},
		{name: "printer port with a superscript three", pkg: gz(t, rawBase(rawPAX("path=LPT\u00b3"), f("lpt3-sup", "x"))), wantRule: RuleDeviceName},
		{name: "console input", pkg: gz(t, rawBase(f("conin$", "x"))), wantRule: RuleDeviceName},
		{name: "console output", pkg: gz(t, rawBase(f("CONOUT$.txt", "x"))), wantRule: RuleDeviceName},
		{name: "symlink", pkg: gz(t, tarWith(t, &tar.Header{Name: "z", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})), wantRule: RuleLink, wantEntry: "z"},
		{name: "hardlink", pkg: gz(t, tarWith(t, &tar.Header{Name: "z", Typeflag: tar.TypeLink, Linkname: ManifestPath})), wantRule: RuleLink},
		{name: "char device", pkg: gz(t, tarWith(t, &tar.Header{Name: "z", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})), wantRule: RuleSpecialFile},
		{name: "block device", pkg: gz(t, tarWith(t, &tar.Header{Name: "z", Typeflag: tar.TypeBlock, Devmajor: 8})), wantRule: RuleSpecialFile},
		{name: "fifo", pkg: gz(t, tarWith(t, &tar.Header{Name: "z", Typeflag: tar.TypeFifo})), wantRule: RuleSpecialFile},
		{name: "directory", pkg: gz(t, tarWith(t, &tar.Header{Name: "src/", Typeflag: tar.TypeDir, Mode: 0o755})), wantRule: RuleDirectory, wantEntry: "src/"},
		{name: "global header", pkg: gz(t, tarWith(t, &tar.Header{Name: "g", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}})), wantRule: RuleEntryType},
		{name: "contiguous file", pkg: gz(t, rawBase(rawHeader("z", tar.TypeCont, 0))), wantRule: RuleEntryType},
		{name: "gnu header", pkg: gz(t, tarWith(t, &tar.Header{Name: "z", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644, Format: tar.FormatGNU})), wantRule: RuleTarFormat},
		{name: "v7 header", pkg: gz(t, rawBase(rawHeaderMagic("z", tar.TypeReg, 0, ""))), wantRule: RuleTarFormat},
		{name: "pax smuggles traversal", pkg: gz(t, rawBase(rawPAX("path=../evil"), f("innocent", "x"))), wantRule: RulePathTraversal, wantEntry: "../evil"},
		{name: "pax overrides a short name", pkg: gz(t, rawBase(rawPAX("path=other"), f("innocent", "x"))), wantRule: RulePAXRecord, wantEntry: "other"},
		{name: "pax smuggles size", pkg: gz(t, rawBase(rawPAX("size=1"), f("z", "xy"))), wantRule: RulePAXRecord},
		{name: "pax xattr", pkg: gz(t, rawBase(rawPAX("SCHILY.xattr.user.x=1"), f("z", "x"))), wantRule: RulePAXRecord},
		{name: "pax sparse", pkg: gz(t, rawBase(rawPAX("GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.name=z", "GNU.sparse.realsize=100000000"), f("zz", "1\n0\n1\n"+strings.Repeat("\x00", 506)+"x"))), wantRule: RulePAXRecord},
		{name: "duplicate", pkg: gz(t, rawBase(f("plugin.wasm", string(testModule)))), wantRule: RuleDuplicate, wantEntry: "plugin.wasm"},
		{name: "case collision", pkg: gz(t, rawBase(f("Plugin.WASM", "x"))), wantRule: RuleCaseCollision, wantEntry: "Plugin.WASM"},
		{name: "kelvin sign collision", pkg: gz(t, rawBaseListing([]File{{"zk", nil}, {"z\u212a", nil}}, f("zk", ""), rawPAX("path=z\u212a"), f("zK-in-ascii", ""))), wantRule: RuleCaseCollision},
		{name: "NFC collision", pkg: gz(t, rawBaseListing([]File{{"zcafe\u0301", nil}, {"zcaf\u00e9", nil}}, rawPAX("path=zcafe\u0301"), f("zcafe-decomposed", ""), rawPAX("path=zcaf\u00e9"), f("zcafe-composed", ""))), wantRule: RuleNormalizationCollision, wantEntry: "zcaf\u00e9"},
		{name: "angstrom sign collision", pkg: gz(t, rawBaseListing([]File{{"z\u212b", nil}, {"z\u00c5", nil}}, rawPAX("path=z\u00c5"), f("z-a-ring", ""), rawPAX("path=z\u212b"), f("z-angstrom", ""))), wantRule: RuleNormalizationCollision, wantEntry: "z\u212b"},
		{name: "NFC and case collision", pkg: gz(t, rawBaseListing([]File{{"zCAFE\u0301", nil}, {"zcaf\u00e9", nil}}, rawPAX("path=zCAFE\u0301"), f("zcafe-upper", ""), rawPAX("path=zcaf\u00e9"), f("zcafe-lower", ""))), wantRule: RuleNormalizationCollision, wantEntry: "zcaf\u00e9"},
		{name: "NFC collision of a folder", pkg: gz(t, rawBaseListing([]File{{"zcafe\u0301/a", nil}, {"zcaf\u00e9/b", nil}}, rawPAX("path=zcafe\u0301/a"), f("zcafe-a", ""), rawPAX("path=zcaf\u00e9/b"), f("zcafe-b", ""))), wantRule: RuleNormalizationCollision, wantEntry: "zcaf\u00e9/b"},
		{name: "folder in two cases", pkg: withSums(File{ManifestPath, testManifest}, File{"plugin.wasm", testModule}, File{"z/a", nil}, File{"Z/b", nil}), wantRule: RuleCaseCollision, wantEntry: "Z/b"},
		{name: "file used as folder", pkg: gz(t, rawBase(f("plugin.wasm/x", "x"))), wantRule: RulePathConflict},
		{name: "folder used as file", pkg: withSums(File{ManifestPath, testManifest}, File{"x/y", nil}, File{"X", nil}), wantRule: RulePathConflict},
		{name: "entry order", pkg: gz(t, rawBaseListing([]File{{"za", nil}, {"zb", nil}}, f("zb", ""), f("za", ""))), wantRule: RuleEntryOrder, wantEntry: "za"},
		{name: "second SHA256SUMS", pkg: gz(t, rawBase(f(SumsPath, ""))), wantRule: RuleReservedName},
		nested("gzip", gz(t, []byte("inner"))),
		nested("zip", []byte("PK\x03\x04rest")),
		nested("tar", tarContent),
		nested("xz", []byte("\xfd7zXZ\x00rest")),
		nested("bzip2", []byte("BZh91AY&SYrest")),
		nested("zstd", []byte("\x28\xb5\x2f\xfdrest")),
		nested("7z", []byte("7z\xbc\xaf\x27\x1crest")),
		{name: "no SHA256SUMS", pkg: gz(t, rawTar(f(ManifestPath, string(testManifest)), endMarker)), wantRule: RuleChecksumsMissing},
		{name: "no entries", pkg: gz(t, rawTar(endMarker)), wantRule: RuleChecksumsMissing},
		{name: "sums uppercase hex", pkg: sumsText(strings.ToUpper(sha(testManifest)) + "  " + ManifestPath + "\n"), wantRule: RuleChecksumsMalformed},
		{name: "sums one space", pkg: sumsText(sha(testManifest) + " " + ManifestPath + "\n"), wantRule: RuleChecksumsMalformed},
		{name: "sums binary marker", pkg: sumsText(sha(testManifest) + " *" + ManifestPath + "\n"), wantRule: RuleChecksumsMalformed},
		{name: "sums no final newline", pkg: sumsText(strings.TrimSuffix(manifestLine, "\n")), wantRule: RuleChecksumsMalformed},
		{name: "sums CRLF", pkg: sumsText(strings.TrimSuffix(manifestLine, "\n") + "\r\n"), wantRule: RuleChecksumsMalformed},
		{name: "sums duplicate line", pkg: sumsText(manifestLine + manifestLine), wantRule: RuleChecksumsMalformed},
		{name: "sums bad path", pkg: sumsText(sha(nil) + "  ../x\n" + manifestLine), wantRule: RuleChecksumsMalformed},
		{name: "sums blank line", pkg: sumsText(manifestLine + "\n"), wantRule: RuleChecksumsMalformed},
		{name: "unlisted file", pkg: gz(t, rawBase(f("z", "x"))), wantRule: RuleChecksumsUnlisted, wantEntry: "z"},
		{name: "listed file missing", pkg: sumsText(manifestLine + sha(nil) + "  z\n"), wantRule: RuleChecksumsMissingFile, wantEntry: "z"},
		{name: "checksum mismatch", pkg: gz(t, rawTar(f(SumsPath, manifestLine), f(ManifestPath, `{"tampered":true}`), endMarker)), wantRule: RuleChecksumMismatch, wantEntry: ManifestPath},
		{name: "no manifest", pkg: withSums(File{"plugin.wasm", testModule}), wantRule: RuleManifestMissing},
	}
}

func TestReadRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim := DefaultLimits()
			if tc.lim != nil {
				tc.lim(&lim)
			}
			p, err := Read(bytes.NewReader(tc.pkg), lim)
			if err == nil {
				t.Fatalf("Read accepted the package (files %v); want rule %s", p.Files, tc.wantRule)
			}
			var re *RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Read error %v is not a *RefusalError", err)
			}
			if re.Rule != tc.wantRule {
				t.Fatalf("rule %q, want %q (error: %v)", re.Rule, tc.wantRule, err)
			}
			if tc.wantEntry != "" && re.Entry != tc.wantEntry {
				t.Errorf("entry %q, want %q (error: %v)", re.Entry, tc.wantEntry, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "rule "+tc.wantRule+":") || (re.Entry != "" && !strings.Contains(msg, "package entry ")) {
				t.Errorf("message %q does not name the entry and the rule", msg)
			}
		})
	}
}

func TestRefusalMessage(t *testing.T) {
	t.Parallel()
	err := (&RefusalError{Entry: "../evil", Rule: RulePathTraversal, Detail: "no"}).Error()
	if want := `package entry "../evil": rule path-traversal: no`; err != want {
		t.Errorf("got %q, want %q", err, want)
	}
	err = (&RefusalError{Entry: "a\x1b[2J" + strings.Repeat("x", 1000), Rule: RuleControlCharacter, Detail: "d"}).Error()
	if strings.ContainsRune(err, '\x1b') || len(err) > 400 {
		t.Errorf("message repeats a hostile name verbatim or unbounded: %q", err)
	}
}

func TestReadAcceptsZeroPaddingAfterEnd(t *testing.T) {
	t.Parallel()
	// GNU tar pads archives to 10 KiB records.
	padded := append(rawBase(), make([]byte, 10240)...)
	if _, err := Read(bytes.NewReader(gz(t, padded)), DefaultLimits()); err != nil {
		t.Fatal(err)
	}
}

// TestReadAcceptsNamesNearReservedOnes guards against over-blocking: names
// that only resemble Windows device names, dots and spaces inside a name,
// and a folder spelled the same way by every file in it are all fine.
func TestReadAcceptsNamesNearReservedOnes(t *testing.T) {
	t.Parallel()
	var files []File
	for _, name := range []string{
		"console.txt", "con-fig", "icon.png", "nul_test.go", "nullable.go", "auxiliary.go",
		"com10", "com", "lpt", "comx", "lpt\u2074", "conin", "conout$$", "prn2.txt",
		"a.b.c", "a b", ".a", "..a", "a..b", "src/con_unix.go",
		"src/main.go", "src/util.go", "cafe\u0301.md",
	} {
		files = append(files, File{name, []byte(name)})
	}
	p, err := Read(bytes.NewReader(validPackage(t, files...)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if got, ok := p.File(f.Path); !ok || !bytes.Equal(got, f.Data) {
			t.Errorf("File(%q) = %q, %v; want %q", f.Path, got, ok, f.Data)
		}
	}
}

func TestReadAcceptsLongAndNonASCIINames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("sub/", 10) + strings.Repeat("n", 80) + ".txt"
	files := []File{{long, []byte("deep")}, {"docs/résumé.md", []byte("é")}, {"日本語.txt", []byte("x")}}
	p, err := Read(bytes.NewReader(validPackage(t, files...)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if got, ok := p.File(f.Path); !ok || !bytes.Equal(got, f.Data) {
			t.Errorf("File(%q) = %q, %v; want %q", f.Path, got, ok, f.Data)
		}
	}
}

type failingReader struct{ after []byte }

var errDisk = errors.New("disk on fire")

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.after) == 0 {
		return 0, errDisk
	}
	n := copy(p, r.after)
	r.after = r.after[n:]
	return n, nil
}

func TestReadPassesThroughIOErrors(t *testing.T) {
	t.Parallel()
	valid := validPackage(t)
	_, err := Read(&failingReader{after: valid[:len(valid)/2]}, DefaultLimits())
	var re *RefusalError
	if errors.As(err, &re) || !errors.Is(err, errDisk) {
		t.Fatalf("got %v; want the reader's own error, not a refusal", err)
	}
}

func TestReadRejectsInvalidLimits(t *testing.T) {
	t.Parallel()
	lim := DefaultLimits()
	lim.MaxFiles = 0
	if _, err := Read(bytes.NewReader(validPackage(t)), lim); err == nil || !strings.Contains(err.Error(), "MaxFiles") {
		t.Fatalf("got %v; want an error naming MaxFiles", err)
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "p.gpkg")
	valid := validPackage(t)
	if err := os.WriteFile(path, valid, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadFile(path, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != int64(len(valid)) || !bytes.Equal(p.Manifest(), testManifest) {
		t.Errorf("Size %d, manifest %q", p.Size, p.Manifest())
	}
	lim := DefaultLimits()
	lim.MaxPackageBytes = 10
	_, err = ReadFile(path, lim)
	var re *RefusalError
	if !errors.As(err, &re) || re.Rule != RulePackageTooLarge || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v; want a package-too-large refusal naming the file", err)
	}
	if _, err := ReadFile(dir, DefaultLimits()); err == nil {
		t.Error("ReadFile accepted a directory")
	}
}

// zeroBomb is a package whose extra file is n zero bytes, followed by pad
// zero bytes after the end-of-archive marker: a few KiB compressed.
func zeroBomb(t testing.TB, n, pad int64) []byte {
	var b bytes.Buffer
	gw := gz0(&b)
	tw := tar.NewWriter(gw)
	write := func(name string, size int64, r io.Reader) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size, Mode: 0o644, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, r); err != nil {
			t.Fatal(err)
		}
	}
	zeros := File{"zeros", make([]byte, n)}
	sums := sumsFor(append(slices.Clone(baseFiles), zeros)...)
	write(SumsPath, int64(len(sums)), bytes.NewReader(sums))
	for _, f := range baseFiles {
		write(f.Path, int64(len(f.Data)), bytes.NewReader(f.Data))
	}
	write(zeros.Path, n, bytes.NewReader(zeros.Data))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(gw, io.LimitReader(zeroReader{}, pad)); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestReadBoundsMemoryOnBombs(t *testing.T) {
	const big = 64 << 20
	fileBomb := zeroBomb(t, big, 0)
	padBomb := zeroBomb(t, 0, big)
	small := Limits{MaxPackageBytes: 1 << 20, MaxTotalBytes: 1 << 20, MaxFileBytes: 1 << 20, MaxFiles: 10, MaxPathLen: 100, MaxDepth: 4}
	bigFiles := small
	bigFiles.MaxFileBytes = 1 << 30
	cases := []struct {
		name string
		pkg  []byte
		lim  Limits
		rule string
	}{
		{"file over file limit", fileBomb, small, RuleFileSize},
		{"file over total limit", fileBomb, bigFiles, RuleTotalSize},
		{"padding after the end", padBomb, small, RuleTotalSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.pkg) > 1<<20 {
				t.Fatalf("the bomb is %d bytes compressed; want a small one", len(tc.pkg))
			}
			before := heapAllocated()
			_, err := Read(bytes.NewReader(tc.pkg), tc.lim)
			used := heapAllocated() - before
			var re *RefusalError
			if !errors.As(err, &re) || re.Rule != tc.rule {
				t.Fatalf("got %v; want rule %s", err, tc.rule)
			}
			// 64 MiB inflating against a 1 MiB limit: an allocation near
			// the bomb's size means the limit was not applied while reading.
			if used > 8<<20 {
				t.Errorf("Read allocated %d MiB for a bomb refused at 1 MiB", used>>20)
			}
		})
	}
}

func TestReadAcceptsBombWithinLimits(t *testing.T) {
	t.Parallel()
	// The same shape within the limits is a legitimate package: the limits,
	// not the compression ratio, decide.
	p, err := Read(bytes.NewReader(zeroBomb(t, 4<<20, 0)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := p.File("zeros"); len(data) != 4<<20 {
		t.Errorf("zeros has %d bytes", len(data))
	}
}
