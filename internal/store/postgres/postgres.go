// Package postgres opens the store on PostgreSQL, for deployments that
// outgrow the embedded SQLite file: several stateless server processes
// share one database. It uses pgx through its database/sql driver.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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
	db.SetMaxOpenConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d database %s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	s, err := sqlstore.New(ctx, db, sqlstore.Dialect{
		Name:               "postgres",
		DollarPlaceholders: true,
		Schema: sqlstore.Schema{
			Bytes:     "BYTEA",
			SerialKey: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
			SeqKey:    "BIGINT PRIMARY KEY",
		},
		LockWrites:        advisoryLock(writeLockKey),
		LockMigrations:    advisoryLock(migrationLockKey),
		IsUniqueViolation: isUniqueViolation,
		NowMicros:         "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
		RowLocks:          true,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
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
