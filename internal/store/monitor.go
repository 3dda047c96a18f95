package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// MonitorStore keeps what keeps certification honest after approval:
// revalidation schedules, the package-to-version component index, the host
// API versions the platform offers, and host health reports.
type MonitorStore interface {
	// Revalidation schedule: one row per version that was ever certified.
	//
	// UnscheduledVersions lists versions in one of states that have no
	// schedule yet, oldest first.
	UnscheduledVersions(ctx context.Context, states []lifecycle.State, limit int) ([]Version, error)
	// SaveRevalidation creates or replaces a version's schedule, with the
	// audit events that record why, in one transaction.
	SaveRevalidation(ctx context.Context, r Revalidation, evs []audit.Event) error
	// GetRevalidation returns a version's schedule, or ErrNotFound.
	GetRevalidation(ctx context.Context, versionID string) (Revalidation, error)
	// DueRevalidations lists the schedules of certified versions whose
	// NextAt is at or before now and of suspended versions whose remediation
	// Deadline is, earliest first.
	DueRevalidations(ctx context.Context, now time.Time, limit int) ([]Revalidation, error)
	// ListRevalidations lists schedules of versions in one of states (all
	// states when empty), in version id order after AfterVersion.
	ListRevalidations(ctx context.Context, q RevalidationQuery) ([]Revalidation, error)

	// Component index: what each vetted version ships, by package.
	//
	// IndexComponents replaces the components recorded for a version.
	IndexComponents(ctx context.Context, versionID string, cs []Component) error
	// ComponentUsers returns the uses of any of the named packages of one
	// ecosystem by versions in one of states, at most limit rows (more
	// fails rather than silently dropping some).
	ComponentUsers(ctx context.Context, ecosystem string, names []string, states []lifecycle.State, limit int) ([]ComponentUse, error)

	// Host API versions the platform offers.
	//
	// OfferHostAPI records a version the platform offers (idempotent),
	// with its audit event.
	OfferHostAPI(ctx context.Context, o HostAPIOffer, ev audit.Event) error
	// ListHostAPIs lists the offered versions, newest offer first.
	ListHostAPIs(ctx context.Context) ([]HostAPIOffer, error)

	// Host health.
	//
	// SaveHealthReports records reports from one host, with the audit
	// events (alerts) they raise, in one transaction.
	SaveHealthReports(ctx context.Context, rs []HealthReport, evs []audit.Event) error
	// ListHealthReports lists a version's reports received at or after
	// since, newest first, at most limit.
	ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]HealthReport, error)
}

// Revalidation is one version's revalidation schedule and where it stands.
type Revalidation struct {
	VersionID string
	PluginID  string
	Tier      string
	// NextAt is when the version is next revalidated.
	NextAt time.Time
	// Deadline is the remediation deadline of a suspended version: past
	// it, with no fixed version certified, the version is revoked. Zero
	// while the version is in good standing.
	Deadline time.Time
	// LastRunAt, LastOutcome ("passed", "failed", "revoked", "superseded")
	// and LastReason describe the latest revalidation.
	LastRunAt   time.Time
	LastOutcome string
	LastReason  string
	// NeedsReview routes the next revalidation to people (hosts reported
	// the version unhealthy, or a steward asked): the version is suspended
	// with the reason rather than renewed on the analyzers' word alone.
	NeedsReview bool
	// ReviewReason says why people must look.
	ReviewReason string
	UpdatedAt    time.Time
}

// RevalidationQuery pages schedules.
type RevalidationQuery struct {
	States       []lifecycle.State
	AfterVersion string
	Limit        int // 1..1000; 0 means 100
}

// Component is one package a version ships, as the dependencies analyzer
// found it (Go build information or an SBOM).
type Component struct {
	Ecosystem string // OSV ecosystem: "Go", "npm", "PyPI", …
	Name      string // package name in that ecosystem
	Version   string
}

// ComponentUse is one version shipping one component.
type ComponentUse struct {
	VersionID string
	Component
}

// HostAPIOffer is a host API version the platform offers.
type HostAPIOffer struct {
	Version   string // SemVer
	By        string
	OfferedAt time.Time
}

// HealthReport is what one host saw of one version over a window.
type HealthReport struct {
	ID          int64
	VersionID   string
	Host        string // the reporting token's subject
	WindowStart time.Time
	WindowEnd   time.Time
	Calls       int64
	// Errors counts failed calls by sandbox error kind ("timeout",
	// "memory", "trap", …).
	Errors       map[string]int64
	Denials      int64 // calls of host functions outside the grant
	BreakerTrips int64
	ReceivedAt   time.Time
}

// ErrorCount is the sum of Errors.
func (r HealthReport) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}
