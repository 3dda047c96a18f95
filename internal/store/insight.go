package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Insight answers the aggregate questions dashboards ask (counts per
// week, queue ages, hotspots) without loading every record.
//
// Weeks start on Monday 00:00 UTC. Every method bounds what it reads: a
// window given by the caller, and at most MaxInsightRows rows back. It only
// reads: nothing here changes state or writes audit events.
type Insight interface {
	// WeeklyActivity counts, per week in [from, to), the versions received
	// and the triage verdicts by outcome. Weeks with nothing are omitted.
	WeeklyActivity(ctx context.Context, from, to time.Time) ([]domain.WeekActivity, error)
	// StageTimes measures one stage of the lifecycle per week in which the
	// stage ended, for stages that ended in [from, to).
	StageTimes(ctx context.Context, stage domain.Stage, from, to time.Time) ([]domain.WeekDurations, error)
	// QueueStats describes the open review queue and the vetting backlog at
	// now.
	QueueStats(ctx context.Context, now time.Time) (domain.QueueStats, error)
	// StateCounts counts versions by their current state.
	StateCounts(ctx context.Context) (map[lifecycle.State]int, error)
	// Hotspots ranks permissions, publishers or rules by the risk of the
	// versions received since q.Since.
	Hotspots(ctx context.Context, q domain.HotspotQuery) ([]domain.Hotspot, error)
	// SearchAudit returns audit events matching f, newest first.
	SearchAudit(ctx context.Context, f domain.AuditFilter) ([]audit.Event, error)
	// CatalogEntries lists plugins with their newest version in one of
	// q.States, and that version's risk tier.
	CatalogEntries(ctx context.Context, q domain.CatalogQuery) ([]domain.CatalogEntry, error)
	// ExpiringCertificates lists certified versions whose newest
	// certificate expires before before, soonest first, at most limit.
	ExpiringCertificates(ctx context.Context, before time.Time, limit int) ([]domain.ExpiringCertificate, error)
	// HostErrorRates sums the health reports received since, per version,
	// highest error rate first, at most limit.
	HostErrorRates(ctx context.Context, since time.Time, limit int) ([]domain.ErrorRate, error)
}

// MaxInsightRows bounds the rows any Insight method returns.
const MaxInsightRows = 500

// WeekStart returns the start of t's week (domain.WeekStart).
func WeekStart(t time.Time) time.Time { return domain.WeekStart(t) }
