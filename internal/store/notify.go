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
	CreateWebhook(ctx context.Context, w domain.Webhook, ev audit.Event) error
	GetWebhook(ctx context.Context, id string) (domain.Webhook, error)
	// ListWebhooks returns every subscription, disabled ones included,
	// oldest first.
	ListWebhooks(ctx context.Context) ([]domain.Webhook, error)
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
	EnqueueDeliveries(ctx context.Context, ds []domain.WebhookDelivery, from, to int64) error
	// ClaimDeliveries leases up to limit pending deliveries due at now by
	// moving their next attempt to now+lease, so that no other worker
	// sends them meanwhile, and returns them.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]domain.WebhookDelivery, error)
	// RecordAttempt appends an attempt to the delivery log (numbering it
	// after every earlier attempt, replays included) and sets the
	// delivery's state, attempts, next attempt and last result from d;
	// ErrStateChanged when the delivery is no longer pending.
	// ev, when not nil, is appended in the same transaction (a dead
	// letter is audited).
	RecordAttempt(ctx context.Context, d domain.WebhookDelivery, a domain.WebhookAttempt, ev *audit.Event) error
	GetDelivery(ctx context.Context, id int64) (domain.WebhookDelivery, error)
	ListDeliveries(ctx context.Context, q domain.DeliveryQuery) ([]domain.WebhookDelivery, error)
	ListAttempts(ctx context.Context, deliveryID int64) ([]domain.WebhookAttempt, error)
	// ReplayDeliveries makes the given deliveries (or, with ids nil, every
	// dead delivery of webhookID) pending again at `at` with a fresh
	// attempt budget, and returns how many it changed. Delivered and dead
	// deliveries may be replayed; the subscription must be enabled.
	ReplayDeliveries(ctx context.Context, webhookID string, ids []int64, at time.Time, ev audit.Event) (int, error)

	// Incidents. The timeline of an incident is its audit trail (subject
	// "incident:ID").
	CreateIncident(ctx context.Context, inc domain.Incident, ev audit.Event) error
	GetIncident(ctx context.Context, id string) (domain.Incident, error)
	ListIncidents(ctx context.Context, q domain.IncidentQuery) ([]domain.Incident, error)
	// UpdateIncident writes the mutable fields (state, the contained,
	// remediated and closed times, who closed it, the post-mortem).
	UpdateIncident(ctx context.Context, inc domain.Incident, ev audit.Event) error
	// AddIncidentVersions names versions in an incident; versions it names
	// already are left as they are. It returns how many were added.
	AddIncidentVersions(ctx context.Context, incidentID string, vs []domain.IncidentVersion, ev audit.Event) (int, error)
	ListIncidentVersions(ctx context.Context, incidentID string) ([]domain.IncidentVersion, error)

	// Hunting rules.
	CreateHuntRule(ctx context.Context, r domain.HuntRule, ev audit.Event) error
	// ListHuntRules returns the rules, oldest first; active only when
	// activeOnly.
	ListHuntRules(ctx context.Context, activeOnly bool) ([]domain.HuntRule, error)
	DisableHuntRule(ctx context.Context, id string, at time.Time, ev audit.Event) error
}
