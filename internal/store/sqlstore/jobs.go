package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// MaxJobArgs bounds a job's arguments.
const MaxJobArgs = 64 << 10

const jobCols = `id, kind, job_key, args, state, attempts, run_at, lease_until, last_error, created_at, updated_at`

func scanJob(r scanner) (domain.Job, error) {
	var j domain.Job
	var runAt, lease, created, updated int64
	err := r.Scan(&j.ID, &j.Kind, &j.Key, &j.Args, &j.State, &j.Attempts, &runAt, &lease, &j.LastError, &created, &updated)
	j.RunAt, j.LeaseUntil, j.CreatedAt, j.UpdatedAt = fromMicros(runAt), fromMicros(lease), fromMicros(created), fromMicros(updated)
	return j, err
}

// EnqueueJob adds a job unless one with the same kind and key is active.
func (s *Store) EnqueueJob(ctx context.Context, j domain.Job) (bool, error) {
	if j.Kind == "" || j.Key == "" {
		return false, errors.New("a job needs a kind and a key")
	}
	if len(j.Args) > MaxJobArgs {
		return false, fmt.Errorf("job arguments are %d bytes, over the limit of %d", len(j.Args), MaxJobArgs)
	}
	now := micros(time.Now())
	j.RunAt = stamp(j.RunAt)
	var enqueued bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM jobs WHERE kind = ? AND job_key = ? AND state IN ('queued', 'running')`), j.Kind, j.Key).Scan(&n)
		if err != nil || n > 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO jobs (kind, job_key, args, state, attempts, run_at, lease_until, last_error, created_at, updated_at)
			VALUES (?, ?, ?, 'queued', 0, ?, 0, '', ?, ?)`), j.Kind, j.Key, nonEmpty(j.Args), micros(j.RunAt), now, now)
		if err != nil {
			return fmt.Errorf("%s: enqueueing %s job %s: %w", s.d.Name, j.Kind, j.Key, err)
		}
		enqueued = true
		return nil
	})
	return enqueued, err
}

// ClaimJob leases the oldest due job of one of kinds. Writers are
// serialised, so the select-then-update cannot hand one job to two workers.
func (s *Store) ClaimJob(ctx context.Context, kinds []string, now time.Time, lease time.Duration) (domain.Job, error) {
	if len(kinds) == 0 || len(kinds) > 32 {
		return domain.Job{}, errors.New("claim between 1 and 32 job kinds")
	}
	var j domain.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		args := []any{}
		for _, k := range kinds {
			args = append(args, k)
		}
		args = append(args, micros(now), micros(now))
		q := `SELECT ` + jobCols + ` FROM jobs
			WHERE kind IN (?` + strings.Repeat(", ?", len(kinds)-1) + `)
			AND ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?))
			ORDER BY run_at, id LIMIT 1`
		var err error
		j, err = scanJob(tx.QueryRowContext(ctx, s.d.rebind(q), args...))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("%s: claiming a job: %w", s.d.Name, err)
		}
		j.State, j.Attempts, j.LeaseUntil, j.UpdatedAt = "running", j.Attempts+1, norm(now.Add(lease)), norm(now)
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE jobs SET state = 'running', attempts = ?, lease_until = ?, updated_at = ? WHERE id = ?`),
			j.Attempts, micros(j.LeaseUntil), micros(now), j.ID)
		if err != nil {
			return fmt.Errorf("%s: claiming job %d: %w", s.d.Name, j.ID, err)
		}
		return nil
	})
	return j, err
}

func (s *Store) setJob(ctx context.Context, id int64, state, lastErr string, runAt, now time.Time) error {
	if len(lastErr) > MaxReason {
		lastErr = lastErr[:MaxReason]
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		q := `UPDATE jobs SET state = ?, last_error = ?, updated_at = ?, lease_until = 0`
		args := []any{state, lastErr, micros(now)}
		if !runAt.IsZero() {
			q += `, run_at = ?`
			args = append(args, micros(runAt))
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(q+` WHERE id = ? AND state = 'running'`), append(args, id)...)
		if err != nil {
			return fmt.Errorf("%s: updating job %d: %w", s.d.Name, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("job %d is not running: %w", id, domain.ErrStateChanged)
		}
		return nil
	})
}

// FinishJob marks a claimed job done.
func (s *Store) FinishJob(ctx context.Context, id int64, now time.Time) error {
	return s.setJob(ctx, id, "done", "", time.Time{}, now)
}

// RetryJob requeues a claimed job for at.
func (s *Store) RetryJob(ctx context.Context, id int64, lastErr string, at time.Time) error {
	return s.setJob(ctx, id, "queued", lastErr, at, time.Now())
}

// FailJob gives up on a claimed job.
func (s *Store) FailJob(ctx context.Context, id int64, lastErr string, now time.Time) error {
	return s.setJob(ctx, id, "failed", lastErr, time.Time{}, now)
}

// ListJobs lists jobs in a state, oldest first.
func (s *Store) ListJobs(ctx context.Context, state string, limit int) ([]domain.Job, error) {
	if limit <= 0 || limit > MaxVersionLimit {
		limit = MaxVersionLimit
	}
	return list(ctx, s, s.db, "listing jobs", scanJob, `SELECT `+jobCols+` FROM jobs WHERE state = ? ORDER BY run_at, id LIMIT ?`, state, limit)
}

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
