package postgres

import (
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden from the schema the migrations build")

// TestSchema compares the schema the migrations build with
// testdata/schema.golden: every column, constraint and index, and the
// migrations recorded in schema_migrations (a database knows the migrations
// it has by these versions and names).
//
// The golden file was first written from the per-dialect migration files
// (postgres/migrations at commit de212ba); the shared source in
// sqlstore/migrations builds the same schema, so databases made by either
// are alike and keep migrating.
func TestSchema(t *testing.T) {
	db := open(t).(interface{ DB() *sql.DB }).DB()
	got, err := dumpSchema(db)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Golden(t, filepath.Join("testdata", "schema.golden"), got, *update)
}

// dumpSchema lists the current schema's columns, constraints and indexes,
// then the recorded migrations. Names are unqualified: every test has its
// own schema.
func dumpSchema(db *sql.DB) (string, error) {
	var schema string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		return "", err
	}
	unqualify := strings.NewReplacer(schema+".", "")
	var b strings.Builder
	for _, q := range []struct {
		kind, query string
	}{
		{"column", `SELECT table_name, column_name, concat_ws(' ', data_type, CASE is_nullable WHEN 'NO' THEN 'NOT NULL' END,
			'DEFAULT ' || column_default, 'IDENTITY ' || identity_generation)
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`},
		{"constraint", `SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2`},
		{"index", `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2`},
		{"migration", `SELECT 'schema_migrations', version::text, name FROM schema_migrations ORDER BY version`},
	} {
		err := storetest.Rows(db, q.query, func(scan func(...any) error) error {
			var table, name, def string
			if err := scan(&table, &name, &def); err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %s.%s: %s\n", q.kind, unqualify.Replace(table), name, unqualify.Replace(def))
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return b.String(), nil
}
