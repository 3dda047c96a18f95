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
	WeeklyActivity(ctx context.Context, from, to time.Time) ([]WeekActivity, error)
	// StageTimes measures one stage of the lifecycle per week in which the
	// stage ended, for stages that ended in [from, to).
	StageTimes(ctx context.Context, stage Stage, from, to time.Time) ([]WeekDurations, error)
	// QueueStats describes the open review queue and the vetting backlog at
	// now.
	QueueStats(ctx context.Context, now time.Time) (QueueStats, error)
	// StateCounts counts versions by their current state.
	StateCounts(ctx context.Context) (map[lifecycle.State]int, error)
	// Hotspots ranks permissions, publishers or rules by the risk of the
	// versions received since q.Since.
	Hotspots(ctx context.Context, q HotspotQuery) ([]Hotspot, error)
	// SearchAudit returns audit events matching f, newest first.
	SearchAudit(ctx context.Context, f AuditFilter) ([]audit.Event, error)
	// CatalogEntries lists plugins with their newest version in one of
	// q.States, and that version's risk tier.
	CatalogEntries(ctx context.Context, q CatalogQuery) ([]CatalogEntry, error)
	// ExpiringCertificates lists certified versions whose newest
	// certificate expires before before, soonest first, at most limit.
	ExpiringCertificates(ctx context.Context, before time.Time, limit int) ([]ExpiringCertificate, error)
	// HostErrorRates sums the health reports received since, per version,
	// highest error rate first, at most limit.
	HostErrorRates(ctx context.Context, since time.Time, limit int) ([]ErrorRate, error)
}

// MaxInsightRows bounds the rows any Insight method returns.
const MaxInsightRows = 500

// HotspotQuery selects a ranking.
type HotspotQuery struct {
	By    HotspotKind
	Since time.Time
	Limit int // 1..MaxInsightRows; 0 means 10
}

// AuditFilter selects audit events. Zero values mean "any".
type AuditFilter struct {
	Actor   string
	Action  string // exact, or a prefix ending in "." ("submission.")
	Subject string // exact, or a prefix ending in ":" ("submission:")
	Since   time.Time
	Until   time.Time // exclusive
	// BeforeSeq pages backwards: only events with a smaller seq.
	BeforeSeq int64
	Limit     int // 1..MaxInsightRows; 0 means 100
}

// CatalogQuery filters the catalog in the store; finer filters (permission
// kind, badges) are applied by the caller to the entries it gets.
type CatalogQuery struct {
	Search string            // substring of id, name or description, case-insensitive
	States []lifecycle.State // the version shown is the newest in one of these; required
	Tier   string            // the shown version's risk tier; "" for any
	Limit  int               // 1..MaxInsightRows; 0 means 50
	Offset int
}

// Domain records (package domain), aliased during the move to it.
type (
	ExpiringCertificate = domain.ExpiringCertificate
	ErrorRate           = domain.ErrorRate
	WeekActivity        = domain.WeekActivity
	Stage               = domain.Stage
	WeekDurations       = domain.WeekDurations
	QueueStats          = domain.QueueStats
	HotspotKind         = domain.HotspotKind
	Hotspot             = domain.Hotspot
	CatalogEntry        = domain.CatalogEntry
)

// WeekStart returns the start of t's week (domain.WeekStart).
func WeekStart(t time.Time) time.Time { return domain.WeekStart(t) }

// Stages (package domain).
const (
	StageReview      = domain.StageReview
	StageRemediation = domain.StageRemediation
)

// Hotspot kinds (package domain).
const (
	ByPermission = domain.ByPermission
	ByPublisher  = domain.ByPublisher
	ByRule       = domain.ByRule
)
