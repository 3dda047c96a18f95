package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/store"
)

// Bounds of the notification tables.
const (
	MaxWebhookURL       = 2048
	MaxWebhookFilters   = 64
	MaxWebhookPayload   = 256 << 10
	MaxAttemptResponse  = 4 << 10
	DefaultDeliveryRows = 100
	MaxDeliveryRows     = 1000
	MaxDeliveryBatch    = 10000
	MaxIncidentText     = 64 << 10
	MaxHuntPattern      = 4 << 10
)

// ---- Webhooks --------------------------------------------------------------

const webhookCols = `id, owner, url, events, namespace, plugin_id, secret, created_at, disabled_at, disabled_reason`

func scanWebhook(r interface{ Scan(...any) error }) (store.Webhook, error) {
	var w store.Webhook
	var events string
	var created, disabled int64
	if err := r.Scan(&w.ID, &w.Owner, &w.URL, &events, &w.Namespace, &w.PluginID, &w.Secret, &created, &disabled, &w.DisabledReason); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return w, fmt.Errorf("webhook %s has unreadable event filters: %w", w.ID, err)
	}
	w.CreatedAt, w.DisabledAt = fromMicros(created), fromMicros(disabled)
	return w, nil
}

// CreateWebhook records a subscription.
func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook, ev audit.Event) error {
	switch {
	case w.ID == "" || w.Owner == "":
		return errors.New("a webhook needs an id and an owner")
	case w.URL == "" || len(w.URL) > MaxWebhookURL:
		return fmt.Errorf("webhook %s: the URL must be 1 to %d bytes", w.ID, MaxWebhookURL)
	case len(w.Events) == 0 || len(w.Events) > MaxWebhookFilters:
		return fmt.Errorf("webhook %s: give 1 to %d event filters", w.ID, MaxWebhookFilters)
	case len(w.Secret) == 0:
		return fmt.Errorf("webhook %s has no secret", w.ID)
	}
	events, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO webhooks (`+webhookCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			w.ID, w.Owner, w.URL, string(events), w.Namespace, w.PluginID, w.Secret, micros(w.CreatedAt), micros(w.DisabledAt), w.DisabledReason)
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("webhook %s exists: %w", w.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: creating webhook %s: %w", s.d.Name, w.ID, err)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// GetWebhook returns one subscription.
func (s *Store) GetWebhook(ctx context.Context, id string) (store.Webhook, error) {
	w, err := scanWebhook(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+webhookCols+` FROM webhooks WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("%s: reading webhook %s: %w", s.d.Name, id, err)
	}
	return w, nil
}

// ListWebhooks returns every subscription, oldest first.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+webhookCols+` FROM webhooks ORDER BY created_at, id LIMIT ?`), MaxListRows+1)
	if err != nil {
		return nil, fmt.Errorf("%s: listing webhooks: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: listing webhooks: %w", s.d.Name, err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing webhooks: %w", s.d.Name, err)
	}
	if len(out) > MaxListRows {
		return nil, fmt.Errorf("there are more than %d webhooks: disable and remove unused ones", MaxListRows)
	}
	return out, nil
}

// DisableWebhook stops deliveries to a subscription.
func (s *Store) DisableWebhook(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) error {
	if at.IsZero() {
		return fmt.Errorf("disabling webhook %s: the time is not set", id)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at = 0`), micros(at), reason, id)
		if err != nil {
			return fmt.Errorf("%s: disabling webhook %s: %w", s.d.Name, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT 1 FROM webhooks WHERE id = ?`), id).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
			}
			return err // nil: already disabled
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhook_deliveries SET state = ?, last_error = ?, updated_at = ? WHERE webhook_id = ? AND state = ?`),
			store.DeliveryDead, "the subscription was disabled: "+reason, micros(at), id, store.DeliveryPending); err != nil {
			return fmt.Errorf("%s: disabling webhook %s: %w", s.d.Name, id, err)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// WebhookCursor returns how far the audit trail was fanned out.
func (s *Store) WebhookCursor(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRowContext(ctx, `SELECT seq FROM webhook_cursor WHERE name = 'audit'`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("%s: reading the webhook cursor: %w", s.d.Name, err)
	}
	return seq, nil
}

// EnqueueDeliveries records deliveries and moves the cursor.
func (s *Store) EnqueueDeliveries(ctx context.Context, ds []store.WebhookDelivery, from, to int64) error {
	if len(ds) > MaxDeliveryBatch {
		return fmt.Errorf("%d deliveries in one batch, over the limit of %d", len(ds), MaxDeliveryBatch)
	}
	if to < from {
		return fmt.Errorf("the webhook cursor cannot move back from %d to %d", from, to)
	}
	for _, d := range ds {
		if d.WebhookID == "" || d.MessageID == "" || d.EventType == "" {
			return errors.New("a delivery needs a webhook, a message id and an event type")
		}
		if len(d.Payload) > MaxWebhookPayload {
			return fmt.Errorf("delivery payload of event %d is %d bytes, over the limit of %d", d.EventSeq, len(d.Payload), MaxWebhookPayload)
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhook_cursor SET seq = ? WHERE name = 'audit' AND seq = ?`), to, from)
		if err != nil {
			return fmt.Errorf("%s: moving the webhook cursor: %w", s.d.Name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("the webhook cursor is no longer at %d: %w", from, store.ErrStateChanged)
		}
		for _, d := range ds {
			var n int
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ? AND event_seq = ?`), d.WebhookID, d.EventSeq).Scan(&n); err != nil {
				return fmt.Errorf("%s: enqueueing delivery: %w", s.d.Name, err)
			}
			if n > 0 {
				continue
			}
			now := micros(d.CreatedAt)
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO webhook_deliveries
				(webhook_id, event_seq, event_type, message_id, payload, state, attempts, next_attempt, last_status, last_error, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, '', ?, ?)`),
				d.WebhookID, d.EventSeq, d.EventType, d.MessageID, d.Payload, store.DeliveryPending, micros(d.NextAttempt), now, now); err != nil {
				return fmt.Errorf("%s: enqueueing delivery of event %d to %s: %w", s.d.Name, d.EventSeq, d.WebhookID, err)
			}
		}
		return nil
	})
}

const deliveryCols = `id, webhook_id, event_seq, event_type, message_id, payload, state, attempts, next_attempt, last_status, last_error, created_at, updated_at`

func scanDelivery(r interface{ Scan(...any) error }) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var next, created, updated int64
	err := r.Scan(&d.ID, &d.WebhookID, &d.EventSeq, &d.EventType, &d.MessageID, &d.Payload, &d.State, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &updated)
	d.NextAttempt, d.CreatedAt, d.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	return d, err
}

func (s *Store) queryDeliveries(ctx context.Context, q querier, query string, args ...any) ([]store.WebhookDelivery, error) {
	rows, err := q.QueryContext(ctx, s.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: reading deliveries: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: reading deliveries: %w", s.d.Name, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries leases due deliveries. Writers are serialised, so two
// workers never claim one delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 || limit > MaxDeliveryRows {
		return nil, fmt.Errorf("claim between 1 and %d deliveries", MaxDeliveryRows)
	}
	if lease <= 0 {
		return nil, errors.New("a delivery lease must be positive")
	}
	var out []store.WebhookDelivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		ds, err := s.queryDeliveries(ctx, tx, `SELECT d.`+strings.ReplaceAll(deliveryCols, ", ", ", d.")+` FROM webhook_deliveries d
			JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = ? AND d.next_attempt <= ? AND w.disabled_at = 0
			ORDER BY d.next_attempt, d.id LIMIT ?`, store.DeliveryPending, micros(now), limit)
		if err != nil {
			return err
		}
		until := norm(now.Add(lease))
		for i := range ds {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhook_deliveries SET next_attempt = ?, updated_at = ? WHERE id = ?`), micros(until), micros(now), ds[i].ID); err != nil {
				return fmt.Errorf("%s: claiming delivery %d: %w", s.d.Name, ds[i].ID, err)
			}
			ds[i].NextAttempt, ds[i].UpdatedAt = until, norm(now)
		}
		out = ds
		return nil
	})
	return out, err
}

// RecordAttempt appends to the delivery log and updates the delivery.
func (s *Store) RecordAttempt(ctx context.Context, d store.WebhookDelivery, a store.WebhookAttempt, ev *audit.Event) error {
	switch d.State {
	case store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead:
	default:
		return fmt.Errorf("delivery %d: unknown state %q", d.ID, d.State)
	}
	if len(a.Response) > MaxAttemptResponse {
		a.Response = a.Response[:MaxAttemptResponse]
	}
	if len(a.Error) > MaxReason {
		a.Error = a.Error[:MaxReason]
	}
	lastErr := d.LastError
	if len(lastErr) > MaxReason {
		lastErr = lastErr[:MaxReason]
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt = ?, last_status = ?, last_error = ?, updated_at = ?
			WHERE id = ? AND state = ?`),
			d.State, d.Attempts, micros(d.NextAttempt), d.LastStatus, lastErr, micros(a.At), d.ID, store.DeliveryPending)
		if err != nil {
			return fmt.Errorf("%s: updating delivery %d: %w", s.d.Name, d.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delivery %d is no longer pending: %w", d.ID, store.ErrStateChanged)
		}
		// Attempts are numbered over the delivery's whole life, replays
		// included, so the log stays whole.
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(n), 0) + 1 FROM webhook_attempts WHERE delivery_id = ?`), d.ID).Scan(&n); err != nil {
			return fmt.Errorf("%s: numbering the attempt: %w", s.d.Name, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO webhook_attempts (delivery_id, n, at, status, latency_us, error, response) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			d.ID, n, micros(a.At), a.StatusCode, a.Latency.Microseconds(), a.Error, nonEmpty(a.Response)); err != nil {
			return fmt.Errorf("%s: recording attempt of delivery %d: %w", s.d.Name, d.ID, err)
		}
		if ev != nil {
			return s.appendEvents(ctx, tx, []audit.Event{*ev})
		}
		return nil
	})
}

// GetDelivery returns one delivery.
func (s *Store) GetDelivery(ctx context.Context, id int64) (store.WebhookDelivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("%s: reading delivery %d: %w", s.d.Name, id, err)
	}
	return d, nil
}

// ListDeliveries pages the delivery log, newest first.
func (s *Store) ListDeliveries(ctx context.Context, q store.DeliveryQuery) ([]store.WebhookDelivery, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultDeliveryRows
	}
	if q.Limit > MaxDeliveryRows {
		q.Limit = MaxDeliveryRows
	}
	query := `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE 1 = 1`
	var args []any
	if q.WebhookID != "" {
		query += ` AND webhook_id = ?`
		args = append(args, q.WebhookID)
	}
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, q.State)
	}
	if q.Webhooks != nil {
		if len(q.Webhooks) == 0 {
			return nil, nil
		}
		if len(q.Webhooks) > MaxWebhookFilters*16 {
			return nil, fmt.Errorf("at most %d webhooks per query", MaxWebhookFilters*16)
		}
		query += ` AND webhook_id IN (?` + strings.Repeat(", ?", len(q.Webhooks)-1) + `)`
		for _, w := range q.Webhooks {
			args = append(args, w)
		}
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, q.Limit)
	return s.queryDeliveries(ctx, s.db, query, args...)
}

// ListAttempts returns a delivery's attempts in order.
func (s *Store) ListAttempts(ctx context.Context, deliveryID int64) ([]store.WebhookAttempt, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT delivery_id, n, at, status, latency_us, error, response FROM webhook_attempts WHERE delivery_id = ? ORDER BY n LIMIT ?`), deliveryID, MaxListRows)
	if err != nil {
		return nil, fmt.Errorf("%s: reading attempts: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.WebhookAttempt
	for rows.Next() {
		var a store.WebhookAttempt
		var at, lat int64
		if err := rows.Scan(&a.DeliveryID, &a.N, &at, &a.StatusCode, &lat, &a.Error, &a.Response); err != nil {
			return nil, fmt.Errorf("%s: reading attempts: %w", s.d.Name, err)
		}
		a.At, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// ReplayDeliveries makes deliveries pending again.
func (s *Store) ReplayDeliveries(ctx context.Context, webhookID string, ids []int64, at time.Time, ev audit.Event) (int, error) {
	if webhookID == "" {
		return 0, errors.New("replay names the webhook whose deliveries it replays")
	}
	if len(ids) > MaxDeliveryRows {
		return 0, fmt.Errorf("replay at most %d deliveries at once", MaxDeliveryRows)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var disabled int64
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT disabled_at FROM webhooks WHERE id = ?`), webhookID).Scan(&disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("webhook %s: %w", webhookID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: replaying: %w", s.d.Name, err)
		}
		if disabled != 0 {
			return fmt.Errorf("webhook %s is disabled; add a new subscription instead of replaying to it: %w", webhookID, store.ErrConflict)
		}
		q := `UPDATE webhook_deliveries SET state = ?, attempts = 0, next_attempt = ?, last_error = '', updated_at = ? WHERE webhook_id = ?`
		args := []any{store.DeliveryPending, micros(at), micros(at), webhookID}
		if ids == nil {
			q += ` AND state = ?`
			args = append(args, store.DeliveryDead)
		} else {
			if len(ids) == 0 {
				return nil
			}
			q += ` AND state IN (?, ?) AND id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
			args = append(args, store.DeliveryDead, store.DeliveryDelivered)
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(q), args...)
		if err != nil {
			return fmt.Errorf("%s: replaying deliveries: %w", s.d.Name, err)
		}
		n, _ = res.RowsAffected()
		if n == 0 {
			return nil
		}
		// attempts counts the tries since the last replay (the retry
		// budget); the log keeps numbering after the old ones.
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
	return int(n), err
}

// ---- Incidents -------------------------------------------------------------

const incidentCols = `id, title, summary, severity, state, opened_by, opened_at, contained_at, remediated_at, closed_at, closed_by, postmortem`

func scanIncident(r interface{ Scan(...any) error }) (store.Incident, error) {
	var inc store.Incident
	var opened, contained, remediated, closed int64
	err := r.Scan(&inc.ID, &inc.Title, &inc.Summary, &inc.Severity, &inc.State, &inc.OpenedBy, &opened, &contained, &remediated, &closed, &inc.ClosedBy, &inc.Postmortem)
	inc.OpenedAt, inc.ContainedAt, inc.RemediatedAt, inc.ClosedAt = fromMicros(opened), fromMicros(contained), fromMicros(remediated), fromMicros(closed)
	return inc, err
}

func checkIncident(inc store.Incident) error {
	switch {
	case inc.ID == "" || inc.Title == "" || inc.OpenedBy == "" || inc.OpenedAt.IsZero():
		return errors.New("an incident needs an id, a title, who opened it and when")
	case len(inc.Title) > 512 || len(inc.Summary) > MaxIncidentText || len(inc.Postmortem) > MaxIncidentText:
		return fmt.Errorf("incident %s: the title is limited to 512 bytes, the summary and post-mortem to %d", inc.ID, MaxIncidentText)
	}
	switch inc.State {
	case store.IncidentOpen, store.IncidentContained, store.IncidentClosed:
	default:
		return fmt.Errorf("incident %s: unknown state %q", inc.ID, inc.State)
	}
	return nil
}

// CreateIncident records a new incident.
func (s *Store) CreateIncident(ctx context.Context, inc store.Incident, ev audit.Event) error {
	if err := checkIncident(inc); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO incidents (`+incidentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			inc.ID, inc.Title, inc.Summary, inc.Severity, inc.State, inc.OpenedBy, micros(inc.OpenedAt), micros(inc.ContainedAt), micros(inc.RemediatedAt), micros(inc.ClosedAt), inc.ClosedBy, inc.Postmortem)
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("incident %s exists: %w", inc.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: creating incident %s: %w", s.d.Name, inc.ID, err)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// GetIncident returns one incident.
func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	inc, err := scanIncident(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return inc, fmt.Errorf("%s: reading incident %s: %w", s.d.Name, id, err)
	}
	return inc, nil
}

// ListIncidents returns incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]store.Incident, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultDeliveryRows
	}
	if q.Limit > MaxDeliveryRows {
		q.Limit = MaxDeliveryRows
	}
	query, args := `SELECT `+incidentCols+` FROM incidents`, []any{}
	if q.State != "" {
		query += ` WHERE state = ?`
		args = append(args, q.State)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(query+` ORDER BY opened_at DESC, id LIMIT ?`), append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("%s: listing incidents: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: listing incidents: %w", s.d.Name, err)
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// UpdateIncident writes an incident's mutable fields.
func (s *Store) UpdateIncident(ctx context.Context, inc store.Incident, ev audit.Event) error {
	if err := checkIncident(inc); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE incidents SET state = ?, contained_at = ?, remediated_at = ?, closed_at = ?, closed_by = ?, postmortem = ? WHERE id = ?`),
			inc.State, micros(inc.ContainedAt), micros(inc.RemediatedAt), micros(inc.ClosedAt), inc.ClosedBy, inc.Postmortem, inc.ID)
		if err != nil {
			return fmt.Errorf("%s: updating incident %s: %w", s.d.Name, inc.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("incident %s: %w", inc.ID, store.ErrNotFound)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// AddIncidentVersions names versions in an incident.
func (s *Store) AddIncidentVersions(ctx context.Context, incidentID string, vs []store.IncidentVersion, ev audit.Event) (int, error) {
	if len(vs) == 0 || len(vs) > MaxVersionLimit {
		return 0, fmt.Errorf("add 1 to %d versions at once", MaxVersionLimit)
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT 1 FROM incidents WHERE id = ?`), incidentID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("incident %s: %w", incidentID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: adding versions: %w", s.d.Name, err)
		}
		for _, v := range vs {
			if v.VersionID == "" || v.Source == "" || v.AddedBy == "" {
				return errors.New("an incident version needs a version, a source and who added it")
			}
			err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT 1 FROM versions WHERE id = ?`), v.VersionID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("version %s: %w", v.VersionID, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("%s: adding versions: %w", s.d.Name, err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM incident_versions WHERE incident_id = ? AND version_id = ?`), incidentID, v.VersionID).Scan(&n); err != nil {
				return fmt.Errorf("%s: adding versions: %w", s.d.Name, err)
			}
			if n > 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO incident_versions (incident_id, version_id, source, added_by, added_at) VALUES (?, ?, ?, ?, ?)`),
				incidentID, v.VersionID, v.Source, v.AddedBy, micros(v.AddedAt)); err != nil {
				return fmt.Errorf("%s: adding version %s to incident %s: %w", s.d.Name, v.VersionID, incidentID, err)
			}
			added++
		}
		if added == 0 {
			return nil
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// ListIncidentVersions returns the versions an incident names, in the
// order they were added.
func (s *Store) ListIncidentVersions(ctx context.Context, incidentID string) ([]store.IncidentVersion, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT version_id, source, added_by, added_at FROM incident_versions WHERE incident_id = ? ORDER BY added_at, version_id LIMIT ?`), incidentID, MaxListRows+1)
	if err != nil {
		return nil, fmt.Errorf("%s: listing incident versions: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.IncidentVersion
	for rows.Next() {
		var v store.IncidentVersion
		var added int64
		if err := rows.Scan(&v.VersionID, &v.Source, &v.AddedBy, &added); err != nil {
			return nil, fmt.Errorf("%s: listing incident versions: %w", s.d.Name, err)
		}
		v.AddedAt = fromMicros(added)
		out = append(out, v)
	}
	if len(out) > MaxListRows {
		return nil, fmt.Errorf("incident %s names more than %d versions", incidentID, MaxListRows)
	}
	return out, rows.Err()
}

// ---- Hunting rules ---------------------------------------------------------

// CreateHuntRule records a rule.
func (s *Store) CreateHuntRule(ctx context.Context, r store.HuntRule, ev audit.Event) error {
	switch {
	case r.ID == "" || r.CreatedBy == "" || r.Pattern == "":
		return errors.New("a hunting rule needs an id, a pattern and who added it")
	case len(r.Pattern) > MaxHuntPattern || len(r.Description) > MaxReason:
		return fmt.Errorf("hunting rule %s: the pattern is limited to %d bytes and the description to %d", r.ID, MaxHuntPattern, MaxReason)
	}
	switch r.Kind {
	case store.HuntContent, store.HuntModule, store.HuntImport, store.HuntOrigin:
	default:
		return fmt.Errorf("hunting rule %s: unknown kind %q", r.ID, r.Kind)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO hunt_rules (id, incident_id, kind, pattern, description, created_by, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.IncidentID, r.Kind, r.Pattern, r.Description, r.CreatedBy, micros(r.CreatedAt), micros(r.DisabledAt))
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("hunting rule %s exists: %w", r.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("%s: creating hunting rule %s: %w", s.d.Name, r.ID, err)
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}

// ListHuntRules returns the rules, oldest first.
func (s *Store) ListHuntRules(ctx context.Context, activeOnly bool) ([]store.HuntRule, error) {
	q := `SELECT id, incident_id, kind, pattern, description, created_by, created_at, disabled_at FROM hunt_rules`
	if activeOnly {
		q += ` WHERE disabled_at = 0`
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q+` ORDER BY created_at, id LIMIT ?`), MaxListRows+1)
	if err != nil {
		return nil, fmt.Errorf("%s: listing hunting rules: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []store.HuntRule
	for rows.Next() {
		var r store.HuntRule
		var created, disabled int64
		if err := rows.Scan(&r.ID, &r.IncidentID, &r.Kind, &r.Pattern, &r.Description, &r.CreatedBy, &created, &disabled); err != nil {
			return nil, fmt.Errorf("%s: listing hunting rules: %w", s.d.Name, err)
		}
		r.CreatedAt, r.DisabledAt = fromMicros(created), fromMicros(disabled)
		out = append(out, r)
	}
	if len(out) > MaxListRows {
		return nil, fmt.Errorf("there are more than %d hunting rules: disable old ones", MaxListRows)
	}
	return out, rows.Err()
}

// DisableHuntRule stops a rule from applying.
func (s *Store) DisableHuntRule(ctx context.Context, id string, at time.Time, ev audit.Event) error {
	if at.IsZero() {
		return fmt.Errorf("disabling hunting rule %s: the time is not set", id)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE hunt_rules SET disabled_at = ? WHERE id = ? AND disabled_at = 0`), micros(at), id)
		if err != nil {
			return fmt.Errorf("%s: disabling hunting rule %s: %w", s.d.Name, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT 1 FROM hunt_rules WHERE id = ?`), id).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("hunting rule %s: %w", id, store.ErrNotFound)
			}
			return err
		}
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
}
