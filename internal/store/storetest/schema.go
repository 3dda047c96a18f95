package storetest

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/store"
)

// Rows runs query on db and calls fn with each row's Scan.
func Rows(db *sql.DB, query string, fn func(scan func(dest ...any) error) error) error {
	rows, err := db.Query(query)
	if err != nil {
		return fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
	}
	return rows.Err()
}

var update = flag.Bool("update", false, "rewrite testdata/schema.golden from the schema the migrations build")

// Schema checks the schema the migrations built in s against the backend's
// testdata/schema.golden. dump lists the schema as the backend keeps it
// (tables, columns, constraints, indexes) and the migrations recorded in
// schema_migrations: a database knows what it has applied by their
// versions and names, so those must never change.
//
// Databases migrated at different times must end alike: a difference fails
// the test with the lines that differ. When a new migration changes the
// schema on purpose, rewrite the file with go test -run TestSchema -update
// and review the diff.
//
// The golden files were first written from the per-dialect migration files
// (postgres/migrations and sqlite/migrations at commit de212ba); the shared
// source in sqlstore/migrations builds the same schema, so databases made
// by the old files keep migrating.
func Schema(t *testing.T, s store.Store, dump func(*sql.DB) (string, error)) {
	t.Helper()
	raw, ok := s.(RawDB)
	if !ok {
		t.Skip("the store has no SQL schema")
	}
	got, err := dump(raw.DB())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "schema.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got == string(want) {
		return
	}
	t.Errorf("the migrations build another schema than %s; if the change is meant, rewrite it with go test -run %s -update and review the diff.\nmissing:\n%s\nunexpected:\n%s",
		path, t.Name(), missingLines(string(want), got), missingLines(got, string(want)))
}

// missingLines lists the lines of a that b lacks.
func missingLines(a, b string) string {
	have := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		have[l] = true
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !have[l] {
			out = append(out, "\t"+l)
		}
	}
	return strings.Join(out, "\n")
}
