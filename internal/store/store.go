// Package store defines where Gatehouse keeps its state: the records
// (namespaces, tokens, plugins and their versions, the audit trail) and the
// blobs (package bytes, by digest). Two implementations of Store, SQLite and
// PostgreSQL, pass one conformance suite (package storetest).
//
// Every method that changes state takes the audit events that record the
// change and writes them in the same transaction: there is no state change
// without its audit event, and no audit event for a change that did not
// happen.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Errors callers match with errors.Is. The first three are the domain's
// (package domain); store's names stay during the move to it.
var (
	ErrNotFound     = domain.ErrNotFound
	ErrConflict     = domain.ErrConflict
	ErrStateChanged = domain.ErrStateChanged
	// ErrTooLarge: Blobs.Stage was given more bytes than its limit.
	ErrTooLarge = errors.New("too large")
)

// The records are the domain's nouns (package domain). These aliases keep
// store's names compiling while callers move to domain's; they go once
// none is left.
type (
	Role         = domain.Role
	Token        = domain.Token
	Namespace    = domain.Namespace
	Version      = domain.Version
	File         = domain.File
	Plugin       = domain.Plugin
	Verdict      = domain.Verdict
	ReviewItem   = domain.ReviewItem
	Approval     = domain.Approval
	PolicyRecord = domain.PolicyRecord
	Message      = domain.Message
	Job          = domain.Job
	VetRun       = domain.VetRun
	Suppression  = domain.Suppression
)

// Roles, during the move to package domain.
const (
	RoleAdmin     = domain.RoleAdmin
	RolePublisher = domain.RolePublisher
	RoleReviewer  = domain.RoleReviewer
	RoleSteward   = domain.RoleSteward
	RoleAuditor   = domain.RoleAuditor
	RoleHost      = domain.RoleHost
)

// Roles lists every role (domain.Roles).
var Roles = domain.Roles

// PluginQuery filters and pages the catalog.
type PluginQuery struct {
	Search    string // substring of id, name or description, case-insensitive
	Namespace string
	Limit     int // 1..500; 0 means 50
	Offset    int
}

// VersionQuery filters versions across plugins.
type VersionQuery struct {
	State lifecycle.State // empty: any
	Limit int
}

// AuditQuery filters the trail. Zero values mean "any".
type AuditQuery struct {
	Subject  string
	AfterSeq int64
	Limit    int // 0: no limit
}

// Store holds every record.
type Store interface {
	// Trust: publisher keys, certificates, the transparency log's outbox,
	// revocation lists (internal/store/trust.go).
	TrustStore
	// Monitoring: revalidation, component index, webhooks, incidents,
	// host health (internal/store/monitor.go).
	MonitorStore
	// Notifications and incidents: webhook subscriptions and deliveries,
	// incidents, hunting rules (internal/store/notify.go).
	NotifyStore
	// Insight: the aggregate reads behind dashboards (internal/store/insight.go).
	InsightStore

	// Tokens.
	CreateToken(ctx context.Context, t Token, ev audit.Event) error
	// TokenByHash finds a token by the SHA-256 of its secret. The caller
	// still checks expiry and revocation.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time, ev audit.Event) error

	// Namespaces.
	CreateNamespace(ctx context.Context, ns Namespace, ev audit.Event) error
	GetNamespace(ctx context.Context, name string) (Namespace, error)
	ListNamespaces(ctx context.Context) ([]Namespace, error)

	// CreateVersion records a new version (and its plugin and namespace
	// rows when they do not exist yet). When namespace/name@version exists
	// with the same digest, it returns that version and created=false; with
	// another digest, ErrConflict.
	CreateVersion(ctx context.Context, v Version, events []audit.Event) (stored Version, created bool, err error)
	GetVersion(ctx context.Context, id string) (Version, error)
	GetVersionByName(ctx context.Context, pluginID, version string) (Version, error)
	ListVersions(ctx context.Context, pluginID string) ([]Version, error)
	FindVersions(ctx context.Context, q VersionQuery) ([]Version, error)
	// VersionByDigest returns a version whose package has this digest.
	VersionByDigest(ctx context.Context, digest string) (Version, error)
	// DigestReferenced reports whether any record names this blob digest.
	DigestReferenced(ctx context.Context, digest string) (bool, error)

	// Transition moves a version from one state to another, checked by
	// package lifecycle and by compare-and-set on the current state
	// (ErrStateChanged when it moved), with the audit event in the same
	// transaction. ev's OldState and NewState are filled in.
	Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error

	// Catalog.
	ListPlugins(ctx context.Context, q PluginQuery) ([]Plugin, error)
	GetPlugin(ctx context.Context, id string) (Plugin, error)

	// Audit trail. AppendAudit is for events that go with no other write
	// (a failed sign-in, an export).
	AppendAudit(ctx context.Context, ev audit.Event) error
	// ScanAudit calls fn for each event in Seq order.
	ScanAudit(ctx context.Context, q AuditQuery, fn func(audit.Event) error) error

	// Background jobs. At most one job per (Kind, Key) is queued or running
	// at a time, so the same version is never vetted twice at once.
	//
	// EnqueueJob adds j unless one with its Kind and Key is already queued or
	// running (then enqueued is false).
	EnqueueJob(ctx context.Context, j Job) (enqueued bool, err error)
	// ClaimJob leases the next due job of one of kinds until now+lease, or
	// returns ErrNotFound. A job whose lease ran out (its worker died) is due
	// again.
	ClaimJob(ctx context.Context, kinds []string, now time.Time, lease time.Duration) (Job, error)
	// FinishJob marks a claimed job done.
	FinishJob(ctx context.Context, id int64, now time.Time) error
	// RetryJob puts a claimed job back in the queue for at, with its error.
	RetryJob(ctx context.Context, id int64, lastErr string, at time.Time) error
	// FailJob gives up on a job (it stays, with its error, for operators).
	FailJob(ctx context.Context, id int64, lastErr string, now time.Time) error
	// ListJobs lists jobs in a state ("queued", "running", "done", "failed").
	ListJobs(ctx context.Context, state string, limit int) ([]Job, error)

	// Vetting results. Each run of the analyzers over a version is kept.
	// SaveVetRun assigns r.Run (1, 2, …) and records ev in the same
	// transaction.
	SaveVetRun(ctx context.Context, r VetRun, ev audit.Event) (VetRun, error)
	// LatestVetRun returns the newest run for a version, or ErrNotFound.
	LatestVetRun(ctx context.Context, versionID string) (VetRun, error)

	// False-positive decisions, per plugin and finding fingerprint; they
	// carry forward to later versions of the plugin.
	AddSuppression(ctx context.Context, s Suppression, ev audit.Event) error
	ListSuppressions(ctx context.Context, pluginID string) ([]Suppression, error)

	// Triage and review. A version's verdicts (one per triage) are kept;
	// a review item is open while the version is in review (the store closes
	// it when the version leaves in_review).
	SaveVerdict(ctx context.Context, v Verdict, ev audit.Event) (Verdict, error)
	LatestVerdict(ctx context.Context, versionID string) (Verdict, error)
	OpenReview(ctx context.Context, item ReviewItem, ev audit.Event) error
	GetReview(ctx context.Context, versionID string) (ReviewItem, error)
	// ListReviews pages the open queue: earliest deadline first, then the
	// highest weight.
	ListReviews(ctx context.Context, q ReviewQuery) ([]ReviewItem, error)
	// ClaimReview gives reviewer the item until until; ErrConflict when
	// another reviewer holds an unexpired claim.
	ClaimReview(ctx context.Context, versionID, reviewer string, now, until time.Time, ev audit.Event) (ReviewItem, error)
	// AddApproval records one reviewer's approval (ErrConflict when that
	// reviewer approved already) and returns how many distinct reviewers
	// have approved.
	AddApproval(ctx context.Context, a Approval, ev audit.Event) (int, error)
	ListApprovals(ctx context.Context, versionID string) ([]Approval, error)
	// EscalateOverdue marks open items past their deadline (once each) with
	// an audit event per item, and returns them.
	EscalateOverdue(ctx context.Context, now time.Time) ([]ReviewItem, error)
	// AddMessage appends to a plugin's review thread.
	AddMessage(ctx context.Context, m Message, ev audit.Event) (Message, error)
	ListMessages(ctx context.Context, pluginID string) ([]Message, error)

	// Policies. ApplyPolicy makes p the active policy (recording it if new);
	// ActivePolicy returns ErrNotFound before any was applied.
	ApplyPolicy(ctx context.Context, p PolicyRecord, ev audit.Event) error
	ActivePolicy(ctx context.Context) (PolicyRecord, error)
	ListPolicies(ctx context.Context) ([]PolicyRecord, error)

	// Auto-approval switches, by scope ("plugin:NS/NAME" or "namespace:NS").
	// SetAutoApprovalOff turns auto-approval off (off=true) or back on.
	SetAutoApprovalOff(ctx context.Context, scope string, off bool, by, reason string, ev audit.Event) error
	// AutoApprovalOff reports which of the plugin's scopes are switched off.
	AutoApprovalOff(ctx context.Context, pluginID string) (plugin, namespace bool, err error)

	Close() error
}

// ReviewQuery pages the queue.
type ReviewQuery struct {
	Limit  int // 1..500, 0 means 50
	Offset int
}

// Blobs holds package bytes by digest on disk or in an object store.
type Blobs interface {
	// Stage streams r to a temporary place, hashing as it goes, and refuses
	// more than max bytes. Nothing is visible until Commit.
	Stage(ctx context.Context, r io.Reader, max int64) (Staged, error)
	// Open returns the blob's bytes; the caller checks the digest while
	// reading (VerifyingReader).
	Open(ctx context.Context, digest string) (io.ReadCloser, int64, error)
	Exists(ctx context.Context, digest string) (bool, error)
	Delete(ctx context.Context, digest string) error
	// List calls fn for every stored digest.
	List(ctx context.Context, fn func(digest string, modTime time.Time) error) error
}

// Staged is a blob written but not yet visible.
type Staged interface {
	Digest() string // "sha256:HEX"
	Size() int64
	// Path is a local file holding the bytes, for reading before commit.
	Path() string
	// Commit makes the blob durable and visible under its digest
	// (idempotent when it already exists).
	Commit(ctx context.Context) error
	// Abort removes the staged bytes; safe after Commit (then a no-op).
	Abort() error
}
