package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
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

// defaultRules is the analyzer's rule set, compiled once for RedactText.
var defaultRules = sync.OnceValues(func() (config.Config, error) {
	a, err := New()
	if err != nil {
		return config.Config{}, err
	}
	return a.cfg, nil
})

// RedactText returns text, such as a line of source another analyzer
// quotes, with every secret the secrets analyzer's rules find in it
// redacted, so that those rules and their allowlists decide what is a
// secret wherever text is shown. It is meant for short texts: each call
// runs every rule over text. When the rules cannot be loaded, the whole
// text is redacted.
func RedactText(text string) string {
	cfg, err := defaultRules()
	if err != nil {
		return Redact(text)
	}
	for _, f := range detect.NewDetector(cfg).DetectString(text) {
		if f.Secret != "" {
			text = strings.ReplaceAll(text, f.Secret, Redact(f.Secret))
		}
	}
	return text
}
