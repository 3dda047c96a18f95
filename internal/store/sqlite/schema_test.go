package sqlite

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden from the schema the migrations build")

// TestSchema compares the schema the migrations build with
// testdata/schema.golden: every table and index as SQLite keeps it, and the
// migrations recorded in schema_migrations (a database knows the migrations
// it has by these versions and names).
//
// The golden file was first written from the per-dialect migration files
// (sqlite/migrations at commit de212ba); the shared source in
// sqlstore/migrations builds the same schema, so databases made by either
// are alike and keep migrating.
func TestSchema(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := dumpSchema(s.DB())
	if err != nil {
		t.Fatal(err)
	}
	storetest.Golden(t, filepath.Join("testdata", "schema.golden"), got, *update)
}

var (
	sqlComment = regexp.MustCompile(`--[^\n]*`)
	sqlSpace   = regexp.MustCompile(`\s+`)
	sqlPunct   = strings.NewReplacer("( ", "(", " )", ")", " ,", ",")
)

// dumpSchema lists the schema one statement a line, without comments and
// layout (SQLite keeps each CREATE statement as written), then the
// recorded migrations.
func dumpSchema(db *sql.DB) (string, error) {
	var b strings.Builder
	err := storetest.Rows(db, `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name`, func(scan func(...any) error) error {
		var typ, name, stmt string
		if err := scan(&typ, &name, &stmt); err != nil {
			return err
		}
		stmt = sqlSpace.ReplaceAllString(sqlComment.ReplaceAllString(stmt, ""), " ")
		fmt.Fprintf(&b, "%s %s: %s\n", typ, name, sqlPunct.Replace(strings.TrimSpace(stmt)))
		return nil
	})
	if err != nil {
		return "", err
	}
	err = storetest.Rows(db, `SELECT version, name FROM schema_migrations ORDER BY version`, func(scan func(...any) error) error {
		var v int
		var name string
		if err := scan(&v, &name); err != nil {
			return err
		}
		fmt.Fprintf(&b, "migration %d: %s\n", v, name)
		return nil
	})
	return b.String(), err
}
