package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/store"
)

// Dialect is what differs between the databases one Store runs on. The SQL
// in this package, the schema migrations included, is written once, with ?
// placeholders and portable types; a Dialect rewrites the placeholders,
// spells the few types the schema leaves open and supplies the few
// statements that cannot be portable.
type Dialect struct {
	// Name names the database in error messages ("sqlite", "postgres").
	Name string
	// DollarPlaceholders rewrites ? to $1, $2, ... (PostgreSQL).
	DollarPlaceholders bool
	// Schema spells the types and table options the shared migrations
	// leave to the database.
	Schema Schema
	// LockWrites runs first in every writing transaction and holds until it
	// ends, so that writers (and with them the audit chain) are serialised.
	// nil when the transaction itself already serialises writers (SQLite's
	// BEGIN IMMEDIATE).
	LockWrites func(ctx context.Context, tx *sql.Tx) error
	// LockMigrations does the same for schema migrations, so that two
	// processes starting at once do not both apply one.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// IsUniqueViolation reports whether err is a unique or primary-key
	// constraint failure.
	IsUniqueViolation func(err error) bool
	// SerialWriters makes the Store queue its own writers in process before
	// they reach the database: for SQLite, where waiting writers otherwise
	// poll under busy_timeout.
	SerialWriters bool
	// NowMicros is an SQL expression of the database's clock in UTC
	// microseconds. Leases are timed on it, so that processes on machines
	// whose clocks disagree still agree on who holds one.
	NowMicros string
	// RowLocks: the database has SELECT ... FOR UPDATE, so the log's
	// integrator holds its state row locked while it writes tiles
	// (PostgreSQL). Without it (SQLite, one process) the integrator
	// compares and sets the state when it is done.
	RowLocks bool
	// Jobs opens a job queue on River's tables in the same database, which
	// the driver migrated before New.
	Jobs func(cfg store.QueueConfig) (store.Queue, error)
	// TimeMicros turns a timestamp expression of River's tables (a
	// timestamptz in PostgreSQL, text in SQLite) into UTC microseconds.
	TimeMicros func(expr string) string
	// ListenCatalog, when the database can notify, listens on
	// CatalogChannel until ctx ends or the session fails: it calls
	// listening once the session listens, notified for each notification,
	// and pings an idle connection every ping, ending the session when a
	// ping takes longer than pingTimeout. nil: CatalogGeneration reads the
	// counter (SQLite, where the query is in process and cheap).
	ListenCatalog func(ctx context.Context, ping, pingTimeout time.Duration, listening, notified func()) error
	// Close releases what the driver opened besides the database (River's
	// connections), after the Store closes it.
	Close func() error
}

// rebind rewrites ? placeholders for the dialect. The SQL in this package
// has no ? inside string literals, so a plain scan is exact.
func (d *Dialect) rebind(q string) string {
	if !d.DollarPlaceholders || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (d *Dialect) timeMicros(expr string) string {
	if d.TimeMicros == nil {
		return expr
	}
	return d.TimeMicros(expr)
}
