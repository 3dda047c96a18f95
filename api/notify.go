package api

import "time"

// Webhook is a subscription to events (never its secret).
type Webhook struct {
	ID             string    `json:"id"`
	Owner          string    `json:"owner"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Namespace      string    `json:"namespace,omitempty"`
	Plugin         string    `json:"plugin,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	DisabledAt     time.Time `json:"disabledAt,omitzero"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	// Secret is set only in the answer that created the subscription.
	Secret string `json:"secret,omitempty"`
}

// Delivery is one event for one subscription.
type Delivery struct {
	ID          int64     `json:"id"`
	Webhook     string    `json:"webhook"`
	Event       int64     `json:"event"`
	Type        string    `json:"type"`
	MessageID   string    `json:"messageId"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	LastStatus  int       `json:"lastStatus,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Attempt     []Attempt `json:"attemptLog,omitempty"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status,omitempty"`
	LatencyMS  float64   `json:"latencyMs"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

// Incident is a security incident and how long it took to contain and
// to remediate.
type Incident struct {
	ID                     string    `json:"id"`
	Title                  string    `json:"title"`
	Summary                string    `json:"summary,omitempty"`
	Severity               string    `json:"severity"`
	State                  string    `json:"state"`
	OpenedBy               string    `json:"openedBy"`
	OpenedAt               time.Time `json:"openedAt"`
	ContainedAt            time.Time `json:"containedAt,omitzero"`
	RemediatedAt           time.Time `json:"remediatedAt,omitzero"`
	ClosedAt               time.Time `json:"closedAt,omitzero"`
	ClosedBy               string    `json:"closedBy,omitempty"`
	Postmortem             string    `json:"postmortem,omitempty"`
	TimeToContainSeconds   float64   `json:"timeToContainSeconds,omitempty"`
	TimeToRemediateSeconds float64   `json:"timeToRemediateSeconds,omitempty"`
}

// IncidentVersion is a version an incident names, where it stands now.
type IncidentVersion struct {
	Submission string    `json:"submission"`
	Plugin     string    `json:"plugin"`
	Version    string    `json:"version"`
	State      string    `json:"state"`
	Source     string    `json:"source"` // named, or hunt:RULE
	AddedBy    string    `json:"addedBy"`
	AddedAt    time.Time `json:"addedAt"`
}

// HuntRule is a hunting rule.
type HuntRule struct {
	ID          string    `json:"id"`
	Incident    string    `json:"incident,omitempty"`
	Kind        string    `json:"kind"`
	Pattern     string    `json:"pattern"`
	Description string    `json:"description,omitempty"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
	DisabledAt  time.Time `json:"disabledAt,omitzero"`
}

// IncidentDetail is everything about one incident.
type IncidentDetail struct {
	Incident Incident          `json:"incident"`
	Versions []IncidentVersion `json:"versions"`
	Rules    []HuntRule        `json:"rules"`
	Timeline []Event           `json:"timeline"`
}

// IncidentActionResult answers an incident action.
type IncidentActionResult struct {
	Incident Incident         `json:"incident"`
	Added    int              `json:"added,omitempty"`
	Rule     *HuntRule        `json:"rule,omitempty"`
	Hunt     *HuntReport      `json:"hunt,omitempty"`
	Outcomes []ContainOutcome `json:"outcomes,omitempty"`
}

// IncidentActionRequest is the body of an incident action; each action
// reads its own fields.
type IncidentActionRequest struct {
	Versions    []string  `json:"versions,omitempty"`
	Note        string    `json:"note,omitempty"`
	Kind        string    `json:"kind,omitempty"`
	Pattern     string    `json:"pattern,omitempty"`
	Description string    `json:"description,omitempty"`
	Action      string    `json:"action,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Deadline    time.Time `json:"deadline,omitzero"`
	Message     string    `json:"message,omitempty"`
	Postmortem  string    `json:"postmortem,omitempty"`
}

// HuntReport is the outcome of running a hunting rule backward over
// every stored version.
type HuntReport struct {
	Scanned int       `json:"scanned"`
	Hits    []HuntHit `json:"hits"`
	// Unreadable lists versions whose package could not be read, with the
	// reason.
	Unreadable []string `json:"unreadable,omitempty"`
}

// HuntHit is a version a hunt matched.
type HuntHit struct {
	Submission string      `json:"submission"`
	Plugin     string      `json:"plugin"`
	Version    string      `json:"version"`
	State      string      `json:"state"`
	Matches    []HuntMatch `json:"matches"`
}

// HuntMatch is one place a rule matched.
type HuntMatch struct {
	Rule string `json:"rule"`
	Kind string `json:"kind"`
	// File is the package file (the module for imports and embedded
	// origins, the manifest for declared origins, an SBOM or the module
	// for components).
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	// Subject is what matched: a component, an import, an origin, or for
	// a content rule the match redacted, never in the clear.
	Subject string `json:"subject"`
	// Digest, for a content match, tells redacted matches apart.
	Digest string `json:"digest,omitempty"`
}

// ContainOutcome is what containing an incident did to one version.
type ContainOutcome struct {
	Submission string `json:"submission"`
	Plugin     string `json:"plugin"`
	Version    string `json:"version"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Error      string `json:"error,omitempty"`
}
