package storetest

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
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

// Golden compares a backend's schema dump with the golden file at path, or
// rewrites the file when update is set. Databases migrated at different
// times must have the same schema: a difference fails the test with the
// lines that differ, for a person to review.
func Golden(t *testing.T, path, got string, update bool) {
	t.Helper()
	if update {
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
