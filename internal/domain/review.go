package domain

import "time"

// Verdict is one triage decision over a version.
type Verdict struct {
	VersionID    string
	Seq          int
	PolicyDigest string
	Outcome      string // rejected, auto_approved, in_review
	Tier         string
	Weight       int
	Body         []byte // JSON: input, decision, explanation, dry run
	CreatedAt    time.Time
}

// ReviewItem is a version waiting for people.
type ReviewItem struct {
	VersionID         string
	PluginID          string
	Tier              string
	Weight            int
	ApprovalsRequired int
	Deadline          time.Time
	// PreferredReviewer is who asked for changes on the previous version:
	// the review picks up where it stopped.
	PreferredReviewer string
	ClaimedBy         string
	ClaimUntil        time.Time
	EscalatedAt       time.Time
	Open              bool
	CreatedAt         time.Time
}

// Approval is one reviewer's approval, possibly granting fewer permissions
// than the manifest asks for.
type Approval struct {
	VersionID string
	Reviewer  string
	Granted   []string
	CreatedAt time.Time
}

// PolicyRecord is an applied policy.
type PolicyRecord struct {
	Digest    string
	Modules   []byte // JSON object: file name → Rego source
	AppliedBy string
	AppliedAt time.Time
	Active    bool
}

// Message is an entry in a plugin's review thread.
type Message struct {
	ID        int64
	PluginID  string
	VersionID string
	Author    string
	Kind      string // comment, changes_requested, rejection, appeal, approval
	Body      string
	CreatedAt time.Time
}
