package install

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"lockVersion":1,"marketplace":"https://m.example","plugins":[{"id":"acme/a","version":"1.0.0","digest":"sha256:` +
		"0000000000000000000000000000000000000000000000000000000000000000" + `","bundle":"acme__a@1.0.0.bundle.json"}]}`))
	f.Add([]byte(`{"lockVersion":1,"plugins":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock(data)
		if err != nil {
			return
		}
		for _, e := range l.Plugins {
			if validID(e.ID) != nil {
				t.Fatalf("a lock with id %q parsed", e.ID)
			}
			if _, err := semver.StrictNewVersion(e.Version); err != nil {
				t.Fatalf("a lock with version %q parsed", e.Version)
			}
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseLock(out); err != nil {
			t.Fatalf("a parsed lock does not parse again: %v", err)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"acme/hello", "acme/hello@^1.2.0", "acme/hello@>=1.0.0 <2.0.0", "../x@1", "acme/hello@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequest(s)
		if err != nil {
			return
		}
		if validID(r.ID) != nil || len(r.Range) > maxRangeLen {
			t.Fatalf("ParseRequest(%q) = %+v", s, r)
		}
	})
}
