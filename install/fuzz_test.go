package install

import (
	"bytes"
	"path/filepath"
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

func FuzzParseHistory(f *testing.F) {
	d := "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"
	f.Add([]byte(`{"historyVersion":1,"dropped":0,"records":[]}`))
	f.Add([]byte(`{"historyVersion":1,"dropped":2,"records":[
    {"time":"2026-11-01T12:00:00Z","action":"install","id":"acme/a","version":"1.0.0","digest":"` + d + `","package":"acme__a@1.0.0.gpkg","bundle":"acme__a@1.0.0.bundle.json","reason":"first <install>","by":"ops"},
    {"time":"2026-11-02T12:00:00.5Z","action":"update","id":"acme/a","version":"1.1.0-rc.1+b","digest":"` + d + `","package":"acme__a@1.1.0-rc.1+b.gpkg","bundle":"acme__a@1.1.0-rc.1+b.bundle.json","previous":"1.0.0"},
    {"time":"2026-11-03T12:00:00Z","action":"rollback","id":"acme/a","version":"1.0.0","digest":"` + d + `","package":"acme__a@1.0.0.gpkg","bundle":"acme__a@1.0.0.bundle.json","previous":"1.1.0-rc.1+b","reason":"\u00e9\"\\"}
  ]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHistory(data)
		if err != nil {
			return
		}
		if len(h.Records) > MaxHistoryRecords || h.Dropped < 0 {
			t.Fatalf("parsed %d records, dropped %d", len(h.Records), h.Dropped)
		}
		for _, r := range h.Records {
			if err := r.check(); err != nil {
				t.Fatalf("a record that fails its own check parsed: %v", err)
			}
			if filepath.Base(r.Package) != r.Package || filepath.Base(r.Bundle) != r.Bundle {
				t.Fatalf("a record naming %q and %q parsed", r.Package, r.Bundle)
			}
		}
		out, err := h.Marshal()
		if err != nil {
			t.Fatalf("a parsed history does not encode: %v", err)
		}
		again, err := ParseHistory(out)
		if err != nil {
			t.Fatalf("an encoded history does not parse: %v\n%s", err, out)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, out, out2)
		}
	})
}
