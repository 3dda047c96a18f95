package verify

import (
	"testing"
	"time"
)

func FuzzParseBundle(f *testing.F) {
	w := newWorld(f)
	pkg := pack(f, "acme/hello", "1.0.0", 100)
	b := w.certify(pkg, "acme/hello", "1.0.0", nil, t0, time.Hour)
	data, _ := b.Marshal()
	f.Add(data)
	f.Add([]byte(`{"mediaType":"application/vnd.gatehouse.bundle.v1+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		if b.Certificate == nil || b.PublisherSignature == nil {
			t.Fatal("a bundle without its signatures parsed")
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"allow":["kv:*","net:https://api.example.com"]}`))
	f.Add([]byte(`{"plugins":{"acme/hello":{"permissions":["kv:read"]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		p.Accepts("kv:read")
		if p.Plugins != nil && p.Check("not/listed-anywhere\x00", nil) == nil {
			t.Fatal("a plugin id no file can list was let through")
		}
	})
}
