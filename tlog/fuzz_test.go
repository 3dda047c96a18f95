package tlog

import (
	"bytes"
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
