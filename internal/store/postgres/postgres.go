// Package postgres opens the store on PostgreSQL, for deployments that
// outgrow the embedded SQLite file: several stateless server processes
// share one database. It uses pgx through its database/sql driver.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/riverq"
	"gatehouse.dev/gatehouse/internal/store/sqlstore"
)

// Advisory lock keys, arbitrary constants private to Gatehouse: one held
// by every writing transaction (it keeps the audit chain linear across
// processes), one by schema migration.
const (
	writeLockKey     int64 = 0x6761746568_01 // "gateh" + 1
	migrationLockKey int64 = 0x6761746568_02
)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string) and brings its schema up to date.
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included; say only what is wrong.
		return nil, errors.New("the PostgreSQL connection URL does not parse: expected postgres://user:password@host:port/database?sslmode=...")
	}
	db := stdlib.OpenDB(*cfg)
	// As many idle connections as open ones: database/sql keeps 2 by
	// default and closes the rest after each use, so with more than 2
	// requests at once most queries paid for a new PostgreSQL backend
	// (a fork and an authentication); keeping them took downloads from
	// ~180 to ~500 requests/s and their p99 from ~1 s to ~0.1 s on 2
	// shared cores (BenchmarkDownload, docs/benchmarks.md).
	// A connection idle for a minute is closed, so a quiet process holds
	// few of the server's max_connections.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d database %s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	// River's job queue (riverpgxv5) runs on a pgx pool of its own over
	// the same database: River listens for new jobs and elects its leader
	// through it.
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		db.Close()
		return nil, errors.New("the PostgreSQL connection URL does not parse: expected postgres://user:password@host:port/database?sslmode=...")
	}
	pcfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d database %s for the job queue: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	jobs := riverpgxv5.New(pool)
	runner := riverq.NewRunner(jobs) // one River client for every queue
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name:               "postgres",
		DollarPlaceholders: true,
		Schema: sqlstore.Schema{
			Bytes:           "BYTEA",
			SerialKey:       "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
			SeqKey:          "BIGINT PRIMARY KEY",
			CatalogTriggers: catalogTriggers,
		},
		LockWrites:        advisoryLock(writeLockKey),
		LockMigrations:    advisoryLock(migrationLockKey),
		IsUniqueViolation: isUniqueViolation,
		NowMicros:         "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
		RowLocks:          true,
		Jobs: func(cfg store.QueueConfig) (store.Queue, error) {
			return riverq.New(runner, cfg)
		},
		Close:         func() error { pool.Close(); return nil },
		ListenCatalog: listenCatalog(cfg),
		TimeMicros:    func(e string) string { return "CAST(EXTRACT(EPOCH FROM " + e + ") * 1000000 AS BIGINT)" },
	})
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	if err := migrateRiver(ctx, pool, jobs); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// migrateRiver runs River's migrations, each in its own transaction
// (River adds a value to an enum and uses it in a later migration, which
// PostgreSQL refuses in one transaction), while holding the store's
// migration lock for the session, so processes starting at once apply
// each once; it does nothing when River's tables are up to date.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool, driver *riverpgxv5.Driver) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrating River's tables: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("postgres: taking the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
	if err := riverq.Migrate(ctx, driver); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// advisoryLock takes a transaction-scoped advisory lock: released at commit
// or rollback, so a crashed writer cannot leave it held.
func advisoryLock(key int64) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
		return err
	}
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" // unique_violation
}

// catalogTriggers raise the catalog's generation once per statement that
// changes plugins or versions, and notify sqlstore.CatalogChannel, which
// PostgreSQL delivers at commit (and folds into one per transaction), so
// that every server's listener learns of the change (migration 0010).
// Raising the one row serialises nothing new: every writer holds the
// write lock already.
const catalogTriggers = `CREATE FUNCTION gatehouse_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE catalog_generation SET gen = gen + 1 WHERE id = 1;
	PERFORM pg_notify('` + sqlstore.CatalogChannel + `', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER plugins_catalog AFTER INSERT OR UPDATE OR DELETE ON plugins
	FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_catalog_changed();
CREATE TRIGGER versions_catalog AFTER INSERT OR UPDATE OR DELETE ON versions
	FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_catalog_changed();
`

// listenCatalog listens for the catalog triggers' notifications on a
// connection of its own (a LISTEN holds its session, so it cannot come
// from a pool); see sqlstore.Dialect.ListenCatalog.
func listenCatalog(cfg *pgx.ConnConfig) func(ctx context.Context, ping, pingTimeout time.Duration, listening, notified func()) error {
	return func(ctx context.Context, ping, pingTimeout time.Duration, listening, notified func()) error {
		conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err != nil {
			return fmt.Errorf("postgres: connecting to listen for catalog changes: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.Exec(ctx, `LISTEN `+sqlstore.CatalogChannel); err != nil {
			return fmt.Errorf("postgres: listening for catalog changes: %w", err)
		}
		listening()
		for {
			wctx, cancel := context.WithTimeout(ctx, ping)
			_, err := conn.WaitForNotification(wctx)
			cancel()
			switch {
			case err == nil:
				notified()
				continue
			case ctx.Err() != nil:
				return ctx.Err()
			case !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err):
				return fmt.Errorf("postgres: waiting for catalog changes: %w", err)
			}
			// Idle for ping: make sure the session is still there.
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("postgres: the catalog listener's connection: %w", err)
			}
		}
	}
}
