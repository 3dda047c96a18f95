// Package sigstore verifies Sigstore bundles, the publisher signatures
// `cosign sign-blob --bundle` makes, offline with sigstore-go: keyed ones
// against a namespace's keys, keyless ones against a trusted_root.json and
// the namespace's bound identities. It is the marketplace's side; a host
// checks the bundle a certificate carries with trust.
// VerifyCertifiedSigstoreBundle, which needs no Sigstore client.
package sigstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
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

	"gatehouse.dev/gatehouse/trust"
)

// Parse decodes a Sigstore bundle read from outside: at most
// trust.MaxSigstoreBundleBytes, a supported bundle version (0.1 to 0.3), and a
// message signature (what `cosign sign-blob` makes); a DSSE attestation
// bundle is refused, as is anything without verification material.
func Parse(data []byte) (*bundle.Bundle, error) {
	if len(data) > trust.MaxSigstoreBundleBytes {
		return nil, fmt.Errorf("%w: Sigstore bundle is %d bytes; the limit is %d", trust.ErrMalformed, len(data), trust.MaxSigstoreBundleBytes)
	}
	pb := new(protobundle.Bundle)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, pb); err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", trust.ErrMalformed, err)
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", trust.ErrMalformed, err)
	}
	if b.GetMessageSignature() == nil {
		return nil, fmt.Errorf("%w: the Sigstore bundle holds no message signature (a DSSE attestation is not a package signature): sign the package itself with `cosign sign-blob --bundle PACKAGE.sigstore.json PACKAGE`", trust.ErrMalformed)
	}
	ms := b.GetMessageSignature()
	if ms.GetMessageDigest() == nil || ms.GetMessageDigest().GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 || len(ms.GetMessageDigest().GetDigest()) != sha256.Size {
		return nil, fmt.Errorf("%w: the Sigstore bundle's message digest is not a SHA-256", trust.ErrMalformed)
	}
	if len(ms.GetSignature()) == 0 {
		return nil, fmt.Errorf("%w: the Sigstore bundle's message signature is empty", trust.ErrMalformed)
	}
	if _, err := b.VerificationContent(); err != nil {
		return nil, fmt.Errorf("%w: Sigstore bundle: %v", trust.ErrMalformed, err)
	}
	return b, nil
}

// Trust is what a Sigstore bundle is verified against: the keys
// and identities the namespace accepts, and the trusted root (Fulcio CAs,
// timestamp authorities, Rekor logs) keyless bundles chain to.
type Trust struct {
	// Keys are the namespace's keys, windows included. Only ECDSA P-256
	// keys can verify a message signature given the digest alone (cosign's
	// default key type); an Ed25519 key never matches.
	Keys *trust.Keyring
	// Identities are the keyless signers the namespace accepts.
	Identities []trust.SigstoreIdentity
	// Root holds the Fulcio CAs, TSAs and Rekor logs keyless bundles are
	// verified against (a trusted_root.json); nil refuses keyless bundles.
	Root root.TrustedMaterial
	// KeyTime is when the marketplace received the bundle: a keyed bundle
	// carries no time the marketplace can trust offline, so the key must
	// have been active then. Zero means now.
	KeyTime time.Time
}

// Verify checks that b is a message signature over digest by
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
// The error wraps trust.ErrWrongDigest, trust.ErrUnknownKey, trust.ErrBadSignature,
// trust.ErrKeyNotActive, trust.ErrExpired or trust.ErrMalformed, with the details.
func Verify(b *bundle.Bundle, digest string, t Trust) (*trust.SigstoreSignature, error) {
	hexDigest, err := digestHex(digest)
	if err != nil {
		return nil, err
	}
	want, _ := hex.DecodeString(hexDigest)
	ms := b.GetMessageSignature()
	if ms == nil || ms.GetMessageDigest() == nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: no message signature", trust.ErrMalformed)
	}
	if got := ms.GetMessageDigest().GetDigest(); !bytes.Equal(got, want) {
		return nil, fmt.Errorf("Sigstore bundle: %w: it signs sha256:%s, the package is %s", trust.ErrWrongDigest, hex.EncodeToString(got), digest)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: %v", trust.ErrMalformed, err)
	}
	artifact := verify.WithArtifactDigest("sha256", want)
	if leaf := vc.Certificate(); leaf != nil {
		return verifyKeyless(b, leaf, digest, artifact, t)
	}
	if vc.PublicKey() == nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: no key or certificate", trust.ErrMalformed)
	}
	return verifyKeyed(b, digest, artifact, t)
}

func verifyKeyed(b *bundle.Bundle, digest string, artifact verify.ArtifactPolicyOption, t Trust) (*trust.SigstoreSignature, error) {
	at := t.KeyTime
	if at.IsZero() {
		at = time.Now()
	}
	var candidates []trust.Key
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
			return nil, fmt.Errorf("Sigstore bundle: %w: key %s was not active at %s, when the bundle was received", trust.ErrKeyNotActive, k.ID, at.UTC().Format(time.RFC3339))
		}
		return &trust.SigstoreSignature{KeyID: k.ID, Digest: digest}, nil
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("Sigstore bundle: %w: the bundle is signed with a key, and none of the trusted keys is an ECDSA P-256 key (cosign's key type; an Ed25519 key cannot verify a signature over a digest)", trust.ErrUnknownKey)
	}
	return nil, fmt.Errorf("Sigstore bundle: %w: the signature verifies with none of the %d trusted ECDSA P-256 key(s) (%v)", trust.ErrUnknownKey, len(candidates), lastErr)
}

func verifyKeyless(b *bundle.Bundle, leaf *x509.Certificate, digest string, artifact verify.ArtifactPolicyOption, t Trust) (*trust.SigstoreSignature, error) {
	summary, err := certificate.SummarizeCertificate(leaf)
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: reading the certificate: %v", trust.ErrMalformed, err)
	}
	got := trust.SigstoreIdentity{Issuer: summary.Issuer, Subject: summary.SubjectAlternativeName}
	if t.Root == nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: the bundle is keyless (a certificate for %s), and no Sigstore trusted root is configured to check it against", trust.ErrUnknownKey, got)
	}
	if len(t.Identities) > trust.MaxSigstoreIdentities {
		return nil, fmt.Errorf("Sigstore bundle: %d identities to try; at most %d are allowed", len(t.Identities), trust.MaxSigstoreIdentities)
	}
	bound := false
	for _, id := range t.Identities {
		if id == got {
			bound = true
		}
	}
	if !bound {
		return nil, fmt.Errorf("Sigstore bundle: %w: the certificate names %s, which is not a trusted identity", trust.ErrUnknownKey, got)
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
			return nil, fmt.Errorf("Sigstore bundle: %w: the certificate for %s (valid %s to %s) was not valid when the signature was timestamped: %v", trust.ErrExpired, got,
				leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), err)
		}
		return nil, fmt.Errorf("Sigstore bundle: %w: the keyless signature by %s does not verify against the trusted root: %v", trust.ErrBadSignature, got, err)
	}
	var signedAt time.Time
	for _, ts := range res.VerifiedTimestamps {
		if signedAt.IsZero() || ts.Timestamp.Before(signedAt) {
			signedAt = ts.Timestamp
		}
	}
	return &trust.SigstoreSignature{KeyID: got.ID(), Identity: &got, Digest: digest, SignedAt: signedAt.UTC()}, nil
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

// LoadTrustedRoot parses a trusted_root.json (Sigstore's
// TrustedRoot, as `cosign trusted-root create` or the public-good TUF
// repository serve it), at most trust.MaxSigstoreTrustedRootBytes.
func LoadTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	if len(data) > trust.MaxSigstoreTrustedRootBytes {
		return nil, fmt.Errorf("%w: trusted root is %d bytes; the limit is %d", trust.ErrMalformed, len(data), trust.MaxSigstoreTrustedRootBytes)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: Sigstore trusted root: %v", trust.ErrMalformed, err)
	}
	return tr, nil
}

// digestHex returns the hex of a "sha256:HEX" digest.
func digestHex(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 2*sha256.Size || strings.ToLower(h) != h {
		return "", fmt.Errorf("%w: digest %q is not \"sha256:\" and 64 lowercase hex digits", trust.ErrMalformed, d)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%w: digest %q is not hex", trust.ErrMalformed, d)
	}
	return h, nil
}
