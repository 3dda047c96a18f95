package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// The helpers here are the shapes every table's code shares: read one row,
// read a list, insert a row that may exist, change a row at most once, and
// write a change with its audit events. Each wraps database errors with the
// dialect's name and what was being done.

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// getOne reads the row query finds, with scan. No row is domain.ErrNotFound,
// said as "<notFound>: not found"; another error says what was being done.
func getOne[T any](ctx context.Context, s *Store, q querier, what, notFound string, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, s.d.rebind(query), args...))
	if err != nil {
		var zero T
		if errors.Is(err, sql.ErrNoRows) {
			return zero, fmt.Errorf("%s: %w", notFound, domain.ErrNotFound)
		}
		return zero, fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	return v, nil
}

// list reads every row query finds, with scan; what says what the list is
// in errors ("listing tokens").
func list[T any](ctx context.Context, s *Store, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, s.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	return out, nil
}

// listAll is list for the lists that take no limit from the caller. query
// ends where a LIMIT goes: at most limit rows are returned, and a longer
// list fails with tooLong rather than silently dropping rows.
func listAll[T any](ctx context.Context, s *Store, what, tooLong string, limit int, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	out, err := list(ctx, s, s.db, what, scan, query+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errors.New(tooLong)
	}
	return out, nil
}

// insert adds a row; a unique violation is domain.ErrConflict, said as
// "<name> exists" or as conflict when given.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, name, conflict, query string, args ...any) error {
	_, err := tx.ExecContext(ctx, s.d.rebind(query), args...)
	if s.d.IsUniqueViolation(err) {
		if conflict == "" {
			conflict = name + " exists"
		}
		return fmt.Errorf("%s: %w", conflict, domain.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: creating %s: %w", s.d.Name, name, err)
	}
	return nil
}

// mustExist returns domain.ErrNotFound, said as "<name>: not found", when
// query (a SELECT 1 ...) finds no row.
func (s *Store) mustExist(ctx context.Context, q querier, name, query string, args ...any) error {
	_, err := getOne(ctx, s, q, "reading "+name, name, scanValue[int], query, args...)
	return err
}

// scanValue reads a row of one column.
func scanValue[T any](sc scanner) (T, error) {
	var v T
	err := sc.Scan(&v)
	return v, err
}

// nextSeq returns the number after the highest column of table among the
// rows where keyCol = key (1 for the first): verdicts, vetting runs and
// certificates are numbered per version. The caller holds the write lock,
// so no other writer takes the same number.
func (s *Store) nextSeq(ctx context.Context, tx *sql.Tx, table, column, keyCol string, key any) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(`+column+`), 0) + 1 FROM `+table+` WHERE `+keyCol+` = ?`), key).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("%s: numbering the next row of %s: %w", s.d.Name, table, err)
	}
	return n, nil
}

// errSkipAudit, from the function given to writeAudited, commits what the
// function wrote and records no event: it changed nothing (a repeat), or
// only an operational record that is not audited (a delivery attempt, a
// healthy report).
var errSkipAudit = errors.New("nothing to audit")

// writeAudited runs change in a write transaction and appends evs after it,
// so that the change and its record commit together or not at all.
func (s *Store) writeAudited(ctx context.Context, evs []audit.Event, change func(tx *sql.Tx) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := change(tx); err != nil {
			if errors.Is(err, errSkipAudit) {
				return nil
			}
			return err
		}
		return s.appendEvents(ctx, tx, evs)
	})
}

// changeOnce runs update, written to change its row at most once (a
// "disabled_at = 0" guard); what says what it does, in errors. When it
// changes nothing, the row existsQuery looks for is either missing
// (domain.ErrNotFound, said as "<name>: not found") or was changed before
// (errSkipAudit: a repeat records nothing).
func (s *Store) changeOnce(ctx context.Context, tx *sql.Tx, what, name, update string, args []any, existsQuery string, key ...any) error {
	res, err := tx.ExecContext(ctx, s.d.rebind(update), args...)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
	}
	if n > 0 {
		return nil
	}
	if err := s.mustExist(ctx, tx, name, existsQuery, key...); err != nil {
		return err
	}
	return errSkipAudit
}
