package trust

import (
	"context"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// FuzzParseEnvelope feeds envelopes from outside through every parser that
// reads them: none may panic, and a parsed certificate must be well formed.
func FuzzParseEnvelope(f *testing.F) {
	ctx := context.Background()
	s, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: s.PublicKey()})
	pubEnv, _ := SignPackageAt(ctx, s, digest, "acme/hello", "1.0.0", t0)
	cert, _ := IssueCertificate(ctx, s, CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: digest, IssuedAt: t0, Lifetime: time.Hour, PublisherSignature: pubEnv})
	l, _ := NewRevocationList(1, t0, t0.Add(time.Hour), nil)
	rl, _ := SignRevocationList(ctx, s, l)
	for _, e := range []any{pubEnv, cert, rl} {
		b, _ := MarshalEnvelope(e.(*dsse.Envelope))
		f.Add(b)
	}
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		VerifyPackageSignature(env, digest, ring)
		VerifyRevocationList(env, ring, RevocationCheck{Now: t0, MaxAge: time.Hour})
		if c, _, err := VerifyCertificate(env, ring); err == nil && !c.ExpiresAt.After(c.IssuedAt) {
			t.Fatal("a certificate that expires before it is issued verified")
		}
		if c, err := ParseCertificate(env); err == nil && !ValidDigest(c.Digest) {
			t.Fatalf("certificate with malformed digest %q parsed", c.Digest)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	b, _ := MarshalEvent(Event{Kind: EventVersionRevoked, Time: t0, Subject: "acme/hello@1.0.0", Digest: digest, Detail: "malware"})
	f.Add(b)
	f.Add([]byte(`{"kind":"policy.applied","time":"2026-01-01T00:00:00Z","subject":"p"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEvent(b)
		if err != nil {
			return
		}
		if _, err := MarshalEvent(e); err != nil {
			t.Fatalf("a parsed event does not encode: %v", err)
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	a, _ := GenerateKey(Ed25519)
	r, _ := NewKeyring(Key{PublicKey: a.PublicKey(), NotAfter: t0})
	data, _ := r.MarshalJSON()
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseKeyring(b)
		if err != nil {
			return
		}
		for _, k := range r.Keys() {
			if id, _ := KeyID(k.Key); id != k.ID {
				t.Fatalf("key %s has id %s", k.ID, id)
			}
		}
	})
}
