// Package pgtest gives a test its own schema of the test PostgreSQL
// database named by GATEHOUSE_TEST_POSTGRES, so tests neither see nor leave
// each other's rows, and can run in parallel.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// EnvURL names the variable holding the test database's URL.
const EnvURL = "GATEHOUSE_TEST_POSTGRES"

// URL returns a connection URL of the test database whose search_path is
// a fresh schema, dropped when the test ends. Any process may connect with
// it. The test is skipped when EnvURL is unset (.ci/run sets it).
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s to a connection URL, e.g. postgres://gatehouse:gatehouse@127.0.0.1:5432/gatehouse?sslmode=disable", EnvURL)
	}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		tb.Fatalf("%s does not parse as a PostgreSQL URL", EnvURL)
	}
	admin := stdlib.OpenDB(*cfg)
	tb.Cleanup(func() { admin.Close() })

	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("creating test schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s must be a URL (postgres://...) for the tests to add a search_path", EnvURL)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}
