package sqlite

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/store/storetest"
)

// TestSchema compares the schema with testdata/schema.golden (see
// storetest.Schema).
func TestSchema(t *testing.T) { storetest.Schema(t, open(t), dumpSchema) }

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
