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

// Limits on host API records.
const (
	maxHostAPISpec   = 256 << 10
	maxHostAPIUsages = 64 << 10
	maxCompatBatch   = 1000
)

// PublishHostAPI records a published host API version and offers it.
func (s *Store) PublishHostAPI(ctx context.Context, h domain.HostAPIVersion, ev audit.Event) error {
	switch {
	case h.Version == "" || len(h.Version) > 64 || h.PublishedBy == "":
		return errors.New("a published host API version needs a version (at most 64 bytes) and who publishes it")
	case len(h.Spec) == 0 || len(h.Spec) > maxHostAPISpec:
		return fmt.Errorf("the host API %s capabilities are %d bytes; they must be 1 to %d", h.Version, len(h.Spec), maxHostAPISpec)
	case len(h.Deprecates) > 64 || len(h.MigrationURL) > 2048:
		return errors.New("the deprecated version (64 bytes) or the migration URL (2048 bytes) is too long")
	}
	h.PublishedAt = stamp(h.PublishedAt)
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if err := s.insert(ctx, tx, "host API "+h.Version, "host API "+h.Version+" is published already (a published version never changes; publish a new one)",
			`INSERT INTO host_api_versions (version, spec, deprecates, sunset_at, migration_url, published_by, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			h.Version, h.Spec, h.Deprecates, micros(h.Sunset), h.MigrationURL, h.PublishedBy, micros(h.PublishedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO host_api_offers (version, by_subject, offered_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING`),
			h.Version, h.PublishedBy, micros(h.PublishedAt))
		if err != nil {
			return fmt.Errorf("%s: offering host API %s: %w", s.d.Name, h.Version, err)
		}
		return nil
	})
}

const hostAPIColumns = `version, spec, deprecates, sunset_at, migration_url, published_by, published_at`

func scanHostAPI(sc scanner) (domain.HostAPIVersion, error) {
	var h domain.HostAPIVersion
	var sunset, at int64
	err := sc.Scan(&h.Version, &h.Spec, &h.Deprecates, &sunset, &h.MigrationURL, &h.PublishedBy, &at)
	h.Sunset, h.PublishedAt = fromMicros(sunset), fromMicros(at)
	return h, err
}

// GetHostAPI returns a published host API version.
func (s *Store) GetHostAPI(ctx context.Context, version string) (domain.HostAPIVersion, error) {
	return getOne(ctx, s, s.db, "reading host API "+version, "host API "+version, scanHostAPI,
		`SELECT `+hostAPIColumns+` FROM host_api_versions WHERE version = ?`, version)
}

// ListPublishedHostAPIs lists the published versions, newest first.
func (s *Store) ListPublishedHostAPIs(ctx context.Context) ([]domain.HostAPIVersion, error) {
	return listAll(ctx, s, "listing published host API versions", fmt.Sprintf("more than %d host API versions are published", MaxListRows), MaxListRows,
		scanHostAPI, `SELECT `+hostAPIColumns+` FROM host_api_versions ORDER BY published_at DESC, version`)
}

// SaveHostAPICompat creates or replaces matrix cells.
func (s *Store) SaveHostAPICompat(ctx context.Context, cs []domain.HostAPICompat) error {
	if len(cs) > maxCompatBatch {
		return fmt.Errorf("%d matrix cells at once; the limit is %d", len(cs), maxCompatBatch)
	}
	for _, c := range cs {
		switch {
		case c.VersionID == "" || c.HostAPI == "" || c.PluginID == "" || c.Status == "":
			return errors.New("a matrix cell needs a version, a host API version, its plugin and a status")
		case len(c.Usages) > maxHostAPIUsages || len(c.Detail) > MaxReason:
			return fmt.Errorf("the matrix cell of %s under %s is too large", c.VersionID, c.HostAPI)
		}
	}
	if len(cs) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, c := range cs {
			usages := c.Usages
			if len(usages) == 0 {
				usages = []byte("[]")
			}
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO host_api_compat
				(version_id, host_api, plugin_id, plugin_version, status, usages, confirmed, detail, checked_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (version_id, host_api) DO UPDATE SET
					status = excluded.status, usages = excluded.usages, confirmed = excluded.confirmed,
					detail = excluded.detail, checked_at = excluded.checked_at`),
				c.VersionID, c.HostAPI, c.PluginID, c.PluginVersion, c.Status, usages, c.Confirmed, c.Detail, micros(stamp(c.CheckedAt)))
			if err != nil {
				if strings.Contains(strings.ToLower(err.Error()), "foreign key") {
					return fmt.Errorf("the matrix cell of %s under host API %s: %w", c.VersionID, c.HostAPI, domain.ErrNotFound)
				}
				return fmt.Errorf("%s: saving the matrix cell of %s under %s: %w", s.d.Name, c.VersionID, c.HostAPI, err)
			}
		}
		return nil
	})
}

// ListHostAPICompat lists matrix cells.
func (s *Store) ListHostAPICompat(ctx context.Context, q domain.CompatQuery) ([]domain.HostAPICompat, error) {
	limit := q.Limit
	if limit <= 0 || limit > MaxListRows {
		limit = MaxListRows
	}
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.HostAPI != "" {
		add("host_api = ?", q.HostAPI)
	}
	if q.PluginID != "" {
		add("plugin_id = ?", q.PluginID)
	}
	if q.Namespace != "" {
		add(`plugin_id LIKE ? ESCAPE '\'`, likeEscaper.Replace(q.Namespace+"/")+"%")
	}
	if q.VersionID != "" {
		add("version_id = ?", q.VersionID)
	}
	query := `SELECT version_id, host_api, plugin_id, plugin_version, status, usages, confirmed, detail, checked_at FROM host_api_compat`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY plugin_id, plugin_version, host_api"
	return listAll(ctx, s, "listing the compatibility matrix", fmt.Sprintf("the matrix has more than %d cells for this query; ask for one host API version or plugin", limit), limit,
		func(sc scanner) (domain.HostAPICompat, error) {
			var c domain.HostAPICompat
			var at int64
			err := sc.Scan(&c.VersionID, &c.HostAPI, &c.PluginID, &c.PluginVersion, &c.Status, &c.Usages, &c.Confirmed, &c.Detail, &at)
			c.CheckedAt = fromMicros(at)
			return c, err
		}, query, args...)
}

// RecordHostAPINotice records a sunset notice once.
func (s *Store) RecordHostAPINotice(ctx context.Context, n domain.HostAPINotice, ev audit.Event) (bool, error) {
	if n.PluginID == "" || n.HostAPI == "" || n.Threshold <= 0 {
		return false, errors.New("a sunset notice needs a plugin, a host API version and a threshold")
	}
	n.SentAt = stamp(n.SentAt)
	sent := false
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO host_api_notices (plugin_id, host_api, threshold, sunset_at, sent_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (plugin_id, host_api, threshold) DO NOTHING`),
			n.PluginID, n.HostAPI, n.Threshold, micros(n.Sunset), micros(n.SentAt))
		if err != nil {
			return fmt.Errorf("%s: recording the sunset notice of %s: %w", s.d.Name, n.PluginID, err)
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return errSkipAudit // sent before: a repeat records nothing
		}
		sent = true
		return nil
	})
	return sent, err
}

// ListHostAPINotices lists sunset notices, newest first.
func (s *Store) ListHostAPINotices(ctx context.Context, namespace string, limit int) ([]domain.HostAPINotice, error) {
	if limit <= 0 || limit > MaxListRows {
		limit = MaxListRows
	}
	query := `SELECT plugin_id, host_api, threshold, sunset_at, sent_at FROM host_api_notices`
	var args []any
	if namespace != "" {
		query += ` WHERE plugin_id LIKE ? ESCAPE '\'`
		args = append(args, likeEscaper.Replace(namespace+"/")+"%")
	}
	query += ` ORDER BY sent_at DESC, plugin_id, host_api, threshold LIMIT ?`
	return list(ctx, s, s.db, "listing sunset notices", func(sc scanner) (domain.HostAPINotice, error) {
		var n domain.HostAPINotice
		var sunset, at int64
		err := sc.Scan(&n.PluginID, &n.HostAPI, &n.Threshold, &sunset, &at)
		n.Sunset, n.SentAt = fromMicros(sunset), fromMicros(at)
		return n, err
	}, query, append(args, limit)...)
}
