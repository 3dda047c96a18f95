package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Monitor keeps what keeps certification honest after approval:
// revalidation schedules, the package-to-version component index, the host
// API versions the platform offers, and host health reports.
//
// Schedules, offers and health reports are written with their audit events
// in one transaction. The component index is derived from vetting results
// and is not audited.
type Monitor interface {
	// Revalidation schedule: one row per version that was ever certified.
	//
	// UnscheduledVersions lists versions in one of states that have no
	// schedule yet, oldest first.
	UnscheduledVersions(ctx context.Context, states []lifecycle.State, limit int) ([]domain.Version, error)
	// SaveRevalidation creates or replaces a version's schedule, with the
	// audit events that record why, in one transaction.
	SaveRevalidation(ctx context.Context, r domain.Revalidation, evs []audit.Event) error
	// GetRevalidation returns a version's schedule, or ErrNotFound.
	GetRevalidation(ctx context.Context, versionID string) (domain.Revalidation, error)
	// DueRevalidations lists the schedules of certified versions whose
	// NextAt is at or before now and of suspended versions whose remediation
	// Deadline is, earliest first.
	DueRevalidations(ctx context.Context, now time.Time, limit int) ([]domain.Revalidation, error)
	// ListRevalidations lists schedules of versions in one of states (all
	// states when empty), in version id order after AfterVersion.
	ListRevalidations(ctx context.Context, q domain.RevalidationQuery) ([]domain.Revalidation, error)

	// Component index: what each vetted version ships, by package.
	//
	// IndexComponents replaces the components recorded for a version.
	IndexComponents(ctx context.Context, versionID string, cs []domain.Component) error
	// ComponentUsers returns the uses of any of the named packages of one
	// ecosystem by versions in one of states, at most limit rows (more
	// fails rather than silently dropping some).
	ComponentUsers(ctx context.Context, ecosystem string, names []string, states []lifecycle.State, limit int) ([]domain.ComponentUse, error)

	// Host API versions the platform offers.
	//
	// OfferHostAPI records a version the platform offers (idempotent),
	// with its audit event.
	OfferHostAPI(ctx context.Context, o domain.HostAPIOffer, ev audit.Event) error
	// ListHostAPIs lists the offered versions, newest offer first.
	ListHostAPIs(ctx context.Context) ([]domain.HostAPIOffer, error)

	// Host health.
	//
	// SaveHealthReports records reports from one host, with the audit
	// events (alerts) they raise, in one transaction.
	SaveHealthReports(ctx context.Context, rs []domain.HealthReport, evs []audit.Event) error
	// RecordHealthReports records reports (possibly none), the quorum
	// votes they cast and the audit events, in one transaction. A vote
	// whose version, kind and voter already stand moves its LastAt on (never
	// back) and adds its Reports, so a voter is counted once.
	RecordHealthReports(ctx context.Context, rs []domain.HealthReport, votes []domain.HealthVote, evs []audit.Event) error
	// ListHealthVotes lists a version's votes last cast at or after since,
	// latest first, at most limit.
	ListHealthVotes(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthVote, error)
	// ListHealthReports lists a version's reports received at or after
	// since, newest first, at most limit.
	ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthReport, error)
}
