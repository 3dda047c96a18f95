package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
)

// maxPseudonymiseBatch bounds one purge transaction.
const maxPseudonymiseBatch = 10000

// PseudonymiseAudit implements store.AuditTrail.
func (s *Store) PseudonymiseAudit(ctx context.Context, before time.Time, limit int, ev audit.Event) (changed, sealedBefore int, err error) {
	if limit <= 0 || limit > maxPseudonymiseBatch {
		return 0, 0, fmt.Errorf("pseudonymise: limit %d is outside 1..%d", limit, maxPseudonymiseBatch)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		changed, sealedBefore = 0, 0
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT count(*) FROM audit_events WHERE time < ? AND hash_version = 0`), micros(before)).Scan(&sealedBefore); err != nil {
			return fmt.Errorf("%s: counting version 1 audit events: %w", s.d.Name, err)
		}
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT `+auditCols+` FROM audit_events
			WHERE time < ? AND hash_version IN (2, 3) AND (actor_salt IS NOT NULL OR (subject_salt IS NOT NULL AND subject LIKE 'token:%'))
			ORDER BY seq LIMIT ?`), micros(before), limit)
		if err != nil {
			return fmt.Errorf("%s: reading audit events to pseudonymise: %w", s.d.Name, err)
		}
		var evs []audit.Event
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s: reading audit events to pseudonymise: %w", s.d.Name, err)
			}
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: reading audit events to pseudonymise: %w", s.d.Name, err)
		}
		for _, e := range evs {
			// The actor always; the subject, reason and data when they
			// name a person (declared per action in the catalogue).
			p, err := audit.Pseudonymise(e, audit.PersonalFields(e))
			if err != nil {
				return err
			}
			if audit.ComputeHash(p) != e.Hash {
				return fmt.Errorf("pseudonymise: event %d would no longer verify; left as it is", e.Seq)
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE audit_events SET actor = ?, subject = ?, reason = ?, data = ?,
				actor_salt = ?, subject_salt = ?, reason_salt = ?, data_salt = ? WHERE seq = ?`),
				p.Actor, p.Subject, p.Reason, nonEmpty(p.Data), nonEmpty(p.ActorSalt), nonEmpty(p.SubjectSalt),
				nonEmpty(p.ReasonSalt), nonEmpty(p.DataSalt), e.Seq); err != nil {
				return fmt.Errorf("%s: pseudonymising audit event %d: %w", s.d.Name, e.Seq, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
		data, _ := json.Marshal(map[string]any{"before": before.UTC().Format(time.RFC3339), "pseudonymised": changed, "sealedBefore": sealedBefore})
		ev.Data = data
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
	return changed, sealedBefore, err
}

// PurgeTokens implements store.Tokens.
func (s *Store) PurgeTokens(ctx context.Context, before time.Time, limit int, ev audit.Event) (deleted int, err error) {
	if limit <= 0 || limit > maxPseudonymiseBatch {
		return 0, fmt.Errorf("purging tokens: limit %d is outside 1..%d", limit, maxPseudonymiseBatch)
	}
	if before.IsZero() {
		return 0, fmt.Errorf("purging tokens: the cut-off is not set")
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		deleted = 0
		cut := micros(before)
		// A zero expires_at or revoked_at is "never", not 1970.
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT id FROM tokens
			WHERE (expires_at > 0 AND expires_at < ?) OR (revoked_at > 0 AND revoked_at < ?)
			ORDER BY id LIMIT ?`), cut, cut, limit)
		if err != nil {
			return fmt.Errorf("%s: finding tokens past their retention: %w", s.d.Name, err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("%s: finding tokens past their retention: %w", s.d.Name, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: finding tokens past their retention: %w", s.d.Name, err)
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM tokens WHERE id = ?`), id); err != nil {
				return fmt.Errorf("%s: deleting token %s: %w", s.d.Name, id, err)
			}
			deleted++
		}
		if deleted == 0 {
			return nil
		}
		data, _ := json.Marshal(map[string]any{"before": before.UTC().Format(time.RFC3339), "deleted": deleted})
		ev.Data = data
		return s.appendEvents(ctx, tx, []audit.Event{ev})
	})
	return deleted, err
}
