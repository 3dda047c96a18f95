package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Notify keeps webhook subscriptions and their deliveries, incidents
// with their timelines, and hunting rules.
//
// A delivery's attempts are operational records, not audit events: the
// delivery log is their record, and auditing them would feed the webhooks
// their own traffic. Creating, disabling and replaying are audited.
type Notify interface {
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

// DeliveryQuery filters the delivery log. Zero values mean any.
type DeliveryQuery struct {
	WebhookID string
	State     string
	// Webhooks restricts to these subscriptions (a publisher's own).
	Webhooks []string
	Limit    int // 1..1000, 0 means 100
}

// IncidentQuery filters incidents.
type IncidentQuery struct {
	State string // empty: any
	Limit int    // 1..1000, 0 means 100
}

// Domain records (package domain), aliased during the move to it.
type (
	Webhook         = domain.Webhook
	WebhookDelivery = domain.WebhookDelivery
	WebhookAttempt  = domain.WebhookAttempt
	Incident        = domain.Incident
	IncidentVersion = domain.IncidentVersion
	HuntRule        = domain.HuntRule
)

// Delivery states (package domain).
const (
	DeliveryPending   = domain.DeliveryPending
	DeliveryDelivered = domain.DeliveryDelivered
	DeliveryDead      = domain.DeliveryDead
)

// Incident states (package domain).
const (
	IncidentOpen      = domain.IncidentOpen
	IncidentContained = domain.IncidentContained
	IncidentClosed    = domain.IncidentClosed
)

// Hunting rule kinds (package domain).
const (
	HuntContent = domain.HuntContent
	HuntModule  = domain.HuntModule
	HuntImport  = domain.HuntImport
	HuntOrigin  = domain.HuntOrigin
)
