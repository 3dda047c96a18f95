// Package sqlstore implements store.Store over database/sql. The SQL is
// written once; a Dialect supplies what differs between SQLite and
// PostgreSQL (placeholders, the schema files, how writers are serialised).
//
// Every write runs in one transaction that also appends its audit events.
// Writers are serialised (BEGIN IMMEDIATE in SQLite, an advisory lock in
// PostgreSQL) before the audit head is read, so the hash chain stays linear
// however many requests write at once.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// Limits on what one call reads or writes, so that no query is unbounded.
const (
	// MaxListRows bounds the lists that take no limit (tokens, namespaces,
	// the versions of one plugin). A list that would be longer fails
	// rather than silently dropping rows.
	MaxListRows = 10000
	// DefaultPluginLimit and MaxPluginLimit bound one catalog page.
	DefaultPluginLimit = 50
	MaxPluginLimit     = 500
	// DefaultVersionLimit and MaxVersionLimit bound FindVersions.
	DefaultVersionLimit = 100
	MaxVersionLimit     = 1000
	// auditPage is how many audit events ScanAudit reads per query; no
	// connection is held while the caller's function runs.
	auditPage = 500
	// MaxAuditData and MaxReason bound what one audit event carries.
	MaxAuditData = 64 << 10
	MaxReason    = 16 << 10
)

// Store is a store.Store on a SQL database.
type Store struct {
	db      *sql.DB
	d       Dialect
	writers chan struct{} // a one-slot semaphore when d.SerialWriters

	watchOnce sync.Once
	watch     *catalogWatch // when d.ListenCatalog, from the first CatalogGeneration
}

var _ store.Store = (*Store)(nil)

// New applies the dialect's schema migrations to db and returns a Store
// that owns db (Close closes it).
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	if d.IsUniqueViolation == nil {
		d.IsUniqueViolation = func(error) bool { return false }
	}
	s := &Store{db: db, d: d}
	if d.SerialWriters {
		s.writers = make(chan struct{}, 1)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("%s: migrating the schema: %w", d.Name, err)
	}
	return s, nil
}

// DB returns the underlying database, for tools that read it directly
// (and for tests that tamper with the audit trail to prove it is checked).
func (s *Store) DB() *sql.DB { return s.db }

// Rebind rewrites a query written with ? placeholders for this database.
func (s *Store) Rebind(q string) string { return s.d.rebind(q) }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: %w", s.d.Name, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.watchOnce.Do(func() {}) // no watch starts after Close
	if s.watch != nil {
		s.watch.stop()
	}
	err := s.db.Close()
	if s.d.Close != nil {
		err = errors.Join(err, s.d.Close())
	}
	return err
}

// JobQueue opens a job queue on River's tables in the store's database.
func (s *Store) JobQueue(cfg store.QueueConfig) (store.Queue, error) {
	if s.d.Jobs == nil {
		return nil, fmt.Errorf("%s: this store has no job queue", s.d.Name)
	}
	return s.d.Jobs(cfg)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write runs fn in a transaction that holds the write lock, and commits
// when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.writers != nil {
		select {
		case s.writers <- struct{}{}:
			defer func() { <-s.writers }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: starting a transaction: %w", s.d.Name, err)
	}
	defer tx.Rollback() // a no-op after Commit
	if s.d.LockWrites != nil {
		if err := s.d.LockWrites(ctx, tx); err != nil {
			return fmt.Errorf("%s: taking the write lock: %w", s.d.Name, err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: committing: %w", s.d.Name, err)
	}
	return nil
}

// Times are stored as UTC microseconds since the epoch, 0 for the zero
// time: exact on both databases, so audit hashes still verify after a
// round trip.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// norm is t as it comes back from the database.
func norm(t time.Time) time.Time { return fromMicros(micros(t)) }

// stamp is the time a record is stored with: t, or now when t is not set,
// as it comes back from the database.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return norm(t)
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ---- Audit ----------------------------------------------------------------

func checkEvent(e *audit.Event) error {
	switch {
	case e.Actor == "":
		return errors.New("audit event has no actor: every change names who made it")
	case e.Action == "":
		return errors.New("audit event has no action")
	case e.Subject == "":
		return errors.New("audit event has no subject")
	case len(e.Data) > MaxAuditData:
		return fmt.Errorf("audit event data is %d bytes, over the limit of %d", len(e.Data), MaxAuditData)
	case len(e.Reason) > MaxReason:
		return fmt.Errorf("audit event reason is %d bytes, over the limit of %d", len(e.Reason), MaxReason)
	}
	if err := audit.CheckAction(e.Action); err != nil {
		return err // every event in the trail has a meaning an auditor can look up
	}
	e.Time = stamp(e.Time)
	return nil
}

// appendEvents links evs after the current head and inserts them. The
// caller holds the write lock, so the head cannot move underneath.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, evs []audit.Event) error {
	if len(evs) == 0 {
		return errors.New("a change must be recorded by at least one audit event")
	}
	var prev *audit.Event
	var head audit.Event
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&head.Seq, &head.Hash)
	switch {
	case err == nil:
		prev = &head
	case errors.Is(err, sql.ErrNoRows):
	default:
		return fmt.Errorf("%s: reading the audit head: %w", s.d.Name, err)
	}
	for i := range evs {
		e := evs[i]
		if err := checkEvent(&e); err != nil {
			return err
		}
		// Every new event is sealed with salts (hash version 3), so that
		// retention can later pseudonymise its actor, subject, reason and
		// data without breaking the chain.
		if e.HashVersion == 0 {
			if err := audit.Seal(&e); err != nil {
				return err
			}
		}
		audit.Link(&e, prev)
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO audit_events
			(seq, time, actor, action, subject, old_state, new_state, reason, data, prev_hash, hash, hash_version, actor_salt, subject_salt, reason_salt, data_salt)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.Seq, micros(e.Time), e.Actor, e.Action, e.Subject, e.OldState, e.NewState, e.Reason,
			nonEmpty(e.Data), e.PrevHash, e.Hash, e.HashVersion, nonEmpty(e.ActorSalt), nonEmpty(e.SubjectSalt),
			nonEmpty(e.ReasonSalt), nonEmpty(e.DataSalt)); err != nil {
			return fmt.Errorf("%s: appending audit event %d (%s): %w", s.d.Name, e.Seq, e.Action, err)
		}
		prev = &e
	}
	return nil
}

// AppendAudit records an event that goes with no other write.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	return s.writeAudited(ctx, []audit.Event{ev}, func(*sql.Tx) error { return nil })
}

// ScanAudit calls fn for each event in Seq order, reading a page at a time
// and holding no connection while fn runs.
func (s *Store) ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error {
	if q.Limit < 0 || q.AfterSeq < 0 {
		return fmt.Errorf("audit query limit %d and after %d must not be negative", q.Limit, q.AfterSeq)
	}
	after, seen := q.AfterSeq, 0
	for {
		n := auditPage
		if q.Limit > 0 && q.Limit-seen < n {
			n = q.Limit - seen
		}
		if n == 0 {
			return nil
		}
		page, err := s.auditPage(ctx, q.Subject, after, n)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		seen += len(page)
		if len(page) < n {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

func (s *Store) auditPage(ctx context.Context, subject string, after int64, n int) ([]audit.Event, error) {
	const cols = `SELECT ` + auditCols + ` FROM audit_events`
	if subject != "" {
		return list(ctx, s, s.db, "reading the audit trail", scanEvent, cols+` WHERE subject = ? AND seq > ? ORDER BY seq LIMIT ?`, subject, after, n)
	}
	return list(ctx, s, s.db, "reading the audit trail", scanEvent, cols+` WHERE seq > ? ORDER BY seq LIMIT ?`, after, n)
}

// auditCols are the columns scanEvent reads.
const auditCols = `seq, time, actor, action, subject, old_state, new_state, reason, data, prev_hash, hash, hash_version, actor_salt, subject_salt, reason_salt, data_salt`

func scanEvent(sc scanner) (audit.Event, error) {
	var e audit.Event
	var t int64
	var data []byte
	err := sc.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Subject, &e.OldState, &e.NewState, &e.Reason, &data, &e.PrevHash, &e.Hash, &e.HashVersion, &e.ActorSalt, &e.SubjectSalt, &e.ReasonSalt, &e.DataSalt)
	for _, salt := range []*[]byte{&e.ActorSalt, &e.SubjectSalt, &e.ReasonSalt, &e.DataSalt} {
		if len(*salt) == 0 {
			*salt = nil
		}
	}
	e.Time = fromMicros(t)
	if len(data) > 0 {
		e.Data = json.RawMessage(data)
	}
	return e, err
}

// ---- Tokens ---------------------------------------------------------------

const tokenCols = `id, subject, role, namespace, hash, created_at, expires_at, revoked_at, environment`

func scanToken(sc scanner) (domain.Token, error) {
	var t domain.Token
	var created, expires, revoked int64
	err := sc.Scan(&t.ID, &t.Subject, &t.Role, &t.Namespace, &t.Hash, &created, &expires, &revoked, &t.Environment)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return t, err
}

func validRole(r domain.Role) bool {
	for _, x := range domain.Roles {
		if r == x {
			return true
		}
	}
	return false
}

// CreateToken stores a token; ErrConflict when its id or hash exists.
func (s *Store) CreateToken(ctx context.Context, t domain.Token, ev audit.Event) error {
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error { return s.insertToken(ctx, tx, t) })
}

func (s *Store) insertToken(ctx context.Context, tx *sql.Tx, t domain.Token) error {
	switch {
	case t.ID == "":
		return errors.New("token has no id")
	case t.Subject == "":
		return fmt.Errorf("token %s has no subject", t.ID)
	case !validRole(t.Role):
		return fmt.Errorf("token %s has unknown role %q", t.ID, t.Role)
	case len(t.Hash) != 32:
		return fmt.Errorf("token %s hash is %d bytes; want the 32 bytes of a SHA-256", t.ID, len(t.Hash))
	}
	return s.insert(ctx, tx, "token "+t.ID, "token "+t.ID+" (or one with the same secret) exists",
		`INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Subject, string(t.Role), t.Namespace, t.Hash, micros(t.CreatedAt), micros(t.ExpiresAt), micros(t.RevokedAt), t.Environment)
}

// TokenByHash finds a token by the SHA-256 of its secret (an indexed
// lookup: the hash of a high-entropy secret leaks nothing by its timing).
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (domain.Token, error) {
	return getOne(ctx, s, s.db, "looking up a token", "no token has this secret", scanToken, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash)
}

// ListTokens returns every token, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]domain.Token, error) {
	return listAll(ctx, s, "listing tokens", fmt.Sprintf("there are more than %d tokens: revoke and delete unused ones", MaxListRows), MaxListRows,
		scanToken, `SELECT `+tokenCols+` FROM tokens ORDER BY created_at, id`)
}

// RevokeToken marks a token revoked at the given time. Revoking a revoked
// token changes nothing and records nothing; an unknown id is ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time, ev audit.Event) error {
	if at.IsZero() {
		return fmt.Errorf("revoking token %s: the revocation time is not set", id)
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.changeOnce(ctx, tx, "revoking token "+id, "token "+id, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, []any{micros(at), id},
			`SELECT 1 FROM tokens WHERE id = ?`, id)
	})
}

// ---- Namespaces -----------------------------------------------------------

func validNamespace(name string) error {
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("namespace name %q must be non-empty and contain no slash", name)
	}
	return nil
}

func scanNamespace(sc scanner) (domain.Namespace, error) {
	var ns domain.Namespace
	var owners string
	var created int64
	if err := sc.Scan(&ns.Name, &owners, &created); err != nil {
		return ns, err
	}
	ns.CreatedAt = fromMicros(created)
	if err := json.Unmarshal([]byte(owners), &ns.Owners); err != nil {
		return ns, fmt.Errorf("namespace %s has unreadable owners: %w", ns.Name, err)
	}
	return ns, nil
}

func ownersJSON(owners []string) string {
	if owners == nil {
		owners = []string{}
	}
	b, _ := json.Marshal(owners) // a []string always encodes
	return string(b)
}

// CreateNamespace stores a namespace; ErrConflict when it exists.
func (s *Store) CreateNamespace(ctx context.Context, ns domain.Namespace, ev audit.Event) error {
	if err := validNamespace(ns.Name); err != nil {
		return err
	}
	return s.writeAudited(ctx, []audit.Event{ev}, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, "namespace "+ns.Name, "", `INSERT INTO namespaces (name, owners, created_at) VALUES (?, ?, ?)`,
			ns.Name, ownersJSON(ns.Owners), micros(ns.CreatedAt))
	})
}

// GetNamespace returns one namespace.
func (s *Store) GetNamespace(ctx context.Context, name string) (domain.Namespace, error) {
	return getOne(ctx, s, s.db, "reading namespace "+name, "namespace "+name, scanNamespace, `SELECT name, owners, created_at FROM namespaces WHERE name = ?`, name)
}

// TransferNamespace replaces a namespace's owners with its trust event.
func (s *Store) TransferNamespace(ctx context.Context, name string, owners []string, at time.Time, entry []byte, ev audit.Event) error {
	if len(owners) == 0 || at.IsZero() {
		return fmt.Errorf("transferring namespace %s: the new owners and the time are required", name)
	}
	evs := []audit.Event{ev}
	return s.writeAudited(ctx, evs, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE namespaces SET owners = ? WHERE name = ?`), ownersJSON(owners), name)
		if err != nil {
			return fmt.Errorf("%s: transferring namespace %s: %w", s.d.Name, name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%s: transferring namespace %s: %w", s.d.Name, name, err)
		} else if n == 0 {
			return fmt.Errorf("namespace %s: %w", name, domain.ErrNotFound)
		}
		revoked, err := s.revokeScopedTokens(ctx, tx, name, owners, at)
		if err != nil {
			return err
		}
		if len(revoked) > 0 {
			data := map[string]any{}
			if len(ev.Data) > 0 {
				if err := json.Unmarshal(ev.Data, &data); err != nil {
					return fmt.Errorf("transferring namespace %s: the audit event's data is not a JSON object: %w", name, err)
				}
			}
			data["revokedTokens"] = revoked
			if evs[0].Data, err = json.Marshal(data); err != nil {
				return err
			}
		}
		_, err = s.queueEntries(ctx, tx, [][]byte{entry}, at)
		return err
	})
}

// revokeScopedTokens revokes, in tx, the unrevoked tokens scoped to
// namespace ns whose subject is not one of owners, and returns their ids.
func (s *Store) revokeScopedTokens(ctx context.Context, tx *sql.Tx, ns string, owners []string, at time.Time) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT id, subject FROM tokens WHERE namespace = ? AND revoked_at = 0 ORDER BY id`), ns)
	if err != nil {
		return nil, fmt.Errorf("%s: finding the tokens scoped to namespace %s: %w", s.d.Name, ns, err)
	}
	var ids []string
	for rows.Next() {
		var id, subject string
		if err := rows.Scan(&id, &subject); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: finding the tokens scoped to namespace %s: %w", s.d.Name, ns, err)
		}
		if !slices.Contains(owners, subject) {
			ids = append(ids, id)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: finding the tokens scoped to namespace %s: %w", s.d.Name, ns, err)
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`), micros(at), id); err != nil {
			return nil, fmt.Errorf("%s: revoking token %s: %w", s.d.Name, id, err)
		}
	}
	return ids, nil
}

// ListNamespaces returns every namespace by name.
func (s *Store) ListNamespaces(ctx context.Context) ([]domain.Namespace, error) {
	return listAll(ctx, s, "listing namespaces", fmt.Sprintf("there are more than %d namespaces, more than one list can hold", MaxListRows), MaxListRows,
		scanNamespace, `SELECT name, owners, created_at FROM namespaces ORDER BY name`)
}
