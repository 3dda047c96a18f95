package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

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
