package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// BenchCreateVersion measures recording one submission with its audit
// event: one durable transaction.
func BenchCreateVersion(b *testing.B, s store.Store) {
	ctx := context.Background()
	manifest := []byte(`{"id":"acme/bench","name":"Bench","description":"a benchmark plugin"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := domain.Version{
			ID: fmt.Sprint("b", i), PluginID: "acme/bench", Version: fmt.Sprintf("1.0.%d", i),
			Digest: fmt.Sprintf("sha256:%064x", i), Size: 1, Manifest: manifest,
			Files:     []domain.File{{Path: "plugin.wasm", Size: 1, SHA256: fmt.Sprintf("%064x", i)}},
			Submitter: "alice", State: lifecycle.Received, CreatedAt: time.Now(),
		}
		ev := audit.Event{Time: time.Now(), Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:" + v.ID}
		if _, _, err := s.CreateVersion(ctx, v, []audit.Event{ev}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWorker is a pipeline-like step that does nothing.
type benchWorker struct {
	river.WorkerDefaults[jobArgs]
	done chan struct{}
}

func (w *benchWorker) Work(context.Context, *river.Job[jobArgs]) error {
	if w.done != nil {
		w.done <- struct{}{}
	}
	return nil
}

// BenchJobs measures a no-op job from enqueue to completion, unique per
// key as the pipeline's steps are: worked by RunPending in the caller's
// goroutine (drain), or by River's client in the background (client).
func BenchJobs(b *testing.B, s store.Store, client bool) {
	ctx := context.Background()
	w := &benchWorker{}
	if client {
		w.done = make(chan struct{}, 1024)
	}
	q, err := s.JobQueue(store.QueueConfig{Name: "bench", Workers: []store.Worker{store.Work[jobArgs](w)}, MaxWorkers: 4, RescueAfter: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if client {
		if err := q.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, err := q.Insert(ctx, jobArgs{Key: fmt.Sprint("v", i)}, nil); err != nil || !ok {
			b.Fatal(ok, err)
		}
		if !client && (i%100 == 99 || i == b.N-1) {
			if err := q.RunPending(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if client {
		for range b.N {
			<-w.done
		}
		if err := q.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
