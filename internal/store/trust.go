package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Trust keeps what the trust layer needs: publisher keys per namespace,
// issued certificates, trust events waiting for the transparency log, and
// signed revocation lists.
//
// A trust event is queued in the transaction of the change it records (the
// outbox): the change and its promise to be logged commit together, and a
// publisher appends queued events to the log afterwards. Every change of
// trust also writes its audit events in that transaction; recording where
// an event landed in the log (MarkTrustEventsLogged) is bookkeeping and is
// not audited.
type Trust interface {
	// AddPublisherKey registers a public key for a namespace and queues its
	// trust event. ErrConflict when the namespace has that key already
	// (retired or not); ErrNotFound when the namespace does not exist.
	AddPublisherKey(ctx context.Context, k domain.PublisherKey, entry []byte, ev audit.Event) error
	// RetirePublisherKey closes a key's window at the given time: signatures
	// made before stay verifiable, new submissions signed with it are
	// refused. ErrNotFound for an unknown or already retired key.
	RetirePublisherKey(ctx context.Context, namespace, id string, at time.Time, by string, entry []byte, ev audit.Event) error
	// CompromisePublisherKey records that a key was stolen: it is retired
	// at that time if it was current, marked compromised with who reported
	// it and why, and its trust event queued, with ev, in one transaction.
	// ErrNotFound for an unknown key; ErrConflict for one already reported.
	CompromisePublisherKey(ctx context.Context, namespace, id string, at time.Time, by, reason string, entry []byte, ev audit.Event) error
	// NamespaceVersions returns the versions of a namespace's plugins in
	// one of states, with their publisher signatures (zero when unsigned),
	// by version id.
	NamespaceVersions(ctx context.Context, namespace string, states []lifecycle.State) ([]domain.SignedVersion, error)
	// ListPublisherKeys returns a namespace's keys, retired ones included,
	// oldest first.
	ListPublisherKeys(ctx context.Context, namespace string) ([]domain.PublisherKey, error)
	// PublisherKey returns one key of a namespace.
	PublisherKey(ctx context.Context, namespace, id string) (domain.PublisherKey, error)

	// SetSignaturesRequired records whether submissions to a namespace
	// must carry a publisher signature. Namespaces require them unless an
	// admin turned that off.
	SetSignaturesRequired(ctx context.Context, namespace string, required bool, ev audit.Event) error
	SignaturesRequired(ctx context.Context, namespace string) (bool, error)

	// PutSignature keeps the publisher's signature with a version.
	// ErrConflict when the version has another one already.
	PutSignature(ctx context.Context, sig domain.Signature, ev audit.Event) error
	// GetSignature returns a version's publisher signature, or ErrNotFound.
	GetSignature(ctx context.Context, versionID string) (domain.Signature, error)

	// ApplyTrustChange records a change of trust in one transaction: an
	// optional compare-and-set transition, certificate, revocation and
	// revocation list, the trust events for the log, and the audit events.
	// It returns the outbox sequence numbers of the queued events.
	ApplyTrustChange(ctx context.Context, c TrustChange) ([]int64, error)
	// LatestCertificate returns a version's newest certificate, or
	// ErrNotFound.
	LatestCertificate(ctx context.Context, versionID string) (domain.CertificateRecord, error)

	// TrustEvent returns one queued or logged trust event.
	TrustEvent(ctx context.Context, seq int64) (domain.TrustEvent, error)
	// PendingTrustEvents returns up to limit events not yet logged, in
	// outbox order.
	PendingTrustEvents(ctx context.Context, limit int) ([]domain.TrustEvent, error)
	// LastLoggedIndex returns the highest log index recorded, or -1.
	LastLoggedIndex(ctx context.Context) (int64, error)
	// MarkTrustEventsLogged records where each event landed in a log
	// appended to before its entries were sequenced (a log from before
	// issue 17, found at the first start). The events must be pending and
	// in outbox order with consecutive indexes.
	MarkTrustEventsLogged(ctx context.Context, seqs []int64, firstIndex int64) error
	// SequenceTrustEvents gives up to limit unsequenced events the next
	// log indexes, in outbox order, and returns how many.
	SequenceTrustEvents(ctx context.Context, limit int) (int, error)
	// LogState returns the tree integrated so far.
	LogState(ctx context.Context) (domain.LogState, error)
	// InitLogState records the tree found at the first start; ErrStateChanged
	// when one is recorded already.
	InitLogState(ctx context.Context, st domain.LogState) error
	// IntegrateLog calls integrate with the integrated tree and up to limit
	// sequenced events after it, and records the tree it returns; one
	// integrator at a time gets to (a row lock, or compare-and-set with
	// ErrStateChanged for the loser).
	IntegrateLog(ctx context.Context, limit int, integrate func(domain.LogState, []domain.TrustEvent) (domain.LogState, error)) (domain.LogState, error)
	// SequencedTrustEvents returns up to limit events sequenced at log
	// index first and after, in log order.
	SequencedTrustEvents(ctx context.Context, first int64, limit int) ([]domain.TrustEvent, error)
	// AdoptLogEntries records entries the log's storage holds from index
	// first on that the database has no event for (restored from an older
	// backup than the bucket), sequenced at their indexes, with ev.
	AdoptLogEntries(ctx context.Context, first int64, entries [][]byte, at time.Time, ev audit.Event) error

	// ProvenanceStatement returns the marketplace's signed provenance
	// statement for a version, or ErrNotFound.
	ProvenanceStatement(ctx context.Context, versionID string) ([]byte, error)

	// SBOMs returns the SBOMs the marketplace emitted for a version, in
	// order of format; none is an empty list.
	SBOMs(ctx context.Context, versionID string) ([]domain.SBOM, error)

	// LatestRevocationList returns the newest signed list, or ErrNotFound.
	LatestRevocationList(ctx context.Context) (domain.RevocationListRecord, error)
	// ListRevocations returns every revoked version, oldest first.
	ListRevocations(ctx context.Context) ([]domain.Revocation, error)
}

// TrustChange is everything one change of trust writes.
type TrustChange struct {
	// VersionID, From and To move the version (compare-and-set, checked by
	// package lifecycle) when From is set; Reason says why.
	VersionID string
	From, To  lifecycle.State
	Reason    string
	// Certificate, when set, is stored for VersionID; its EventSeq is
	// the first of Entries.
	Certificate *domain.CertificateRecord
	// Provenance is the marketplace's signed provenance statement (DSSE
	// envelope JSON) for VersionID, kept when the version has none yet.
	Provenance []byte
	// SBOMs are the marketplace's SBOMs of VersionID, kept when the
	// version has none of that format yet; one it has already must be the
	// same document (ErrStateChanged otherwise: another process made its
	// own meanwhile, and the certificate listing this one must not be
	// stored).
	SBOMs []domain.SBOM
	// Revocation adds a version to the revoked set.
	Revocation *domain.Revocation
	// RevocationList must be numbered one above the latest list.
	RevocationList *domain.RevocationListRecord
	// Entries are the trust events queued for the log, in order.
	Entries [][]byte
	// Audit records the change; at least one event.
	Audit []audit.Event
	// ReleaseInto, when set with a move to certified, releases VersionID
	// into that environment (the first): it becomes the environment's
	// release at 100%, the release it replaces its previous one, with a
	// history line by ReleaseActor (issue 18). Its audit event and log
	// entry travel in Audit and Entries.
	ReleaseInto  string
	ReleaseActor string
}
