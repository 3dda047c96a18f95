// Package sigstoretest makes Sigstore bundles the way cosign does, for
// tests: keyed bundles (`cosign sign-blob --key cosign.key --bundle`) and
// keyless ones from a test Fulcio CA and a test timestamp authority made in
// the test, with the trusted_root.json that verifies them. Nothing here
// talks to the network; the crypto is real.
package sigstoretest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"
)

// BundleMediaType is what cosign v2.4+ writes with --new-bundle-format.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// KeyedBundle signs artifact as `cosign sign-blob --key KEY --bundle FILE
// --tlog-upload=false` does: an ECDSA P-256 signature over the artifact's
// SHA-256, with that digest as the message digest and the key's hint
// (base64 of the SHA-256 of its PKIX encoding) as verification material.
func KeyedBundle(priv *ecdsa.PrivateKey, artifact []byte) ([]byte, error) {
	sum := sha256.Sum256(artifact)
	return KeyedBundleForDigest(priv, sum[:])
}

// KeyedBundleForDigest is KeyedBundle given the artifact's SHA-256.
func KeyedBundleForDigest(priv *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	hint := sha256.Sum256(der)
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(hint[:])}},
		},
		Content: messageSignature(digest, sig),
	}
	return protojson.Marshal(b)
}

func messageSignature(digest, sig []byte) *protobundle.Bundle_MessageSignature {
	return &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest},
		Signature:     sig,
	}}
}

// CA is a test Sigstore: a Fulcio root and intermediate that issue
// certificates naming an OIDC identity, and a timestamp authority. It
// stands in for the public-good instance, which is not reachable here.
type CA struct {
	tsa       *ca.VirtualSigstore
	root      *x509.Certificate
	inter     *x509.Certificate
	interPriv *ecdsa.PrivateKey
}

// NewCA makes a test Sigstore valid for the next hours.
func NewCA() (*CA, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	rootCert, rootPriv, err := ca.GenerateRootCa()
	if err != nil {
		return nil, err
	}
	inter, interPriv, err := ca.GenerateFulcioIntermediate(rootCert, rootPriv)
	if err != nil {
		return nil, err
	}
	return &CA{tsa: vs, root: rootCert, inter: inter, interPriv: interPriv}, nil
}

// TrustedRoot returns the trusted root of this CA's Fulcio and TSA (no
// Rekor or CT log: its bundles carry signed timestamps instead).
func (c *CA) TrustedRoot() (*root.TrustedRoot, error) {
	fulcio := &root.FulcioCertificateAuthority{
		Root:                c.root,
		Intermediates:       []*x509.Certificate{c.inter},
		ValidityPeriodStart: c.root.NotBefore,
		ValidityPeriodEnd:   c.root.NotAfter,
		URI:                 "https://fulcio.test",
	}
	return root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{fulcio}, nil, c.tsa.TimestampingAuthorities(), nil)
}

// TrustedRootJSON is TrustedRoot as the trusted_root.json file cosign and
// Gatehouse read.
func (c *CA) TrustedRootJSON() ([]byte, error) {
	tr, err := c.TrustedRoot()
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// KeylessBundle signs artifact as `cosign sign-blob --bundle FILE
// --timestamp-server-url TSA --tlog-upload=false` does after an OIDC
// login as subject at issuer: a fresh key, a certificate for it from the
// test Fulcio valid for ten minutes from notBefore, a signature over the
// artifact's SHA-256 and an RFC 3161 timestamp of that signature.
func (c *CA) KeylessBundle(subject, issuer string, artifact []byte, notBefore time.Time) ([]byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.GenerateLeafCert(subject, issuer, notBefore, priv, c.inter, c.interPriv)
	if err != nil {
		return nil, fmt.Errorf("issuing the test certificate: %w", err)
	}
	sum := sha256.Sum256(artifact)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	if err != nil {
		return nil, err
	}
	tsr, err := c.tsa.TimestampResponse(sig)
	if err != nil {
		return nil, fmt.Errorf("timestamping: %w", err)
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: leaf.Raw}},
			TimestampVerificationData: &protobundle.TimestampVerificationData{
				Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
			},
		},
		Content: messageSignature(sum[:], sig),
	}
	return protojson.Marshal(b)
}
