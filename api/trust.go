package api

import "time"

// SignatureHeader carries a submission's publisher signature, base64
// (standard alphabet) encoded: the DSSE envelope JSON that `gatehouse
// plugin sign` writes, or the Sigstore bundle JSON that `cosign sign-blob
// --bundle` writes.
const SignatureHeader = "Gatehouse-Signature"

// TrustRootPath is where the marketplace serves its trust root.
const TrustRootPath = "/.well-known/gatehouse/trust-root.json"

// PublisherKey is a public key registered for a namespace.
type PublisherKey struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"publicKey"` // PEM (PKIX); empty for a keyless identity
	// Issuer and Subject are set for a keyless Sigstore identity
	// (algorithm "sigstore-oidc").
	Issuer    string     `json:"issuer,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	AddedBy   string     `json:"addedBy"`
	AddedAt   time.Time  `json:"addedAt"`
	RetiredBy string     `json:"retiredBy,omitempty"`
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
	// CompromisedAt is set when the key was reported stolen: no signature
	// by it is trusted, whatever time it claims.
	CompromisedBy     string     `json:"compromisedBy,omitempty"`
	CompromisedAt     *time.Time `json:"compromisedAt,omitempty"`
	CompromisedReason string     `json:"compromisedReason,omitempty"`
}

// PublisherIdentity binds a keyless Sigstore signer to a namespace: the
// OIDC issuer and the subject (SAN) its Fulcio certificates name, both
// matched exactly.
type PublisherIdentity struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
}

// NamespaceKeys lists a namespace's keys and whether it requires
// signatures.
type NamespaceKeys struct {
	Namespace          string         `json:"namespace"`
	SignaturesRequired bool           `json:"signaturesRequired"`
	Keys               []PublisherKey `json:"keys"`
}

// SignatureRequirement switches a namespace's signature requirement.
type SignatureRequirement struct {
	Required bool   `json:"required"`
	Reason   string `json:"reason"`
}

// NamespaceTransfer gives a namespace to a new owner (admin).
type NamespaceTransfer struct {
	To     string `json:"to"` // the new owner's token subject
	Reason string `json:"reason"`
}

// KeyCompromise reports a publisher key stolen.
type KeyCompromise struct {
	Reason string `json:"reason"`
}

// RecheckedVersion is a certified version a change of a namespace's
// owners or keys covers.
type RecheckedVersion struct {
	ID      string `json:"id"`
	Plugin  string `json:"plugin"`
	Version string `json:"version"`
}

// Recheck is what a change of a namespace's owners or keys did: the
// versions suspended at once and those queued for revalidation.
type Recheck struct {
	Namespace       string             `json:"namespace"`
	Suspended       []RecheckedVersion `json:"suspended"`
	Queued          []RecheckedVersion `json:"queued"`
	AlreadyReported bool               `json:"alreadyReported,omitempty"`
}

// TrustAction is a steward's suspension or revocation of a version.
type TrustAction struct {
	Reason string `json:"reason"`
	// Deadline is when a suspended version's fix must be certified.
	Deadline *time.Time `json:"deadline,omitempty"`
}
