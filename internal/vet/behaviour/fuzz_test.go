package behaviour

import (
	"testing"
	"unicode/utf8"
)

// FuzzClip checks the redaction and truncation applied to plugin output
// and scenario text before it goes into a finding: never a panic, never
// longer than the bound, still valid UTF-8, and redacting twice changes
// nothing (so no key-shaped run survives the first pass).
func FuzzClip(f *testing.F) {
	f.Add(`output {"token":"ghp_k7Qm2Xv9Lp4Rt8Wz1Yb6Nc3Hd5Fg0Js7Ue2A"} differs from the expected {"ok":true}`)
	f.Add("https://hooks.example.com/v1/messages?key=AKIAQYLPMN5HHHFPZAM2")
	f.Add("héllo wörld ✓ 12345678901234567890123456789")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c := clip(s)
		if len(c) > maxMessage+len("…") {
			t.Errorf("clip returned %d bytes", len(c))
		}
		if utf8.ValidString(s) && !utf8.ValidString(c) {
			t.Errorf("clip broke UTF-8: %q", c)
		}
		if r := redact(s); redact(r) != r {
			t.Errorf("redact is not idempotent on %q", s)
		}
	})
}
