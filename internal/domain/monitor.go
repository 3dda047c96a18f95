package domain

import "time"

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
	ID        int64
	VersionID string
	Host      string // the reporting token's subject
	// Environment is the reporting host's environment (its token's).
	Environment string
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

// HealthVote is one voter's standing against a version in the host health
// quorum: a host (by its token's subject) whose reports judged the version
// failing, or a steward who confirmed those reports. One row per version,
// kind and voter: a host that reports a thousand times still has one vote,
// so only distinct hosts make a quorum.
type HealthVote struct {
	VersionID string
	Voter     string // the host token's or the steward's subject
	Kind      string // "host" or "steward"
	FirstAt   time.Time
	LastAt    time.Time // the latest failing report or confirmation
	Reports   int64     // how many failing reports (or confirmations) it cast
	Reason    string    // the latest report's verdict, or the steward's reason
}

// HostAPIVersion is a published host API version (issue 19 item 6): its
// functions and capabilities, and the deprecation of an older version it
// announces. Published once, never changed.
type HostAPIVersion struct {
	Version string // SemVer
	// Spec is the version's capabilities file as normalized JSON (a
	// hostapi.Spec).
	Spec []byte
	// Deprecates is the older version this one replaces ("" for none);
	// Sunset is the date hosts may stop offering it (zero for none), and
	// MigrationURL where authors read how to move.
	Deprecates   string
	Sunset       time.Time
	MigrationURL string
	PublishedBy  string
	PublishedAt  time.Time
}

// Confirmation results of a compatibility row.
const (
	CompatUnconfirmed = ""             // only the imports were read so far
	CompatPassed      = "passed"       // loaded, and every scenario passed
	CompatFailed      = "failed"       // did not load, or a scenario failed
	CompatNoScenarios = "no-scenarios" // loaded; the package has none to run
)

// HostAPICompat is one cell of the compatibility matrix: how a plugin
// version fares under a host API version.
type HostAPICompat struct {
	VersionID     string
	HostAPI       string
	PluginID      string
	PluginVersion string
	Status        string // hostapi.Compatible, Deprecated or Broken
	Usages        []byte // JSON []hostapi.Usage
	Confirmed     string // one of the Compat* constants
	Detail        string // what the confirmation run found
	CheckedAt     time.Time
}

// CompatQuery selects matrix cells; empty fields match everything.
type CompatQuery struct {
	HostAPI   string
	PluginID  string
	Namespace string
	VersionID string
	Limit     int
}

// HostAPINotice is a sunset notice sent to the authors of a plugin.
type HostAPINotice struct {
	PluginID  string
	HostAPI   string // the version that sunsets
	Threshold int    // days before the sunset: 90, 30 or 7
	Sunset    time.Time
	SentAt    time.Time
}
