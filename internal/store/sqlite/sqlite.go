// Package sqlite opens the embedded default store: a SQLite file through
// the pure-Go driver modernc.org/sqlite, so the binary needs no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/riverq"
	"gatehouse.dev/gatehouse/internal/store/sqlstore"
)

// maxConns bounds the connections one process opens; writers queue in
// process anyway, readers share the rest (WAL lets them run beside the
// writer).
const maxConns = 8

// dsn sets, on every connection: WAL (readers do not block the writer);
// synchronous=FULL (a committed transaction survives power loss and kill
// -9, which a 202 promises); foreign keys; a busy timeout for writers from
// other processes; and BEGIN IMMEDIATE, so a writing transaction takes the
// write lock at its start instead of failing with SQLITE_BUSY when it
// upgrades from a read.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}
	// River's job queue (riversqlite) has its own pool of one connection
	// on the same file, as River advises for SQLite: River's maintenance,
	// fetches and completions run one at a time, and wait for the store's
	// writers (and they for River) under busy_timeout; every transaction
	// on either pool takes the write lock at BEGIN, so they cannot
	// deadlock.
	jobsDB, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening SQLite database %s for the job queue: %w", path, err)
	}
	jobsDB.SetMaxOpenConns(1)
	jobs := localDriver{riversqlite.New(jobsDB)}
	runner := riverq.NewRunner(jobs) // one River client for every queue
	fail := func(err error) (*sqlstore.Store, error) {
		db.Close()
		jobsDB.Close()
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name: "sqlite",
		Schema: sqlstore.Schema{
			Bytes:           "BLOB",
			SerialKey:       "INTEGER PRIMARY KEY", // the rowid
			SeqKey:          "INTEGER PRIMARY KEY",
			WithoutRowID:    " WITHOUT ROWID",
			CatalogTriggers: catalogTriggers,
		},
		IsUniqueViolation: isUniqueViolation,
		SerialWriters:     true,
		NowMicros:         "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
		Jobs: func(cfg store.QueueConfig) (store.Queue, error) {
			return riverq.New(runner, cfg)
		},
		Close: jobsDB.Close,
		// River keeps times as "2006-01-02 15:04:05.000" UTC text.
		TimeMicros: func(e string) string { return "CAST(unixepoch(" + e + ", 'subsec') * 1000000 AS INTEGER)" },
	})
	if err != nil {
		return fail(err)
	}
	// River's own migrations, after the store's (which drop the job
	// table River replaced); idempotent, and serialised by SQLite's write
	// lock.
	if err := riverq.Migrate(ctx, jobs); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}
	return s, nil
}

// OpenExisting is Open for tools pointed at a data folder (gatehouse audit
// verify --data DIR): it refuses a path that holds no database instead of
// creating an empty one that would verify as an empty trail.
func OpenExisting(ctx context.Context, path string) (*sqlstore.Store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("no Gatehouse database at %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, fmt.Errorf("%s is not a Gatehouse database (not a non-empty file)", path)
	}
	return Open(ctx, path)
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// catalogTriggers raise the catalog's generation on every change to a
// plugin or a version row (migration 0010). SQLite has row triggers
// only; one transaction may raise it many times, which costs nothing that
// matters here: readers compare it for equality.
var catalogTriggers = func() string {
	var b strings.Builder
	for _, table := range []string{"plugins", "versions"} {
		for _, op := range []string{"INSERT", "UPDATE", "DELETE"} {
			fmt.Fprintf(&b, "CREATE TRIGGER %s_%s_catalog AFTER %s ON %s BEGIN UPDATE catalog_generation SET gen = gen + 1 WHERE id = 1; END;\n",
				table, strings.ToLower(op), op, table)
		}
	}
	return b.String()
}()

// localDriver is River's SQLite driver without its listener. riversqlite
// emulates LISTEN/NOTIFY by polling a table every 50 ms, and River wakes
// the producer of a job inserted by its own process at once only when the
// driver has no listener; so each step of the pipeline waited 0–50 ms for
// that poll before it started (three hand-offs an update, about a tenth
// of the whole path). One process serves a SQLite database (it holds the
// data folder's lock), and it inserts its jobs through its own running
// client (riverq), which now wakes its producer at insert; a job another
// process inserts (a CLI command on the same folder) is found by the
// producer's own poll (riverq's FetchPollInterval, half a second). River
// would also send queue pauses and job cancellations as notifications;
// without them it applies them in the process that makes them, and
// Gatehouse uses neither. TestJobsWakeTheirOwnProducer holds this.
type localDriver struct{ *riversqlite.Driver }

func (localDriver) SupportsListener() bool     { return false }
func (localDriver) SupportsListenNotify() bool { return false }
