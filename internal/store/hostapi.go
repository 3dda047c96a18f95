package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// HostAPIs keeps the published host API versions, the compatibility
// matrix of plugin versions against them, and the sunset notices sent.
//
// Publishing and notices are audited; the matrix is derived from vetting
// (a module's imports and a sandbox run of its scenarios), rewritten on
// every check like the component index, and not audited.
type HostAPIs interface {
	// PublishHostAPI records a published version and offers it (as
	// OfferHostAPI), with its audit event, in one transaction;
	// ErrConflict when the version is published already (a published
	// version never changes: publish a new one).
	PublishHostAPI(ctx context.Context, h domain.HostAPIVersion, ev audit.Event) error
	// GetHostAPI returns a published version, or ErrNotFound.
	GetHostAPI(ctx context.Context, version string) (domain.HostAPIVersion, error)
	// ListPublishedHostAPIs lists the published versions, newest
	// publication first.
	ListPublishedHostAPIs(ctx context.Context) ([]domain.HostAPIVersion, error)

	// SaveHostAPICompat creates or replaces matrix cells.
	SaveHostAPICompat(ctx context.Context, cs []domain.HostAPICompat) error
	// ListHostAPICompat lists matrix cells by plugin, plugin version and
	// host API version, at most q.Limit (MaxListRows when zero; more
	// fails rather than dropping cells).
	ListHostAPICompat(ctx context.Context, q domain.CompatQuery) ([]domain.HostAPICompat, error)

	// RecordHostAPINotice records a sunset notice with its audit event
	// (which the webhooks deliver); false, writing nothing, when the
	// notice for that plugin, version and threshold was recorded before.
	RecordHostAPINotice(ctx context.Context, n domain.HostAPINotice, ev audit.Event) (bool, error)
	// ListHostAPINotices lists the notices sent for plugins of namespace
	// (every plugin when ""), newest first, at most limit.
	ListHostAPINotices(ctx context.Context, namespace string, limit int) ([]domain.HostAPINotice, error)
}
