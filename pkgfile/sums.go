package pkgfile

import (
	"bytes"
	"encoding/hex"
	"strings"
)

// formatSums renders SHA256SUMS for entries already sorted by path, in the
// format of GNU sha256sum's text mode ("HEX  path\n"), so that
// `sha256sum -c SHA256SUMS` works on an extracted package. Paths never need
// sha256sum's backslash escaping: backslashes and newlines are refused.
func formatSums(entries []Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.SHA256)
		b.WriteString("  ")
		b.WriteString(e.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// parseSums parses SHA256SUMS strictly: lowercase hex, two spaces, a path
// obeying the path rules, a newline after every line, paths sorted and
// unique. Anything else is refused rather than interpreted.
func parseSums(data []byte, lim Limits) (map[string]string, *RefusalError) {
	malformed := func(format string, args ...any) *RefusalError {
		return refuse(SumsPath, RuleChecksumsMalformed, format, args...)
	}
	sums := make(map[string]string)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, malformed("the last line does not end with a newline")
	}
	prev := ""
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			break // after the final newline
		}
		line = line[:len(line)-1]
		n := i + 1
		if len(line) < 64+2+1 || line[64:66] != "  " {
			return nil, malformed("line %d is not \"HEX  path\"", n)
		}
		sum, name := line[:64], line[66:]
		if _, err := hex.DecodeString(sum); err != nil || strings.ToLower(sum) != sum {
			return nil, malformed("line %d does not start with 64 lowercase hex digits", n)
		}
		if r := checkPath(name, lim); r != nil {
			return nil, malformed("line %d names an invalid path: %s", n, r.Detail)
		}
		if name == SumsPath {
			return nil, malformed("line %d lists SHA256SUMS itself", n)
		}
		if i > 0 && name <= prev {
			return nil, malformed("line %d (%q) is duplicated or out of order; lines are sorted by path", n, name)
		}
		prev = name
		sums[name] = sum
	}
	return sums, nil
}

// maxSumsBytes bounds SHA256SUMS by the longest listing the limits allow.
func maxSumsBytes(lim Limits) int64 {
	return int64(lim.MaxFiles) * int64(64+2+lim.MaxPathLen+1)
}
