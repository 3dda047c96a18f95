package domain

import "time"

// Webhook is a subscription: where to send which events.
type Webhook struct {
	ID    string
	Owner string // the token subject who subscribed
	URL   string
	// Events are type filters: an exact type ("version.suspended"), a
	// prefix with a wildcard ("submission.*") or "*".
	Events []string
	// Namespace and PluginID scope the subscription; both empty means
	// every event (stewards only).
	Namespace string
	PluginID  string
	// Secret is the signing secret sealed for storage (the caller seals
	// and opens it; the store never sees it in clear).
	Secret         []byte
	CreatedAt      time.Time
	DisabledAt     time.Time
	DisabledReason string
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// WebhookDelivery is one event for one subscription.
type WebhookDelivery struct {
	ID          int64
	WebhookID   string
	EventSeq    int64
	EventType   string
	MessageID   string // the webhook-id header: the same on every attempt
	Payload     []byte // the exact body that is signed and sent
	State       string
	Attempts    int // tries since it was queued or last replayed
	NextAttempt time.Time
	LastStatus  int
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// WebhookAttempt is one try at a delivery.
type WebhookAttempt struct {
	DeliveryID int64
	N          int // 1, 2, … over the delivery's life; set by the store
	At         time.Time
	StatusCode int // 0 when no answer came
	Latency    time.Duration
	Error      string
	Response   []byte // the start of the answer's body
}

// Incident states.
const (
	IncidentOpen      = "open"
	IncidentContained = "contained"
	IncidentClosed    = "closed"
)

// Incident is a steward's response to something that went wrong.
type Incident struct {
	ID           string
	Title        string
	Summary      string
	Severity     string // low, medium, high, critical
	State        string
	OpenedBy     string
	OpenedAt     time.Time
	ContainedAt  time.Time // when no named version was installable any more
	RemediatedAt time.Time // when every named version was revoked or superseded
	ClosedAt     time.Time
	ClosedBy     string
	Postmortem   string
}

// IncidentVersion is a version an incident names.
type IncidentVersion struct {
	VersionID string
	// Source is "named" for a version a steward named, "hunt:RULE" for one
	// a hunting rule found.
	Source  string
	AddedBy string
	AddedAt time.Time
}

// Hunting rule kinds.
const (
	HuntContent = "content" // an RE2 pattern over file contents
	HuntModule  = "module"  // a banned Go module or SBOM component
	HuntImport  = "import"  // a banned WebAssembly import
	HuntOrigin  = "origin"  // a banned network origin
)

// HuntRule is a pattern searched for in every stored version and every
// new submission.
type HuntRule struct {
	ID          string
	IncidentID  string // the incident it was added for, if any
	Kind        string
	Pattern     string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	DisabledAt  time.Time
}
