package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// InsightStore answers the aggregate questions dashboards ask (counts per
// week, queue ages, hotspots) without loading every record.
//
// Weeks start on Monday 00:00 UTC. Every method bounds what it reads: a
// window given by the caller, and at most MaxInsightRows rows back.
type InsightStore interface {
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

// ExpiringCertificate is a certified version and its certificate's expiry.
type ExpiringCertificate struct {
	VersionID string
	PluginID  string
	Version   string
	ExpiresAt time.Time
}

// ErrorRate is what hosts reported of one version over a period.
type ErrorRate struct {
	VersionID    string
	PluginID     string
	Version      string
	Hosts        int
	Calls        int64
	Errors       int64
	Denials      int64
	BreakerTrips int64
}

// Rate is Errors per call, 0 without calls.
func (e ErrorRate) Rate() float64 {
	if e.Calls == 0 {
		return 0
	}
	return float64(e.Errors) / float64(e.Calls)
}

// MaxInsightRows bounds the rows any InsightStore method returns.
const MaxInsightRows = 500

// WeekStart returns the start of t's week (Monday 00:00 UTC).
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	wd := (int(d.Weekday()) + 6) % 7 // Monday is 0
	return d.AddDate(0, 0, -wd)
}

// WeekActivity is one week's intake and triage.
type WeekActivity struct {
	Week         time.Time // Monday 00:00 UTC
	Submissions  int       // versions received
	AutoApproved int       // verdicts by outcome
	InReview     int
	Rejected     int
}

// Stage names a measured part of the lifecycle.
type Stage string

const (
	// StageReview runs from a version first entering review to the first
	// decision that takes it out (approval, rejection, request for changes).
	StageReview Stage = "review"
	// StageRemediation runs from a version being sent back (rejected,
	// changes requested, suspended) to the plugin's next certification of
	// another version.
	StageRemediation Stage = "remediation"
)

// WeekDurations summarises the durations of a stage that ended in one week.
type WeekDurations struct {
	Week  time.Time
	Count int
	Total time.Duration
	Max   time.Duration
}

// Mean is the average duration, 0 when Count is 0.
func (w WeekDurations) Mean() time.Duration {
	if w.Count == 0 {
		return 0
	}
	return w.Total / time.Duration(w.Count)
}

// QueueStats describes the review queue.
type QueueStats struct {
	Open          int       // items waiting for people
	Overdue       int       // open items past their deadline
	Escalated     int       // open items escalated for a missed deadline
	Claimed       int       // open items with an unexpired claim
	OldestCreated time.Time // when the oldest open item entered the queue; zero when empty
	// VetQueued counts vetting jobs queued or running; OldestVetJob is the
	// creation time of the oldest of them.
	VetQueued    int
	OldestVetJob time.Time
	// MissedDeadlines counts items, open or closed, ever escalated for a
	// missed deadline.
	MissedDeadlines int
}

// HotspotQuery selects a ranking.
type HotspotQuery struct {
	By    HotspotKind
	Since time.Time
	Limit int // 1..MaxInsightRows; 0 means 10
}

// HotspotKind is what hotspots are grouped by.
type HotspotKind string

const (
	ByPermission HotspotKind = "permission" // a requested permission, as written
	ByPublisher  HotspotKind = "publisher"  // a namespace
	ByRule       HotspotKind = "rule"       // an analyzer rule id
)

// Hotspot is one ranked group.
type Hotspot struct {
	Key      string
	Versions int // versions concerned
	// Rejected counts those versions now rejected (permission, publisher).
	Rejected int
	// Findings counts unsuppressed failing findings (rule).
	Findings int
	// MeanWeight is the mean triage weight of the versions concerned that
	// were triaged (permission, publisher).
	MeanWeight float64
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

// CatalogEntry is a plugin with the version a catalog shows for it.
type CatalogEntry struct {
	Plugin  Plugin
	Version Version
	Tier    string // from the version's newest verdict; "" when not triaged
	Weight  int
}
