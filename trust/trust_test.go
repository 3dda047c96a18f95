package trust

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

var (
	t0     = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	digest = "sha256:" + strings.Repeat("0123456789abcdef", 4)
)

func TestKeyFiles(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{Ed25519, ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			priv, pub := filepath.Join(dir, "key"), filepath.Join(dir, "key.pub")
			if err := s.WriteKeyPair(priv, pub); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(priv)
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %04o, want 0600", fi.Mode().Perm())
			}
			if err := s.WriteKeyPair(priv, pub); err == nil {
				t.Error("an existing private key was overwritten")
			}
			loaded, err := LoadSigner(priv)
			if err != nil {
				t.Fatal(err)
			}
			pk, err := LoadPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.KeyID() != s.KeyID() || pk.ID != s.KeyID() || len(s.KeyID()) != 32 || pk.Algorithm != alg {
				t.Errorf("ids %s %s %s, alg %s", loaded.KeyID(), pk.ID, s.KeyID(), pk.Algorithm)
			}
			sig, err := loaded.Sign(context.Background(), []byte("msg"))
			if err != nil {
				t.Fatal(err)
			}
			if err := pk.Verify([]byte("msg"), sig); err != nil {
				t.Error(err)
			}
			if err := pk.Verify([]byte("msh"), sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("altered message: %v", err)
			}
			// A key readable by others is refused, with the fix named.
			os.Chmod(priv, 0o640)
			if _, err := LoadSigner(priv); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("group-readable key: %v", err)
			}
		})
	}
	if _, err := GenerateKey("rsa"); err == nil {
		t.Error("unknown algorithm accepted")
	}
}

func TestPackageSignature(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pub, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: pub.PublicKey()})
	env, err := SignPackageAt(ctx, pub, digest, "acme/hello", "1.0.0", t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyPackageSignature(env, digest, ring)
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != pub.KeyID() || got.PluginID != "acme/hello" || got.Version != "1.0.0" || !got.SignedAt.Equal(t0) {
		t.Errorf("got %+v", got)
	}

	other := "sha256:" + strings.Repeat("f", 64)
	if _, err := VerifyPackageSignature(env, other, ring); !errors.Is(err, ErrWrongDigest) {
		t.Errorf("wrong digest: %v", err)
	}
	intruder, _ := GenerateKey(Ed25519)
	forged, _ := SignPackageAt(ctx, intruder, digest, "acme/hello", "1.0.0", t0)
	if _, err := VerifyPackageSignature(forged, digest, ring); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unregistered key: %v", err)
	}
	// The intruder's signature under the registered key's id.
	forged.Signatures[0].KeyID = pub.KeyID()
	if _, err := VerifyPackageSignature(forged, digest, ring); !errors.Is(err, ErrBadSignature) {
		t.Errorf("bad signature: %v", err)
	}
	// A changed payload type is signed too (PAE).
	retyped := *env
	retyped.PayloadType = "application/json"
	if _, err := VerifyPackageSignature(&retyped, digest, ring); !errors.Is(err, ErrMalformed) {
		t.Errorf("payload type: %v", err)
	}
	// Signed after the key was retired.
	ring.Retire(pub.KeyID(), t0.Add(-time.Hour))
	if _, err := VerifyPackageSignature(env, digest, ring); !errors.Is(err, ErrKeyNotActive) {
		t.Errorf("retired key: %v", err)
	}
}

// TestCosignedPackageVerifiesWithEitherKey guards co-signing: a second
// key signs the same statement, and the envelope verifies with either key
// alone (so retiring or losing one leaves the other's signature), while a
// signature over another package, a second signature by the same key, and
// a tampered payload are refused.
func TestCosignedPackageVerifiesWithEitherKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first, _ := GenerateKey(Ed25519)
	second, _ := GenerateKey(ECDSAP256)
	env, err := SignPackageAt(ctx, first, digest, "acme/hello", "1.0.0", t0)
	if err != nil {
		t.Fatal(err)
	}
	both, err := CosignPackage(ctx, second, env, digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Signatures) != 1 || len(both.Signatures) != 2 || both.Payload != env.Payload {
		t.Fatalf("co-signing changed the original or the statement: %d, %d signatures", len(env.Signatures), len(both.Signatures))
	}
	for _, s := range []*FileSigner{first, second} {
		ring, _ := NewKeyring(Key{PublicKey: s.PublicKey()})
		got, err := VerifyPackageSignature(both, digest, ring)
		if err != nil || got.KeyID != s.KeyID() || !got.SignedAt.Equal(t0) {
			t.Errorf("verified with key %s alone: %+v, %v", s.KeyID(), got, err)
		}
	}
	other := "sha256:" + strings.Repeat("f", 64)
	for _, tc := range []struct {
		name   string
		signer *FileSigner
		env    func() *dsse.Envelope
		digest string
		want   string
	}{
		{"another package", second, func() *dsse.Envelope { return env }, other, "signs " + digest},
		{"the same key twice", second, func() *dsse.Envelope { return both }, digest, "signed this package already"},
		{"not base64", second, func() *dsse.Envelope { e := *env; e.Payload = "%%"; return &e }, digest, "not base64"},
		{"another payload type", second, func() *dsse.Envelope { e := *env; e.PayloadType = "application/json"; return &e }, digest, "want"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := CosignPackage(ctx, tc.signer, tc.env(), tc.digest); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	full := &dsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload}
	for range MaxSignatures {
		s, _ := GenerateKey(Ed25519)
		full.Signatures = append(full.Signatures, dsse.Signature{KeyID: s.KeyID(), Sig: "AA=="})
	}
	if _, err := CosignPackage(ctx, second, full, digest); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a full envelope: %v", err)
	}
}

// TestInTotoConformance parses our statements with the in-toto attestation
// framework's own types and validation.
func TestInTotoConformance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := GenerateKey(Ed25519)
	pubEnv, _ := SignPackageAt(ctx, s, digest, "acme/hello", "1.0.0", t0)
	cert, err := IssueCertificate(ctx, s, CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: digest,
		Permissions: []string{"kv:read"}, IssuedAt: t0, Lifetime: time.Hour, PublisherSignature: pubEnv})
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{pubEnv.Payload, cert.Payload} {
		payload, _ := base64.StdEncoding.DecodeString(env)
		var st ita1.Statement
		if err := protojson.Unmarshal(payload, &st); err != nil {
			t.Fatalf("in-toto cannot parse %s: %v", payload, err)
		}
		if err := st.Validate(); err != nil {
			t.Errorf("in-toto rejects %s: %v", payload, err)
		}
		if st.GetSubject()[0].GetName() != "acme/hello@1.0.0" || st.GetSubject()[0].GetDigest()["sha256"] != digest[7:] {
			t.Errorf("subject = %v", st.GetSubject())
		}
	}
}

func TestCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := GenerateKey(ECDSAP256)
	p, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: m.PublicKey()})
	pubEnv, _ := SignPackageAt(ctx, p, digest, "acme/hello", "1.0.0", t0)
	env, err := IssueCertificate(ctx, m, CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: digest,
		Permissions: []string{"kv:read"}, RiskTier: "low", Checks: []string{"malware"}, IssuedAt: t0, Lifetime: 24 * time.Hour, PublisherSignature: pubEnv})
	if err != nil {
		t.Fatal(err)
	}
	c, key, err := VerifyCertificate(env, ring)
	if err != nil {
		t.Fatal(err)
	}
	envDigest, _ := EnvelopeDigest(pubEnv)
	if key.ID != m.KeyID() || c.Publisher.KeyID != p.KeyID() || c.Publisher.Envelope != envDigest || !c.ExpiresAt.Equal(t0.Add(24*time.Hour)) || !c.Grants("kv:read") {
		t.Errorf("certificate = %+v", c)
	}
	if err := c.CheckSubject(digest, "acme/other", "1.0.0"); !errors.Is(err, ErrWrongSubject) {
		t.Errorf("moved certificate: %v", err)
	}
	if err := c.CheckValidAt(t0.Add(25 * time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if err := c.CheckValidAt(t0.Add(time.Hour)); err != nil {
		t.Error(err)
	}
	if _, err := IssueCertificate(ctx, m, CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: digest, IssuedAt: t0, Lifetime: time.Hour}); err == nil {
		t.Error("a certificate without a publisher signature was issued")
	}
	// The log entry binds the exact certificate.
	ev, err := CertificateEvent(EventCertificateIssued, env)
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := MarshalEvent(ev)
	if err := CheckCertificateEntry(entry, env, c); err != nil {
		t.Error(err)
	}
	other, _ := IssueCertificate(ctx, m, CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: digest, IssuedAt: t0.Add(time.Second), Lifetime: time.Hour, PublisherSignature: pubEnv})
	if err := CheckCertificateEntry(entry, other, c); !errors.Is(err, ErrWrongDigest) {
		t.Errorf("another certificate matched the entry: %v", err)
	}
}

// TestCertificateSBOMs: a certificate lists the marketplace's SBOMs by
// digest, signed with the rest; a certificate without them (issued before
// they existed) reads as before, and malformed references are refused.
func TestCertificateSBOMs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := GenerateKey(Ed25519)
	p, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: m.PublicKey()})
	pubEnv, _ := SignPackageAt(ctx, p, digest, "acme/hello", "1.0.0", t0)
	in := CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: digest, IssuedAt: t0, Lifetime: time.Hour, PublisherSignature: pubEnv,
		SBOMs: []SBOMRef{{Format: "cyclonedx", MediaType: "application/vnd.cyclonedx+json; version=1.6", Digest: digest}, {Format: "spdx", MediaType: "application/spdx+json", Digest: digest}}}
	env, err := IssueCertificate(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := VerifyCertificate(env, ring)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := c.SBOM("spdx"); !ok || r.Digest != digest || len(c.SBOMs) != 2 {
		t.Errorf("SBOMs = %+v", c.SBOMs)
	}
	payload, _ := env.DecodeB64Payload()
	if !strings.Contains(string(payload), `"sboms":[{"format":"cyclonedx"`) {
		t.Errorf("the signed statement does not list the SBOMs: %s", payload)
	}
	in.SBOMs = nil
	env, _ = IssueCertificate(ctx, m, in)
	payload, _ = env.DecodeB64Payload()
	if c, _, err := VerifyCertificate(env, ring); err != nil || len(c.SBOMs) != 0 || strings.Contains(string(payload), "sboms") {
		t.Errorf("a certificate without SBOMs: %+v, %v, %s", c, err, payload)
	}
	for name, refs := range map[string][]SBOMRef{
		"bad digest": {{Format: "spdx", MediaType: "application/spdx+json", Digest: "sha256:ZZ"}},
		"no format":  {{MediaType: "application/spdx+json", Digest: digest}},
		"twice":      {{Format: "spdx", MediaType: "a/b", Digest: digest}, {Format: "spdx", MediaType: "a/b", Digest: digest}},
	} {
		in.SBOMs = refs
		if _, err := IssueCertificate(ctx, m, in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestRevocationList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: m.PublicKey()})
	l, err := NewRevocationList(5, t0, t0.Add(24*time.Hour), []Revocation{{Digest: digest, Reason: "malware", Time: t0}})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := SignRevocationList(ctx, m, l)
	check := RevocationCheck{Now: t0.Add(time.Hour), MaxAge: 48 * time.Hour, LastNumber: 4}
	got, err := VerifyRevocationList(env, ring, check)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := got.Revoked(digest); !ok || r.Reason != "malware" {
		t.Error("revoked digest not found")
	}
	if _, ok := got.Revoked("sha256:" + strings.Repeat("f", 64)); ok {
		t.Error("unrevoked digest found")
	}
	for name, c := range map[string]struct {
		check RevocationCheck
		want  error
	}{
		"past next update": {RevocationCheck{Now: t0.Add(25 * time.Hour), MaxAge: 48 * time.Hour}, ErrStaleList},
		"older than max":   {RevocationCheck{Now: t0.Add(2 * time.Hour), MaxAge: time.Hour}, ErrStaleList},
		"rolled back":      {RevocationCheck{Now: t0.Add(time.Hour), MaxAge: 48 * time.Hour, LastNumber: 6}, ErrRollback},
	} {
		if _, err := VerifyRevocationList(env, ring, c.check); !errors.Is(err, c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ev, err := RevocationListEvent(env)
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := PayloadDigest(env); ev.Document != doc || ev.Kind != EventRevocationList {
		t.Errorf("event = %+v", ev)
	}
	if _, err := MarshalEvent(ev); err != nil {
		t.Error(err)
	}
	if _, err := VerifyRevocationList(env, ring, RevocationCheck{Now: t0}); err == nil {
		t.Error("no max age accepted")
	}
	if _, err := NewRevocationList(1, t0, t0.Add(time.Hour), []Revocation{{Digest: digest}, {Digest: digest}}); err == nil {
		t.Error("duplicate entries accepted")
	}
}

func TestKeyringRefusesMismatchedID(t *testing.T) {
	t.Parallel()
	a, _ := GenerateKey(Ed25519)
	b, _ := GenerateKey(Ed25519)
	k := Key{PublicKey: a.PublicKey()}
	k.ID = b.KeyID()
	if _, err := NewKeyring(k); err == nil {
		t.Error("a key under another key's id was accepted")
	}
}

func TestKeyringFile(t *testing.T) {
	t.Parallel()
	a, _ := GenerateKey(Ed25519)
	b, _ := GenerateKey(ECDSAP256)
	r, _ := NewKeyring(Key{PublicKey: a.PublicKey(), NotAfter: t0}, Key{PublicKey: b.PublicKey(), NotBefore: t0})
	data, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseKeyring(data)
	if err != nil {
		t.Fatal(err)
	}
	ka, _ := got.Lookup(a.KeyID())
	kb, _ := got.Lookup(b.KeyID())
	if got.Len() != 2 || !ka.NotAfter.Equal(t0) || !kb.NotBefore.Equal(t0) || kb.Algorithm != ECDSAP256 {
		t.Errorf("round trip lost something: %+v %+v", ka, kb)
	}
	// A key listed under another key's id is refused.
	bad := strings.Replace(string(data), a.KeyID(), b.KeyID(), 1)
	if _, err := ParseKeyring([]byte(bad)); err == nil {
		t.Error("a key under a wrong id was accepted")
	}
}

func TestLoadOrGenerate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.pub")
	s1, created, err := LoadOrGenerate(priv, pub, "")
	if err != nil || !created {
		t.Fatalf("first start: created=%v, %v", created, err)
	}
	s2, created, err := LoadOrGenerate(priv, pub, "")
	if err != nil || created || s2.KeyID() != s1.KeyID() {
		t.Fatalf("second start: created=%v, %v", created, err)
	}
	// An unusable key is reported, never replaced.
	os.Chmod(priv, 0o644)
	if _, _, err := LoadOrGenerate(priv, pub, ""); err == nil {
		t.Error("a world-readable key was used")
	}
	if s3, _ := LoadSigner(priv); s3 != nil {
		t.Error("expected the key to stay refused")
	}
}

// TestPublicKeyPassedAsPrivateKey guards the reason a user reads when they
// pass KEY.pub where KEY is needed: not a file-mode complaint, but which
// file to pass instead.
func TestPublicKeyPassedAsPrivateKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := GenerateKey(Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := filepath.Join(dir, "acme.key"), filepath.Join(dir, "acme.key.pub")
	if err := s.WriteKeyPair(priv, pub); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o600} {
		if err := os.Chmod(pub, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSigner(pub)
		want := pub + " is a public key; pass the private key (" + priv + ")"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mode %04o: err = %v, want it to say %q", mode, err, want)
		}
	}
}

// TestCertificateFlows: the approved and refused flows survive signing and
// verification, and the permissions of a refused flow are withheld.
func TestCertificateFlows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := GenerateKey(ECDSAP256)
	p, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: m.PublicKey()})
	pubEnv, _ := SignPackageAt(ctx, p, digest, "acme/crm", "1.0.0", t0)
	approved := Flow{ID: "contacts>https://crm.example.com", Category: "contacts", Destination: "https://crm.example.com", Purpose: "sync", Retention: "P30D",
		Permissions: []string{"data:read:contacts", "net:https://crm.example.com"}}
	refused := Flow{ID: "orders>https://shop.example.com", Category: "orders", Destination: "https://shop.example.com",
		Permissions: []string{"data:read:orders", "net:https://shop.example.com"}}
	env, err := IssueCertificate(ctx, m, CertificateInput{PluginID: "acme/crm", Version: "1.0.0", Digest: digest,
		Permissions: approved.Permissions, Flows: []Flow{approved}, RefusedFlows: []Flow{refused},
		RiskTier: "medium", IssuedAt: t0, Lifetime: time.Hour, PublisherSignature: pubEnv})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := VerifyCertificate(env, ring)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Flows) != 1 || c.Flows[0].ID != approved.ID || len(c.RefusedFlows) != 1 || c.RefusedFlows[0].ID != refused.ID {
		t.Fatalf("flows %+v refused %+v", c.Flows, c.RefusedFlows)
	}
	w := c.Withheld()
	if !w["data:read:orders"] || !w["net:https://shop.example.com"] || w["data:read:contacts"] {
		t.Errorf("withheld %v", w)
	}
	many := make([]Flow, maxFlows+1)
	if _, err := IssueCertificate(ctx, m, CertificateInput{PluginID: "acme/crm", Version: "1.0.0", Digest: digest, Flows: many,
		IssuedAt: t0, Lifetime: time.Hour, PublisherSignature: pubEnv}); err == nil {
		t.Error("a certificate with too many flows was issued")
	}
}
