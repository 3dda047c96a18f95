package pkgfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Reserved paths.
const (
	// SumsPath is the first entry of every package: the SHA-256 of every
	// other file, in sha256sum format.
	SumsPath = "SHA256SUMS"
	// ManifestPath is the plugin manifest every package must hold.
	ManifestPath = "manifest.json"
	// Extension is the conventional file extension of a package.
	Extension = ".gpkg"
)

// checkPath applies the path rules shared by the reader and the writer. Paths
// are slash-separated and relative; they must extract to the same place on
// every operating system, so anything a file system could interpret
// differently (backslashes, drive letters, colons, "..", control
// characters, components ending in a dot or a space, Windows device names)
// is refused rather than cleaned.
func checkPath(name string, lim Limits) *RefusalError {
	if name == "" {
		return refuse(name, RuleEmptyComponent, "the path is empty")
	}
	if !utf8.ValidString(name) {
		return refuse(name, RuleInvalidUTF8, "the path is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return refuse(name, RuleControlCharacter, "the path contains the control character %U", r)
		}
		// Format characters are invisible: bidirectional overrides and
		// zero-width characters make a name display as another one
		// ("gpj.exe" shown as "exe.jpg") to a reviewer.
		if unicode.Is(unicode.Cf, r) {
			return refuse(name, RuleControlCharacter, "the path contains the invisible formatting character %U", r)
		}
	}
	if len(name) > lim.MaxPathLen {
		return refuse(name, RulePathLength, "the path is %d bytes long; the limit is %d", len(name), lim.MaxPathLen)
	}
	if strings.ContainsRune(name, '\\') {
		return refuse(name, RuleBackslash, "the path contains a backslash; use \"/\" to separate folders")
	}
	if name[0] == '/' || hasDriveLetter(name) {
		return refuse(name, RuleAbsolutePath, "the path is absolute; paths must be relative to the package root")
	}
	if strings.ContainsRune(name, ':') {
		return refuse(name, RuleColon, "the path contains \":\", which Windows reads as a drive or a data stream and macOS shows as \"/\"")
	}
	comps := strings.Split(name, "/")
	for _, c := range comps {
		if c == ".." {
			return refuse(name, RulePathTraversal, "the path has a \"..\" component and could escape the package root")
		}
	}
	for _, c := range comps {
		switch c {
		case "":
			return refuse(name, RuleEmptyComponent, "the path has an empty component (a doubled or trailing \"/\")")
		case ".":
			return refuse(name, RuleDotComponent, "the path has a \".\" component")
		}
		if last := c[len(c)-1]; last == '.' || last == ' ' {
			return refuse(name, RuleTrailingDotOrSpace, "the path component %q ends in %q, which Windows drops, so it would extract as another name", c, last)
		}
		if isDeviceName(c) {
			return refuse(name, RuleDeviceName, "the path component %q is a device name on Windows (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with any extension), which opens the device instead of a file", c)
		}
	}
	if len(comps) > lim.MaxDepth {
		return refuse(name, RulePathDepth, "the path is %d folders deep; the limit is %d", len(comps), lim.MaxDepth)
	}
	return nil
}

// hasDriveLetter reports whether name starts like a Windows volume ("C:").
func hasDriveLetter(name string) bool {
	if len(name) < 2 || name[1] != ':' {
		return false
	}
	c := name[0] | 0x20
	return 'a' <= c && c <= 'z'
}

// isDeviceName reports whether Windows opens a device rather than a file
// for the path component c: CON, PRN, AUX, NUL, COM0 to COM9, LPT0 to
// LPT9 (also with the superscript digits ¹, ² and ³, which Windows counts
// as digits), CONIN$ and CONOUT$, in any case, alone or with any extension,
// and with spaces before the extension.
func isDeviceName(c string) bool {
	base, _, _ := strings.Cut(c, ".")
	base = strings.TrimRight(base, " ")
	switch {
	case len(base) == 3:
		for _, dev := range []string{"con", "prn", "aux", "nul"} {
			if strings.EqualFold(base, dev) {
				return true
			}
		}
	case len(base) >= 4 && (strings.EqualFold(base[:3], "com") || strings.EqualFold(base[:3], "lpt")):
		switch digit := base[3:]; digit {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
			return true
		}
	}
	return strings.EqualFold(base, "conin$") || strings.EqualFold(base, "conout$")
}

// fitsUSTAR reports whether the writer stores name in a plain USTAR header.
// The rule is deliberately simpler than what USTAR allows (no prefix field
// splitting) so that it is easy to state and to check: ASCII and at most 100
// bytes, otherwise a PAX "path" record.
func fitsUSTAR(name string) bool {
	if len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldCase maps s to a key equal for all strings that are equal under simple
// Unicode case folding: each rune becomes the smallest rune of its folding
// orbit. Two paths with the same key would overwrite each other on a
// case-insensitive file system (macOS, Windows).
func foldCase(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}

// nameKey maps a path component to a key equal for all components that
// are equal once Unicode normalisation (NFC) and case are ignored, as
// macOS and Windows file systems ignore them. NFC never composes across
// "/", so the keys of the components joined by "/" are the key of a path.
func nameKey(c string) string {
	return norm.NFC.String(foldCase(norm.NFC.String(c)))
}

// collision refuses entry because its path (or its folder dir) has the
// same key as prev (or the folder prev of the file prevFile), naming why the
// two are the same on some file system.
func collision(entry, dir, prev, prevFile string) *RefusalError {
	what := fmt.Sprintf("the path collides with %q", prev)
	if dir != entry {
		what = fmt.Sprintf("its folder %q collides with the folder %q of %q", dir, prev, prevFile)
	}
	switch {
	case norm.NFC.String(dir) == norm.NFC.String(prev):
		return refuse(entry, RuleNormalizationCollision, "%s on file systems that normalise Unicode (macOS): the two are the same in NFC", what)
	case foldCase(dir) == foldCase(prev):
		return refuse(entry, RuleCaseCollision, "%s on case-insensitive file systems", what)
	}
	return refuse(entry, RuleNormalizationCollision, "%s on file systems that ignore case and normalise Unicode (macOS): the two are the same in NFC once case is ignored", what)
}

// nameSet detects paths that cannot coexist when extracted: exact
// duplicates, paths equal when case and Unicode normalisation are ignored,
// a folder spelled in two such ways, and a path used both as a file and as
// a folder.
type nameSet struct {
	files map[string]string    // path key -> path
	dirs  map[string]folderUse // folder path key -> its first use
}

// folderUse is the spelling of a folder and the file that first implied it.
type folderUse struct{ dir, file string }

func newNameSet() *nameSet {
	return &nameSet{files: make(map[string]string), dirs: make(map[string]folderUse)}
}

func (s *nameSet) add(name string) *RefusalError {
	comps := strings.Split(name, "/")
	keys := make([]string, len(comps))
	for i, c := range comps {
		keys[i] = nameKey(c)
	}
	key := strings.Join(keys, "/")
	if prev, ok := s.files[key]; ok {
		if prev == name {
			return refuse(name, RuleDuplicate, "the path appears more than once")
		}
		return collision(name, name, prev, prev)
	}
	if prev, ok := s.dirs[key]; ok {
		return refuse(name, RulePathConflict, "the path is a file but %q uses it as a folder", prev.file)
	}
	for i := 1; i < len(comps); i++ {
		dirKey := strings.Join(keys[:i], "/")
		dir := strings.Join(comps[:i], "/")
		if prev, ok := s.files[dirKey]; ok {
			return refuse(name, RulePathConflict, "the path uses %q as a folder but it is a file", prev)
		}
		if prev, ok := s.dirs[dirKey]; ok {
			if prev.dir != dir {
				return collision(name, dir, prev.dir, prev.file)
			}
			continue
		}
		s.dirs[dirKey] = folderUse{dir: dir, file: name}
	}
	s.files[key] = name
	return nil
}

// archiveMagic lists signatures of compressed or archive formats. A package
// holding one is refused: the package limits bound only what this reader
// decompresses, and a nested archive is the classic way to smuggle a bomb
// past them to whatever unpacks the file later.
var archiveMagic = []struct {
	name   string
	offset int
	magic  []byte
}{
	{"gzip", 0, []byte{0x1f, 0x8b}},
	{"zip", 0, []byte("PK\x03\x04")},
	{"zip", 0, []byte("PK\x05\x06")}, // empty archive
	{"zip", 0, []byte("PK\x07\x08")}, // spanned archive
	{"tar", 257, []byte("ustar")},
	{"xz", 0, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"zstd", 0, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"7z", 0, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}},
	{"lz4", 0, []byte{0x04, 0x22, 0x4d, 0x18}},
	{"rar", 0, []byte("Rar!\x1a\x07")},
}

// nestedArchive returns the name of the archive format data starts with, or
// "" if none.
func nestedArchive(data []byte) string {
	for _, m := range archiveMagic {
		if len(data) >= m.offset+len(m.magic) && bytes.Equal(data[m.offset:m.offset+len(m.magic)], m.magic) {
			return m.name
		}
	}
	if isBzip2(data) {
		return "bzip2"
	}
	return ""
}

// isBzip2 matches "BZh", a block size digit, and the magic of either a first
// block or an empty stream's end, so that a text file starting with "BZh" is
// not mistaken for one.
func isBzip2(data []byte) bool {
	if len(data) < 10 || string(data[:3]) != "BZh" || data[3] < '1' || data[3] > '9' {
		return false
	}
	blk := data[4:10]
	return bytes.Equal(blk, []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || // pi: block header
		bytes.Equal(blk, []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}) // sqrt(pi): end of stream
}
