package domain

import "time"

// The read models of the dashboards: aggregates over many records, computed
// by the store and shown as they are.

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

// CatalogEntry is a plugin with the version a catalog shows for it.
type CatalogEntry struct {
	Plugin  Plugin
	Version Version
	Tier    string // from the version's newest verdict; "" when not triaged
	Weight  int
}
