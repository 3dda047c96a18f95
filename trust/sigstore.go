package trust

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
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

// MaxSigstoreTrustedRootBytes bounds a trusted_root.json.
const MaxSigstoreTrustedRootBytes = 4 * MaxSigstoreBundleBytes

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

// SigstoreBundleDigest returns "sha256:HEX" of a bundle's compact JSON
// encoding (insignificant white space removed): what a certificate names
// the publisher's bundle by, whichever way it was indented in transit.
func SigstoreBundleDigest(data []byte) (string, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return "", fmt.Errorf("%w: Sigstore bundle is not JSON: %v", ErrMalformed, err)
	}
	return "sha256:" + sha256Hex(compact.Bytes()), nil
}

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

// hostBundle is the part of a Sigstore bundle (protobuf-specs' Bundle in
// its JSON form) a host reads: bytes fields are base64, as protojson
// writes them and encoding/json reads []byte.
type hostBundle struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey *struct {
			Hint string `json:"hint"`
		} `json:"publicKey"`
		Certificate *struct {
			RawBytes []byte `json:"rawBytes"`
		} `json:"certificate"`
		X509CertificateChain *struct {
			Certificates []struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"x509CertificateChain"`
	} `json:"verificationMaterial"`
	MessageSignature *struct {
		MessageDigest struct {
			Algorithm string `json:"algorithm"`
			Digest    []byte `json:"digest"`
		} `json:"messageDigest"`
		Signature []byte `json:"signature"`
	} `json:"messageSignature"`
}

// VerifyCertifiedSigstoreBundle is what a host checks of the Sigstore
// bundle a certificate carries as evidence, offline, with the standard
// library alone (a host importing package verify carries no Sigstore
// client): the bundle's message signature is over digest, and verifies
//   - with a key of keys (keyed; the key active at the certificate's
//     issue time), or
//   - with the key of the bundle's certificate, which names the identity
//     the marketplace certified (keyless). The certificate's chain to
//     Fulcio, its timestamps and the identity's binding to the namespace
//     were checked by the marketplace against its trusted root; its
//     signed certificate vouches for them, and the bundle it carries lets
//     anyone check them again with cosign.
func VerifyCertifiedSigstoreBundle(c *Certificate, digest string, keys *Keyring) (*SigstoreSignature, error) {
	p := c.Publisher
	if p.Format != FormatSigstoreBundle || len(p.SigstoreBundle) == 0 {
		return nil, fmt.Errorf("Sigstore bundle: %w: the certificate carries no Sigstore bundle", ErrMalformed)
	}
	if d, err := SigstoreBundleDigest(p.SigstoreBundle); err != nil || d != p.Envelope {
		return nil, fmt.Errorf("Sigstore bundle: %w: the certificate's bundle does not hash to the digest it names (%s)", ErrMalformed, p.Envelope)
	}
	hexDigest, err := digestHex(digest)
	if err != nil {
		return nil, err
	}
	want, _ := hex.DecodeString(hexDigest)
	var b hostBundle
	if len(p.SigstoreBundle) > MaxSigstoreBundleBytes {
		return nil, fmt.Errorf("Sigstore bundle: %w: %d bytes; the limit is %d", ErrMalformed, len(p.SigstoreBundle), MaxSigstoreBundleBytes)
	}
	if err := json.Unmarshal(p.SigstoreBundle, &b); err != nil || b.MessageSignature == nil || !strings.HasPrefix(b.MediaType, sigstoreMediaTypePrefix) {
		return nil, fmt.Errorf("Sigstore bundle: %w: not a message-signature bundle (%v)", ErrMalformed, err)
	}
	ms := b.MessageSignature
	if ms.MessageDigest.Algorithm != "SHA2_256" {
		return nil, fmt.Errorf("Sigstore bundle: %w: message digest algorithm %q, want SHA2_256", ErrMalformed, ms.MessageDigest.Algorithm)
	}
	if !bytes.Equal(ms.MessageDigest.Digest, want) {
		return nil, fmt.Errorf("Sigstore bundle: %w: it signs sha256:%s, the package is %s", ErrWrongDigest, hex.EncodeToString(ms.MessageDigest.Digest), digest)
	}
	vm := b.VerificationMaterial
	var leafDER []byte
	switch {
	case vm.Certificate != nil:
		leafDER = vm.Certificate.RawBytes
	case vm.X509CertificateChain != nil && len(vm.X509CertificateChain.Certificates) > 0:
		leafDER = vm.X509CertificateChain.Certificates[0].RawBytes
	}
	if leafDER == nil {
		// Keyed: the signature is over the digest itself (ECDSA P-256
		// with SHA-256 signs the digest; cosign's default key).
		if keys == nil {
			return nil, fmt.Errorf("Sigstore bundle: %w: keyed, and the host has no publisher key", ErrUnknownKey)
		}
		for _, k := range keys.Keys() {
			pub, ok := k.Key.(*ecdsa.PublicKey)
			if !ok || !ecdsa.VerifyASN1(pub, want, ms.Signature) {
				continue
			}
			if !k.ActiveAt(c.IssuedAt) {
				return nil, fmt.Errorf("Sigstore bundle: %w: key %s was not active at %s, when the certificate was issued", ErrKeyNotActive, k.ID, c.IssuedAt.Format(time.RFC3339))
			}
			return &SigstoreSignature{KeyID: k.ID, Digest: digest}, nil
		}
		return nil, fmt.Errorf("Sigstore bundle: %w: the signature verifies with none of the host's %d publisher key(s)", ErrUnknownKey, keys.Len())
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("Sigstore bundle: %w: certificate: %v", ErrMalformed, err)
	}
	id, err := FulcioIdentity(leaf)
	if err != nil {
		return nil, err
	}
	if id.Issuer != p.Issuer || id.Subject != p.Subject {
		return nil, fmt.Errorf("Sigstore bundle: %w: its certificate names %s, the marketplace certified %s", ErrUnknownKey, id, SigstoreIdentity{Issuer: p.Issuer, Subject: p.Subject})
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !ecdsa.VerifyASN1(pub, want, ms.Signature) {
		return nil, fmt.Errorf("Sigstore bundle: %w: the signature does not verify with the certificate's key", ErrBadSignature)
	}
	return &SigstoreSignature{KeyID: id.ID(), Identity: &id, Digest: digest}, nil
}

// Fulcio's OIDC issuer extensions: v2 (a DER UTF8String) and the
// deprecated v1 (the raw string).
var (
	oidFulcioIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidFulcioIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
)

// FulcioIdentity reads the identity a Fulcio certificate names: its OIDC
// issuer extension and its one SAN (an e-mail address or a URI).
func FulcioIdentity(leaf *x509.Certificate) (SigstoreIdentity, error) {
	var id SigstoreIdentity
	for _, e := range leaf.Extensions {
		switch {
		case e.Id.Equal(oidFulcioIssuerV2):
			var s string
			if _, err := asn1.UnmarshalWithParams(e.Value, &s, "utf8"); err != nil {
				return id, fmt.Errorf("Sigstore bundle: %w: the certificate's issuer extension: %v", ErrMalformed, err)
			}
			id.Issuer = s
		case e.Id.Equal(oidFulcioIssuerV1) && id.Issuer == "":
			id.Issuer = string(e.Value)
		}
	}
	switch {
	case len(leaf.EmailAddresses) == 1 && len(leaf.URIs) == 0:
		id.Subject = leaf.EmailAddresses[0]
	case len(leaf.URIs) == 1 && len(leaf.EmailAddresses) == 0:
		id.Subject = leaf.URIs[0].String()
	}
	if id.Issuer == "" || id.Subject == "" {
		return id, fmt.Errorf("Sigstore bundle: %w: the certificate names no OIDC issuer, or not exactly one e-mail or URI subject", ErrMalformed)
	}
	return id, nil
}
