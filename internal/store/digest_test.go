package store

import (
	"strings"
	"testing"
)

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("ab", 32))
	f.Add("sha256:../" + strings.Repeat("a", 61))
	f.Add("sha256:" + strings.Repeat("G", 64))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseDigest(s)
		if err != nil {
			return
		}
		if s != "sha256:"+h || len(h) != 64 || strings.ContainsAny(h, "./\\") {
			t.Fatalf("ParseDigest(%q) accepted %q", s, h)
		}
	})
}
