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

// Bounds of the review tables.
const (
	MaxVerdictBody  = 4 << 20
	MaxMessageBody  = 16 << 10
	DefaultQueueRow = 50
	MaxQueueRows    = 500
)

// SaveVerdict stores a verdict with the next sequence number.
func (s *Store) SaveVerdict(ctx context.Context, v domain.Verdict, ev audit.Event) (domain.Verdict, error) {
	if len(v.Body) > MaxVerdictBody {
		return v, fmt.Errorf("verdict is %d bytes, over the limit of %d", len(v.Body), MaxVerdictBody)
	}
	v.CreatedAt = stamp(v.CreatedAt)
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var err error
		if v.Seq, err = s.nextSeq(ctx, tx, "verdicts", "seq", "version_id", v.VersionID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO verdicts (version_id, seq, policy_digest, outcome, tier, weight, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			v.VersionID, v.Seq, v.PolicyDigest, v.Outcome, v.Tier, v.Weight, v.Body, micros(v.CreatedAt)); err != nil {
			return fmt.Errorf("%s: saving verdict for %s: %w", s.d.Name, v.VersionID, err)
		}
		return nil
	})
	return v, err
}

// LatestVerdict returns a version's newest verdict.
func (s *Store) LatestVerdict(ctx context.Context, versionID string) (domain.Verdict, error) {
	return getOne(ctx, s, s.db, "reading verdict", "verdict of "+versionID, func(sc scanner) (domain.Verdict, error) {
		var v domain.Verdict
		var created int64
		err := sc.Scan(&v.VersionID, &v.Seq, &v.PolicyDigest, &v.Outcome, &v.Tier, &v.Weight, &v.Body, &created)
		v.CreatedAt = fromMicros(created)
		return v, err
	}, `SELECT version_id, seq, policy_digest, outcome, tier, weight, body, created_at FROM verdicts WHERE version_id = ? ORDER BY seq DESC LIMIT 1`, versionID)
}

const reviewCols = `version_id, plugin_id, tier, weight, approvals_required, deadline, preferred_reviewer, claimed_by, claim_until, escalated_at, is_open, created_at`

func scanReview(r scanner) (domain.ReviewItem, error) {
	var it domain.ReviewItem
	var deadline, claim, esc, created int64
	err := r.Scan(&it.VersionID, &it.PluginID, &it.Tier, &it.Weight, &it.ApprovalsRequired, &deadline, &it.PreferredReviewer, &it.ClaimedBy, &claim, &esc, &it.Open, &created)
	it.Deadline, it.ClaimUntil, it.EscalatedAt, it.CreatedAt = fromMicros(deadline), fromMicros(claim), fromMicros(esc), fromMicros(created)
	return it, err
}

// OpenReview puts a version in the queue (replacing a closed item).
func (s *Store) OpenReview(ctx context.Context, it domain.ReviewItem, ev audit.Event) error {
	if it.VersionID == "" || it.PluginID == "" || it.Deadline.IsZero() || it.ApprovalsRequired < 1 {
		return errors.New("a review item needs a version, a plugin, a deadline and at least one required approval")
	}
	it.CreatedAt = stamp(it.CreatedAt)
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM review_items WHERE version_id = ?`), it.VersionID); err != nil {
			return fmt.Errorf("%s: opening review: %w", s.d.Name, err)
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO review_items (`+reviewCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			it.VersionID, it.PluginID, it.Tier, it.Weight, it.ApprovalsRequired, micros(it.Deadline), it.PreferredReviewer,
			it.ClaimedBy, micros(it.ClaimUntil), 0, true, micros(it.CreatedAt))
		if err != nil {
			return fmt.Errorf("%s: opening review of %s: %w", s.d.Name, it.VersionID, err)
		}
		return nil
	})
}

// GetReview returns a version's review item.
func (s *Store) GetReview(ctx context.Context, versionID string) (domain.ReviewItem, error) {
	return getOne(ctx, s, s.db, "reading review", "review of "+versionID, scanReview, `SELECT `+reviewCols+` FROM review_items WHERE version_id = ?`, versionID)
}

// ListReviews pages the open queue by deadline, then weight.
func (s *Store) ListReviews(ctx context.Context, q domain.ReviewQuery) ([]domain.ReviewItem, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultQueueRow
	}
	if q.Limit > MaxQueueRows {
		q.Limit = MaxQueueRows
	}
	if q.Offset < 0 {
		q.Offset = 0
	}
	return list(ctx, s, s.db, "listing the queue", scanReview, `SELECT `+reviewCols+` FROM review_items WHERE is_open = ? ORDER BY deadline, weight DESC, version_id LIMIT ? OFFSET ?`, true, q.Limit, q.Offset)
}

// ClaimReview gives reviewer the item until until.
func (s *Store) ClaimReview(ctx context.Context, versionID, reviewer string, now, until time.Time, ev audit.Event) (domain.ReviewItem, error) {
	var it domain.ReviewItem
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var err error
		it, err = getOne(ctx, s, tx, "reading review", "no open review for "+versionID, scanReview, `SELECT `+reviewCols+` FROM review_items WHERE version_id = ?`, versionID)
		if err == nil && !it.Open {
			err = fmt.Errorf("no open review for %s: %w", versionID, domain.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if it.ClaimedBy != "" && it.ClaimedBy != reviewer && it.ClaimUntil.After(now) {
			return fmt.Errorf("%s holds the review of %s until %s: %w", it.ClaimedBy, versionID, it.ClaimUntil.Format(time.RFC3339), domain.ErrConflict)
		}
		it.ClaimedBy, it.ClaimUntil = reviewer, norm(until)
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE review_items SET claimed_by = ?, claim_until = ? WHERE version_id = ?`), reviewer, micros(until), versionID); err != nil {
			return fmt.Errorf("%s: claiming review: %w", s.d.Name, err)
		}
		return nil
	})
	return it, err
}

// AddApproval records an approval and returns the distinct approvers.
func (s *Store) AddApproval(ctx context.Context, a domain.Approval, ev audit.Event) (int, error) {
	granted, err := json.Marshal(a.Granted)
	if err != nil {
		return 0, err
	}
	if a.Flows == nil {
		a.Flows = map[string]bool{}
	}
	flows, err := json.Marshal(a.Flows)
	if err != nil {
		return 0, err
	}
	a.CreatedAt = stamp(a.CreatedAt)
	var n int
	err = s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM review_approvals WHERE version_id = ? AND reviewer = ?`), a.VersionID, a.Reviewer).Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return fmt.Errorf("%s has already approved %s; a second approval must come from another reviewer: %w", a.Reviewer, a.VersionID, domain.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO review_approvals (version_id, reviewer, granted, flows, created_at) VALUES (?, ?, ?, ?, ?)`),
			a.VersionID, a.Reviewer, string(granted), string(flows), micros(a.CreatedAt)); err != nil {
			return fmt.Errorf("%s: recording approval: %w", s.d.Name, err)
		}
		return tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM review_approvals WHERE version_id = ?`), a.VersionID).Scan(&n)
	})
	return n, err
}

// ListApprovals returns a version's approvals, oldest first.
func (s *Store) ListApprovals(ctx context.Context, versionID string) ([]domain.Approval, error) {
	return list(ctx, s, s.db, "listing approvals", func(sc scanner) (domain.Approval, error) {
		var a domain.Approval
		var granted, flows string
		var created int64
		if err := sc.Scan(&a.VersionID, &a.Reviewer, &granted, &flows, &created); err != nil {
			return a, err
		}
		if err := json.Unmarshal([]byte(granted), &a.Granted); err != nil {
			return a, fmt.Errorf("approval of %s by %s: %w", a.VersionID, a.Reviewer, err)
		}
		if err := json.Unmarshal([]byte(flows), &a.Flows); err != nil {
			return a, fmt.Errorf("flow decisions of the approval of %s by %s: %w", a.VersionID, a.Reviewer, err)
		}
		a.CreatedAt = fromMicros(created)
		return a, nil
	}, `SELECT version_id, reviewer, granted, flows, created_at FROM review_approvals WHERE version_id = ? ORDER BY created_at, reviewer LIMIT ?`, versionID, MaxListRows)
}

// EscalateOverdue marks open items past their deadline, once each.
func (s *Store) EscalateOverdue(ctx context.Context, now time.Time) ([]domain.ReviewItem, error) {
	var out []domain.ReviewItem
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = list(ctx, s, tx, "finding overdue reviews", scanReview, `SELECT `+reviewCols+` FROM review_items WHERE is_open = ? AND escalated_at = 0 AND deadline < ? ORDER BY deadline LIMIT ?`, true, micros(now), MaxQueueRows)
		if err != nil {
			return err
		}
		var evs []audit.Event
		for i := range out {
			out[i].EscalatedAt = norm(now)
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE review_items SET escalated_at = ? WHERE version_id = ?`), micros(now), out[i].VersionID); err != nil {
				return err
			}
			data, _ := json.Marshal(map[string]any{"deadline": out[i].Deadline, "tier": out[i].Tier, "claimedBy": out[i].ClaimedBy})
			evs = append(evs, audit.Event{Time: now, Actor: "system", Action: audit.ReviewEscalate, Subject: "submission:" + out[i].VersionID,
				Reason: "the review deadline passed without a decision", Data: data})
		}
		if len(evs) == 0 {
			return nil
		}
		return s.appendEvents(ctx, tx, evs)
	})
	return out, err
}

// AddMessage appends to a plugin's review thread.
func (s *Store) AddMessage(ctx context.Context, m domain.Message, ev audit.Event) (domain.Message, error) {
	if m.PluginID == "" || m.Author == "" || m.Kind == "" {
		return m, errors.New("a message needs a plugin, an author and a kind")
	}
	if len(m.Body) > MaxMessageBody {
		return m, fmt.Errorf("the message is %d bytes, over the limit of %d", len(m.Body), MaxMessageBody)
	}
	m.CreatedAt = stamp(m.CreatedAt)
	err := s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO review_messages (plugin_id, version_id, author, kind, body, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			m.PluginID, m.VersionID, m.Author, m.Kind, m.Body, micros(m.CreatedAt)).Scan(&m.ID)
		if err != nil {
			return fmt.Errorf("%s: adding message: %w", s.d.Name, err)
		}
		return nil
	})
	return m, err
}

// ListMessages returns a plugin's thread, oldest first.
func (s *Store) ListMessages(ctx context.Context, pluginID string) ([]domain.Message, error) {
	return list(ctx, s, s.db, "listing messages", func(sc scanner) (domain.Message, error) {
		var m domain.Message
		var created int64
		err := sc.Scan(&m.ID, &m.PluginID, &m.VersionID, &m.Author, &m.Kind, &m.Body, &created)
		m.CreatedAt = fromMicros(created)
		return m, err
	}, `SELECT id, plugin_id, version_id, author, kind, body, created_at FROM review_messages WHERE plugin_id = ? ORDER BY id LIMIT ?`, pluginID, MaxListRows)
}

// MaxPolicyBytes bounds a policy's sources.
const MaxPolicyBytes = 4 << 20

// ApplyPolicy makes p the only active policy.
func (s *Store) ApplyPolicy(ctx context.Context, p domain.PolicyRecord, ev audit.Event) error {
	if p.Digest == "" || len(p.Modules) == 0 {
		return errors.New("a policy needs a digest and its modules")
	}
	if len(p.Modules) > MaxPolicyBytes {
		return fmt.Errorf("the policy is %d bytes, over the limit of %d", len(p.Modules), MaxPolicyBytes)
	}
	p.AppliedAt = stamp(p.AppliedAt)
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE policies SET active = ?`), false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM policies WHERE digest = ?`), p.Digest); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO policies (digest, modules, applied_by, applied_at, active) VALUES (?, ?, ?, ?, ?)`),
			p.Digest, p.Modules, p.AppliedBy, micros(p.AppliedAt), true); err != nil {
			return fmt.Errorf("%s: applying policy: %w", s.d.Name, err)
		}
		return nil
	})
}

func scanPolicy(r scanner) (domain.PolicyRecord, error) {
	var p domain.PolicyRecord
	var at int64
	err := r.Scan(&p.Digest, &p.Modules, &p.AppliedBy, &at, &p.Active)
	p.AppliedAt = fromMicros(at)
	return p, err
}

// ActivePolicy returns the active policy.
func (s *Store) ActivePolicy(ctx context.Context) (domain.PolicyRecord, error) {
	return getOne(ctx, s, s.db, "reading the active policy", "no policy was applied", scanPolicy, `SELECT digest, modules, applied_by, applied_at, active FROM policies WHERE active = ?`, true)
}

// ListPolicies returns every applied policy, newest first.
func (s *Store) ListPolicies(ctx context.Context) ([]domain.PolicyRecord, error) {
	return list(ctx, s, s.db, "listing policies", scanPolicy, `SELECT digest, modules, applied_by, applied_at, active FROM policies ORDER BY applied_at DESC LIMIT ?`, MaxListRows)
}

// SetAutoApprovalOff switches auto-approval off (or on) for a scope.
func (s *Store) SetAutoApprovalOff(ctx context.Context, scope string, off bool, by, reason string, ev audit.Event) error {
	if !strings.HasPrefix(scope, "plugin:") && !strings.HasPrefix(scope, "namespace:") {
		return fmt.Errorf("scope %q: write plugin:NS/NAME or namespace:NS", scope)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM auto_approval_off WHERE scope = ?`), scope); err != nil {
			return err
		}
		if off {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO auto_approval_off (scope, by_subject, reason, created_at) VALUES (?, ?, ?, ?)`), scope, by, reason, micros(time.Now())); err != nil {
				return fmt.Errorf("%s: switching auto-approval off: %w", s.d.Name, err)
			}
		}
		return nil
	})
}

// AutoApprovalOff reports the plugin's and its namespace's switches.
func (s *Store) AutoApprovalOff(ctx context.Context, pluginID string) (plugin, namespace bool, err error) {
	ns, _, _ := strings.Cut(pluginID, "/")
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT scope FROM auto_approval_off WHERE scope IN (?, ?)`), "plugin:"+pluginID, "namespace:"+ns)
	if err != nil {
		return false, false, fmt.Errorf("%s: reading auto-approval switches: %w", s.d.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var scope string
		if err := rows.Scan(&scope); err != nil {
			return false, false, err
		}
		plugin = plugin || strings.HasPrefix(scope, "plugin:")
		namespace = namespace || strings.HasPrefix(scope, "namespace:")
	}
	return plugin, namespace, rows.Err()
}
