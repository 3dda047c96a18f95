package postgres

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/store/storetest"
)

// TestSchema compares the schema with testdata/schema.golden (see
// storetest.Schema).
func TestSchema(t *testing.T) { storetest.Schema(t, open(t), dumpSchema) }

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
