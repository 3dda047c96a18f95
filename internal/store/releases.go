package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Releases keeps what each environment runs (issue 18): one release per
// plugin and environment, its history, stewards' approvals, the kill
// switch and the signed status feeds.
//
// Every change writes its history line, its audit events and its
// transparency-log entries in one transaction.
type Releases interface {
	// ApplyRelease records a change of a release in one transaction.
	ApplyRelease(ctx context.Context, c ReleaseChange) error
	// GetRelease returns a plugin's release in an environment, or
	// ErrNotFound.
	GetRelease(ctx context.Context, pluginID, env string) (domain.Release, error)
	// ListReleases returns an environment's releases (every environment's
	// when env is empty), by plugin id; at most limit, more is an error.
	ListReleases(ctx context.Context, env string, limit int) ([]domain.Release, error)
	// PluginReleases returns a plugin's releases in every environment.
	PluginReleases(ctx context.Context, pluginID string) ([]domain.Release, error)
	// ReleaseHistory returns a plugin's history in an environment (every
	// environment's when env is empty), newest first, at most limit.
	ReleaseHistory(ctx context.Context, pluginID, env string, limit int) ([]domain.ReleaseRecord, error)

	// ApproveRelease records a steward's approval; a repeat changes
	// nothing and records nothing.
	ApproveRelease(ctx context.Context, a domain.ReleaseApproval, ev audit.Event) error
	// ReleaseApprovals lists a version's approvals for an environment.
	ReleaseApprovals(ctx context.Context, versionID, env string) ([]domain.ReleaseApproval, error)

	// KillPlugin records the kill switch with its log entry and audit
	// event; ErrConflict when the plugin is killed already.
	KillPlugin(ctx context.Context, k domain.PluginKill, entry []byte, ev audit.Event) error
	// ListKills lists killed plugins by id.
	ListKills(ctx context.Context) ([]domain.PluginKill, error)

	// SaveStatusFeed stores an environment's next signed feed with its log
	// entry and audit event: ErrStateChanged unless its sequence is one
	// above the latest (another process published first).
	SaveStatusFeed(ctx context.Context, f domain.StatusFeedRecord, entry []byte, ev audit.Event) error
	// LatestStatusFeed returns an environment's newest feed, or
	// ErrNotFound.
	LatestStatusFeed(ctx context.Context, env string) (domain.StatusFeedRecord, error)
}

// ReleaseChange is one change of a release.
type ReleaseChange struct {
	// Release is the new row. When Expect is set the row must still have
	// that UpdatedAt (compare-and-set, ErrStateChanged otherwise); when it
	// is zero the row must not exist yet, unless Replace is set.
	Release domain.Release
	Expect  domain.Release
	Replace bool
	// Record is the history line.
	Record domain.ReleaseRecord
	// Entries are the transparency-log entries queued with the change.
	Entries [][]byte
	// Audit records the change; at least one event.
	Audit []audit.Event
}
