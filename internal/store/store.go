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
	"fmt"
	"io"
	"strings"
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
	Releases
	HostAPIs
	Settings
	Retention

	// Ping reports whether the database answers (readiness probes).
	Ping(ctx context.Context) error
	Close() error
}

// BlobStore is where bytes live, chosen by URL (package blobstore): a
// local folder (blobfs) or an S3-compatible bucket (blobs3). It holds
// blobs by digest (packages) and small objects by path (the transparency
// log's tiles, entry bundles and checkpoints). Both drivers pass one
// conformance suite (package blobtest).
type BlobStore interface {
	Blobs
	Objects
	// Ping checks cheaply that the store answers (a stat of the folder, a
	// HEAD on the bucket), for readiness checks.
	Ping(ctx context.Context) error
	// CleanTmp removes what a crash between Stage and Commit left behind
	// and is older than olderThan: staged files, and in a bucket the
	// unfinished multipart uploads. A younger one may belong to an upload
	// in progress.
	CleanTmp(ctx context.Context, olderThan time.Duration) error
	// String names the store for messages (a folder, or s3://bucket/prefix
	// and its endpoint), never a credential.
	String() string
}

// Blobs holds package bytes by digest on disk or in an object store.
type Blobs interface {
	// Stage streams r to a temporary place, hashing as it goes, and refuses
	// more than max bytes. Nothing is visible until Commit.
	Stage(ctx context.Context, r io.Reader, max int64) (Staged, error)
	// Open returns the blob's bytes and size; domain.ErrNotFound when it
	// is absent. The reader checks the digest as it goes (a
	// VerifyingReader): bytes that do not hash to the digest fail the read
	// at EOF, with an error naming the blob.
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
	// Path is a local file holding the bytes, for reading before commit;
	// it is gone after Commit or Abort (a bucket's driver stages locally
	// and uploads on Commit).
	Path() string
	// Commit makes the blob durable and visible under its digest
	// (idempotent when it already exists).
	Commit(ctx context.Context) error
	// Abort removes the staged bytes; safe after Commit (then a no-op).
	Abort() error
}

// Objects holds small files by path: the transparency log's tiles, entry
// bundles and checkpoints. Keys are slash-separated paths (CheckObjectKey),
// such as "log/tile/8/0/000".
type Objects interface {
	// ReadObject returns the object's bytes, at most MaxObjectBytes; an
	// error matching fs.ErrNotExist when there is none.
	ReadObject(ctx context.Context, key string) ([]byte, error)
	// WriteObject creates or replaces the object atomically: a reader sees
	// the old bytes or the new, never a mix or nothing. data is at most
	// MaxObjectBytes.
	WriteObject(ctx context.Context, key string, data []byte) error
}

// Limits of Objects. A tile is 8 KiB and an entry bundle 256 entries; the
// limit bounds what one read holds in memory.
const (
	MaxObjectBytes   = 16 << 20
	MaxObjectKey     = 512 // bytes
	maxObjectSegment = 128 // bytes of one path segment
)

// CheckObjectKey refuses a key that could escape its folder or prefix or
// that a driver cannot store alike: it must be 1 to MaxObjectKey bytes of
// slash-separated segments, each 1 to 128 bytes of A-Z a-z 0-9 . _ - that
// does not start with a dot (so no "..", no hidden names, which the file
// driver keeps for its temporary files), with no leading, trailing or
// doubled slash.
func CheckObjectKey(key string) error {
	if key == "" || len(key) > MaxObjectKey {
		return fmt.Errorf("object key %q must be 1 to %d bytes", truncate(key), MaxObjectKey)
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("object key %q has an empty segment (a leading, trailing or doubled /)", truncate(key))
		case len(seg) > maxObjectSegment:
			return fmt.Errorf("object key %q has a segment longer than %d bytes", truncate(key), maxObjectSegment)
		case seg[0] == '.':
			return fmt.Errorf("object key %q has a segment starting with a dot (%q)", truncate(key), truncate(seg))
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("object key %q holds %q: only A-Z a-z 0-9 . _ - and / are allowed", truncate(key), string(rune(c)))
			}
		}
	}
	return nil
}
