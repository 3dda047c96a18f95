package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// maxSettingValue bounds a setting's value.
const maxSettingValue = 1024

// Setting implements store.Settings.
func (s *Store) Setting(ctx context.Context, name string) (string, time.Time, error) {
	return s.setting(ctx, s.db, name)
}

func (s *Store) setting(ctx context.Context, q querier, name string) (string, time.Time, error) {
	var value string
	var at int64
	err := q.QueryRowContext(ctx, s.d.rebind(`SELECT value, updated_at FROM settings WHERE name = ?`), name).Scan(&value, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("setting %s: %w", name, domain.ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: reading setting %s: %w", s.d.Name, name, err)
	}
	return value, fromMicros(at), nil
}

// SetSetting implements store.Settings.
func (s *Store) SetSetting(ctx context.Context, name, expect, value string, at time.Time, ev audit.Event) error {
	switch {
	case name == "" || value == "":
		return errors.New("a setting needs a name and a value")
	case len(value) > maxSettingValue:
		return fmt.Errorf("setting %s: the value is %d bytes, over the limit of %d", name, len(value), maxSettingValue)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.setSetting(ctx, tx, name, expect, value, at)
	})
}

// setSetting changes a setting in tx if it still holds expect.
func (s *Store) setSetting(ctx context.Context, tx *sql.Tx, name, expect, value string, at time.Time) error {
	cur, _, err := s.setting(ctx, tx, name)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		cur = ""
	case err != nil:
		return err
	}
	if cur != expect {
		return fmt.Errorf("setting %s is %q, not %q: %w", name, cur, expect, domain.ErrStateChanged)
	}
	if cur == "" {
		return s.insert(ctx, tx, "setting "+name, "", `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)`, name, value, micros(stamp(at)))
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE settings SET value = ?, updated_at = ? WHERE name = ?`), value, micros(stamp(at)), name); err != nil {
		return fmt.Errorf("%s: changing setting %s: %w", s.d.Name, name, err)
	}
	return nil
}

// BootstrapAdmin implements store.Tokens.
func (s *Store) BootstrapAdmin(ctx context.Context, t domain.Token, ev audit.Event) (bool, error) {
	if t.Role != domain.RoleAdmin {
		return false, fmt.Errorf("token %s: the first token made at start-up is an admin token, not %q", t.ID, t.Role)
	}
	created := false
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if _, _, err := s.setting(ctx, tx, store.SettingAdminBootstrapped); err == nil {
			return errSkipAudit
		} else if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		if err := s.insertToken(ctx, tx, t); err != nil {
			return err
		}
		if err := s.setSetting(ctx, tx, store.SettingAdminBootstrapped, "", "token "+t.ID, t.CreatedAt); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, err
}

// PurgeRecords implements store.Retention.
func (s *Store) PurgeRecords(ctx context.Context, before time.Time, limit int, ev audit.Event) (store.Purged, error) {
	var p store.Purged
	if limit <= 0 || limit > maxPseudonymiseBatch {
		return p, fmt.Errorf("purging records: limit %d is outside 1..%d", limit, maxPseudonymiseBatch)
	}
	if before.IsZero() {
		return p, errors.New("purging records: the cut-off is not set")
	}
	cut := micros(before)
	err := s.write(ctx, func(tx *sql.Tx) error {
		p = store.Purged{}
		del := func(what, sel string, deletes ...string) (int, error) {
			ids, err := list(ctx, s, tx, "finding "+what+" past their retention", scanValue[int64], sel, cut, limit)
			if err != nil {
				return 0, err
			}
			for _, id := range ids {
				for _, d := range deletes {
					if _, err := tx.ExecContext(ctx, s.d.rebind(d), id); err != nil {
						return 0, fmt.Errorf("%s: deleting %s: %w", s.d.Name, what, err)
					}
				}
			}
			return len(ids), nil
		}
		var err error
		// Field health: the quorum counts votes within its window (hours)
		// and triage the reports of the last 30 days, never more than the
		// shortest retention; older rows serve nothing but name hosts.
		if p.HealthReports, err = del("health reports", `SELECT id FROM health_reports WHERE received_at < ? ORDER BY id LIMIT ?`,
			`DELETE FROM health_reports WHERE id = ?`); err != nil {
			return err
		}
		votes, err := listVotes(ctx, s, tx, cut, limit)
		if err != nil {
			return err
		}
		for _, v := range votes {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM health_votes WHERE version_id = ? AND kind = ? AND voter = ?`), v[0], v[1], v[2]); err != nil {
				return fmt.Errorf("%s: deleting a health vote: %w", s.d.Name, err)
			}
		}
		p.HealthVotes = len(votes)
		// Deliveries carry the event, actor included, as it was sent; one
		// delivered or given up long ago is sent again by nobody.
		if p.Deliveries, err = del("webhook deliveries", `SELECT id FROM webhook_deliveries
			WHERE state IN ('`+domain.DeliveryDelivered+`', '`+domain.DeliveryDead+`') AND updated_at < ? ORDER BY id LIMIT ?`,
			`DELETE FROM webhook_attempts WHERE delivery_id = ?`, `DELETE FROM webhook_deliveries WHERE id = ?`); err != nil {
			return err
		}
		// A webhook disabled before the cut-off delivers nothing and cannot
		// be enabled again; its owner and URL go with it, once no delivery
		// of it is left (a pending one is dropped with it: it would never be
		// sent).
		hooks, err := list(ctx, s, tx, "finding disabled webhooks past their retention", scanValue[string],
			`SELECT id FROM webhooks WHERE disabled_at > 0 AND disabled_at < ? ORDER BY id LIMIT ?`, cut, limit)
		if err != nil {
			return err
		}
		for _, id := range hooks {
			for _, q := range []string{
				`DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = ?)`,
				`DELETE FROM webhook_deliveries WHERE webhook_id = ?`,
				`DELETE FROM webhooks WHERE id = ?`,
			} {
				if _, err := tx.ExecContext(ctx, s.d.rebind(q), id); err != nil {
					return fmt.Errorf("%s: deleting webhook %s: %w", s.d.Name, id, err)
				}
			}
		}
		p.Webhooks = len(hooks)
		if p.Total() == 0 {
			return nil
		}
		data, _ := json.Marshal(map[string]any{"before": before.UTC().Format(time.RFC3339), "healthReports": p.HealthReports,
			"healthVotes": p.HealthVotes, "deliveries": p.Deliveries, "webhooks": p.Webhooks})
		ev.Data = data
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
	return p, err
}

func listVotes(ctx context.Context, s *Store, tx *sql.Tx, cut int64, limit int) ([][3]string, error) {
	return list(ctx, s, tx, "finding health votes past their retention", func(sc scanner) ([3]string, error) {
		var v [3]string
		err := sc.Scan(&v[0], &v[1], &v[2])
		return v, err
	}, `SELECT version_id, kind, voter FROM health_votes WHERE last_at < ? ORDER BY version_id, kind, voter LIMIT ?`, cut, limit)
}
