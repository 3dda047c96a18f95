package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// A Sigstore bundle (what `cosign sign-blob --bundle` writes) is the other
// form of publisher signature besides the DSSE envelope: a message signature
// over the package's SHA-256, with either the publisher's long-lived key
// (keyed) or a short-lived Fulcio certificate naming an OIDC identity
// (keyless) as its verification material.
//
// Unlike the DSSE form it names no plugin or version: the digest alone is
// signed, and the manifest inside those bytes says which plugin they are.

// Limits on a Sigstore bundle read from outside. A keyless bundle with a
// certificate chain, two timestamps and a log entry is a few kilobytes.
const (
	// MaxSigstoreBundleBytes bounds an encoded bundle.
	MaxSigstoreBundleBytes = 256 << 10
	// MaxSigstoreIdentities bounds the identities one verification tries.
	MaxSigstoreIdentities = 64
)

// sigstoreMediaTypePrefix starts every Sigstore bundle's media type
// ("application/vnd.dev.sigstore.bundle+json;version=0.3",
// "application/vnd.dev.sigstore.bundle.v0.3+json").
const sigstoreMediaTypePrefix = "application/vnd.dev.sigstore.bundle"

// IsSigstoreBundle reports whether a publisher signature read from outside
// claims to be a Sigstore bundle rather than a DSSE envelope: a JSON object
// whose mediaType is a Sigstore bundle's. It decides which parser reads the
// signature; the parser then refuses what is malformed.
func IsSigstoreBundle(data []byte) bool {
	if len(data) > MaxSigstoreBundleBytes {
		return false
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return false
	}
	return strings.HasPrefix(probe.MediaType, sigstoreMediaTypePrefix)
}

// ParseSigstoreBundle decodes a Sigstore bundle read from outside: at most
// MaxSigstoreBundleBytes, a supported bundle version (0.1 to 0.3), and a
// message signature (what `cosign sign-blob` makes); a DSSE attestation
// bundle is refused, as is anything without verification material.
func ParseSigstoreBundle(data []byte) (*bundle.Bundle, error) {
	if len(data) > MaxSigstoreBundleBytes {
		return nil, fmt.Errorf("%w: Sigstore bundle is %d bytes; the limit is %d", ErrMalformed, len(data), MaxSigstoreBundleBytes)
	}
	pb := new(protobundle.Bundle)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, pb); err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", ErrMalformed, err)
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", ErrMalformed, err)
	}
	if b.GetMessageSignature() == nil {
		return nil, fmt.Errorf("%w: the Sigstore bundle holds no message signature (a DSSE attestation is not a package signature): sign the package itself with `cosign sign-blob --bundle PACKAGE.sigstore.json PACKAGE`", ErrMalformed)
	}
	ms := b.GetMessageSignature()
	if ms.GetMessageDigest() == nil || ms.GetMessageDigest().GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 || len(ms.GetMessageDigest().GetDigest()) != sha256.Size {
		return nil, fmt.Errorf("%w: the Sigstore bundle's message digest is not a SHA-256", ErrMalformed)
	}
	if len(ms.GetSignature()) == 0 {
		return nil, fmt.Errorf("%w: the Sigstore bundle's message signature is empty", ErrMalformed)
	}
	if _, err := b.VerificationContent(); err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", ErrMalformed, err)
	}
	return b, nil
}

// SigstoreIdentity is a keyless signer: the OIDC issuer that vouched for
// the signer and the subject (the certificate's SAN: an e-mail address or
// a workload URI) Fulcio wrote into the certificate. Both must match
// exactly.
type SigstoreIdentity struct {
	Issuer  string
	Subject string
}

// ID is the identity's key id: the lowercase hex of the first 16 bytes of
// the SHA-256 of "sigstore-oidc\n" + issuer + "\n" + subject, prefixed
// "oidc-" so that it never equals a key's id. It is what the namespace,
// the stored signature and the certificate name the identity by.
func (i SigstoreIdentity) ID() string {
	sum := sha256.Sum256([]byte("sigstore-oidc\n" + i.Issuer + "\n" + i.Subject))
	return "oidc-" + hex.EncodeToString(sum[:16])
}

// String is "subject (issuer)".
func (i SigstoreIdentity) String() string { return i.Subject + " (" + i.Issuer + ")" }

// Check reports what is wrong with an identity given by a user.
func (i SigstoreIdentity) Check() error {
	if !strings.HasPrefix(i.Issuer, "https://") || len(i.Issuer) > 512 {
		return fmt.Errorf("%w: the OIDC issuer %q must be an https:// URL of at most 512 bytes (for example https://accounts.google.com or https://token.actions.githubusercontent.com)", ErrMalformed, i.Issuer)
	}
	if i.Subject == "" || len(i.Subject) > 1024 || strings.ContainsAny(i.Subject, "\n\r\x00") {
		return fmt.Errorf("%w: the subject %q must be the certificate's SAN (an e-mail address or URI) of at most 1024 bytes on one line", ErrMalformed, i.Subject)
	}
	return nil
}

// SigstoreTrust is what a Sigstore bundle is verified against: the keys
// and identities the namespace accepts, and the trusted root (Fulcio CAs,
// timestamp authorities, Rekor logs) keyless bundles chain to.
type SigstoreTrust struct {
	// Keys are the namespace's keys, windows included. Only ECDSA P-256
	// keys can verify a message signature given the digest alone (cosign's
	// default key type); an Ed25519 key never matches.
	Keys *Keyring
	// Identities are the keyless signers the namespace accepts.
	Identities []SigstoreIdentity
	// Root holds the Fulcio CAs, TSAs and Rekor logs keyless bundles are
	// verified against (a trusted_root.json); nil refuses keyless bundles.
	Root root.TrustedMaterial
	// KeyTime is when the marketplace received the bundle: a keyed bundle
	// carries no time the marketplace can trust offline, so the key must
	// have been active then. Zero means now.
	KeyTime time.Time
}

// SigstoreSignature is a verified Sigstore bundle.
type SigstoreSignature struct {
	// KeyID is the key's id (keyed) or the identity's ID (keyless).
	KeyID    string
	Identity *SigstoreIdentity // keyless only
	Digest   string            // "sha256:HEX"
	// SignedAt is the verified observer time of a keyless signature (the
	// earliest timestamp or log entry), zero for a keyed one.
	SignedAt time.Time
}

// Keyless reports whether the signature was made with a Fulcio certificate.
func (s *SigstoreSignature) Keyless() bool { return s.Identity != nil }

// VerifySigstoreBundle checks that b is a message signature over digest by
// a key or identity in t, offline.
//
// Keyed bundles are verified with sigstore-go's "no observer timestamp"
// policy (WithNoObserverTimestamps): the signature is checked with the
// namespace's key, and the key must have been active at t.KeyTime (when
// the marketplace received it). Log entries a keyed bundle may carry are
// not needed and not checked.
//
// Keyless bundles are verified with an observer-timestamp policy: at
// least one RFC 3161 timestamp from a TSA in the trusted root, or one
// Rekor entry (with its inclusion proof) from a log in it, proves when the
// signature was made; the Fulcio certificate must chain to a CA in the
// trusted root and be valid at that time (short-lived certificates expire
// after minutes, so the time is what makes them meaningful), and its
// issuer and SAN must be one of t.Identities exactly. Signed certificate
// timestamps are required when the trusted root lists CT logs.
//
// The error wraps ErrWrongDigest, ErrUnknownKey, ErrBadSignature,
// ErrKeyNotActive, ErrExpired or ErrMalformed, with the details.
func VerifySigstoreBundle(b *bundle.Bundle, digest string, t SigstoreTrust) (*SigstoreSignature, error) {
	hexDigest, err := digestHex(digest)
	if err != nil {
		return nil, err
	}
	want, _ := hex.DecodeString(hexDigest)
	ms := b.GetMessageSignature()
	if ms == nil || ms.GetMessageDigest() == nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: no message signature", ErrMalformed)
	}
	if got := ms.GetMessageDigest().GetDigest(); !bytes.Equal(got, want) {
		return nil, fmt.Errorf("Sigstore bundle: %w: it signs sha256:%s, the package is %s", ErrWrongDigest, hex.EncodeToString(got), digest)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: %v", ErrMalformed, err)
	}
	artifact := verify.WithArtifactDigest("sha256", want)
	if leaf := vc.Certificate(); leaf != nil {
		return verifyKeyless(b, leaf, digest, artifact, t)
	}
	if vc.PublicKey() == nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: no key or certificate", ErrMalformed)
	}
	return verifyKeyed(b, digest, artifact, t)
}

func verifyKeyed(b *bundle.Bundle, digest string, artifact verify.ArtifactPolicyOption, t SigstoreTrust) (*SigstoreSignature, error) {
	at := t.KeyTime
	if at.IsZero() {
		at = time.Now()
	}
	var candidates []Key
	if t.Keys != nil {
		for _, k := range t.Keys.Keys() {
			if pub, ok := k.Key.(*ecdsa.PublicKey); ok && pub.Curve == elliptic.P256() {
				candidates = append(candidates, k)
			}
		}
	}
	var lastErr error
	for _, k := range candidates {
		v, err := signature.LoadVerifier(k.Key.(*ecdsa.PublicKey), crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("Sigstore bundle: loading key %s: %w", k.ID, err)
		}
		// The hint a bundle carries is unauthenticated, and cosign writes
		// its own kind of hint; every candidate key is tried instead.
		material := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
		})
		sv, err := verify.NewVerifier(material, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, fmt.Errorf("Sigstore bundle: %w", err)
		}
		if _, err := sv.Verify(b, verify.NewPolicy(artifact, verify.WithKey())); err != nil {
			lastErr = err
			continue
		}
		if !k.ActiveAt(at) {
			return nil, fmt.Errorf("Sigstore bundle: %w: key %s was not active at %s, when the bundle was received", ErrKeyNotActive, k.ID, at.UTC().Format(time.RFC3339))
		}
		return &SigstoreSignature{KeyID: k.ID, Digest: digest}, nil
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("Sigstore bundle: %w: the bundle is signed with a key, and none of the trusted keys is an ECDSA P-256 key (cosign's key type; an Ed25519 key cannot verify a signature over a digest)", ErrUnknownKey)
	}
	return nil, fmt.Errorf("Sigstore bundle: %w: the signature verifies with none of the %d trusted ECDSA P-256 key(s) (%v)", ErrUnknownKey, len(candidates), lastErr)
}

func verifyKeyless(b *bundle.Bundle, leaf *x509.Certificate, digest string, artifact verify.ArtifactPolicyOption, t SigstoreTrust) (*SigstoreSignature, error) {
	summary, err := certificate.SummarizeCertificate(leaf)
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: reading the certificate: %v", ErrMalformed, err)
	}
	got := SigstoreIdentity{Issuer: summary.Issuer, Subject: summary.SubjectAlternativeName}
	if t.Root == nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: the bundle is keyless (a certificate for %s), and no Sigstore trusted root is configured to check it against", ErrUnknownKey, got)
	}
	if len(t.Identities) > MaxSigstoreIdentities {
		return nil, fmt.Errorf("Sigstore bundle: %d identities to try; at most %d are allowed", len(t.Identities), MaxSigstoreIdentities)
	}
	bound := false
	for _, id := range t.Identities {
		if id == got {
			bound = true
		}
	}
	if !bound {
		return nil, fmt.Errorf("Sigstore bundle: %w: the certificate names %s, which is not a trusted identity", ErrUnknownKey, got)
	}
	ident, err := verify.NewShortCertificateIdentity(got.Issuer, "", got.Subject, "")
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w", err)
	}
	opts := []verify.VerifierOption{verify.WithObserverTimestamps(1)}
	if entries, _ := b.TlogEntries(); len(entries) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(t.Root.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	sv, err := verify.NewVerifier(t.Root, opts...)
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w", err)
	}
	res, err := sv.Verify(b, verify.NewPolicy(artifact, verify.WithCertificateIdentity(ident)))
	if err != nil {
		if outsideValidity(sv, b, leaf) {
			return nil, fmt.Errorf("Sigstore bundle: %w: the certificate for %s (valid %s to %s) was not valid when the signature was timestamped: %v", ErrExpired, got,
				leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), err)
		}
		return nil, fmt.Errorf("Sigstore bundle: %w: the keyless signature by %s does not verify against the trusted root: %v", ErrBadSignature, got, err)
	}
	var signedAt time.Time
	for _, ts := range res.VerifiedTimestamps {
		if signedAt.IsZero() || ts.Timestamp.Before(signedAt) {
			signedAt = ts.Timestamp
		}
	}
	return &SigstoreSignature{KeyID: got.ID(), Identity: &got, Digest: digest, SignedAt: signedAt.UTC()}, nil
}

// outsideValidity reports whether the leaf certificate was outside its
// validity window at every time the bundle's verified timestamps prove:
// sigstore-go says only that the leaf does not verify, and an expired
// short-lived certificate deserves its own answer.
func outsideValidity(sv *verify.Verifier, b *bundle.Bundle, leaf *x509.Certificate) bool {
	logTimes, err := sv.VerifyTransparencyLogInclusion(b)
	if err != nil {
		return false
	}
	times, err := sv.VerifyObserverTimestamps(b, logTimes)
	if err != nil || len(times) == 0 {
		return false
	}
	for _, ts := range times {
		if !ts.Timestamp.Before(leaf.NotBefore) && !ts.Timestamp.After(leaf.NotAfter) {
			return false
		}
	}
	return true
}

// LoadSigstoreTrustedRoot parses a trusted_root.json (Sigstore's
// TrustedRoot, as `cosign trusted-root create` or the public-good TUF
// repository serve it), at most MaxSigstoreBundleBytes*4.
func LoadSigstoreTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	if len(data) > 4*MaxSigstoreBundleBytes {
		return nil, fmt.Errorf("%w: trusted root is %d bytes; the limit is %d", ErrMalformed, len(data), 4*MaxSigstoreBundleBytes)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: Sigstore trusted root: %v", ErrMalformed, err)
	}
	return tr, nil
}

// SigstoreBundleDigest returns "sha256:HEX" of a bundle's bytes as
// received: what a certificate names the publisher's bundle by.
func SigstoreBundleDigest(data []byte) string { return "sha256:" + sha256Hex(data) }

// AlgorithmSigstoreOIDC is the algorithm a namespace records for a keyless
// identity bound the way a key is: its "key" is the identity itself
// (MarshalSigstoreIdentity), its id SigstoreIdentity.ID.
const AlgorithmSigstoreOIDC = "sigstore-oidc"

// MarshalSigstoreIdentity is the stored form of an identity bound to a
// namespace: {"issuer":…,"subject":…}.
func MarshalSigstoreIdentity(i SigstoreIdentity) []byte {
	b, _ := json.Marshal(struct {
		Issuer  string `json:"issuer"`
		Subject string `json:"subject"`
	}{i.Issuer, i.Subject}) // two strings always encode
	return b
}

// ParseSigstoreIdentity reads MarshalSigstoreIdentity's form back.
func ParseSigstoreIdentity(data []byte) (SigstoreIdentity, error) {
	var v struct {
		Issuer  string `json:"issuer"`
		Subject string `json:"subject"`
	}
	if err := decodeStrict(data, &v); err != nil {
		return SigstoreIdentity{}, fmt.Errorf("%w: identity: %v", ErrMalformed, err)
	}
	i := SigstoreIdentity{Issuer: v.Issuer, Subject: v.Subject}
	return i, i.Check()
}
