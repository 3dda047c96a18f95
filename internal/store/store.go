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
)

// ErrTooLarge is store's own error; not found, conflict and state changed
// are the domain's (domain.ErrNotFound and the others).
var (
	// ErrTooLarge: Blobs.Stage was given more bytes than its limit.
	ErrTooLarge = errors.New("too large")
)

// Store holds every record. It is the sum of one interface per aggregate,
// each in the file of its aggregate, so that a driver implements one Store
// while a consumer names only the part it needs (or, better, declares the
// few methods it calls).
//
// The contract every part keeps: a method that changes state takes the
// audit events that record the change and writes them in the same
// transaction, after the writers before it (the trail is one hash chain);
// if the change fails, no event is written, and a write that changes
// nothing records nothing. The exceptions are operational records that
// are not audited, each said on its interface (jobs, webhook deliveries,
// the component index, the transparency log's progress).
type Store interface {
	Tokens
	Namespaces
	Versions
	Catalog
	AuditTrail
	Jobs
	Vetting
	Reviews
	Policies
	Trust
	Monitor
	Notify
	Insight
	Leases

	// Ping reports whether the database answers (readiness probes).
	Ping(ctx context.Context) error
	Close() error
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
