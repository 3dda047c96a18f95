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
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Limits of the monitor records.
const (
	// MaxComponents bounds the components indexed for one version (a Go
	// module rarely has more than a few hundred dependencies; an SBOM
	// listing more is cut off by the analyzer's own limits first).
	MaxComponents = 10_000
	// MaxComponentField bounds an ecosystem, name or version string.
	MaxComponentField = 512
	// MaxComponentNames bounds the packages one ComponentUsers call asks
	// about.
	MaxComponentNames = 1000
	// MaxComponentUsers bounds the rows one ComponentUsers call returns.
	MaxComponentUsers = 1_000_000
	// MaxHealthReports bounds the reports saved in one call.
	MaxHealthReports = 1000
	// MaxErrorKinds bounds the error kinds of one report.
	MaxErrorKinds = 64
	// MaxVoterBytes and MaxVoteReasonBytes bound a health vote's fields.
	MaxVoterBytes      = 256
	MaxVoteReasonBytes = 4096
	// componentBatch is how many rows one INSERT writes.
	componentBatch = 200
)

func stateArgs(states []lifecycle.State) (string, []any) {
	args := make([]any, len(states))
	for i, s := range states {
		args[i] = string(s)
	}
	return "?" + strings.Repeat(", ?", len(states)-1), args
}

// ---- Revalidation schedules -----------------------------------------------

const revalCols = `r.version_id, r.plugin_id, r.tier, r.next_at, r.deadline, r.last_run_at, r.last_outcome, r.last_reason, r.needs_review, r.review_reason, r.updated_at`

func scanRevalidation(sc scanner) (domain.Revalidation, error) {
	var r domain.Revalidation
	var next, deadline, last, updated int64
	err := sc.Scan(&r.VersionID, &r.PluginID, &r.Tier, &next, &deadline, &last, &r.LastOutcome, &r.LastReason, &r.NeedsReview, &r.ReviewReason, &updated)
	r.NextAt, r.Deadline, r.LastRunAt, r.UpdatedAt = fromMicros(next), fromMicros(deadline), fromMicros(last), fromMicros(updated)
	return r, err
}

// UnscheduledVersions lists versions in states that have no schedule.
func (s *Store) UnscheduledVersions(ctx context.Context, states []lifecycle.State, limit int) ([]domain.Version, error) {
	if len(states) == 0 {
		return nil, errors.New("name the states of the versions to schedule")
	}
	if limit <= 0 || limit > MaxVersionLimit {
		limit = MaxVersionLimit
	}
	in, args := stateArgs(states)
	return list(ctx, s, s.db, "listing unscheduled versions", scanVersion, `SELECT `+versionCols+` FROM versions v WHERE state IN (`+in+`)
		AND NOT EXISTS (SELECT 1 FROM revalidations r WHERE r.version_id = v.id)
		ORDER BY updated_at, id LIMIT ?`, append(args, limit)...)
}

// SaveRevalidation creates or replaces a schedule with its audit events.
func (s *Store) SaveRevalidation(ctx context.Context, r domain.Revalidation, evs []audit.Event) error {
	switch {
	case r.VersionID == "" || r.PluginID == "":
		return errors.New("a revalidation schedule needs a version and its plugin")
	case r.NextAt.IsZero():
		return fmt.Errorf("the revalidation schedule of %s has no next time", r.VersionID)
	case len(r.LastReason) > MaxReason || len(r.ReviewReason) > MaxReason:
		return fmt.Errorf("the revalidation reason is %d bytes, over the limit of %d", len(r.LastReason), MaxReason)
	}
	r.UpdatedAt = stamp(r.UpdatedAt)
	return s.writeAudited(ctx, evs, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM revalidations WHERE version_id = ?`), r.VersionID); err != nil {
			return fmt.Errorf("%s: replacing the schedule of %s: %w", s.d.Name, r.VersionID, err)
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO revalidations
			(version_id, plugin_id, tier, next_at, deadline, last_run_at, last_outcome, last_reason, needs_review, review_reason, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.VersionID, r.PluginID, r.Tier, micros(r.NextAt), micros(r.Deadline), micros(r.LastRunAt), r.LastOutcome, r.LastReason, r.NeedsReview, r.ReviewReason, micros(r.UpdatedAt))
		if err != nil {
			if strings.Contains(strings.ToLower(err.Error()), "foreign key") {
				return fmt.Errorf("scheduling revalidation of %s: %w", r.VersionID, domain.ErrNotFound)
			}
			return fmt.Errorf("%s: saving the schedule of %s: %w", s.d.Name, r.VersionID, err)
		}
		if len(evs) == 0 {
			return errSkipAudit // a schedule's bookkeeping (next time) changes no state anyone acts on
		}
		return nil
	})
}

// GetRevalidation returns a version's schedule.
func (s *Store) GetRevalidation(ctx context.Context, versionID string) (domain.Revalidation, error) {
	return getOne(ctx, s, s.db, "reading the schedule of "+versionID, "revalidation schedule of "+versionID, scanRevalidation,
		`SELECT `+revalCols+` FROM revalidations r WHERE r.version_id = ?`, versionID)
}

// DueRevalidations lists the schedules due at now: certified versions
// past their next time, suspended ones past their remediation deadline.
func (s *Store) DueRevalidations(ctx context.Context, now time.Time, limit int) ([]domain.Revalidation, error) {
	if limit <= 0 || limit > MaxVersionLimit {
		limit = MaxVersionLimit
	}
	return list(ctx, s, s.db, "listing revalidation schedules", scanRevalidation, `SELECT `+revalCols+` FROM revalidations r JOIN versions v ON v.id = r.version_id
		WHERE (v.state = ? AND r.next_at <= ?) OR (v.state = ? AND r.deadline > 0 AND r.deadline <= ?)
		ORDER BY r.next_at, r.version_id LIMIT ?`,
		string(lifecycle.Certified), micros(now), string(lifecycle.Suspended), micros(now), limit)
}

// ListRevalidations pages schedules by version id.
func (s *Store) ListRevalidations(ctx context.Context, q domain.RevalidationQuery) ([]domain.Revalidation, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultVersionLimit
	case limit < 0 || limit > MaxVersionLimit:
		return nil, fmt.Errorf("limit %d: list 1 to %d schedules at a time", limit, MaxVersionLimit)
	}
	query := `SELECT ` + revalCols + ` FROM revalidations r JOIN versions v ON v.id = r.version_id WHERE r.version_id > ?`
	args := []any{q.AfterVersion}
	if len(q.States) > 0 {
		in, sa := stateArgs(q.States)
		query += ` AND v.state IN (` + in + `)`
		args = append(args, sa...)
	}
	return list(ctx, s, s.db, "listing revalidation schedules", scanRevalidation, query+` ORDER BY r.version_id LIMIT ?`, append(args, limit)...)
}

// ---- Component index ------------------------------------------------------

func checkComponent(c domain.Component) error {
	if c.Ecosystem == "" || c.Name == "" {
		return fmt.Errorf("component %q has no ecosystem or name", c.Name)
	}
	if len(c.Ecosystem) > MaxComponentField || len(c.Name) > MaxComponentField || len(c.Version) > MaxComponentField {
		return fmt.Errorf("component %.64q has a field over %d bytes", c.Name, MaxComponentField)
	}
	return nil
}

// IndexComponents replaces a version's components. Duplicates are kept
// once. It writes no audit event: the index is derived from the vetting
// run, which has its own.
func (s *Store) IndexComponents(ctx context.Context, versionID string, cs []domain.Component) error {
	if versionID == "" {
		return errors.New("index components of which version?")
	}
	if len(cs) > MaxComponents {
		return fmt.Errorf("version %s lists %d components, over the limit of %d", versionID, len(cs), MaxComponents)
	}
	seen := make(map[domain.Component]bool, len(cs))
	uniq := make([]domain.Component, 0, len(cs))
	for _, c := range cs {
		if err := checkComponent(c); err != nil {
			return fmt.Errorf("indexing %s: %w", versionID, err)
		}
		if !seen[c] {
			seen[c] = true
			uniq = append(uniq, c)
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM components WHERE version_id = ?`), versionID); err != nil {
			return fmt.Errorf("%s: clearing the components of %s: %w", s.d.Name, versionID, err)
		}
		for len(uniq) > 0 {
			n := min(len(uniq), componentBatch)
			args := make([]any, 0, 4*n)
			for _, c := range uniq[:n] {
				args = append(args, c.Ecosystem, c.Name, versionID, c.Version)
			}
			q := `INSERT INTO components (ecosystem, name, version_id, version) VALUES (?, ?, ?, ?)` + strings.Repeat(`, (?, ?, ?, ?)`, n-1)
			if _, err := tx.ExecContext(ctx, s.d.rebind(q), args...); err != nil {
				if strings.Contains(strings.ToLower(err.Error()), "foreign key") {
					return fmt.Errorf("indexing components of %s: %w", versionID, domain.ErrNotFound)
				}
				return fmt.Errorf("%s: indexing components of %s: %w", s.d.Name, versionID, err)
			}
			uniq = uniq[n:]
		}
		return nil
	})
}

// ComponentUsers finds the versions in states that ship any of the named
// packages, through the index on (ecosystem, name).
func (s *Store) ComponentUsers(ctx context.Context, ecosystem string, names []string, states []lifecycle.State, limit int) ([]domain.ComponentUse, error) {
	switch {
	case ecosystem == "" || len(names) == 0:
		return nil, nil
	case len(names) > MaxComponentNames:
		return nil, fmt.Errorf("ask about at most %d packages at a time, not %d", MaxComponentNames, len(names))
	case len(states) == 0:
		return nil, errors.New("name the states of the versions to find")
	}
	if limit <= 0 || limit > MaxComponentUsers {
		limit = MaxComponentUsers
	}
	args := []any{ecosystem}
	for _, n := range names {
		args = append(args, n)
	}
	in, sa := stateArgs(states)
	args = append(append(args, sa...), limit+1)
	out, err := list(ctx, s, s.db, "finding versions that ship "+ecosystem+" packages", func(sc scanner) (domain.ComponentUse, error) {
		var u domain.ComponentUse
		err := sc.Scan(&u.VersionID, &u.Ecosystem, &u.Name, &u.Version)
		return u, err
	}, `SELECT c.version_id, c.ecosystem, c.name, c.version
		FROM components c JOIN versions v ON v.id = c.version_id
		WHERE c.ecosystem = ? AND c.name IN (?`+strings.Repeat(", ?", len(names)-1)+`) AND v.state IN (`+in+`)
		LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, fmt.Errorf("more than %d versions ship these %s packages; ask about fewer at a time", limit, ecosystem)
	}
	return out, nil
}

// ---- Host API offers ------------------------------------------------------

// OfferHostAPI records an offered host API version; offering it again
// changes nothing and records nothing.
func (s *Store) OfferHostAPI(ctx context.Context, o domain.HostAPIOffer, ev audit.Event) error {
	if o.Version == "" || len(o.Version) > 64 || o.By == "" {
		return errors.New("a host API offer needs a version (at most 64 bytes) and who offers it")
	}
	o.OfferedAt = stamp(o.OfferedAt)
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM host_api_offers WHERE version = ?`), o.Version).Scan(&n); err != nil {
			return fmt.Errorf("%s: reading host API offers: %w", s.d.Name, err)
		}
		if n > 0 {
			return errSkipAudit
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO host_api_offers (version, by_subject, offered_at) VALUES (?, ?, ?)`),
			o.Version, o.By, micros(o.OfferedAt)); err != nil {
			return fmt.Errorf("%s: recording host API %s: %w", s.d.Name, o.Version, err)
		}
		return nil
	})
}

// ListHostAPIs lists offered host API versions, newest offer first.
func (s *Store) ListHostAPIs(ctx context.Context) ([]domain.HostAPIOffer, error) {
	return listAll(ctx, s, "listing host API offers", fmt.Sprintf("more than %d host API versions are offered", MaxListRows), MaxListRows,
		func(sc scanner) (domain.HostAPIOffer, error) {
			var o domain.HostAPIOffer
			var at int64
			err := sc.Scan(&o.Version, &o.By, &at)
			o.OfferedAt = fromMicros(at)
			return o, err
		}, `SELECT version, by_subject, offered_at FROM host_api_offers ORDER BY offered_at DESC, version`)
}

// ---- Host health ----------------------------------------------------------

// SaveHealthReports records reports and the alerts they raise.
func (s *Store) SaveHealthReports(ctx context.Context, rs []domain.HealthReport, evs []audit.Event) error {
	if len(rs) == 0 {
		return errors.New("no health reports to save")
	}
	return s.RecordHealthReports(ctx, rs, nil, evs)
}

// RecordHealthReports records reports, the quorum votes they cast and the
// audit events in one transaction.
func (s *Store) RecordHealthReports(ctx context.Context, rs []domain.HealthReport, votes []domain.HealthVote, evs []audit.Event) error {
	if len(rs) == 0 && len(votes) == 0 {
		return errors.New("no health reports or votes to save")
	}
	if len(rs) > MaxHealthReports {
		return fmt.Errorf("%d health reports in one call, over the limit of %d", len(rs), MaxHealthReports)
	}
	if len(votes) > MaxHealthReports {
		return fmt.Errorf("%d health votes in one call, over the limit of %d", len(votes), MaxHealthReports)
	}
	for _, r := range rs {
		switch {
		case r.VersionID == "" || r.Host == "":
			return errors.New("a health report needs a version and the reporting host")
		case r.Calls < 0 || r.Denials < 0 || r.BreakerTrips < 0:
			return fmt.Errorf("the health report of %s has a negative count", r.VersionID)
		case len(r.Errors) > MaxErrorKinds:
			return fmt.Errorf("the health report of %s has %d error kinds, over the limit of %d", r.VersionID, len(r.Errors), MaxErrorKinds)
		}
	}
	for _, v := range votes {
		switch {
		case v.VersionID == "" || v.Voter == "":
			return errors.New("a health vote needs a version and a voter")
		case v.Kind != "host" && v.Kind != "steward":
			return fmt.Errorf("a health vote on %s is of kind %q; it must be host or steward", v.VersionID, v.Kind)
		case v.Reports < 1 || v.LastAt.IsZero():
			return fmt.Errorf("a health vote on %s needs at least one report and its time", v.VersionID)
		case len(v.Voter) > MaxVoterBytes || len(v.Reason) > MaxVoteReasonBytes:
			return fmt.Errorf("a health vote on %s has a voter over %d bytes or a reason over %d bytes", v.VersionID, MaxVoterBytes, MaxVoteReasonBytes)
		}
	}
	return s.writeAudited(ctx, evs, func(tx *sql.Tx) error {
		for _, r := range rs {
			errs, err := json.Marshal(r.Errors)
			if err != nil {
				return err
			}
			if r.Errors == nil {
				errs = []byte("{}")
			}
			r.ReceivedAt = stamp(r.ReceivedAt)
			_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO health_reports
				(version_id, host, window_start, window_end, calls, errors, denials, breaker_trips, received_at, environment)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				r.VersionID, r.Host, micros(r.WindowStart), micros(r.WindowEnd), r.Calls, errs, r.Denials, r.BreakerTrips, micros(r.ReceivedAt), r.Environment)
			if err != nil {
				if strings.Contains(strings.ToLower(err.Error()), "foreign key") {
					return fmt.Errorf("health report for version %s: %w", r.VersionID, domain.ErrNotFound)
				}
				return fmt.Errorf("%s: saving the health report of %s: %w", s.d.Name, r.VersionID, err)
			}
		}
		for _, v := range votes {
			first := v.FirstAt
			if first.IsZero() || first.After(v.LastAt) {
				first = v.LastAt
			}
			// One row per voter: a repeat keeps the first time, moves the
			// last one on (never back) and counts the report.
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO health_votes
				(version_id, kind, voter, first_at, last_at, reports, reason)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (version_id, kind, voter) DO UPDATE SET
					last_at = CASE WHEN excluded.last_at > health_votes.last_at THEN excluded.last_at ELSE health_votes.last_at END,
					reports = health_votes.reports + excluded.reports,
					reason = excluded.reason`),
				v.VersionID, v.Kind, v.Voter, micros(first), micros(v.LastAt), v.Reports, v.Reason)
			if err != nil {
				if strings.Contains(strings.ToLower(err.Error()), "foreign key") {
					return fmt.Errorf("health vote on version %s: %w", v.VersionID, domain.ErrNotFound)
				}
				return fmt.Errorf("%s: saving the health vote of %s on %s: %w", s.d.Name, v.Voter, v.VersionID, err)
			}
		}
		if len(evs) == 0 {
			return errSkipAudit // healthy reports are data, not state changes
		}
		return nil
	})
}

// ListHealthVotes lists a version's votes cast since a time, latest first.
func (s *Store) ListHealthVotes(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthVote, error) {
	if limit <= 0 || limit > MaxListRows {
		limit = MaxListRows
	}
	return list(ctx, s, s.db, "listing health votes on "+versionID, func(sc scanner) (domain.HealthVote, error) {
		var v domain.HealthVote
		var first, last int64
		err := sc.Scan(&v.VersionID, &v.Kind, &v.Voter, &first, &last, &v.Reports, &v.Reason)
		v.FirstAt, v.LastAt = fromMicros(first), fromMicros(last)
		return v, err
	}, `SELECT version_id, kind, voter, first_at, last_at, reports, reason
		FROM health_votes WHERE version_id = ? AND last_at >= ? ORDER BY last_at DESC, kind, voter LIMIT ?`, versionID, micros(since), limit)
}

// ListHealthReports lists a version's reports since a time, newest first.
func (s *Store) ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthReport, error) {
	if limit <= 0 || limit > MaxListRows {
		limit = MaxListRows
	}
	return list(ctx, s, s.db, "listing health reports of "+versionID, scanHealthReport, `SELECT id, version_id, host, window_start, window_end, calls, errors, denials, breaker_trips, received_at, environment
		FROM health_reports WHERE version_id = ? AND received_at >= ? ORDER BY received_at DESC, id DESC LIMIT ?`, versionID, micros(since), limit)
}

func scanHealthReport(sc scanner) (domain.HealthReport, error) {
	var r domain.HealthReport
	var ws, we, recv int64
	var errs []byte
	if err := sc.Scan(&r.ID, &r.VersionID, &r.Host, &ws, &we, &r.Calls, &errs, &r.Denials, &r.BreakerTrips, &recv, &r.Environment); err != nil {
		return r, err
	}
	r.WindowStart, r.WindowEnd, r.ReceivedAt = fromMicros(ws), fromMicros(we), fromMicros(recv)
	if err := json.Unmarshal(errs, &r.Errors); err != nil {
		return r, fmt.Errorf("reading the errors of health report %d: %w", r.ID, err)
	}
	return r, nil
}
