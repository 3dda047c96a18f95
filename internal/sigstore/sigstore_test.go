package sigstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/internal/sigstoretest"
	"gatehouse.dev/gatehouse/trust"
)

// sigstoreFixture is a package, a cosign key registered as a namespace key,
// and a test Fulcio/TSA with its trusted root.
type sigstoreFixture struct {
	pkg    []byte
	digest string
	priv   *ecdsa.PrivateKey
	keys   *trust.Keyring
	keyID  string
	ca     *sigstoretest.CA
	root   *root.TrustedRoot
}

const (
	testIssuer  = "https://accounts.example.com"
	testSubject = "dev@acme.example"
)

func newSigstoreFixture(t testing.TB) *sigstoreFixture {
	t.Helper()
	pkg := []byte("the bytes of a package")
	sum := sha256.Sum256(pkg)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := trust.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := trust.NewKeyring(trust.Key{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sigstoretest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	// The root goes through its JSON form, as the server reads it.
	rootJSON, err := c.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTrustedRoot(rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	return &sigstoreFixture{pkg: pkg, digest: "sha256:" + hex.EncodeToString(sum[:]), priv: priv, keys: keys, keyID: pub.ID, ca: c, root: tr}
}

func (f *sigstoreFixture) trust() Trust {
	return Trust{Keys: f.keys, Identities: []trust.SigstoreIdentity{{Issuer: testIssuer, Subject: testSubject}}, Root: f.root}
}

func TestVerify(t *testing.T) {
	f := newSigstoreFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherSum := sha256.Sum256([]byte("another package"))
	edSigner, _ := trust.GenerateKey(trust.Ed25519)
	edRing, _ := trust.NewKeyring(trust.Key{PublicKey: edSigner.PublicKey()})
	retired, _ := trust.NewKeyring(trust.Key{PublicKey: mustKey(t, &f.priv.PublicKey), NotAfter: time.Now().Add(-time.Hour)})
	now := time.Now()

	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name    string
		bundle  []byte
		trust   func(Trust) Trust
		wantErr error
		wantMsg string
		keyless bool
	}{
		{name: "keyed by the namespace key", bundle: must(sigstoretest.KeyedBundle(f.priv, f.pkg))},
		{name: "keyed for another digest", bundle: must(sigstoretest.KeyedBundleForDigest(f.priv, otherSum[:])), wantErr: trust.ErrWrongDigest, wantMsg: "it signs sha256:" + hex.EncodeToString(otherSum[:])},
		{name: "keyed by an unknown key", bundle: must(sigstoretest.KeyedBundle(other, f.pkg)), wantErr: trust.ErrUnknownKey, wantMsg: "verifies with none"},
		{name: "keyed when the namespace has only trust.Ed25519 keys", bundle: must(sigstoretest.KeyedBundle(f.priv, f.pkg)), trust: func(t Trust) Trust { t.Keys = edRing; return t }, wantErr: trust.ErrUnknownKey, wantMsg: "ECDSA P-256"},
		{name: "keyed by a key retired before it was received", bundle: must(sigstoretest.KeyedBundle(f.priv, f.pkg)), trust: func(t Trust) Trust { t.Keys = retired; return t }, wantErr: trust.ErrKeyNotActive},
		{name: "keyless by a bound identity", bundle: must(f.ca.KeylessBundle(testSubject, testIssuer, f.pkg, now.Add(-time.Minute))), keyless: true},
		{name: "keyless for another digest", bundle: must(f.ca.KeylessBundle(testSubject, testIssuer, []byte("another package"), now.Add(-time.Minute))), wantErr: trust.ErrWrongDigest},
		{name: "keyless by an identity not bound", bundle: must(f.ca.KeylessBundle("mallory@evil.example", testIssuer, f.pkg, now.Add(-time.Minute))), wantErr: trust.ErrUnknownKey, wantMsg: "mallory@evil.example (https://accounts.example.com), which is not a trusted identity"},
		{name: "keyless with the right subject from another issuer", bundle: must(f.ca.KeylessBundle(testSubject, "https://evil.example", f.pkg, now.Add(-time.Minute))), wantErr: trust.ErrUnknownKey},
		{name: "keyless with an expired certificate", bundle: must(f.ca.KeylessBundle(testSubject, testIssuer, f.pkg, now.Add(-time.Hour))), wantErr: trust.ErrExpired, wantMsg: "was not valid when the signature was timestamped"},
		{name: "keyless without a trusted root", bundle: must(f.ca.KeylessBundle(testSubject, testIssuer, f.pkg, now.Add(-time.Minute))), trust: func(t Trust) Trust { t.Root = nil; return t }, wantErr: trust.ErrUnknownKey, wantMsg: "no Sigstore trusted root"},
		{name: "keyless from a CA the root does not hold", bundle: must(otherCA(t).KeylessBundle(testSubject, testIssuer, f.pkg, now.Add(-time.Minute))), wantErr: trust.ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Parse(c.bundle)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tr := f.trust()
			if c.trust != nil {
				tr = c.trust(tr)
			}
			sig, err := Verify(b, f.digest, tr)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("error %v, want %v", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), c.wantMsg) {
					t.Fatalf("error %q does not say %q", err, c.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sig.Keyless() != c.keyless {
				t.Fatalf("keyless = %v", sig.Keyless())
			}
			want := f.keyID
			if c.keyless {
				want = trust.SigstoreIdentity{Issuer: testIssuer, Subject: testSubject}.ID()
				if sig.SignedAt.IsZero() || time.Since(sig.SignedAt) > time.Minute {
					t.Fatalf("keyless signing time %s is not the timestamp's", sig.SignedAt)
				}
			}
			if sig.KeyID != want || sig.Digest != f.digest {
				t.Fatalf("verified as %+v, want key %s", sig, want)
			}
		})
	}
}

func mustKey(t *testing.T, pub *ecdsa.PublicKey) trust.PublicKey {
	t.Helper()
	k, err := trust.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func otherCA(t *testing.T) *sigstoretest.CA {
	t.Helper()
	c, err := sigstoretest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseSigstoreBundleRefuses(t *testing.T) {
	cases := map[string]string{
		"not JSON":        `{`,
		"unknown version": `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.9+json"}`,
		"no signature":    `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}}}`,
		"unknown field":   `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","surprise":1}`,
		"too large":       `{"mediaType":"` + strings.Repeat("a", trust.MaxSigstoreBundleBytes) + `"}`,
		"sha512 digest":   `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_512","digest":"AAAA"},"signature":"AAAA"}}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); !errors.Is(err, trust.ErrMalformed) {
				t.Fatalf("got %v, want trust.ErrMalformed", err)
			}
		})
	}
}

func TestIsSigstoreBundleTellsTheFormatsApart(t *testing.T) {
	f := newSigstoreFixture(t)
	b, _ := sigstoretest.KeyedBundle(f.priv, f.pkg)
	if !trust.IsSigstoreBundle(b) {
		t.Fatal("a cosign bundle is not recognised")
	}
	s, _ := trust.GenerateKey(trust.Ed25519)
	env, _ := trust.SignPackageAt(context.Background(), s, f.digest, "acme/hello", "1.0.0", time.Unix(1700000000, 0))
	e, _ := trust.MarshalEnvelope(env)
	if trust.IsSigstoreBundle(e) {
		t.Fatal("a DSSE envelope is taken for a Sigstore bundle")
	}
}

// TestCertificateKeepsTheSigstoreBundle: the bundle the marketplace
// checked is in the certificate it signs, so it can be checked again.
func TestCertificateKeepsTheSigstoreBundle(t *testing.T) {
	f := newSigstoreFixture(t)
	raw, _ := f.ca.KeylessBundle(testSubject, testIssuer, f.pkg, time.Now().Add(-time.Minute))
	b, _ := Parse(raw)
	sig, err := Verify(b, f.digest, f.trust())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := trust.GenerateKey(trust.Ed25519)
	env, err := trust.IssueCertificate(context.Background(), m, trust.CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: f.digest, IssuedAt: time.Now(), Lifetime: time.Hour, PublisherBundle: raw, PublisherBundleSig: sig})
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := trust.NewKeyring(trust.Key{PublicKey: m.PublicKey()})
	cert, _, err := trust.VerifyCertificate(env, ring)
	if err != nil {
		t.Fatal(err)
	}
	p := cert.Publisher
	if p.Format != trust.FormatSigstoreBundle || p.KeyID != sig.KeyID || p.Issuer != testIssuer || p.Subject != testSubject || p.Envelope != mustDigest(t, raw) {
		t.Fatalf("publisher reference %+v", p)
	}
	again, err := Parse(p.SigstoreBundle)
	if err != nil {
		t.Fatalf("the bundle in the certificate does not parse: %v", err)
	}
	if _, err := Verify(again, f.digest, f.trust()); err != nil {
		t.Fatalf("the bundle in the certificate does not verify: %v", err)
	}
}

// TestVerifyCertifiedSigstoreBundle: what a host checks of the bundle a
// certificate carries, with and without a trusted root of its own.
func TestVerifyCertifiedSigstoreBundle(t *testing.T) {
	f := newSigstoreFixture(t)
	m, _ := trust.GenerateKey(trust.Ed25519)
	ring, _ := trust.NewKeyring(trust.Key{PublicKey: m.PublicKey()})
	certify := func(raw []byte) *trust.Certificate {
		t.Helper()
		b, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := Verify(b, f.digest, f.trust())
		if err != nil {
			t.Fatal(err)
		}
		env, err := trust.IssueCertificate(context.Background(), m, trust.CertificateInput{PluginID: "acme/hello", Version: "1.0.0", Digest: f.digest, IssuedAt: time.Now(), Lifetime: time.Hour, PublisherBundle: raw, PublisherBundleSig: sig})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := trust.VerifyCertificate(env, ring)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	keyed, _ := sigstoretest.KeyedBundle(f.priv, f.pkg)
	keyless, _ := f.ca.KeylessBundle(testSubject, testIssuer, f.pkg, time.Now().Add(-time.Minute))
	kc, lc := certify(keyed), certify(keyless)
	if _, err := trust.VerifyCertifiedSigstoreBundle(kc, f.digest, f.keys); err != nil {
		t.Fatalf("keyed: %v", err)
	}
	if _, err := trust.VerifyCertifiedSigstoreBundle(lc, f.digest, nil); err != nil {
		t.Fatalf("keyless without a root: %v", err)
	}
	otherSum := sha256.Sum256([]byte("another package"))
	other := "sha256:" + hex.EncodeToString(otherSum[:])
	for name, c := range map[string]*trust.Certificate{"keyed": kc, "keyless": lc} {
		if _, err := trust.VerifyCertifiedSigstoreBundle(c, other, f.keys); !errors.Is(err, trust.ErrWrongDigest) {
			t.Fatalf("%s, other package: %v, want trust.ErrWrongDigest", name, err)
		}
	}
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerRing, _ := trust.NewKeyring(trust.Key{PublicKey: mustKey(t, &stranger.PublicKey)})
	if _, err := trust.VerifyCertifiedSigstoreBundle(kc, f.digest, strangerRing); !errors.Is(err, trust.ErrUnknownKey) {
		t.Fatalf("keyed, a host trusting another key: %v, want trust.ErrUnknownKey", err)
	}
	lc.Publisher.Subject = "someone-else@acme.example"
	if _, err := trust.VerifyCertifiedSigstoreBundle(lc, f.digest, nil); !errors.Is(err, trust.ErrUnknownKey) {
		t.Fatalf("keyless certified for another identity: %v, want trust.ErrUnknownKey", err)
	}
}

func mustDigest(t *testing.T, raw []byte) string {
	t.Helper()
	d, err := trust.SigstoreBundleDigest(raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
