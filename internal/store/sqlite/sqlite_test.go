package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/storetest"
)

func open(t testing.TB) store.Store {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestReopen checks that migrations are idempotent and that records and
// the audit trail survive closing the file.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ev := audit.Event{Time: time.Now(), Actor: "alice", Action: audit.NamespaceClaim, Subject: "namespace:acme"}
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: time.Now()}, ev); err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := s.DB().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil || applied == 0 {
		t.Fatalf("schema_migrations has %d rows (%v) after the first open", applied, err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer s.Close()
	if _, err := s.GetNamespace(ctx, "acme"); err != nil {
		t.Errorf("namespace lost on reopen: %v", err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != applied {
		t.Errorf("schema_migrations has %d rows (%v) after two opens, want %d (one per migration)", n, err, applied)
	}
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	var sync int
	if err := s.DB().QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("a database with a newer schema opened")
	}
}

func BenchmarkCreateVersion(b *testing.B) { storetest.BenchCreateVersion(b, open(b)) }

// BenchmarkJobs: a no-op, pipeline-like job from enqueue to completion on
// River, worked synchronously (drain) and by River's client (client).
func BenchmarkJobs(b *testing.B) {
	b.Run("drain", func(b *testing.B) { storetest.BenchJobs(b, open(b), false) })
	b.Run("client", func(b *testing.B) { storetest.BenchJobs(b, open(b), true) })
}

func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nothing-here.db")
	if s, err := OpenExisting(ctx, missing); err == nil {
		s.Close()
		t.Fatal("OpenExisting opened a path with no database")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("OpenExisting created a database file")
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenExisting(ctx, path)
	if err != nil {
		t.Fatalf("OpenExisting on a real database: %v", err)
	}
	s.Close()
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
