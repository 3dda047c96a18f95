package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
)

// NotifyStore keeps webhook subscriptions and their deliveries, incidents
// with their timelines, and hunting rules.
//
// A delivery's attempts are operational records, not audit events: the
// delivery log is their record, and auditing them would feed the webhooks
// their own traffic. Creating, disabling and replaying are audited.
type NotifyStore interface {
	// CreateWebhook records a subscription; ErrConflict when its id exists.
	CreateWebhook(ctx context.Context, w Webhook, ev audit.Event) error
	GetWebhook(ctx context.Context, id string) (Webhook, error)
	// ListWebhooks returns every subscription, disabled ones included,
	// oldest first.
	ListWebhooks(ctx context.Context) ([]Webhook, error)
	// DisableWebhook stops deliveries to a subscription (its pending
	// deliveries become dead). Disabling a disabled one records nothing.
	DisableWebhook(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) error

	// WebhookCursor is the sequence number of the last audit event turned
	// into deliveries (0 before the first).
	WebhookCursor(ctx context.Context) (int64, error)
	// EnqueueDeliveries records ds and moves the cursor from `from` to
	// `to` in one transaction; ErrStateChanged when the cursor is no longer
	// at `from` (another process fanned those events out first). A
	// delivery whose (webhook, event) pair exists is skipped.
	EnqueueDeliveries(ctx context.Context, ds []WebhookDelivery, from, to int64) error
	// ClaimDeliveries leases up to limit pending deliveries due at now by
	// moving their next attempt to now+lease, so that no other worker
	// sends them meanwhile, and returns them.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]WebhookDelivery, error)
	// RecordAttempt appends an attempt to the delivery log (numbering it
	// after every earlier attempt, replays included) and sets the
	// delivery's state, attempts, next attempt and last result from d;
	// ErrStateChanged when the delivery is no longer pending.
	// ev, when not nil, is appended in the same transaction (a dead
	// letter is audited).
	RecordAttempt(ctx context.Context, d WebhookDelivery, a WebhookAttempt, ev *audit.Event) error
	GetDelivery(ctx context.Context, id int64) (WebhookDelivery, error)
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]WebhookDelivery, error)
	ListAttempts(ctx context.Context, deliveryID int64) ([]WebhookAttempt, error)
	// ReplayDeliveries makes the given deliveries (or, with ids nil, every
	// dead delivery of webhookID) pending again at `at` with a fresh
	// attempt budget, and returns how many it changed. Delivered and dead
	// deliveries may be replayed; the subscription must be enabled.
	ReplayDeliveries(ctx context.Context, webhookID string, ids []int64, at time.Time, ev audit.Event) (int, error)

	// Incidents. The timeline of an incident is its audit trail (subject
	// "incident:ID").
	CreateIncident(ctx context.Context, inc Incident, ev audit.Event) error
	GetIncident(ctx context.Context, id string) (Incident, error)
	ListIncidents(ctx context.Context, q IncidentQuery) ([]Incident, error)
	// UpdateIncident writes the mutable fields (state, the contained,
	// remediated and closed times, who closed it, the post-mortem).
	UpdateIncident(ctx context.Context, inc Incident, ev audit.Event) error
	// AddIncidentVersions names versions in an incident; versions it names
	// already are left as they are. It returns how many were added.
	AddIncidentVersions(ctx context.Context, incidentID string, vs []IncidentVersion, ev audit.Event) (int, error)
	ListIncidentVersions(ctx context.Context, incidentID string) ([]IncidentVersion, error)

	// Hunting rules.
	CreateHuntRule(ctx context.Context, r HuntRule, ev audit.Event) error
	// ListHuntRules returns the rules, oldest first; active only when
	// activeOnly.
	ListHuntRules(ctx context.Context, activeOnly bool) ([]HuntRule, error)
	DisableHuntRule(ctx context.Context, id string, at time.Time, ev audit.Event) error
}

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

// DeliveryQuery filters the delivery log. Zero values mean any.
type DeliveryQuery struct {
	WebhookID string
	State     string
	// Webhooks restricts to these subscriptions (a publisher's own).
	Webhooks []string
	Limit    int // 1..1000, 0 means 100
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

// IncidentQuery filters incidents.
type IncidentQuery struct {
	State string // empty: any
	Limit int    // 1..1000, 0 means 100
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
