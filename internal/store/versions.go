package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Versions keeps the submitted versions of plugins and moves them through
// their lifecycle.
//
// A version is created, and changes state, only together with the audit
// events that record it, in one transaction. Everything but a version's
// state and reason is immutable once stored.
type Versions interface {
	// CreateVersion records a new version (and its plugin and namespace
	// rows when they do not exist yet). When namespace/name@version exists
	// with the same digest, it returns that version and created=false; with
	// another digest, ErrConflict.
	CreateVersion(ctx context.Context, v domain.Version, events []audit.Event) (stored domain.Version, created bool, err error)
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	// ListVersionsOf returns the versions of each plugin of a page, in
	// ListVersions' order, in one read.
	ListVersionsOf(ctx context.Context, pluginIDs []string) (map[string][]domain.Version, error)
	FindVersions(ctx context.Context, q domain.VersionQuery) ([]domain.Version, error)
	// VersionByDigest returns a version whose package has this digest.
	VersionByDigest(ctx context.Context, digest string) (domain.Version, error)
	// DigestReferenced reports whether any record names this blob digest.
	DigestReferenced(ctx context.Context, digest string) (bool, error)

	// Transition moves a version from one state to another, checked by
	// package lifecycle and by compare-and-set on the current state
	// (ErrStateChanged when it moved), with the audit event in the same
	// transaction. ev's OldState and NewState are filled in.
	Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error
}
