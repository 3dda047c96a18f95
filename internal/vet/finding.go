package vet

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Fingerprint returns a stable fingerprint of a finding from the parts
// that identify it across versions: the rule id, the file and the subject
// (the import name, the origin, the permission), never a line number or an
// offset, which move when unrelated code changes. The result is 32 hex
// digits (128 bits of SHA-256).
func Fingerprint(ruleID string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(ruleID))
	for _, p := range parts {
		// A separator that cannot occur in text keeps ("ab","c") and
		// ("a","bc") apart.
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// SortFindings orders findings by location (file, line, column, offset),
// then rule id, fingerprint and message, so results compare and diff
// deterministically whatever order an analyzer found them in.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, compareFindings)
}

func compareFindings(a, b Finding) int {
	return cmp.Or(
		strings.Compare(a.Location.File, b.Location.File),
		cmp.Compare(a.Location.Line, b.Location.Line),
		cmp.Compare(a.Location.Column, b.Location.Column),
		cmp.Compare(a.Location.Offset, b.Location.Offset),
		strings.Compare(a.RuleID, b.RuleID),
		strings.Compare(a.Fingerprint, b.Fingerprint),
		strings.Compare(a.Message, b.Message),
	)
}

// LineCol returns the 1-based line and column (in bytes) of offset off in
// text. An offset outside text gives the last position.
func LineCol(text []byte, off int) (line, col int) {
	off = max(0, min(off, len(text)))
	before := text[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	return line, off - (bytes.LastIndexByte(before, '\n') + 1) + 1
}
