package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// ---- The shared transparency log ------------------------------------------

// MaxIntegrateBatch bounds the entries one integration takes.
const MaxIntegrateBatch = 4096

// SequenceTrustEvents gives the oldest unsequenced trust events the next
// log indexes, in outbox order, and returns how many it sequenced. From
// then on each event's place in the log is fixed.
func (s *Store) SequenceTrustEvents(ctx context.Context, limit int) (int, error) {
	if limit <= 0 || limit > MaxPendingBatch {
		limit = MaxPendingBatch
	}
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(log_index), -1) FROM trust_events`).Scan(&last); err != nil {
			return fmt.Errorf("%s: reading the last log index: %w", s.d.Name, err)
		}
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT seq FROM trust_events WHERE log_index = -1 ORDER BY seq LIMIT ?`), limit)
		if err != nil {
			return fmt.Errorf("%s: reading the log outbox: %w", s.d.Name, err)
		}
		var seqs []int64
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return fmt.Errorf("%s: reading the log outbox: %w", s.d.Name, err)
			}
			seqs = append(seqs, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: reading the log outbox: %w", s.d.Name, err)
		}
		for i, seq := range seqs {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE trust_events SET log_index = ? WHERE seq = ? AND log_index = -1`), last+1+int64(i), seq); err != nil {
				return fmt.Errorf("%s: sequencing trust event %d: %w", s.d.Name, seq, err)
			}
		}
		n = len(seqs)
		return nil
	})
	return n, err
}

// LogState returns the tree integrated so far (Size -1 before the first
// start recorded it).
func (s *Store) LogState(ctx context.Context) (domain.LogState, error) {
	return s.logState(ctx, s.db, "")
}

func (s *Store) logState(ctx context.Context, q querier, suffix string) (domain.LogState, error) {
	var (
		st      domain.LogState
		updated int64
	)
	err := q.QueryRowContext(ctx, `SELECT size, root, checkpoint, updated_at FROM log_state WHERE id = 1`+suffix).Scan(&st.Size, &st.Root, &st.Checkpoint, &updated)
	if err != nil {
		return domain.LogState{}, fmt.Errorf("%s: reading the log's state: %w", s.d.Name, err)
	}
	st.UpdatedAt = fromMicros(updated)
	return st, nil
}

// InitLogState records the tree found in storage on the first start. It
// fails with ErrStateChanged when another process recorded one first.
func (s *Store) InitLogState(ctx context.Context, st domain.LogState) error {
	if st.Size < 0 {
		return fmt.Errorf("log size %d is negative", st.Size)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return s.setLogState(ctx, tx, -1, st)
	})
}

func (s *Store) setLogState(ctx context.Context, q querier, from int64, st domain.LogState) error {
	res, err := q.ExecContext(ctx, s.d.rebind(`UPDATE log_state SET size = ?, root = ?, checkpoint = ?, updated_at = ? WHERE id = 1 AND size = ?`),
		st.Size, st.Root, st.Checkpoint, micros(st.UpdatedAt), from)
	if err != nil {
		return fmt.Errorf("%s: recording the log's state: %w", s.d.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: recording the log's state: %w", s.d.Name, err)
	} else if n == 0 {
		return fmt.Errorf("the log's state is no longer at size %d: %w", from, domain.ErrStateChanged)
	}
	return nil
}

// IntegrateLog runs integrate with the tree integrated so far and the
// sequenced events after it (at most limit, in log order), and records the
// tree it returns. On PostgreSQL the state row stays locked until then, so
// integrators take turns; on SQLite (one process) the state is compared
// and set, and a lost race is ErrStateChanged. It returns the state after
// the call; with nothing to integrate, integrate is not called.
func (s *Store) IntegrateLog(ctx context.Context, limit int, integrate func(domain.LogState, []domain.TrustEvent) (domain.LogState, error)) (domain.LogState, error) {
	if limit <= 0 || limit > MaxIntegrateBatch {
		limit = MaxIntegrateBatch
	}
	if !s.d.RowLocks {
		cur, err := s.LogState(ctx)
		if err != nil {
			return cur, err
		}
		next, err := s.integrateFrom(ctx, s.db, cur, limit, integrate)
		if err != nil || next.Size == cur.Size {
			return cur, err
		}
		return next, s.write(ctx, func(tx *sql.Tx) error { return s.setLogState(ctx, tx, cur.Size, next) })
	}
	// Not s.write: the global write lock would stop every other writer
	// while tiles are written. This transaction locks the state row alone.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return domain.LogState{}, fmt.Errorf("%s: starting a transaction: %w", s.d.Name, err)
	}
	defer tx.Rollback()
	cur, err := s.logState(ctx, tx, " FOR UPDATE")
	if err != nil {
		return cur, err
	}
	next, err := s.integrateFrom(ctx, tx, cur, limit, integrate)
	if err != nil || next.Size == cur.Size {
		return cur, err
	}
	if err := s.setLogState(ctx, tx, cur.Size, next); err != nil {
		return cur, err
	}
	if err := tx.Commit(); err != nil {
		return cur, fmt.Errorf("%s: committing the log's state: %w", s.d.Name, err)
	}
	return next, nil
}

func (s *Store) integrateFrom(ctx context.Context, q querier, cur domain.LogState, limit int, integrate func(domain.LogState, []domain.TrustEvent) (domain.LogState, error)) (domain.LogState, error) {
	if cur.Size < 0 {
		return cur, errors.New("the log's state was never recorded: start the marketplace once to record it")
	}
	events, err := s.sequenced(ctx, q, cur.Size, limit)
	if err != nil {
		return cur, err
	}
	if len(events) == 0 {
		return cur, nil
	}
	for i, e := range events {
		if e.LogIndex != cur.Size+int64(i) {
			return cur, fmt.Errorf("sequenced trust events skip log index %d (found %d): the outbox is damaged", cur.Size+int64(i), e.LogIndex)
		}
	}
	next, err := integrate(cur, events)
	if err != nil {
		return cur, err
	}
	if next.Size != cur.Size+int64(len(events)) {
		return cur, fmt.Errorf("integrating %d entries onto a tree of %d gave a tree of %d", len(events), cur.Size, next.Size)
	}
	return next, nil
}

// SequencedTrustEvents returns up to limit events sequenced at log index
// first and after, in log order.
func (s *Store) SequencedTrustEvents(ctx context.Context, first int64, limit int) ([]domain.TrustEvent, error) {
	if limit <= 0 || limit > MaxIntegrateBatch {
		limit = MaxIntegrateBatch
	}
	return s.sequenced(ctx, s.db, first, limit)
}

func (s *Store) sequenced(ctx context.Context, q querier, first int64, limit int) ([]domain.TrustEvent, error) {
	return list(ctx, s, q, "reading sequenced trust events", scanTrustEvent,
		`SELECT seq, entry, created_at, log_index FROM trust_events WHERE log_index >= ? AND log_index < ? ORDER BY log_index`, first, first+int64(limit))
}

// AcquireLease takes or renews the lease name for holder until ttl from
// now on the database's clock, and reports whether holder has it: a lease
// another holder renewed within its ttl is not taken.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return false, errors.New("a lease needs a name, a holder and a positive duration")
	}
	now := s.d.NowMicros
	var got string
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, `+now+` + ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at < `+now),
			name, holder, ttl.Microseconds())
		if err != nil {
			return fmt.Errorf("%s: taking lease %s: %w", s.d.Name, name, err)
		}
		return tx.QueryRowContext(ctx, s.d.rebind(`SELECT holder FROM leases WHERE name = ?`), name).Scan(&got)
	})
	if err != nil {
		return false, err
	}
	return got == holder, nil
}

// LeaseLive reports whether someone holds the lease name now, on the
// database's clock.
func (s *Store) LeaseLive(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM leases WHERE name = ? AND expires_at > `+s.d.NowMicros), name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("%s: reading lease %s: %w", s.d.Name, name, err)
	}
	return n > 0, nil
}

// ReleaseLease gives the lease up if holder has it, so another process
// takes over at once instead of after the lease runs out.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM leases WHERE name = ? AND holder = ?`), name, holder); err != nil {
			return fmt.Errorf("%s: releasing lease %s: %w", s.d.Name, name, err)
		}
		return nil
	})
}

// AdoptLogEntries records entries the log's storage holds from log index
// first on that the database has no event for (a database restored from a
// backup older than the bucket's log): each becomes a trust event already
// sequenced at its index, so the next integration writes the same tree
// again instead of a different one. ev records the adoption.
func (s *Store) AdoptLogEntries(ctx context.Context, first int64, entries [][]byte, at time.Time, ev audit.Event) error {
	if first < 0 || len(entries) == 0 || len(entries) > MaxIntegrateBatch {
		return fmt.Errorf("adopting %d log entries from index %d: out of range", len(entries), first)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(log_index), -1) FROM trust_events`).Scan(&last); err != nil {
			return fmt.Errorf("%s: reading the last log index: %w", s.d.Name, err)
		}
		if last+1 != first {
			return fmt.Errorf("adopting log entries from index %d, but the database's last sequenced index is %d: %w", first, last, domain.ErrStateChanged)
		}
		for i, e := range entries {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO trust_events (entry, created_at, log_index) VALUES (?, ?, ?)`), e, micros(at), first+int64(i)); err != nil {
				return fmt.Errorf("%s: adopting log entry %d: %w", s.d.Name, first+int64(i), err)
			}
		}
		return nil
	})
}
