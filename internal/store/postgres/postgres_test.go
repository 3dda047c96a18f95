package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
	"gatehouse.dev/gatehouse/internal/store/storetest"
)

// open returns a store in a fresh schema of the test database, dropped
// when the test ends, so tests neither see nor leave each other's rows.
func open(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, pgtest.URL(t))
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

// BenchmarkLogWriters: entries per second into the shared log with 1, 8
// and 32 concurrent writers and one integrator, beside the same writers
// only queueing (the floor).
func BenchmarkLogWriters(b *testing.B) {
	for _, w := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("queue-only/writers=%d", w), func(b *testing.B) { storetest.BenchLogWriters(b, open(b), w, false) })
		b.Run(fmt.Sprintf("logged/writers=%d", w), func(b *testing.B) { storetest.BenchLogWriters(b, open(b), w, true) })
	}
}

// TestCatalogGenerationSeesOtherProcesses: a change one process commits
// gives every other process sharing the database a new catalog
// generation, through the triggers' notifications, so that no API
// process serves a cached catalog page from before it for longer than a
// notification takes.
func TestCatalogGenerationSeesOtherProcesses(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	var stores [2]store.Store
	for i := range stores {
		s, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	reader, writer := stores[0], stores[1]
	// Wait for the reader's listener, so that the generation below is a
	// count of notifications rather than the table's counter.
	deadline := time.Now().Add(10 * time.Second)
	var before store.Generation
	for {
		g, err := reader.CatalogGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g.Epoch != 0 {
			before = g
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the catalog listener did not start within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	v := domain.Version{ID: "v1", PluginID: "acme/other", Version: "1.0.0", Digest: "sha256:" + strings.Repeat("ab", 32), Size: 1,
		Manifest: []byte(`{"id":"acme/other","version":"1.0.0"}`), Submitter: "alice", State: lifecycle.Received, Reason: "test",
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, _, err := writer.CreateVersion(ctx, v, []audit.Event{{Time: time.Now(), Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:v1"}}); err != nil {
		t.Fatal(err)
	}
	for {
		g, err := reader.CatalogGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The same listening session, one notification on: the change
		// was told, not found by a restarted session reading the counter.
		if g.Epoch == before.Epoch && g.N > before.N {
			return
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("another process's new version left the generation at %+v (now %+v)", before, g)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
