package pkgfile

import (
	"fmt"
	"strings"
)

// Rules a package can break. They are the Rule of a [RefusalError]; callers
// may match on them, and they are part of the package's API.
const (
	RulePackageTooLarge        = "package-too-large"       // compressed size over Limits.MaxPackageBytes
	RuleNotGzip                = "not-gzip"                // input does not start with a gzip header
	RuleCorruptGzip            = "corrupt-gzip"            // bad gzip header, deflate data or checksum
	RuleGzipMultistream        = "gzip-multistream"        // a second gzip member follows the first
	RuleTruncated              = "truncated"               // the gzip or tar stream ends early
	RuleTrailingData           = "trailing-data"           // bytes after the tar end or the gzip end
	RuleCorruptTar             = "corrupt-tar"             // a tar header that does not parse
	RuleTarFormat              = "tar-format"              // a header that is neither USTAR nor PAX (GNU, V7, ...)
	RulePAXRecord              = "pax-record"              // a PAX record other than a needed "path"
	RuleTotalSize              = "total-size"              // uncompressed stream over Limits.MaxTotalBytes
	RuleFileSize               = "file-size"               // one file over Limits.MaxFileBytes
	RuleFileCount              = "file-count"              // more entries than Limits.MaxFiles
	RulePathLength             = "path-length"             // a path longer than Limits.MaxPathLen bytes
	RulePathDepth              = "path-depth"              // more components than Limits.MaxDepth
	RuleAbsolutePath           = "absolute-path"           // a path starting with "/" or a drive letter
	RulePathTraversal          = "path-traversal"          // a ".." component
	RuleBackslash              = "backslash"               // a "\" in a path
	RuleEmptyComponent         = "empty-component"         // an empty path or component ("a//b", "a/")
	RuleDotComponent           = "dot-component"           // a "." component
	RuleInvalidUTF8            = "invalid-utf8"            // a path that is not valid UTF-8
	RuleControlCharacter       = "control-character"       // a control or invisible formatting character in a path
	RuleColon                  = "colon"                   // a ":" in a path (a drive or data stream on Windows, "/" on macOS)
	RuleTrailingDotOrSpace     = "trailing-dot-or-space"   // a component ending in "." or " ", which Windows drops
	RuleDeviceName             = "device-name"             // a component Windows opens as a device (CON, NUL, COM1, LPT¹.txt, ...)
	RuleLink                   = "link"                    // a symbolic or hard link
	RuleSpecialFile            = "special-file"            // a device or a FIFO
	RuleDirectory              = "directory"               // a directory entry (the writer never emits one)
	RuleEntryType              = "entry-type"              // any other non-regular entry
	RuleDuplicate              = "duplicate"               // the same path twice
	RuleCaseCollision          = "case-collision"          // two paths equal when case is ignored
	RuleNormalizationCollision = "normalization-collision" // two paths equal in Unicode NFC (and when case is ignored)
	RulePathConflict           = "path-conflict"           // a path that is both a file and a folder
	RuleEntryOrder             = "entry-order"             // entries not sorted by path
	RuleReservedName           = "reserved-name"           // a file named SHA256SUMS besides the first entry
	RuleNestedArchive          = "nested-archive"          // a file that is itself an archive (possible bomb)
	RuleChecksumsMissing       = "checksums-missing"       // no SHA256SUMS as the first entry
	RuleChecksumsMalformed     = "checksums-malformed"     // SHA256SUMS does not parse
	RuleChecksumsUnlisted      = "checksums-unlisted"      // a file SHA256SUMS does not list
	RuleChecksumsMissingFile   = "checksums-missing-file"  // a listed file that is not in the package
	RuleChecksumMismatch       = "checksum-mismatch"       // a file whose SHA-256 differs from its line
	RuleManifestMissing        = "manifest-missing"        // no manifest.json
)

// A RefusalError says why a package was refused: which entry, which rule.
// Entry is empty when the rule concerns the package as a whole.
type RefusalError struct {
	Entry  string // path of the offending entry, as the archive spells it
	Rule   string // one of the Rule constants
	Detail string // a sentence for the user
}

// maxEntryInError bounds how much of a hostile name an error message repeats.
const maxEntryInError = 256

func (e *RefusalError) Error() string {
	var b strings.Builder
	if e.Entry == "" {
		b.WriteString("package")
	} else {
		name := e.Entry
		suffix := ""
		if len(name) > maxEntryInError {
			name, suffix = name[:maxEntryInError], "..."
		}
		fmt.Fprintf(&b, "package entry %q%s", name, suffix) // %q escapes control characters and invalid UTF-8
	}
	fmt.Fprintf(&b, ": rule %s: %s", e.Rule, e.Detail)
	return b.String()
}

func refuse(entry, rule, format string, args ...any) *RefusalError {
	return &RefusalError{Entry: entry, Rule: rule, Detail: fmt.Sprintf(format, args...)}
}
