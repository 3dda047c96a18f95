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
