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
	// Flows is the reviewer's decision on each data flow of the version:
	// true approved, false refused. A flow it does not name is approved
	// (approvals from before flows were decided one by one name none).
	Flows     map[string]bool
	CreatedAt time.Time
}

// Refuses reports whether the approval refuses the flow id.
func (a Approval) Refuses(id string) bool {
	ok, named := a.Flows[id]
	return named && !ok
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
