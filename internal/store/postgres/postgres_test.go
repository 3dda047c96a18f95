package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/storetest"
)

const envURL = "GATEHOUSE_TEST_POSTGRES"

// open returns a store in a fresh schema of the test database, dropped
// when the test ends, so tests neither see nor leave each other's rows.
func open(t testing.TB) store.Store {
	t.Helper()
	base := os.Getenv(envURL)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a connection URL, e.g. postgres://gatehouse:gatehouse@127.0.0.1:5432/gatehouse?sslmode=disable", envURL)
	}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("%s does not parse as a PostgreSQL URL", envURL)
	}
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { admin.Close() })

	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s must be a URL (postgres://...) for the tests to add a search_path", envURL)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the schema's cleanup, so it runs first.
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestSchemaIsolated checks that the tables live in the test's own schema:
// otherwise the conformance run would share rows between subtests.
func TestSchemaIsolated(t *testing.T) {
	s := open(t).(interface{ DB() *sql.DB })
	var schema string
	if err := s.DB().QueryRow(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'audit_events' AND table_schema = current_schema()`).Scan(&schema); err != nil {
		t.Fatalf("audit_events is not in the current schema: %v", err)
	}
	if len(schema) < 3 || schema[:2] != "t_" {
		t.Errorf("tables were created in schema %q, want the test's t_ schema", schema)
	}
}

func TestOpenBadURL(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:hunter2@[::1")
	if err == nil {
		t.Fatal("a malformed URL opened")
	}
	if got := err.Error(); strings.Contains(got, "hunter2") {
		t.Errorf("the error repeats the password: %s", got)
	}
}

func BenchmarkCreateVersion(b *testing.B) { storetest.BenchCreateVersion(b, open(b)) }

// BenchmarkJobs: a no-op, pipeline-like job from enqueue to completion on
// River, worked synchronously (drain) and by River's client (client).
func BenchmarkJobs(b *testing.B) {
	b.Run("drain", func(b *testing.B) { storetest.BenchJobs(b, open(b), false) })
	b.Run("client", func(b *testing.B) { storetest.BenchJobs(b, open(b), true) })
}

// BenchmarkQueuePage100k: one page of a queue of 100,000 versions in review.
func BenchmarkQueuePage100k(b *testing.B) { storetest.BenchQueue(b, open(b), 100_000) }
