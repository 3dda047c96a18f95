package tlog

import (
	"bytes"
	"path"
	"strings"
	"testing"
)

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("gatehouse.example/log\n10\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n0\nAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		again, err := ParseCheckpoint(cp.Marshal())
		if err != nil || again != cp {
			t.Fatalf("round trip of %q failed: %v", b, err)
		}
	})
}

func FuzzParseEntryBundle(f *testing.F) {
	b, _ := MarshalEntryBundle([][]byte{[]byte("a"), {}, []byte("hello")})
	f.Add(b)
	f.Add([]byte{0, 5, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseEntryBundle(b)
		if err != nil {
			return
		}
		again, err := MarshalEntryBundle(entries)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzProofJSON(f *testing.F) {
	f.Add([]byte(`["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Proof
		if err := p.UnmarshalJSON(b); err != nil {
			return
		}
		if len(p) > MaxProofHashes {
			t.Fatal("limit not enforced")
		}
	})
}

// FuzzPublishedPath: a log's storage and file server take a path only when
// it is the checkpoint or a clean path under tile/, so no request reaches
// state/ or leaves the log's directory or prefix.
func FuzzPublishedPath(f *testing.F) {
	for _, s := range []string{"checkpoint", "tile/0/000", "tile/entries/x001/234.p/7", "state/hashes", "tile/../state/lock", "tile/0/../../x", "tile/%2e%2e", "tile\\0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !PublishedPath(p) || p == CheckpointPath {
			return
		}
		if !strings.HasPrefix(p, "tile/") || path.Clean(p) != p || strings.Contains(p, "..") || strings.HasPrefix(path.Clean("/"+p), "/state") {
			t.Fatalf("PublishedPath accepted %q", p)
		}
	})
}
