package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PredicateCertificate is the predicate type of a marketplace certificate.
const PredicateCertificate = "https://gatehouse.dev/certificate/v1"

// Certificate is what the marketplace certifies about one package: an
// in-toto statement over the package digest, signed by the marketplace key.
type Certificate struct {
	PluginID    string   // namespace/name
	Version     string   // SemVer
	Digest      string   // "sha256:HEX" of the package bytes
	Permissions []string // granted, in the manifest's grammar
	// Flows are the data flows reviewers (or the policy, on auto-approval)
	// approved; RefusedFlows those they refused. A host grants no
	// permission a refused flow rests on, even one Permissions lists.
	Flows        []Flow
	RefusedFlows []Flow
	RiskTier     string
	Checks       []string // checks passed: the badges
	// PolicyDigest identifies the policy that produced the verdict.
	PolicyDigest string
	// VulnDBVersion identifies the vulnerability database the package was
	// checked against.
	VulnDBVersion string
	Reviewers     []string
	IssuedAt      time.Time
	ExpiresAt     time.Time
	// Publisher is the publisher's signature kept beside the certificate
	// (dual signing).
	Publisher PublisherRef
	// SBOMs are the SBOMs the marketplace emitted for the package, which
	// it serves beside the certificate; empty in certificates issued
	// before it emitted any.
	SBOMs []SBOMRef
}

// SBOMRef names an SBOM of the certified package by the digest of its
// bytes, so that a document fetched from anywhere can be checked against
// the certificate.
type SBOMRef struct {
	Format    string `json:"format"`    // "cyclonedx" or "spdx"
	MediaType string `json:"mediaType"` // of the document
	Digest    string `json:"digest"`    // "sha256:HEX" of the document's bytes
}

// maxSBOMRefs bounds the SBOMs one certificate lists.
const maxSBOMRefs = 8

func checkSBOMRefs(refs []SBOMRef) error {
	if len(refs) > maxSBOMRefs {
		return fmt.Errorf("%w: %d SBOMs; at most %d", ErrMalformed, len(refs), maxSBOMRefs)
	}
	for i, r := range refs {
		if r.Format == "" || r.MediaType == "" {
			return fmt.Errorf("%w: SBOM %d needs a format and a media type", ErrMalformed, i+1)
		}
		if _, err := digestHex(r.Digest); err != nil {
			return fmt.Errorf("SBOM %d (%s): %w", i+1, r.Format, err)
		}
		for _, o := range refs[:i] {
			if o.Format == r.Format {
				return fmt.Errorf("%w: two %s SBOMs", ErrMalformed, r.Format)
			}
		}
	}
	return nil
}

// SBOM returns the reference to the certificate's SBOM of format.
func (c *Certificate) SBOM(format string) (SBOMRef, bool) {
	for _, r := range c.SBOMs {
		if r.Format == format {
			return r, true
		}
	}
	return SBOMRef{}, false
}

// Flow is a data flow as a certificate lists it: which category of user
// data goes to which destination ("platform" or an origin), why, kept how
// long, and the permissions it rests on.
type Flow struct {
	ID          string   `json:"id"`
	Category    string   `json:"category"`
	Destination string   `json:"destination"`
	Purpose     string   `json:"purpose,omitempty"`
	Retention   string   `json:"retention,omitempty"`
	Permissions []string `json:"permissions"`
}

// maxFlows bounds the flows a certificate lists.
const maxFlows = 1024

// Withheld returns the permissions that refused flows rest on: a host
// grants none of them.
func (c *Certificate) Withheld() map[string]bool {
	out := map[string]bool{}
	for _, f := range c.RefusedFlows {
		for _, p := range f.Permissions {
			out[p] = true
		}
	}
	return out
}

// PublisherRef binds a certificate to the publisher signature the
// marketplace checked.
type PublisherRef struct {
	// KeyID is the publisher key's id, or a keyless identity's
	// (SigstoreIdentity.ID).
	KeyID string `json:"keyId"`
	// Envelope is EnvelopeDigest of the publisher's DSSE envelope, or
	// SigstoreBundleDigest of its Sigstore bundle.
	Envelope string `json:"envelope"`
	// Format is "" for a DSSE envelope and FormatSigstoreBundle for a
	// Sigstore bundle.
	Format string `json:"format,omitempty"`
	// SigstoreBundle is the evidence for a Sigstore signature: the bundle
	// itself, as the publisher sent it, so that anyone holding the
	// certificate can verify it again with cosign or sigstore-go.
	SigstoreBundle json.RawMessage `json:"sigstoreBundle,omitempty"`
	// Issuer and Subject name a keyless signer.
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// FormatSigstoreBundle marks a publisher signature made as a Sigstore
// bundle.
const FormatSigstoreBundle = "sigstore-bundle"

// CertificateInput is what IssueCertificate needs. The publisher signature
// must already have been verified against the namespace's keys.
type CertificateInput struct {
	PluginID      string
	Version       string
	Digest        string
	Permissions   []string
	Flows         []Flow // approved
	RefusedFlows  []Flow
	RiskTier      string
	Checks        []string
	PolicyDigest  string
	VulnDBVersion string
	Reviewers     []string
	IssuedAt      time.Time
	// Lifetime is how long the certificate is valid (per risk tier, from
	// policy).
	Lifetime time.Duration
	// PublisherSignature is the publisher's envelope over Digest; or
	PublisherSignature *dsse.Envelope
	// SBOMs are the marketplace's SBOMs of the package.
	SBOMs []SBOMRef
	// PublisherBundle is the publisher's Sigstore bundle over Digest, as
	// received, verified as PublisherBundleSig.
	PublisherBundle    []byte
	PublisherBundleSig *SigstoreSignature
}

// certificatePredicate is the JSON form of the predicate.
type certificatePredicate struct {
	Plugin struct {
		ID      string `json:"id"`
		Version string `json:"version"`
	} `json:"plugin"`
	Permissions           []string     `json:"permissions"`
	Flows                 []Flow       `json:"flows,omitempty"`
	RefusedFlows          []Flow       `json:"refusedFlows,omitempty"`
	RiskTier              string       `json:"riskTier"`
	Checks                []string     `json:"checks"`
	PolicyDigest          string       `json:"policyDigest"`
	VulnerabilityDatabase string       `json:"vulnerabilityDatabase"`
	Reviewers             []string     `json:"reviewers"`
	IssuedAt              time.Time    `json:"issuedAt"`
	ExpiresAt             time.Time    `json:"expiresAt"`
	Publisher             PublisherRef `json:"publisher"`
	SBOMs                 []SBOMRef    `json:"sboms,omitempty"`
}

// maxCertificateLifetime bounds a certificate's validity: a certificate that
// never needs renewing would never be revalidated.
const maxCertificateLifetime = 5 * 366 * 24 * time.Hour

// IssueCertificate signs a certificate with the marketplace key.
func IssueCertificate(ctx context.Context, s Signer, in CertificateInput) (*dsse.Envelope, error) {
	if in.IssuedAt.IsZero() {
		return nil, fmt.Errorf("trust: certificate for %s: issue time is required", SubjectName(in.PluginID, in.Version))
	}
	if in.Lifetime <= 0 || in.Lifetime > maxCertificateLifetime {
		return nil, fmt.Errorf("trust: certificate for %s: lifetime %s is outside (0, %s]", SubjectName(in.PluginID, in.Version), in.Lifetime, maxCertificateLifetime)
	}
	pub, err := publisherRef(in)
	if err != nil {
		return nil, err
	}
	var p certificatePredicate
	p.Plugin.ID, p.Plugin.Version = in.PluginID, in.Version
	p.Permissions = nonNil(in.Permissions)
	if len(in.Flows)+len(in.RefusedFlows) > maxFlows {
		return nil, fmt.Errorf("trust: certificate for %s: %d flows; the limit is %d", SubjectName(in.PluginID, in.Version), len(in.Flows)+len(in.RefusedFlows), maxFlows)
	}
	p.Flows, p.RefusedFlows = in.Flows, in.RefusedFlows
	p.RiskTier = in.RiskTier
	p.Checks = nonNil(in.Checks)
	p.PolicyDigest = in.PolicyDigest
	p.VulnerabilityDatabase = in.VulnDBVersion
	p.Reviewers = nonNil(in.Reviewers)
	p.IssuedAt = in.IssuedAt.UTC().Truncate(time.Second)
	p.ExpiresAt = p.IssuedAt.Add(in.Lifetime)
	if err := checkSBOMRefs(in.SBOMs); err != nil {
		return nil, fmt.Errorf("trust: certificate for %s: %w", SubjectName(in.PluginID, in.Version), err)
	}
	p.SBOMs = in.SBOMs
	p.Publisher = pub
	payload, err := newStatement(in.Digest, in.PluginID, in.Version, PredicateCertificate, p)
	if err != nil {
		return nil, fmt.Errorf("trust: certificate for %s: %w", SubjectName(in.PluginID, in.Version), err)
	}
	return SignEnvelope(ctx, s, PayloadTypeInToto, payload)
}

// publisherRef is what a certificate says about the publisher signature.
func publisherRef(in CertificateInput) (PublisherRef, error) {
	if len(in.PublisherBundle) > 0 {
		if in.PublisherBundleSig == nil {
			return PublisherRef{}, fmt.Errorf("trust: certificate for %s: the Sigstore bundle must be verified first", SubjectName(in.PluginID, in.Version))
		}
		if !json.Valid(in.PublisherBundle) {
			return PublisherRef{}, fmt.Errorf("trust: certificate for %s: %w: the Sigstore bundle is not JSON", SubjectName(in.PluginID, in.Version), ErrMalformed)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, in.PublisherBundle); err != nil {
			return PublisherRef{}, fmt.Errorf("trust: certificate for %s: %w", SubjectName(in.PluginID, in.Version), err)
		}
		d, err := SigstoreBundleDigest(compact.Bytes())
		if err != nil {
			return PublisherRef{}, err
		}
		ref := PublisherRef{KeyID: in.PublisherBundleSig.KeyID, Envelope: d, Format: FormatSigstoreBundle, SigstoreBundle: compact.Bytes()}
		if id := in.PublisherBundleSig.Identity; id != nil {
			ref.Issuer, ref.Subject = id.Issuer, id.Subject
		}
		return ref, nil
	}
	if in.PublisherSignature == nil || len(in.PublisherSignature.Signatures) == 0 {
		return PublisherRef{}, fmt.Errorf("trust: certificate for %s: the publisher signature is required (dual signing)", SubjectName(in.PluginID, in.Version))
	}
	envDigest, err := EnvelopeDigest(in.PublisherSignature)
	if err != nil {
		return PublisherRef{}, err
	}
	return PublisherRef{KeyID: in.PublisherSignature.Signatures[0].KeyID, Envelope: envDigest}, nil
}

// VerifyCertificate checks the marketplace signature on a certificate
// envelope (by a key in keyring that was active at the issue time) and
// returns the certificate. It checks neither the subject against a package
// nor the validity window against a clock: see Certificate.CheckSubject and
// Certificate.CheckValidAt.
func VerifyCertificate(env *dsse.Envelope, keyring *Keyring) (*Certificate, Key, error) {
	payload, key, err := OpenEnvelope(env, PayloadTypeInToto, keyring)
	if err != nil {
		return nil, Key{}, fmt.Errorf("certificate: %w", err)
	}
	c, err := parseCertificate(payload)
	if err != nil {
		return nil, Key{}, err
	}
	if !key.ActiveAt(c.IssuedAt) {
		return nil, Key{}, fmt.Errorf("certificate: %w: key %s issued it at %s, outside its window", ErrKeyNotActive, key.ID, c.IssuedAt.Format(time.RFC3339))
	}
	return c, key, nil
}

// ParseCertificate decodes a certificate envelope without checking its
// signature, for display. Never trust what it returns.
func ParseCertificate(env *dsse.Envelope) (*Certificate, error) {
	if env == nil || env.PayloadType != PayloadTypeInToto {
		return nil, fmt.Errorf("certificate: %w: not an in-toto envelope", ErrMalformed)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("certificate: %w: payload is not base64", ErrMalformed)
	}
	return parseCertificate(payload)
}

func parseCertificate(payload []byte) (*Certificate, error) {
	var p certificatePredicate
	st, err := parseStatement(payload, PredicateCertificate, &p)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	digest, _ := st.SubjectDigest()
	if st.Subject[0].Name != SubjectName(p.Plugin.ID, p.Plugin.Version) {
		return nil, fmt.Errorf("certificate: %w: subject %q disagrees with the predicate's plugin %s", ErrMalformed, st.Subject[0].Name, SubjectName(p.Plugin.ID, p.Plugin.Version))
	}
	if err := checkSBOMRefs(p.SBOMs); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return nil, fmt.Errorf("certificate: %w: it expires (%s) before it is issued (%s)", ErrMalformed, p.ExpiresAt.Format(time.RFC3339), p.IssuedAt.Format(time.RFC3339))
	}
	return &Certificate{
		PluginID:      p.Plugin.ID,
		Version:       p.Plugin.Version,
		Digest:        digest,
		Permissions:   p.Permissions,
		Flows:         p.Flows,
		RefusedFlows:  p.RefusedFlows,
		RiskTier:      p.RiskTier,
		Checks:        p.Checks,
		PolicyDigest:  p.PolicyDigest,
		VulnDBVersion: p.VulnerabilityDatabase,
		Reviewers:     p.Reviewers,
		IssuedAt:      p.IssuedAt,
		ExpiresAt:     p.ExpiresAt,
		Publisher:     p.Publisher,
		SBOMs:         p.SBOMs,
	}, nil
}

// CheckSubject checks that the certificate is about exactly this package:
// its digest, and the plugin id and version its manifest declares. A
// certificate copied to another plugin fails here.
func (c *Certificate) CheckSubject(digest, pluginID, version string) error {
	if c.Digest != digest {
		return fmt.Errorf("certificate: %w: it certifies %s, the package is %s", ErrWrongDigest, c.Digest, digest)
	}
	if c.PluginID != pluginID || c.Version != version {
		return fmt.Errorf("certificate: %w: it certifies %s, the package's manifest says %s",
			ErrWrongSubject, SubjectName(c.PluginID, c.Version), SubjectName(pluginID, version))
	}
	return nil
}

// CheckValidAt checks the validity window: not before the issue time, not
// after the expiry time.
func (c *Certificate) CheckValidAt(now time.Time) error {
	if now.Before(c.IssuedAt) {
		return fmt.Errorf("certificate: %w: issued at %s, the time is %s (check the clock)", ErrNotYetValid, c.IssuedAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(c.ExpiresAt) {
		return fmt.Errorf("certificate: %w: it expired at %s; the marketplace renews certificates it revalidates, so fetch a fresh bundle", ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// Grants reports whether the certificate grants permission p exactly.
func (c *Certificate) Grants(p string) bool {
	return slices.Contains(c.Permissions, p) && !c.Withheld()[p]
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
