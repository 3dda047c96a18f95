package api

import (
	"encoding/json"
	"time"
)

// ReviewItem is an entry of the review queue.
type ReviewItem struct {
	ID                string    `json:"id"` // submission id
	Plugin            string    `json:"plugin"`
	Version           string    `json:"version"`
	Tier              string    `json:"tier"`
	Weight            int       `json:"weight"`
	ApprovalsRequired int       `json:"approvalsRequired"`
	Approvals         []string  `json:"approvals"` // who approved so far
	Deadline          time.Time `json:"deadline"`
	Overdue           bool      `json:"overdue"`
	ClaimedBy         string    `json:"claimedBy,omitempty"`
	ClaimUntil        time.Time `json:"claimUntil,omitzero"`
	PreferredReviewer string    `json:"preferredReviewer,omitempty"`
}

// ReviewList is the review queue, most urgent first.
type ReviewList struct {
	Items []ReviewItem `json:"items"`
}

// ReviewDetail is everything a reviewer decides on.
type ReviewDetail struct {
	Item       ReviewItem `json:"item"`
	Submission Submission `json:"submission"`
	// Verdict is the policy's triage of the version, when there is one.
	Verdict *Verdict `json:"verdict,omitempty"`
	// Changes says in plain language what this version asks for that the
	// last approved one did not (from the diff analyzer).
	Changes []string `json:"changes"`
	// Previous is the last approved version compared with ("" for a
	// first version); CodeDiff holds the text files that differ from it.
	Previous string          `json:"previous,omitempty"`
	CodeDiff []FileDiff      `json:"codeDiff"`
	Thread   []ReviewMessage `json:"thread"`
}

// ReviewMessage is an entry of a plugin's review thread in a
// ReviewDetail. Its keys are capitalised, unlike the rest of the API,
// because this answer has always spelt them so; Submission.Thread carries
// the same entries as Message.
type ReviewMessage struct {
	ID        int64     `json:"ID"`
	PluginID  string    `json:"PluginID"`
	VersionID string    `json:"VersionID"` // submission id
	Author    string    `json:"Author"`
	Kind      string    `json:"Kind"` // comment, changes_requested, rejection, appeal, approval
	Body      string    `json:"Body"`
	CreatedAt time.Time `json:"CreatedAt"`
}

// Verdict is the policy's triage of a version: where it goes, why, and
// the risk weight that orders the review queue. Its keys are snake_case,
// as the policy (Rego) sees them.
type Verdict struct {
	Outcome string `json:"outcome"` // rejected, auto_approved or in_review
	// Reasons say why, a sentence each.
	Reasons                 []string   `json:"reasons"`
	Tier                    string     `json:"tier"`
	Weight                  RiskWeight `json:"weight"`
	ApprovalsRequired       int        `json:"approvals_required"`
	ReviewDeadlineHours     int        `json:"review_deadline_hours"`
	CertificateLifetimeDays int        `json:"certificate_lifetime_days"`
	// PolicyDigest names the policy that decided.
	PolicyDigest string `json:"policy_digest"`
	// Input is exactly what the policy saw, and Decision what it answered
	// (docs/policy.md describes both).
	Input    json.RawMessage `json:"input"`
	Decision json.RawMessage `json:"decision"`
	// Explanation lists which rules fired and why.
	Explanation []string `json:"explanation"`
	// DryRun records what auto-approval would have decided.
	DryRun DryRun `json:"dry_run"`
}

// RiskWeight is a version's risk weight, factor by factor.
type RiskWeight struct {
	Total   int          `json:"total"`
	Factors []RiskFactor `json:"factors"`
}

// RiskFactor is one capped part of the risk weight.
type RiskFactor struct {
	Name   string `json:"name"`
	Value  int    `json:"value"` // after capping; 0 ≤ Value ≤ Cap
	Cap    int    `json:"cap"`
	Reason string `json:"reason"`
}

// DryRun is what auto-approval would have decided on its own.
type DryRun struct {
	WouldAutoApprove bool   `json:"would_auto_approve"`
	Mode             string `json:"mode"` // the policy's auto-approval mode: "on" or "dry_run"
	// Summary reads "would auto-approve: yes, because …" or "… no, because …".
	Summary     string `json:"summary"`
	FailedGates []Gate `json:"failed_gates"`
}

// Gate is one of auto-approval's conditions.
type Gate struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
}

// FileDiff is one file's change between the last approved version and
// this one: a unified diff for text, a note for binaries.
type FileDiff struct {
	Path   string `json:"path"`
	Status string `json:"status"` // added, removed, changed
	Diff   string `json:"diff,omitempty"`
}

// DecisionRequest is the body of approve, reject, request-changes,
// comment and appeal.
type DecisionRequest struct {
	// Granted narrows the permissions an approval grants; omitted grants
	// what the manifest asks for.
	Granted []string `json:"granted,omitempty"`
	// RefusedFlows names the data flows (their ids, "category>destination")
	// an approval refuses; every other flow of the version is approved. A
	// host grants no permission a refused flow rests on.
	RefusedFlows []string `json:"refused_flows,omitempty"`
	// Code is a rejection's reason code.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// AutoApprovalRequest switches auto-approval off or on for a plugin
// ("plugin:NS/NAME") or a namespace ("namespace:NS").
type AutoApprovalRequest struct {
	Scope  string `json:"scope"`
	Off    bool   `json:"off"`
	Reason string `json:"reason"`
}

// PolicyRequest carries policy sources: file name → Rego.
type PolicyRequest struct {
	Modules map[string]string `json:"modules"`
}
