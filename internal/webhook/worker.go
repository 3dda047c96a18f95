package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Payload is the body of every delivery, as the specification suggests:
// the event type, when it happened, and the audit event itself.
type Payload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      audit.Event `json:"data"`
}

// selfActions are the delivery machinery's own audit events. They are
// never delivered: a dead letter for a failing receiver would otherwise
// make a new delivery to it, and so on forever.
const selfActions = "webhook.delivery."

// Run fans events out and delivers them every poll until ctx ends.
func (s *Service) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.Fanout(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Error("turning events into webhook deliveries", "err", err)
		}
		if _, err := s.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Error("delivering webhooks", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Fanout reads the audit trail from the stored cursor and records one
// delivery per event and matching subscription, moving the cursor in the
// same transaction. It returns how many events it read.
func (s *Service) Fanout(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.fanoutOnce(ctx)
		total += n
		if err != nil || n < fanoutBatch {
			return total, err
		}
	}
}

func (s *Service) fanoutOnce(ctx context.Context) (int, error) {
	from, err := s.cfg.Store.WebhookCursor(ctx)
	if err != nil {
		return 0, err
	}
	var evs []audit.Event
	if err := s.cfg.Store.ScanAudit(ctx, domain.AuditQuery{AfterSeq: from, Limit: fanoutBatch}, func(e audit.Event) error {
		evs = append(evs, e)
		return nil
	}); err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, nil
	}
	hooks, err := s.cfg.Store.ListWebhooks(ctx)
	if err != nil {
		return 0, err
	}
	var active []domain.Webhook
	for _, w := range hooks {
		if w.DisabledAt.IsZero() {
			active = append(active, w)
		}
	}
	now := s.cfg.Now()
	sc := newScoper(s.cfg.Store)
	var ds []domain.WebhookDelivery
	for _, e := range evs {
		if strings.HasPrefix(e.Action, selfActions) {
			continue
		}
		var payload []byte
		for _, w := range active {
			// A subscription hears what happens after it was made, not the
			// whole history before it.
			if e.Time.Before(w.CreatedAt) || !MatchesAny(w.Events, e.Action) {
				continue
			}
			ok, err := sc.inScope(ctx, w, e)
			if err != nil {
				return 0, err
			}
			if !ok {
				continue
			}
			if payload == nil {
				// The salts stay in the trail (data minimisation): a receiver
				// needs none to read the event, and a salt is what keeps the
				// pseudonym the retention purge writes unguessable.
				sent := e
				sent.ActorSalt, sent.SubjectSalt, sent.ReasonSalt, sent.DataSalt = nil, nil, nil, nil
				if payload, err = json.Marshal(Payload{Type: e.Action, Timestamp: e.Time, Data: sent}); err != nil {
					return 0, fmt.Errorf("encoding event %d: %w", e.Seq, err)
				}
			}
			ds = append(ds, domain.WebhookDelivery{
				WebhookID: w.ID, EventSeq: e.Seq, EventType: e.Action,
				// The same on every attempt and replay: receivers use it to
				// drop duplicates. No dots, as the specification asks.
				MessageID: fmt.Sprintf("msg_%d_%s", e.Seq, w.ID),
				Payload:   payload, NextAttempt: now, CreatedAt: now,
			})
		}
	}
	err = s.cfg.Store.EnqueueDeliveries(ctx, ds, from, evs[len(evs)-1].Seq)
	if errors.Is(err, domain.ErrStateChanged) {
		return 0, nil // another process fanned these out
	}
	if err != nil {
		return 0, err
	}
	return len(evs), nil
}

// DeliverDue sends every delivery that is due and returns how many
// attempts it made.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		now := s.cfg.Now()
		// The lease outlasts an attempt, so a delivery is never sent twice
		// at once; a crashed worker's deliveries come due when it ends.
		ds, err := s.cfg.Store.ClaimDeliveries(ctx, now, 2*s.cfg.Client.Timeout+time.Minute, deliverBatch)
		if err != nil {
			return total, err
		}
		if len(ds) == 0 {
			return total, nil
		}
		hooks := map[string]*domain.Webhook{}
		for _, d := range ds {
			if _, ok := hooks[d.WebhookID]; !ok {
				w, err := s.cfg.Store.GetWebhook(ctx, d.WebhookID)
				if err != nil {
					return total, err
				}
				hooks[d.WebhookID] = &w
			}
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, workers)
		errs := make(chan error, len(ds))
		for _, d := range ds {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := s.attempt(ctx, *hooks[d.WebhookID], d); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		total += len(ds)
		if err := <-errs; err != nil {
			return total, err
		}
		if len(ds) < deliverBatch {
			return total, nil
		}
	}
	return total, ctx.Err()
}

// attempt sends one delivery and records the outcome.
func (s *Service) attempt(ctx context.Context, w domain.Webhook, d domain.WebhookDelivery) error {
	at := s.cfg.Now()
	a := domain.WebhookAttempt{DeliveryID: d.ID, At: at}
	status, resp, retryAfter, latency, sendErr := s.send(ctx, w, d, at)
	if ctx.Err() != nil {
		return nil // shutting down: the lease runs out and the attempt is made again
	}
	a.StatusCode, a.Response, a.Latency = status, resp, latency
	d.Attempts++
	d.LastStatus = status
	var ev *audit.Event
	var disable string
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		d.State, d.LastError = domain.DeliveryDelivered, ""
	case sendErr == nil && status == http.StatusGone:
		// The receiver says it wants no more: stop, as the specification
		// asks, and keep the event as a dead letter.
		d.State, d.LastError = domain.DeliveryDead, "the receiver answered 410 Gone"
		disable = "the receiver answered 410 Gone to delivery " + strconv.FormatInt(d.ID, 10)
	default:
		if sendErr != nil {
			a.Error = sendErr.Error()
			d.LastError = sendErr.Error()
		} else {
			d.LastError = fmt.Sprintf("the receiver answered %d", status)
		}
		if d.Attempts >= s.cfg.MaxAttempts {
			d.State = domain.DeliveryDead
			data, _ := json.Marshal(map[string]any{"delivery": d.ID, "event": d.EventSeq, "type": d.EventType, "attempts": d.Attempts})
			ev = &audit.Event{Time: at, Actor: "system", Action: audit.WebhookDeliveryDead, Subject: "webhook:" + w.ID,
				Reason: fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, d.LastError), Data: data}
		} else {
			d.State = domain.DeliveryPending
			wait := s.cfg.Backoff.Delay(d.Attempts, s.cfg.Jitter())
			if retryAfter > wait {
				wait = min(retryAfter, s.cfg.Backoff.Max)
			}
			d.NextAttempt = at.Add(wait)
		}
	}
	if err := s.cfg.Store.RecordAttempt(ctx, d, a, ev); err != nil {
		return fmt.Errorf("recording an attempt of delivery %d: %w", d.ID, err)
	}
	if disable != "" {
		if err := s.Disable(ctx, "system", w.ID, disable); err != nil {
			return err
		}
	}
	return nil
}

// send makes one request. The secret is opened for the request only and
// never logged.
func (s *Service) send(ctx context.Context, w domain.Webhook, d domain.WebhookDelivery, at time.Time) (status int, resp []byte, retryAfter, latency time.Duration, err error) {
	if _, err := CheckURL(w.URL, s.cfg.AllowPrivate); err != nil {
		return 0, nil, 0, 0, err
	}
	key, err := s.cfg.Sealer.Open(w.ID, w.Secret)
	if err != nil {
		return 0, nil, 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, nil, 0, 0, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Webhooks/1")
	SetHeaders(req.Header, key, d.MessageID, at, d.Payload)
	start := time.Now()
	r, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, 0, time.Since(start), scrub(err, w.URL)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxResponseRead))
	latency = time.Since(start)
	if len(body) > MaxResponseLog {
		body = body[:MaxResponseLog]
	}
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return r.StatusCode, body, retryAfter, latency, nil
}

// scrub keeps a URL's query (which may hold a receiver's token) out of the
// delivery log.
func scrub(err error, rawURL string) error {
	msg := err.Error()
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		msg = strings.ReplaceAll(msg, rawURL, rawURL[:i]+"?…")
	}
	return errors.New(msg)
}
