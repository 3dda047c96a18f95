package domain

import (
	"time"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// PublisherKey is a public key a namespace signs its packages with.
type PublisherKey struct {
	ID        string // trust.KeyID of the key
	Namespace string
	Algorithm string
	PEM       []byte // PKIX public key
	AddedBy   string
	AddedAt   time.Time
	RetiredBy string
	RetiredAt time.Time // zero while the key is current
	// CompromisedAt is when the key was reported stolen (zero unless it
	// was), by whom and why. A compromised key is also retired, and no
	// signature by it is trusted, whatever time the signature claims:
	// whoever stole the key can claim any time.
	CompromisedBy     string
	CompromisedAt     time.Time
	CompromisedReason string
}

// Compromised reports whether the key was reported stolen.
func (k PublisherKey) Compromised() bool { return !k.CompromisedAt.IsZero() }

// SignedVersion is a version of a namespace with its publisher signature
// (zero when it has none): what a change of the namespace's owners or keys
// re-checks.
type SignedVersion struct {
	VersionID string
	PluginID  string
	Version   string
	Digest    string
	State     lifecycle.State
	Signature Signature
}

// Signature is the publisher's DSSE envelope over a version's digest.
type Signature struct {
	VersionID string
	KeyID     string
	Envelope  []byte // JSON
	CreatedAt time.Time
}

// CertificateRecord is one certificate issued for a version.
type CertificateRecord struct {
	VersionID string
	Seq       int    // 1, 2, … per version (set by the store)
	Kind      string // certificate.issued or certificate.renewed
	Envelope  []byte // JSON DSSE envelope
	KeyID     string // the marketplace key that signed it
	IssuedAt  time.Time
	ExpiresAt time.Time
	// EventSeq is the outbox entry publishing it (set by the store).
	EventSeq int64
}

// SBOM is an SBOM the marketplace emitted for a version (issue 22): made
// once, at the first certification that lists it, and kept, since the
// certificates list its digest.
type SBOM struct {
	VersionID string
	Format    string // "cyclonedx" or "spdx"
	Digest    string // "sha256:HEX" of Document
	Document  []byte
	CreatedAt time.Time
}

// TrustEvent is an entry of the transparency log's outbox.
type TrustEvent struct {
	Seq       int64
	Entry     []byte // trust.MarshalEvent
	CreatedAt time.Time
	// LogIndex is the entry's index in the log, -1 while pending.
	LogIndex int64
}

// LogState is the transparency log's tree as integrated so far: what every
// process proves inclusion against.
type LogState struct {
	// Size is the number of integrated entries; -1 before the first start
	// recorded the log.
	Size       int64
	Root       []byte // the tree's root hash
	Checkpoint []byte // the signed checkpoint of the tree
	UpdatedAt  time.Time
}

// Revocation is a revoked version.
type Revocation struct {
	VersionID string
	Digest    string
	Reason    string
	Time      time.Time
}

// RevocationListRecord is a signed revocation list.
type RevocationListRecord struct {
	Number     int64
	Envelope   []byte // JSON DSSE envelope
	IssuedAt   time.Time
	NextUpdate time.Time
}
