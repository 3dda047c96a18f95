package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// ---- Releases (issue 18) ------------------------------------------------------

// releaseSelect reads a release with the names and digests of its version
// and the previous one.
const releaseSelect = `SELECT r.plugin_id, r.environment, r.version_id, v.version, v.digest, r.rollout, r.status,
	r.previous_version_id, COALESCE(p.version, ''), COALESCE(p.digest, ''), r.since, r.updated_at
	FROM releases r JOIN versions v ON v.id = r.version_id LEFT JOIN versions p ON p.id = r.previous_version_id`

func scanRelease(sc scanner) (domain.Release, error) {
	var r domain.Release
	var since, updated int64
	err := sc.Scan(&r.PluginID, &r.Environment, &r.VersionID, &r.Version, &r.Digest, &r.Rollout, &r.Status,
		&r.PreviousID, &r.Previous, &r.PreviousDigest, &since, &updated)
	r.Since, r.UpdatedAt = fromMicros(since), fromMicros(updated)
	return r, err
}

func checkRelease(r domain.Release) error {
	switch {
	case r.PluginID == "" || r.Environment == "" || r.VersionID == "":
		return errors.New("a release needs a plugin, an environment and a version")
	case r.Rollout < 1 || r.Rollout > 100:
		return fmt.Errorf("release of %s in %s: rollout %d is not 1 to 100", r.PluginID, r.Environment, r.Rollout)
	case r.Status != domain.RolloutActive && r.Status != domain.RolloutPaused && r.Status != domain.RolloutHalted:
		return fmt.Errorf("release of %s in %s: unknown status %q", r.PluginID, r.Environment, r.Status)
	case r.Rollout < 100 && r.PreviousID == "":
		return fmt.Errorf("release of %s in %s: a partial rollout needs the previous version the other hosts keep", r.PluginID, r.Environment)
	case r.UpdatedAt.IsZero() || r.Since.IsZero():
		return fmt.Errorf("release of %s in %s: its times are not set", r.PluginID, r.Environment)
	}
	return nil
}

// ApplyRelease records a change of a release, its history line, log
// entries and audit events in one transaction.
func (s *Store) ApplyRelease(ctx context.Context, c store.ReleaseChange) error {
	r := c.Release
	if len(c.Audit) == 0 {
		return errors.New("a change of a release must be recorded by at least one audit event")
	}
	if err := checkRelease(r); err != nil {
		return err
	}
	if len(c.Record.Reason) > domain.MaxReleaseReason {
		return fmt.Errorf("release of %s in %s: reason is %d bytes, over the limit of %d", r.PluginID, r.Environment, len(c.Record.Reason), domain.MaxReleaseReason)
	}
	r.Since, r.UpdatedAt = norm(r.Since), norm(r.UpdatedAt)
	return s.writeAudited(ctx, c.Audit, func(tx *sql.Tx) error {
		switch {
		case !c.Expect.UpdatedAt.IsZero():
			res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE releases SET version_id = ?, rollout = ?, status = ?, previous_version_id = ?, since = ?, updated_at = ?
				WHERE plugin_id = ? AND environment = ? AND updated_at = ? AND version_id = ?`),
				r.VersionID, r.Rollout, string(r.Status), r.PreviousID, micros(r.Since), micros(r.UpdatedAt),
				r.PluginID, r.Environment, micros(c.Expect.UpdatedAt), c.Expect.VersionID)
			if err != nil {
				return fmt.Errorf("%s: changing the release of %s in %s: %w", s.d.Name, r.PluginID, r.Environment, err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("the release of %s in %s changed meanwhile; look again and retry: %w", r.PluginID, r.Environment, domain.ErrStateChanged)
			}
		case c.Replace:
			if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM releases WHERE plugin_id = ? AND environment = ?`), r.PluginID, r.Environment); err != nil {
				return fmt.Errorf("%s: replacing the release of %s in %s: %w", s.d.Name, r.PluginID, r.Environment, err)
			}
			fallthrough
		default:
			if err := s.insert(ctx, tx, "the release of "+r.PluginID+" in "+r.Environment, "", `INSERT INTO releases
				(plugin_id, environment, version_id, rollout, status, previous_version_id, since, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				r.PluginID, r.Environment, r.VersionID, r.Rollout, string(r.Status), r.PreviousID, micros(r.Since), micros(r.UpdatedAt)); err != nil {
				return err
			}
		}
		h := c.Record
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO release_history (plugin_id, environment, action, version_id, rollout, actor, reason, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), r.PluginID, r.Environment, string(h.Action), r.VersionID, r.Rollout, h.Actor, h.Reason, micros(r.UpdatedAt)); err != nil {
			return fmt.Errorf("%s: recording the history of %s in %s: %w", s.d.Name, r.PluginID, r.Environment, err)
		}
		_, err := s.queueEntries(ctx, tx, c.Entries, r.UpdatedAt)
		return err
	})
}

// GetRelease returns a plugin's release in an environment.
func (s *Store) GetRelease(ctx context.Context, pluginID, env string) (domain.Release, error) {
	return getOne(ctx, s, s.db, "reading the release of "+pluginID, "no release of "+pluginID+" in "+env, scanRelease,
		releaseSelect+` WHERE r.plugin_id = ? AND r.environment = ?`, pluginID, env)
}

// ListReleases returns an environment's releases by plugin id.
func (s *Store) ListReleases(ctx context.Context, env string, limit int) ([]domain.Release, error) {
	if limit <= 0 || limit > MaxListRows {
		limit = MaxListRows
	}
	tooLong := fmt.Sprintf("environment %s has more than %d releases", env, limit)
	if env == "" {
		return listAll(ctx, s, "listing releases", tooLong, limit, scanRelease, releaseSelect+` ORDER BY r.plugin_id, r.environment`)
	}
	return listAll(ctx, s, "listing the releases of "+env, tooLong, limit, scanRelease, releaseSelect+` WHERE r.environment = ? ORDER BY r.plugin_id`, env)
}

// PluginReleases returns a plugin's releases in every environment.
func (s *Store) PluginReleases(ctx context.Context, pluginID string) ([]domain.Release, error) {
	return list(ctx, s, s.db, "listing the releases of "+pluginID, scanRelease, releaseSelect+` WHERE r.plugin_id = ? ORDER BY r.environment`, pluginID)
}

// ReleaseHistory returns a plugin's release history, newest first.
func (s *Store) ReleaseHistory(ctx context.Context, pluginID, env string, limit int) ([]domain.ReleaseRecord, error) {
	if limit <= 0 || limit > MaxListRows {
		limit = MaxListRows
	}
	q := `SELECT h.seq, h.plugin_id, h.environment, h.action, h.version_id, v.version, h.rollout, h.actor, h.reason, h.at
		FROM release_history h JOIN versions v ON v.id = h.version_id WHERE h.plugin_id = ?`
	args := []any{pluginID}
	if env != "" {
		q += ` AND h.environment = ?`
		args = append(args, env)
	}
	return list(ctx, s, s.db, "reading the release history of "+pluginID, func(sc scanner) (domain.ReleaseRecord, error) {
		var r domain.ReleaseRecord
		var at int64
		err := sc.Scan(&r.Seq, &r.PluginID, &r.Environment, &r.Action, &r.VersionID, &r.Version, &r.Rollout, &r.Actor, &r.Reason, &at)
		r.At = fromMicros(at)
		return r, err
	}, q+` ORDER BY h.seq DESC LIMIT ?`, append(args, limit)...)
}

// ApproveRelease records a steward's approval once.
func (s *Store) ApproveRelease(ctx context.Context, a domain.ReleaseApproval, ev audit.Event) error {
	if a.VersionID == "" || a.Environment == "" || a.Approver == "" {
		return errors.New("an approval needs a version, an environment and an approver")
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		// ON CONFLICT rather than a caught unique violation: PostgreSQL
		// aborts a transaction at its first error.
		res, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO release_approvals (version_id, environment, approver, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (version_id, environment, approver) DO NOTHING`), a.VersionID, a.Environment, a.Approver, micros(a.At))
		if err != nil {
			return fmt.Errorf("%s: recording the approval of %s for %s: %w", s.d.Name, a.VersionID, a.Environment, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return errSkipAudit
		}
		return nil
	})
}

// ReleaseApprovals lists a version's approvals for an environment.
func (s *Store) ReleaseApprovals(ctx context.Context, versionID, env string) ([]domain.ReleaseApproval, error) {
	return list(ctx, s, s.db, "listing approvals of "+versionID, func(sc scanner) (domain.ReleaseApproval, error) {
		var a domain.ReleaseApproval
		var at int64
		err := sc.Scan(&a.VersionID, &a.Environment, &a.Approver, &at)
		a.At = fromMicros(at)
		return a, err
	}, `SELECT version_id, environment, approver, at FROM release_approvals WHERE version_id = ? AND environment = ? ORDER BY at, approver`, versionID, env)
}

// KillPlugin records the kill switch.
func (s *Store) KillPlugin(ctx context.Context, k domain.PluginKill, entry []byte, ev audit.Event) error {
	if k.PluginID == "" || k.Reason == "" || len(k.Reason) > domain.MaxReleaseReason {
		return fmt.Errorf("a kill needs a plugin and a reason of 1 to %d bytes", domain.MaxReleaseReason)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if err := s.insert(ctx, tx, "the kill of "+k.PluginID, "plugin "+k.PluginID+" is killed already",
			`INSERT INTO plugin_kills (plugin_id, reason, actor, at) VALUES (?, ?, ?, ?)`, k.PluginID, k.Reason, k.Actor, micros(k.At)); err != nil {
			return err
		}
		_, err := s.queueEntries(ctx, tx, [][]byte{entry}, k.At)
		return err
	})
}

// ListKills lists killed plugins by id.
func (s *Store) ListKills(ctx context.Context) ([]domain.PluginKill, error) {
	return listAll(ctx, s, "listing killed plugins", fmt.Sprintf("more than %d plugins are killed", MaxListRows), MaxListRows,
		func(sc scanner) (domain.PluginKill, error) {
			var k domain.PluginKill
			var at int64
			err := sc.Scan(&k.PluginID, &k.Reason, &k.Actor, &at)
			k.At = fromMicros(at)
			return k, err
		}, `SELECT plugin_id, reason, actor, at FROM plugin_kills ORDER BY plugin_id`)
}

// SaveStatusFeed stores an environment's next feed.
func (s *Store) SaveStatusFeed(ctx context.Context, f domain.StatusFeedRecord, entry []byte, ev audit.Event) error {
	if f.Environment == "" || f.Sequence < 1 {
		return errors.New("a status feed needs an environment and a sequence from 1")
	}
	if len(f.Envelope) == 0 || len(f.Envelope) > MaxTrustDocument {
		return fmt.Errorf("status feed of %s is %d bytes; it must be 1 to %d", f.Environment, len(f.Envelope), MaxTrustDocument)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var latest int64
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(seq), 0) FROM status_feeds WHERE environment = ?`), f.Environment).Scan(&latest); err != nil {
			return fmt.Errorf("%s: reading the latest status feed of %s: %w", s.d.Name, f.Environment, err)
		}
		if f.Sequence != latest+1 {
			return fmt.Errorf("status feed %s/%d does not follow %d (another process published one): %w", f.Environment, f.Sequence, latest, domain.ErrStateChanged)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO status_feeds (environment, seq, envelope, issued_at, next_update) VALUES (?, ?, ?, ?, ?)`),
			f.Environment, f.Sequence, f.Envelope, micros(f.IssuedAt), micros(f.NextUpdate)); err != nil {
			return fmt.Errorf("%s: storing status feed %s/%d: %w", s.d.Name, f.Environment, f.Sequence, err)
		}
		_, err := s.queueEntries(ctx, tx, [][]byte{entry}, f.IssuedAt)
		return err
	})
}

// LatestStatusFeed returns an environment's newest feed.
func (s *Store) LatestStatusFeed(ctx context.Context, env string) (domain.StatusFeedRecord, error) {
	return getOne(ctx, s, s.db, "reading the status feed of "+env, "no status feed of "+env, func(sc scanner) (domain.StatusFeedRecord, error) {
		var f domain.StatusFeedRecord
		var issued, next int64
		err := sc.Scan(&f.Environment, &f.Sequence, &f.Envelope, &issued, &next)
		f.IssuedAt, f.NextUpdate = fromMicros(issued), fromMicros(next)
		return f, err
	}, `SELECT environment, seq, envelope, issued_at, next_update FROM status_feeds WHERE environment = ? ORDER BY seq DESC LIMIT 1`, env)
}

// releaseTx makes a newly certified version the release of env (the first
// environment) at 100%, keeping the release it replaces as the previous
// one, with its history line.
func (s *Store) releaseTx(ctx context.Context, tx *sql.Tx, versionID, env, actor string, now time.Time) error {
	var pluginID string
	if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT plugin_id FROM versions WHERE id = ?`), versionID).Scan(&pluginID); err != nil {
		return fmt.Errorf("%s: reading submission %s to release it: %w", s.d.Name, versionID, err)
	}
	previous := ""
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT version_id FROM releases WHERE plugin_id = ? AND environment = ?`), pluginID, env).Scan(&previous)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: reading the release of %s in %s: %w", s.d.Name, pluginID, env, err)
	}
	if previous == versionID {
		return nil // renewed, not newly released
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM releases WHERE plugin_id = ? AND environment = ?`), pluginID, env); err != nil {
		return fmt.Errorf("%s: replacing the release of %s in %s: %w", s.d.Name, pluginID, env, err)
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO releases (plugin_id, environment, version_id, rollout, status, previous_version_id, since, updated_at)
		VALUES (?, ?, ?, 100, ?, ?, ?, ?)`), pluginID, env, versionID, string(domain.RolloutActive), previous, micros(now), micros(now)); err != nil {
		return fmt.Errorf("%s: releasing %s into %s: %w", s.d.Name, versionID, env, err)
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO release_history (plugin_id, environment, action, version_id, rollout, actor, reason, at)
		VALUES (?, ?, ?, ?, 100, ?, ?, ?)`), pluginID, env, string(domain.ReleaseReleased), versionID, actor, "certified", micros(now)); err != nil {
		return fmt.Errorf("%s: recording the release of %s into %s: %w", s.d.Name, versionID, env, err)
	}
	return nil
}
