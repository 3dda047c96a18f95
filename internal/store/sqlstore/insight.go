package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// Week buckets are computed in SQL on the stored microseconds, the same way
// on both databases: integer division after shifting the epoch (a
// Thursday) to the first Monday, 1970-01-05.
const (
	weekMicros   = int64(7 * 24 * time.Hour / time.Microsecond)
	mondayMicros = int64(4 * 24 * time.Hour / time.Microsecond)
)

func weekExpr(col string) string {
	return fmt.Sprintf("((%s - %d) / %d)", col, mondayMicros, weekMicros)
}

func weekOf(bucket int64) time.Time { return fromMicros(mondayMicros + bucket*weekMicros) }

func (s *Store) postgres() bool { return s.d.DollarPlaceholders }

func insightLimit(n, def int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("limit %d must not be negative", n)
	case n == 0:
		return def, nil
	case n > store.MaxInsightRows:
		return store.MaxInsightRows, nil
	}
	return n, nil
}

// WeeklyActivity counts received versions and verdicts per week.
func (s *Store) WeeklyActivity(ctx context.Context, from, to time.Time) ([]domain.WeekActivity, error) {
	byWeek := map[int64]*domain.WeekActivity{}
	get := func(b int64) *domain.WeekActivity {
		w, ok := byWeek[b]
		if !ok {
			w = &domain.WeekActivity{Week: weekOf(b)}
			byWeek[b] = w
		}
		return w
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+weekExpr("created_at")+` AS wk, COUNT(*) FROM versions WHERE created_at >= ? AND created_at < ? GROUP BY wk`), micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("%s: counting submissions per week: %w", s.d.Name, err)
	}
	err = eachRow(rows, func() error {
		var b int64
		var n int
		if err := rows.Scan(&b, &n); err != nil {
			return err
		}
		get(b).Submissions = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: counting submissions per week: %w", s.d.Name, err)
	}
	rows, err = s.db.QueryContext(ctx, s.d.rebind(`SELECT `+weekExpr("created_at")+` AS wk, outcome, COUNT(*) FROM verdicts WHERE created_at >= ? AND created_at < ? GROUP BY wk, outcome`), micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("%s: counting verdicts per week: %w", s.d.Name, err)
	}
	err = eachRow(rows, func() error {
		var b int64
		var outcome string
		var n int
		if err := rows.Scan(&b, &outcome, &n); err != nil {
			return err
		}
		w := get(b)
		switch lifecycle.State(outcome) {
		case lifecycle.AutoApproved:
			w.AutoApproved += n
		case lifecycle.InReview:
			w.InReview += n
		case lifecycle.Rejected:
			w.Rejected += n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: counting verdicts per week: %w", s.d.Name, err)
	}
	out := make([]domain.WeekActivity, 0, len(byWeek))
	for _, w := range byWeek {
		out = append(out, *w)
	}
	sortWeeks(out, func(w domain.WeekActivity) time.Time { return w.Week })
	return out, nil
}

func sortWeeks[T any](ws []T, week func(T) time.Time) {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && week(ws[j]).Before(week(ws[j-1])); j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}

// eachRow calls fn for each row and closes rows.
func eachRow(rows *sql.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stageQueries measure each stage from the transitions in the audit trail,
// which every state change writes: no extra bookkeeping can drift from it.
var stageQueries = map[domain.Stage]string{
	// From first entering review to the first decision taking the version
	// out of review.
	domain.StageReview: `SELECT t.started, t.ended FROM (
		SELECT subject,
			MIN(CASE WHEN new_state = 'in_review' THEN time END) AS started,
			MIN(CASE WHEN old_state = 'in_review' THEN time END) AS ended
		FROM audit_events WHERE new_state = 'in_review' OR old_state = 'in_review'
		GROUP BY subject) t
		WHERE t.started IS NOT NULL AND t.ended IS NOT NULL`,
	// From a version being sent back to the next certification of another
	// version of the same plugin.
	domain.StageRemediation: `SELECT t.started, t.ended FROM (
		SELECT b.version_id, b.started, MIN(c.time) AS ended FROM (
			SELECT v.id AS version_id, v.plugin_id, e.time AS started
			FROM audit_events e JOIN versions v ON e.subject = 'submission:' || v.id
			WHERE e.new_state IN ('rejected', 'changes_requested', 'suspended')) b
		JOIN versions v2 ON v2.plugin_id = b.plugin_id AND v2.id <> b.version_id
		JOIN audit_events c ON c.subject = 'submission:' || v2.id AND c.new_state = 'certified' AND c.time > b.started
		GROUP BY b.version_id, b.started) t
		WHERE t.ended IS NOT NULL`,
}

// StageTimes summarises a stage's durations per week of its end.
func (s *Store) StageTimes(ctx context.Context, stage domain.Stage, from, to time.Time) ([]domain.WeekDurations, error) {
	inner, ok := stageQueries[stage]
	if !ok {
		return nil, fmt.Errorf("unknown stage %q: %s or %s", stage, domain.StageReview, domain.StageRemediation)
	}
	q := `SELECT ` + weekExpr("m.ended") + ` AS wk, COUNT(*), CAST(SUM(m.ended - m.started) AS BIGINT), MAX(m.ended - m.started)
		FROM (` + inner + `) m WHERE m.ended >= ? AND m.ended < ? GROUP BY wk ORDER BY wk`
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("%s: measuring %s times: %w", s.d.Name, stage, err)
	}
	var out []domain.WeekDurations
	err = eachRow(rows, func() error {
		var b, total, max int64
		var n int
		if err := rows.Scan(&b, &n, &total, &max); err != nil {
			return err
		}
		out = append(out, domain.WeekDurations{Week: weekOf(b), Count: n, Total: time.Duration(total) * time.Microsecond, Max: time.Duration(max) * time.Microsecond})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: measuring %s times: %w", s.d.Name, stage, err)
	}
	return out, nil
}

// QueueStats describes the open review queue and the vetting backlog.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (domain.QueueStats, error) {
	var q domain.QueueStats
	var oldest, oldestJob sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN deadline < ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN escalated_at > 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN claimed_by <> '' AND claim_until > ? THEN 1 ELSE 0 END), 0),
		MIN(created_at)
		FROM review_items WHERE is_open = ?`), micros(now), micros(now), true).Scan(&q.Open, &q.Overdue, &q.Escalated, &q.Claimed, &oldest)
	if err != nil {
		return q, fmt.Errorf("%s: reading the review queue: %w", s.d.Name, err)
	}
	if oldest.Valid {
		q.OldestCreated = fromMicros(oldest.Int64)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM review_items WHERE escalated_at > 0`).Scan(&q.MissedDeadlines); err != nil {
		return q, fmt.Errorf("%s: counting missed deadlines: %w", s.d.Name, err)
	}
	// River's job table: queued, scheduled, retrying or running vet jobs.
	err = s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*), `+s.d.timeMicros("MIN(created_at)")+` FROM river_job
		WHERE kind = ? AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`), "vet").Scan(&q.VetQueued, &oldestJob)
	if err != nil {
		return q, fmt.Errorf("%s: reading the vetting backlog: %w", s.d.Name, err)
	}
	if oldestJob.Valid {
		q.OldestVetJob = fromMicros(oldestJob.Int64)
	}
	return q, nil
}

// StateCounts counts versions by state.
func (s *Store) StateCounts(ctx context.Context) (map[lifecycle.State]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM versions GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("%s: counting versions by state: %w", s.d.Name, err)
	}
	out := map[lifecycle.State]int{}
	err = eachRow(rows, func() error {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		out[lifecycle.State(st)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: counting versions by state: %w", s.d.Name, err)
	}
	return out, nil
}

// latestVerdict joins a version's newest verdict as w.
const latestVerdict = ` LEFT JOIN verdicts w ON w.version_id = v.id AND w.seq = (SELECT MAX(x.seq) FROM verdicts x WHERE x.version_id = v.id)`

// Hotspots ranks permissions, publishers or rules. The manifest and the
// results are JSON; the two databases unpack JSON arrays differently, so
// those two queries come in both spellings.
func (s *Store) Hotspots(ctx context.Context, q domain.HotspotQuery) ([]domain.Hotspot, error) {
	limit, err := insightLimit(q.Limit, 10)
	if err != nil {
		return nil, err
	}
	var query string
	switch q.By {
	case domain.ByPublisher:
		query = `SELECT p.namespace AS k, COUNT(*) AS n,
			SUM(CASE WHEN v.state = 'rejected' THEN 1 ELSE 0 END) AS rejected,
			COALESCE(SUM(w.weight), 0) AS wsum, COUNT(w.weight) AS wn, 0 AS findings
			FROM versions v JOIN plugins p ON p.id = v.plugin_id` + latestVerdict + `
			WHERE v.created_at >= ? GROUP BY p.namespace
			ORDER BY rejected DESC, wsum DESC, k LIMIT ?`
	case domain.ByPermission:
		perms := `json_each(CAST(v.manifest AS TEXT), '$.permissions') p`
		cond := ` AND p.type = 'text'`
		if s.postgres() {
			perms = `jsonb_array_elements_text(CASE WHEN jsonb_typeof(convert_from(v.manifest, 'UTF8')::jsonb -> 'permissions') = 'array'
				THEN convert_from(v.manifest, 'UTF8')::jsonb -> 'permissions' ELSE '[]'::jsonb END) AS p(value)`
			cond = ``
		}
		query = `SELECT p.value AS k, COUNT(*) AS n,
			SUM(CASE WHEN v.state = 'rejected' THEN 1 ELSE 0 END) AS rejected,
			COALESCE(SUM(w.weight), 0) AS wsum, COUNT(w.weight) AS wn, 0 AS findings
			FROM versions v CROSS JOIN ` + perms + latestVerdict + `
			WHERE v.created_at >= ?` + cond + ` GROUP BY p.value
			ORDER BY wsum DESC, rejected DESC, k LIMIT ?`
	case domain.ByRule:
		from := `vet_runs r JOIN versions v ON v.id = r.version_id,
			json_each(CAST(r.results AS TEXT)) a, json_each(a.value, '$.findings') f`
		rule, sup, sev := `json_extract(f.value, '$.ruleId')`, `json_extract(f.value, '$.suppressed')`, `json_extract(f.value, '$.severity')`
		if s.postgres() {
			from = `vet_runs r JOIN versions v ON v.id = r.version_id
				CROSS JOIN jsonb_array_elements(convert_from(r.results, 'UTF8')::jsonb) a
				CROSS JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(a -> 'findings') = 'array' THEN a -> 'findings' ELSE '[]'::jsonb END) f`
			rule, sup, sev = `f ->> 'ruleId'`, `f -> 'suppressed'`, `f ->> 'severity'`
		}
		query = `SELECT ` + rule + ` AS k, COUNT(DISTINCT r.version_id) AS n, 0 AS rejected, 0 AS wsum, 0 AS wn, COUNT(*) AS findings
			FROM ` + from + `
			WHERE r.run = (SELECT MAX(x.run) FROM vet_runs x WHERE x.version_id = r.version_id)
			AND v.created_at >= ? AND ` + sup + ` IS NULL AND ` + sev + ` IN ('critical', 'high', 'medium')
			GROUP BY ` + rule + ` ORDER BY findings DESC, k LIMIT ?`
	default:
		return nil, fmt.Errorf("hotspots by %q: choose %s, %s or %s", q.By, domain.ByPermission, domain.ByPublisher, domain.ByRule)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(query), micros(q.Since), limit)
	if err != nil {
		return nil, fmt.Errorf("%s: ranking hotspots by %s: %w", s.d.Name, q.By, err)
	}
	var out []domain.Hotspot
	err = eachRow(rows, func() error {
		var h domain.Hotspot
		var wsum, wn int64
		if err := rows.Scan(&h.Key, &h.Versions, &h.Rejected, &wsum, &wn, &h.Findings); err != nil {
			return err
		}
		if wn > 0 {
			h.MeanWeight = float64(wsum) / float64(wn)
		}
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: ranking hotspots by %s: %w", s.d.Name, q.By, err)
	}
	return out, nil
}

// prefixOrExact matches col against v: a prefix when v ends with sep.
func prefixOrExact(col, v, sep string) (string, any) {
	if strings.HasSuffix(v, sep) {
		return col + ` LIKE ? ESCAPE '\'`, likeEscaper.Replace(v) + "%"
	}
	return col + ` = ?`, v
}

// SearchAudit returns matching events, newest first.
func (s *Store) SearchAudit(ctx context.Context, f domain.AuditFilter) ([]audit.Event, error) {
	limit, err := insightLimit(f.Limit, 100)
	if err != nil {
		return nil, err
	}
	var where []string
	var args []any
	add := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	if f.Actor != "" {
		add(`actor = ?`, f.Actor)
	}
	if f.Action != "" {
		add(prefixOrExact("action", f.Action, "."))
	}
	if f.Subject != "" {
		add(prefixOrExact("subject", f.Subject, ":"))
	}
	if !f.Since.IsZero() {
		add(`time >= ?`, micros(f.Since))
	}
	if !f.Until.IsZero() {
		add(`time < ?`, micros(f.Until))
	}
	if f.BeforeSeq > 0 {
		add(`seq < ?`, f.BeforeSeq)
	}
	q := `SELECT ` + auditCols + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit)
	return list(ctx, s, s.db, "searching the audit trail", scanEvent, q, args...)
}

// CatalogEntries lists plugins with their newest version in q.States.
func (s *Store) CatalogEntries(ctx context.Context, q domain.CatalogQuery) ([]domain.CatalogEntry, error) {
	limit, err := insightLimit(q.Limit, 50)
	if err != nil {
		return nil, err
	}
	if q.Offset < 0 {
		return nil, fmt.Errorf("catalog offset %d must not be negative", q.Offset)
	}
	if len(q.States) == 0 || len(q.States) > len(lifecycle.States) {
		return nil, fmt.Errorf("the catalog needs 1 to %d version states to show", len(lifecycle.States))
	}
	var args []any
	marks := make([]string, len(q.States))
	for i, st := range q.States {
		marks[i] = "?"
		args = append(args, string(st))
	}
	inner := `SELECT p.id AS p_id, p.namespace, p.name, p.display_name, p.description, p.latest_version, p.updated_at AS p_updated,
			v.id AS v_id, v.plugin_id, v.version, v.digest, v.size, v.manifest, v.files, v.submitter, v.state, v.reason, v.created_at, v.updated_at,
			COALESCE(w.tier, '') AS tier, COALESCE(w.weight, 0) AS weight
		FROM plugins p JOIN versions v ON v.id = (SELECT v2.id FROM versions v2 WHERE v2.plugin_id = p.id AND v2.state IN (` + strings.Join(marks, ", ") + `)
			ORDER BY v2.created_at DESC, v2.id DESC LIMIT 1)` + latestVerdict
	if q.Search != "" {
		inner += ` WHERE p.search_text LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(q.Search))+"%")
	}
	query := `SELECT * FROM (` + inner + `) c`
	if q.Tier != "" {
		query += ` WHERE c.tier = ?`
		args = append(args, q.Tier)
	}
	query += ` ORDER BY c.p_id LIMIT ? OFFSET ?`
	args = append(args, limit, q.Offset)
	return list(ctx, s, s.db, "listing the catalog", func(sc scanner) (domain.CatalogEntry, error) {
		var e domain.CatalogEntry
		var pUpdated, created, updated int64
		var files string
		p, v := &e.Plugin, &e.Version
		if err := sc.Scan(&p.ID, &p.Namespace, &p.Name, &p.DisplayName, &p.Description, &p.LatestVersion, &pUpdated,
			&v.ID, &v.PluginID, &v.Version, &v.Digest, &v.Size, &v.Manifest, &files, &v.Submitter, &v.State, &v.Reason, &created, &updated,
			&e.Tier, &e.Weight); err != nil {
			return e, err
		}
		p.UpdatedAt, v.CreatedAt, v.UpdatedAt = fromMicros(pUpdated), fromMicros(created), fromMicros(updated)
		return e, decodeFiles(v, files)
	}, query, args...)
}

// ExpiringCertificates lists certified versions whose newest certificate
// expires before before.
func (s *Store) ExpiringCertificates(ctx context.Context, before time.Time, limit int) ([]domain.ExpiringCertificate, error) {
	limit, err := insightLimit(limit, 20)
	if err != nil {
		return nil, err
	}
	return list(ctx, s, s.db, "listing expiring certificates", func(sc scanner) (domain.ExpiringCertificate, error) {
		var e domain.ExpiringCertificate
		var exp int64
		err := sc.Scan(&e.VersionID, &e.PluginID, &e.Version, &exp)
		e.ExpiresAt = fromMicros(exp)
		return e, err
	}, `SELECT v.id, v.plugin_id, v.version, c.expires_at
		FROM versions v JOIN certificates c ON c.version_id = v.id
			AND c.seq = (SELECT MAX(x.seq) FROM certificates x WHERE x.version_id = v.id)
		WHERE v.state = ? AND c.expires_at < ?
		ORDER BY c.expires_at, v.id LIMIT ?`, string(lifecycle.Certified), micros(before), limit)
}

// HostErrorRates sums health reports per version. Errors are stored as a
// JSON object of counts by kind, summed in SQL in each database's spelling.
func (s *Store) HostErrorRates(ctx context.Context, since time.Time, limit int) ([]domain.ErrorRate, error) {
	limit, err := insightLimit(limit, 10)
	if err != nil {
		return nil, err
	}
	errSum := `(SELECT COALESCE(SUM(CAST(e.value AS BIGINT)), 0) FROM json_each(CAST(h.errors AS TEXT)) e)`
	if s.postgres() {
		errSum = `(SELECT COALESCE(SUM(CAST(e.value AS BIGINT)), 0) FROM jsonb_each_text(convert_from(h.errors, 'UTF8')::jsonb) e)`
	}
	q := `SELECT t.version_id, v.plugin_id, v.version, t.hosts, t.calls, t.errs, t.denials, t.trips FROM (
			SELECT h.version_id, COUNT(DISTINCT h.host) AS hosts, CAST(SUM(h.calls) AS BIGINT) AS calls,
				CAST(SUM(` + errSum + `) AS BIGINT) AS errs, CAST(SUM(h.denials) AS BIGINT) AS denials, CAST(SUM(h.breaker_trips) AS BIGINT) AS trips
			FROM health_reports h WHERE h.received_at >= ? GROUP BY h.version_id) t
		JOIN versions v ON v.id = t.version_id
		ORDER BY CASE WHEN t.calls > 0 THEN CAST(t.errs AS DOUBLE PRECISION) / t.calls ELSE 0 END DESC, t.errs DESC, t.version_id LIMIT ?`
	return list(ctx, s, s.db, "summing host health reports", func(sc scanner) (domain.ErrorRate, error) {
		var e domain.ErrorRate
		err := sc.Scan(&e.VersionID, &e.PluginID, &e.Version, &e.Hosts, &e.Calls, &e.Errors, &e.Denials, &e.BreakerTrips)
		return e, err
	}, q, micros(since), limit)
}
