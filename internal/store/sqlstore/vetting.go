package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// MaxVetResults bounds the stored results of one run.
const MaxVetResults = 16 << 20

// SaveVetRun stores a run with the next run number and its audit event.
func (s *Store) SaveVetRun(ctx context.Context, r domain.VetRun, ev audit.Event) (domain.VetRun, error) {
	if len(r.Results) > MaxVetResults {
		return r, fmt.Errorf("vetting results are %d bytes, over the limit of %d", len(r.Results), MaxVetResults)
	}
	r.CreatedAt = stamp(r.CreatedAt)
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var err error
		if r.Run, err = s.nextSeq(ctx, tx, "vet_runs", "run", "version_id", r.VersionID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vet_runs (version_id, run, results, blocked, summary, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			r.VersionID, r.Run, r.Results, r.Blocked, r.Summary, micros(r.CreatedAt))
		if err != nil {
			if s.d.IsUniqueViolation(err) || strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "foreign key") {
				return fmt.Errorf("saving vetting run for %s: %w", r.VersionID, domain.ErrNotFound)
			}
			return fmt.Errorf("%s: saving vetting run: %w", s.d.Name, err)
		}
		return nil
	})
	return r, err
}

// LatestVetRun returns a version's newest run.
func (s *Store) LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error) {
	return getOne(ctx, s, s.db, "reading vetting run", "vetting run of "+versionID, func(sc scanner) (domain.VetRun, error) {
		var r domain.VetRun
		var created int64
		err := sc.Scan(&r.VersionID, &r.Run, &r.Results, &r.Blocked, &r.Summary, &created)
		r.CreatedAt = fromMicros(created)
		return r, err
	}, `SELECT version_id, run, results, blocked, summary, created_at FROM vet_runs WHERE version_id = ? ORDER BY run DESC LIMIT 1`, versionID)
}

// AddSuppression records (or replaces) a false-positive decision.
func (s *Store) AddSuppression(ctx context.Context, sup domain.Suppression, ev audit.Event) error {
	if sup.PluginID == "" || sup.Fingerprint == "" || sup.By == "" || strings.TrimSpace(sup.Reason) == "" {
		return errors.New("a suppression needs a plugin, a fingerprint, who decided and a reason")
	}
	if len(sup.Reason) > MaxReason {
		return fmt.Errorf("the reason is over %d bytes", MaxReason)
	}
	sup.CreatedAt = stamp(sup.CreatedAt)
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM suppressions WHERE plugin_id = ? AND fingerprint = ?`), sup.PluginID, sup.Fingerprint); err != nil {
			return fmt.Errorf("%s: replacing suppression: %w", s.d.Name, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO suppressions (plugin_id, fingerprint, rule_id, by_subject, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			sup.PluginID, sup.Fingerprint, sup.RuleID, sup.By, sup.Reason, micros(sup.CreatedAt)); err != nil {
			return fmt.Errorf("%s: adding suppression: %w", s.d.Name, err)
		}
		return nil
	})
}

// ListSuppressions returns a plugin's false-positive decisions.
func (s *Store) ListSuppressions(ctx context.Context, pluginID string) ([]domain.Suppression, error) {
	return listAll(ctx, s, "listing suppressions", fmt.Sprintf("plugin %s has more than %d suppressions", pluginID, MaxListRows), MaxListRows,
		func(sc scanner) (domain.Suppression, error) {
			var sup domain.Suppression
			var created int64
			err := sc.Scan(&sup.PluginID, &sup.Fingerprint, &sup.RuleID, &sup.By, &sup.Reason, &created)
			sup.CreatedAt = fromMicros(created)
			return sup, err
		}, `SELECT plugin_id, fingerprint, rule_id, by_subject, reason, created_at FROM suppressions WHERE plugin_id = ? ORDER BY created_at`, pluginID)
}
