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
	"gatehouse.dev/gatehouse/internal/domain"
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

func scanWebhook(r scanner) (domain.Webhook, error) {
	var w domain.Webhook
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
func (s *Store) CreateWebhook(ctx context.Context, w domain.Webhook, ev audit.Event) error {
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
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, "webhook "+w.ID, "", `INSERT INTO webhooks (`+webhookCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.Owner, w.URL, string(events), w.Namespace, w.PluginID, w.Secret, micros(w.CreatedAt), micros(w.DisabledAt), w.DisabledReason)
	})
}

// GetWebhook returns one subscription.
func (s *Store) GetWebhook(ctx context.Context, id string) (domain.Webhook, error) {
	return getOne(ctx, s, s.db, "reading webhook "+id, "webhook "+id, scanWebhook, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id)
}

// ListWebhooks returns every subscription, oldest first.
func (s *Store) ListWebhooks(ctx context.Context) ([]domain.Webhook, error) {
	return listAll(ctx, s, "listing webhooks", fmt.Sprintf("there are more than %d webhooks: disable and remove unused ones", MaxListRows), MaxListRows,
		scanWebhook, `SELECT `+webhookCols+` FROM webhooks ORDER BY created_at, id`)
}

// DisableWebhook stops deliveries to a subscription.
func (s *Store) DisableWebhook(ctx context.Context, id string, at time.Time, reason string, ev audit.Event) error {
	if at.IsZero() {
		return fmt.Errorf("disabling webhook %s: the time is not set", id)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if err := s.changeOnce(ctx, tx, "disabling webhook "+id, "webhook "+id,
			`UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at = 0`, []any{micros(at), reason, id},
			`SELECT 1 FROM webhooks WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhook_deliveries SET state = ?, last_error = ?, updated_at = ? WHERE webhook_id = ? AND state = ?`),
			domain.DeliveryDead, "the subscription was disabled: "+reason, micros(at), id, domain.DeliveryPending); err != nil {
			return fmt.Errorf("%s: disabling webhook %s: %w", s.d.Name, id, err)
		}
		return nil
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
func (s *Store) EnqueueDeliveries(ctx context.Context, ds []domain.WebhookDelivery, from, to int64) error {
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
			return fmt.Errorf("the webhook cursor is no longer at %d: %w", from, domain.ErrStateChanged)
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
				d.WebhookID, d.EventSeq, d.EventType, d.MessageID, d.Payload, domain.DeliveryPending, micros(d.NextAttempt), now, now); err != nil {
				return fmt.Errorf("%s: enqueueing delivery of event %d to %s: %w", s.d.Name, d.EventSeq, d.WebhookID, err)
			}
		}
		return nil
	})
}

const deliveryCols = `id, webhook_id, event_seq, event_type, message_id, payload, state, attempts, next_attempt, last_status, last_error, created_at, updated_at`

func scanDelivery(r scanner) (domain.WebhookDelivery, error) {
	var d domain.WebhookDelivery
	var next, created, updated int64
	err := r.Scan(&d.ID, &d.WebhookID, &d.EventSeq, &d.EventType, &d.MessageID, &d.Payload, &d.State, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &updated)
	d.NextAttempt, d.CreatedAt, d.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	return d, err
}

// ClaimDeliveries leases due deliveries. Writers are serialised, so two
// workers never claim one delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]domain.WebhookDelivery, error) {
	if limit <= 0 || limit > MaxDeliveryRows {
		return nil, fmt.Errorf("claim between 1 and %d deliveries", MaxDeliveryRows)
	}
	if lease <= 0 {
		return nil, errors.New("a delivery lease must be positive")
	}
	var out []domain.WebhookDelivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		ds, err := list(ctx, s, tx, "reading deliveries", scanDelivery, `SELECT d.`+strings.ReplaceAll(deliveryCols, ", ", ", d.")+` FROM webhook_deliveries d
			JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = ? AND d.next_attempt <= ? AND w.disabled_at = 0
			ORDER BY d.next_attempt, d.id LIMIT ?`, domain.DeliveryPending, micros(now), limit)
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
func (s *Store) RecordAttempt(ctx context.Context, d domain.WebhookDelivery, a domain.WebhookAttempt, ev *audit.Event) error {
	switch d.State {
	case domain.DeliveryPending, domain.DeliveryDelivered, domain.DeliveryDead:
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
	var evs []audit.Event
	if ev != nil {
		evs = []audit.Event{*ev} // a dead letter is audited
	}
	return s.writeAudited(ctx, evs, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt = ?, last_status = ?, last_error = ?, updated_at = ?
			WHERE id = ? AND state = ?`),
			d.State, d.Attempts, micros(d.NextAttempt), d.LastStatus, lastErr, micros(a.At), d.ID, domain.DeliveryPending)
		if err != nil {
			return fmt.Errorf("%s: updating delivery %d: %w", s.d.Name, d.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delivery %d is no longer pending: %w", d.ID, domain.ErrStateChanged)
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
		if len(evs) == 0 {
			return errSkipAudit // an attempt is an operational record, not an audit event
		}
		return nil
	})
}

// GetDelivery returns one delivery.
func (s *Store) GetDelivery(ctx context.Context, id int64) (domain.WebhookDelivery, error) {
	name := fmt.Sprintf("delivery %d", id)
	return getOne(ctx, s, s.db, "reading "+name, name, scanDelivery, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ?`, id)
}

// ListDeliveries pages the delivery log, newest first.
func (s *Store) ListDeliveries(ctx context.Context, q domain.DeliveryQuery) ([]domain.WebhookDelivery, error) {
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
	return list(ctx, s, s.db, "reading deliveries", scanDelivery, query, args...)
}

// ListAttempts returns a delivery's attempts in order.
func (s *Store) ListAttempts(ctx context.Context, deliveryID int64) ([]domain.WebhookAttempt, error) {
	return list(ctx, s, s.db, "reading attempts", func(sc scanner) (domain.WebhookAttempt, error) {
		var a domain.WebhookAttempt
		var at, lat int64
		err := sc.Scan(&a.DeliveryID, &a.N, &at, &a.StatusCode, &lat, &a.Error, &a.Response)
		a.At, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		return a, err
	}, `SELECT delivery_id, n, at, status, latency_us, error, response FROM webhook_attempts WHERE delivery_id = ? ORDER BY n LIMIT ?`, deliveryID, MaxListRows)
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
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		disabled, err := getOne(ctx, s, tx, "replaying", "webhook "+webhookID, scanValue[int64], `SELECT disabled_at FROM webhooks WHERE id = ?`, webhookID)
		if err != nil {
			return err
		}
		if disabled != 0 {
			return fmt.Errorf("webhook %s is disabled; add a new subscription instead of replaying to it: %w", webhookID, domain.ErrConflict)
		}
		q := `UPDATE webhook_deliveries SET state = ?, attempts = 0, next_attempt = ?, last_error = '', updated_at = ? WHERE webhook_id = ?`
		args := []any{domain.DeliveryPending, micros(at), micros(at), webhookID}
		if ids == nil {
			q += ` AND state = ?`
			args = append(args, domain.DeliveryDead)
		} else {
			if len(ids) == 0 {
				return errSkipAudit
			}
			q += ` AND state IN (?, ?) AND id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
			args = append(args, domain.DeliveryDead, domain.DeliveryDelivered)
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(q), args...)
		if err != nil {
			return fmt.Errorf("%s: replaying deliveries: %w", s.d.Name, err)
		}
		// attempts counts the tries since the last replay (the retry
		// budget); the log keeps numbering after the old ones.
		if n, _ = res.RowsAffected(); n == 0 {
			return errSkipAudit
		}
		return nil
	})
	return int(n), err
}

// ---- Incidents -------------------------------------------------------------

const incidentCols = `id, title, summary, severity, state, opened_by, opened_at, contained_at, remediated_at, closed_at, closed_by, postmortem`

func scanIncident(r scanner) (domain.Incident, error) {
	var inc domain.Incident
	var opened, contained, remediated, closed int64
	err := r.Scan(&inc.ID, &inc.Title, &inc.Summary, &inc.Severity, &inc.State, &inc.OpenedBy, &opened, &contained, &remediated, &closed, &inc.ClosedBy, &inc.Postmortem)
	inc.OpenedAt, inc.ContainedAt, inc.RemediatedAt, inc.ClosedAt = fromMicros(opened), fromMicros(contained), fromMicros(remediated), fromMicros(closed)
	return inc, err
}

func checkIncident(inc domain.Incident) error {
	switch {
	case inc.ID == "" || inc.Title == "" || inc.OpenedBy == "" || inc.OpenedAt.IsZero():
		return errors.New("an incident needs an id, a title, who opened it and when")
	case len(inc.Title) > 512 || len(inc.Summary) > MaxIncidentText || len(inc.Postmortem) > MaxIncidentText:
		return fmt.Errorf("incident %s: the title is limited to 512 bytes, the summary and post-mortem to %d", inc.ID, MaxIncidentText)
	}
	switch inc.State {
	case domain.IncidentOpen, domain.IncidentContained, domain.IncidentClosed:
	default:
		return fmt.Errorf("incident %s: unknown state %q", inc.ID, inc.State)
	}
	return nil
}

// CreateIncident records a new incident.
func (s *Store) CreateIncident(ctx context.Context, inc domain.Incident, ev audit.Event) error {
	if err := checkIncident(inc); err != nil {
		return err
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, "incident "+inc.ID, "", `INSERT INTO incidents (`+incidentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inc.ID, inc.Title, inc.Summary, inc.Severity, inc.State, inc.OpenedBy, micros(inc.OpenedAt), micros(inc.ContainedAt), micros(inc.RemediatedAt), micros(inc.ClosedAt), inc.ClosedBy, inc.Postmortem)
	})
}

// GetIncident returns one incident.
func (s *Store) GetIncident(ctx context.Context, id string) (domain.Incident, error) {
	return getOne(ctx, s, s.db, "reading incident "+id, "incident "+id, scanIncident, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id)
}

// ListIncidents returns incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, q domain.IncidentQuery) ([]domain.Incident, error) {
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
	return list(ctx, s, s.db, "listing incidents", scanIncident, query+` ORDER BY opened_at DESC, id LIMIT ?`, append(args, q.Limit)...)
}

// UpdateIncident writes an incident's mutable fields.
func (s *Store) UpdateIncident(ctx context.Context, inc domain.Incident, ev audit.Event) error {
	if err := checkIncident(inc); err != nil {
		return err
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE incidents SET state = ?, contained_at = ?, remediated_at = ?, closed_at = ?, closed_by = ?, postmortem = ? WHERE id = ?`),
			inc.State, micros(inc.ContainedAt), micros(inc.RemediatedAt), micros(inc.ClosedAt), inc.ClosedBy, inc.Postmortem, inc.ID)
		if err != nil {
			return fmt.Errorf("%s: updating incident %s: %w", s.d.Name, inc.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("incident %s: %w", inc.ID, domain.ErrNotFound)
		}
		return nil
	})
}

// AddIncidentVersions names versions in an incident.
func (s *Store) AddIncidentVersions(ctx context.Context, incidentID string, vs []domain.IncidentVersion, ev audit.Event) (int, error) {
	if len(vs) == 0 || len(vs) > MaxVersionLimit {
		return 0, fmt.Errorf("add 1 to %d versions at once", MaxVersionLimit)
	}
	added := 0
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if err := s.mustExist(ctx, tx, "incident "+incidentID, `SELECT 1 FROM incidents WHERE id = ?`, incidentID); err != nil {
			return err
		}
		for _, v := range vs {
			if v.VersionID == "" || v.Source == "" || v.AddedBy == "" {
				return errors.New("an incident version needs a version, a source and who added it")
			}
			if err := s.mustExist(ctx, tx, "version "+v.VersionID, `SELECT 1 FROM versions WHERE id = ?`, v.VersionID); err != nil {
				return err
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
			return errSkipAudit
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// ListIncidentVersions returns the versions an incident names, in the
// order they were added.
func (s *Store) ListIncidentVersions(ctx context.Context, incidentID string) ([]domain.IncidentVersion, error) {
	return listAll(ctx, s, "listing incident versions", fmt.Sprintf("incident %s names more than %d versions", incidentID, MaxListRows), MaxListRows,
		func(sc scanner) (domain.IncidentVersion, error) {
			var v domain.IncidentVersion
			var added int64
			err := sc.Scan(&v.VersionID, &v.Source, &v.AddedBy, &added)
			v.AddedAt = fromMicros(added)
			return v, err
		}, `SELECT version_id, source, added_by, added_at FROM incident_versions WHERE incident_id = ? ORDER BY added_at, version_id`, incidentID)
}

// ---- Hunting rules ---------------------------------------------------------

// CreateHuntRule records a rule.
func (s *Store) CreateHuntRule(ctx context.Context, r domain.HuntRule, ev audit.Event) error {
	switch {
	case r.ID == "" || r.CreatedBy == "" || r.Pattern == "":
		return errors.New("a hunting rule needs an id, a pattern and who added it")
	case len(r.Pattern) > MaxHuntPattern || len(r.Description) > MaxReason:
		return fmt.Errorf("hunting rule %s: the pattern is limited to %d bytes and the description to %d", r.ID, MaxHuntPattern, MaxReason)
	}
	switch r.Kind {
	case domain.HuntContent, domain.HuntModule, domain.HuntImport, domain.HuntOrigin:
	default:
		return fmt.Errorf("hunting rule %s: unknown kind %q", r.ID, r.Kind)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, "hunting rule "+r.ID, "", `INSERT INTO hunt_rules (id, incident_id, kind, pattern, description, created_by, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.IncidentID, r.Kind, r.Pattern, r.Description, r.CreatedBy, micros(r.CreatedAt), micros(r.DisabledAt))
	})
}

// ListHuntRules returns the rules, oldest first.
func (s *Store) ListHuntRules(ctx context.Context, activeOnly bool) ([]domain.HuntRule, error) {
	q := `SELECT id, incident_id, kind, pattern, description, created_by, created_at, disabled_at FROM hunt_rules`
	if activeOnly {
		q += ` WHERE disabled_at = 0`
	}
	return listAll(ctx, s, "listing hunting rules", fmt.Sprintf("there are more than %d hunting rules: disable old ones", MaxListRows), MaxListRows,
		func(sc scanner) (domain.HuntRule, error) {
			var r domain.HuntRule
			var created, disabled int64
			err := sc.Scan(&r.ID, &r.IncidentID, &r.Kind, &r.Pattern, &r.Description, &r.CreatedBy, &created, &disabled)
			r.CreatedAt, r.DisabledAt = fromMicros(created), fromMicros(disabled)
			return r, err
		}, q+` ORDER BY created_at, id`)
}

// DisableHuntRule stops a rule from applying.
func (s *Store) DisableHuntRule(ctx context.Context, id string, at time.Time, ev audit.Event) error {
	if at.IsZero() {
		return fmt.Errorf("disabling hunting rule %s: the time is not set", id)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.changeOnce(ctx, tx, "disabling hunting rule "+id, "hunting rule "+id,
			`UPDATE hunt_rules SET disabled_at = ? WHERE id = ? AND disabled_at = 0`, []any{micros(at), id},
			`SELECT 1 FROM hunt_rules WHERE id = ?`, id)
	})
}
