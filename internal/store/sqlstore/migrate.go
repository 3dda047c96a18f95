package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles is the schema of both dialects, written once: files named
// NNNN_description.sql, applied in order of NNNN. What the databases spell
// differently is a placeholder that Schema fills in (see Schema).
//
// A database records each migration it applied by version and file name
// (schema_migrations); the versions and names are those the per-dialect
// files had, so databases migrated by them carry on from where they are.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Schema spells, for one database, the few things the shared migrations
// leave open. Each field fills one placeholder.
type Schema struct {
	// Bytes fills {{BYTES}}: a column of binary data (BLOB, BYTEA).
	Bytes string
	// SerialKey fills {{SERIAL_PK}}: a 64-bit primary key the database
	// numbers 1, 2, … on insert (SQLite's INTEGER PRIMARY KEY, PostgreSQL's
	// identity column).
	SerialKey string
	// SeqKey fills {{SEQ_PK}}: a 64-bit primary key the writer sets in
	// ascending order (the audit trail's seq). SQLite makes it the rowid,
	// so that appends go to the end of the table.
	SeqKey string
	// WithoutRowID fills {{WITHOUT_ROWID}}, written after the closing
	// parenthesis of a table whose primary key is every lookup it serves:
	// SQLite's " WITHOUT ROWID" (one B-tree instead of two), or nothing.
	WithoutRowID string
	// CatalogTriggers fills {{CATALOG_TRIGGERS}}: the triggers that raise
	// catalog_generation.gen on every insert, update and delete of plugins
	// and versions (and, in PostgreSQL, NOTIFY CatalogChannel), which the
	// two databases spell differently.
	CatalogTriggers string
}

// CatalogChannel is the PostgreSQL notification channel the catalog
// triggers notify at the commit of a change to plugins or versions.
const CatalogChannel = "gatehouse_catalog"

var placeholder = regexp.MustCompile(`\{\{[A-Z_]+\}\}`)

// render fills the placeholders of one migration. An unknown placeholder,
// or a required one the dialect leaves empty, is an error rather than SQL
// the database would reject with a less helpful message.
func (sc Schema) render(name, sql string) (string, error) {
	values := map[string]string{
		"{{BYTES}}":            sc.Bytes,
		"{{SERIAL_PK}}":        sc.SerialKey,
		"{{SEQ_PK}}":           sc.SeqKey,
		"{{WITHOUT_ROWID}}":    sc.WithoutRowID,
		"{{CATALOG_TRIGGERS}}": sc.CatalogTriggers,
	}
	var err error
	out := placeholder.ReplaceAllStringFunc(sql, func(p string) string {
		v, ok := values[p]
		switch {
		case !ok:
			err = fmt.Errorf("migration %s: unknown placeholder %s", name, p)
		case v == "" && p != "{{WITHOUT_ROWID}}":
			err = fmt.Errorf("migration %s: the dialect does not spell %s", name, p)
		}
		return v
	})
	return out, err
}

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads NNNN_description.sql files from fsys, in version
// order. Versions must be unique and positive.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q is not named NNNN_description.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q have the same version %d", other, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the migrations not yet recorded in schema_migrations, all
// in one transaction: a failure leaves the schema as it was.
func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	ms, err := loadMigrations(files)
	if err != nil {
		return err
	}
	for i := range ms {
		if ms[i].sql, err = s.d.Schema.render(ms[i].name, ms[i].sql); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting migration: %w", err)
	}
	defer tx.Rollback()
	if s.d.LockMigrations != nil {
		if err := s.d.LockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("locking for migration: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("reading schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("reading schema_migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading schema_migrations: %w", err)
	}
	latest := ms[len(ms)-1].version
	for v := range applied {
		if v > latest {
			return fmt.Errorf("the database has schema version %d, newer than this program knows (%d): run a newer gatehouse", v, latest)
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("applying migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("recording migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing migrations: %w", err)
	}
	return nil
}
