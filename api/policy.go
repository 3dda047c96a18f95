package api

import "time"

// Policy is the active triage policy: its digest, its Rego files and every
// policy applied before it.
type Policy struct {
	Digest  string            `json:"digest"`
	History []PolicyVersion   `json:"history"`
	Modules map[string]string `json:"modules"` // file name → Rego
}

// PolicyVersion is a policy that was applied.
type PolicyVersion struct {
	Digest    string    `json:"digest"`
	AppliedBy string    `json:"appliedBy"`
	AppliedAt time.Time `json:"appliedAt"`
	Active    bool      `json:"active"`
}

// PolicyDryRun says what a proposed policy would change: the versions
// awaiting a decision it would decide differently, and the certified
// versions it would suspend.
type PolicyDryRun struct {
	Active       string             `json:"active"` // digest
	Differences  []PolicyDifference `json:"differences"`
	Proposed     string             `json:"proposed"` // digest
	WouldSuspend []PolicyImpact     `json:"wouldSuspend"`
}

// PolicyDifference is a version the two policies decide differently. Its
// keys are capitalised, unlike the rest of the API, because this answer
// has always spelt them so.
type PolicyDifference struct {
	Index   int    `json:"Index"` // the version's position among those compared
	Plugin  string `json:"Plugin"`
	Version string `json:"Version"`
	// Current and Proposed are the two outcomes (empty where that policy
	// failed to decide; CurrentErr and ProposedErr say why).
	Current  string `json:"Current"`
	Proposed string `json:"Proposed"`
	// Changes lists each decision field that differs, in a fixed order.
	Changes     []PolicyChange `json:"Changes"`
	CurrentErr  string         `json:"CurrentErr"`
	ProposedErr string         `json:"ProposedErr"`
}

// PolicyChange is one decision field the two policies set differently.
type PolicyChange struct {
	Field    string `json:"Field"` // "outcome", "tier", "deny", "gate no_new_origin", …
	Current  string `json:"Current"`
	Proposed string `json:"Proposed"`
}

// PolicyImpact is a certified version a proposed policy would suspend.
type PolicyImpact struct {
	Submission string   `json:"version"`
	Plugin     string   `json:"plugin"`
	Version    string   `json:"pluginVersion"`
	Tier       string   `json:"tier"`
	Problems   []string `json:"problems"`
}

// WebhookList is a page of subscriptions.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// DeliveryList is a page of the delivery log.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
}

// IncidentList is the incidents, newest first.
type IncidentList struct {
	Incidents []Incident `json:"incidents"`
}

// HuntRuleList is every hunting rule.
type HuntRuleList struct {
	Rules []HuntRule `json:"rules"`
}
