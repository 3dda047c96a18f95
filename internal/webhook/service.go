package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/ids"
)

// Defaults of a Service.
const (
	// DefaultMaxAttempts: with the default backoff the last attempt comes
	// about two days after the first, close to the specification's example
	// schedule.
	DefaultMaxAttempts = 15
	// MaxResponseLog is how much of an answer's body the log keeps.
	MaxResponseLog = 1 << 10
	// maxResponseRead bounds what is read of an answer at all (the rest is
	// dropped with the connection).
	maxResponseRead = 64 << 10
	// fanoutBatch is how many audit events one pass reads.
	fanoutBatch = 500
	// deliverBatch is how many deliveries one pass claims.
	deliverBatch = 32
	// workers is how many deliveries are sent at once.
	workers = 4
)

// Backoff is the retry schedule: the n-th retry waits Base·2^(n-1),
// capped at Max, of which a random half is jitter, so receivers that
// failed together are not retried together.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff starts at 30 seconds and caps at 12 hours.
var DefaultBackoff = Backoff{Base: 30 * time.Second, Max: 12 * time.Hour}

// Delay is the wait after the attempt-th failed attempt (1-based); r in
// [0, 1) picks the jitter.
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := b.Max
	if attempt-1 < 62 {
		if x := float64(b.Base) * math.Pow(2, float64(attempt-1)); x < float64(b.Max) {
			d = time.Duration(x)
		}
	}
	half := d / 2
	return half + time.Duration(r*float64(d-half))
}

// Records is what the service reads and writes: subscriptions, their
// deliveries and attempts, the cursor over the audit trail and the trail
// itself, and versions (to scope events to plugins). store.Store is one.
type Records interface {
	CreateWebhook(ctx context.Context, w domain.Webhook, ev audit.Event) error
	GetWebhook(ctx context.Context, id string) (domain.Webhook, error)
	ListWebhooks(ctx context.Context) ([]domain.Webhook, error)
	DisableWebhook(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) error
	WebhookCursor(ctx context.Context) (int64, error)
	EnqueueDeliveries(ctx context.Context, ds []domain.WebhookDelivery, from, to int64) error
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]domain.WebhookDelivery, error)
	RecordAttempt(ctx context.Context, d domain.WebhookDelivery, a domain.WebhookAttempt, ev *audit.Event) error
	GetDelivery(ctx context.Context, id int64) (domain.WebhookDelivery, error)
	ReplayDeliveries(ctx context.Context, webhookID string, ids []int64, at time.Time, ev audit.Event) (int, error)
	ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error
	GetVersion(ctx context.Context, id string) (domain.Version, error)
}

// Config configures a Service.
type Config struct {
	Store  Records
	Sealer *Sealer
	// Client sends deliveries; nil means NewClient with AllowPrivate.
	Client *http.Client
	// AllowPrivate accepts subscriptions to loopback and private
	// addresses (see ClientOptions).
	AllowPrivate bool
	Backoff      Backoff
	MaxAttempts  int
	Now          func() time.Time
	// Jitter returns a number in [0, 1); nil means math/rand.
	Jitter func() float64
	Log    *slog.Logger
}

// Service manages subscriptions and delivers events.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil {
		return nil, errors.New("webhook: a store and a sealer are required")
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(ClientOptions{AllowPrivate: cfg.AllowPrivate})
	}
	if cfg.Backoff.Base <= 0 || cfg.Backoff.Max < cfg.Backoff.Base {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mrand.Float64
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}, nil
}

// Subscription is what a subscriber asks for.
type Subscription struct {
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Namespace string   `json:"namespace,omitempty"`
	Plugin    string   `json:"plugin,omitempty"` // namespace/name
}

// Subscribe records a subscription for owner and returns it with its
// secret, which is shown this once and stored only sealed. Who may scope
// how (publishers to their namespaces) is the caller's check.
func (s *Service) Subscribe(ctx context.Context, owner string, req Subscription) (domain.Webhook, string, error) {
	u, err := CheckURL(req.URL, s.cfg.AllowPrivate)
	if err != nil {
		return domain.Webhook{}, "", domain.Invalidf("%w", err)
	}
	if len(req.Events) == 0 {
		return domain.Webhook{}, "", domain.Invalid("name at least one event type to receive (for example submission.* or *)")
	}
	if len(req.Events) > 64 {
		return domain.Webhook{}, "", domain.Invalid("at most 64 event filters per subscription")
	}
	for _, f := range req.Events {
		if err := CheckFilter(f); err != nil {
			return domain.Webhook{}, "", domain.Invalid(err.Error())
		}
	}
	if req.Plugin != "" {
		ns, name, ok := strings.Cut(req.Plugin, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return domain.Webhook{}, "", domain.Invalidf("plugin %q is not namespace/name", req.Plugin)
		}
		if req.Namespace == "" {
			req.Namespace = ns
		} else if req.Namespace != ns {
			return domain.Webhook{}, "", domain.Invalidf("plugin %s is not in namespace %s", req.Plugin, req.Namespace)
		}
	}
	secret, err := NewSecret(rand.Reader)
	if err != nil {
		return domain.Webhook{}, "", err
	}
	key, _ := ParseSecret(secret)
	id := ids.New("wh")
	sealed, err := s.cfg.Sealer.Seal(id, key)
	if err != nil {
		return domain.Webhook{}, "", fmt.Errorf("sealing the webhook secret: %w", err)
	}
	now := s.cfg.Now()
	w := domain.Webhook{ID: id, Owner: owner, URL: u.String(), Events: req.Events, Namespace: req.Namespace, PluginID: req.Plugin, Secret: sealed, CreatedAt: now}
	data, _ := json.Marshal(map[string]any{"url": redactURL(u.String()), "events": req.Events, "namespace": req.Namespace, "plugin": req.Plugin})
	ev := audit.Event{Time: now, Actor: owner, Action: audit.WebhookCreate, Subject: "webhook:" + id, Data: data}
	if err := s.cfg.Store.CreateWebhook(ctx, w, ev); err != nil {
		return domain.Webhook{}, "", err
	}
	return w, secret, nil
}

// Disable stops a subscription.
func (s *Service) Disable(ctx context.Context, actor, id, reason string) error {
	if reason == "" {
		reason = "disabled by " + actor
	}
	now := s.cfg.Now()
	return s.cfg.Store.DisableWebhook(ctx, id, now, reason, audit.Event{Time: now, Actor: actor, Action: audit.WebhookDisable, Subject: "webhook:" + id, Reason: reason})
}

// Replay sends one delivery again (delivered or dead) with a fresh budget.
func (s *Service) Replay(ctx context.Context, actor string, deliveryID int64) error {
	d, err := s.cfg.Store.GetDelivery(ctx, deliveryID)
	if err != nil {
		return err
	}
	if d.State == domain.DeliveryPending {
		return fmt.Errorf("delivery %d is still pending (attempt %d is due %s): %w", d.ID, d.Attempts+1, d.NextAttempt.Format(time.RFC3339), domain.ErrConflict)
	}
	now := s.cfg.Now()
	data, _ := json.Marshal(map[string]any{"deliveries": []int64{d.ID}})
	n, err := s.cfg.Store.ReplayDeliveries(ctx, d.WebhookID, []int64{d.ID}, now,
		audit.Event{Time: now, Actor: actor, Action: audit.WebhookDeliveryReplay, Subject: "webhook:" + d.WebhookID, Data: data})
	if err == nil && n == 0 {
		err = fmt.Errorf("delivery %d changed meanwhile: %w", d.ID, domain.ErrStateChanged)
	}
	return err
}

// ReplayDead sends every dead delivery of a subscription again and
// returns how many.
func (s *Service) ReplayDead(ctx context.Context, actor, webhookID string) (int, error) {
	now := s.cfg.Now()
	return s.cfg.Store.ReplayDeliveries(ctx, webhookID, nil, now,
		audit.Event{Time: now, Actor: actor, Action: audit.WebhookDeliveryReplay, Subject: "webhook:" + webhookID, Reason: "every dead letter"})
}

// redactURL drops the query from a URL for the audit trail: receivers
// sometimes put tokens there.
func redactURL(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?…"
	}
	return raw
}
