package secrets

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redact returns the first characters of a secret followed by "…": at
// most 4, and fewer for a short secret (a quarter of it), so that what is
// shown never narrows the secret down usefully.
//
// Redact is the one way Gatehouse shows a value that may be a secret: a
// secrets finding, a hunting rule's content match, a content rule's
// pattern. Call it where the value is found, so that nothing downstream
// (findings, SARIF, audit events, webhooks, pages, the command line)
// ever holds the clear value.
func Redact(secret string) string {
	n := min(4, utf8.RuneCountInString(secret)/4)
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(secret[i:])
		i += size
	}
	return secret[:i] + "…"
}

// Digest returns 32 hex digits (128 bits of SHA-256) of a secret: it
// tells redacted values apart (two keys that start alike) and lets
// whoever holds a leaked value check a match against it, without storing
// the value.
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:16])
}

// defaultAnalyzer holds the analyzer's rule set and detectors, built once
// for RedactText.
var defaultAnalyzer = sync.OnceValues(New)

// RedactText returns text, such as a line of source another analyzer
// quotes, with every secret the secrets analyzer's rules find in it
// redacted, so that those rules and their allowlists decide what is a
// secret wherever text is shown. A secret found by decoding (a base64 of a
// token) is redacted where it is written: its encoded text is replaced, as
// that is the secret to whoever decodes it. It is meant for short texts:
// each call runs every rule over text. When the rules cannot be loaded, the
// whole text is redacted.
func RedactText(text string) string {
	a, err := defaultAnalyzer()
	if err != nil {
		return Redact(text)
	}
	findings, _ := a.detect(context.Background(), text, "")
	// Encoded secrets first, by position from the end of text, so each
	// replacement leaves the positions of those before it as they were;
	// then each plain secret wherever it occurs.
	var spans [][2]int
	var raw []byte
	var starts []int
	for _, f := range findings {
		if len(encodings(f)) == 0 {
			continue
		}
		if raw == nil {
			raw = []byte(text)
			starts = lineStarts(raw)
		}
		if off, n, ok := locate(raw, starts, f); ok {
			spans = append(spans, [2]int{off, off + n})
		}
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return cmp.Compare(b[0], a[0]) })
	end := len(text)
	for _, sp := range spans {
		if sp[1] > end {
			continue // overlaps a span already redacted
		}
		text = text[:sp[0]] + Redact(text[sp[0]:sp[1]]) + text[sp[1]:]
		end = sp[0]
	}
	for _, f := range findings {
		if f.Secret != "" && len(encodings(f)) == 0 {
			text = strings.ReplaceAll(text, f.Secret, Redact(f.Secret))
		}
	}
	return text
}
