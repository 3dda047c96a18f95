package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

func testJobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := at(100)
	ok, err := s.EnqueueJob(ctx, domain.Job{Kind: "vet", Key: "sub_1", Args: []byte(`{"run":1}`), RunAt: now})
	if err != nil || !ok {
		t.Fatalf("EnqueueJob = %v, %v", ok, err)
	}
	// The same key while active: not enqueued twice.
	if ok, err := s.EnqueueJob(ctx, domain.Job{Kind: "vet", Key: "sub_1", RunAt: now}); err != nil || ok {
		t.Fatalf("second EnqueueJob for an active key = %v, %v; want false", ok, err)
	}
	// Not due yet: nothing to claim.
	if _, err := s.ClaimJob(ctx, []string{"vet"}, at(99), time.Minute); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claim before run_at: %v", err)
	}
	j, err := s.ClaimJob(ctx, []string{"vet"}, now, time.Minute)
	if err != nil || j.Key != "sub_1" || j.Attempts != 1 || string(j.Args) != `{"run":1}` || j.State != "running" {
		t.Fatalf("ClaimJob = %+v, %v", j, err)
	}
	// Leased: nobody else gets it until the lease runs out.
	if _, err := s.ClaimJob(ctx, []string{"vet"}, now.Add(30*time.Second), time.Minute); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claim of a leased job: %v", err)
	}
	// The worker died: after the lease, the job is due again.
	j2, err := s.ClaimJob(ctx, []string{"vet"}, now.Add(2*time.Minute), time.Minute)
	if err != nil || j2.ID != j.ID || j2.Attempts != 2 {
		t.Fatalf("claim after the lease ran out = %+v, %v", j2, err)
	}
	if err := s.RetryJob(ctx, j2.ID, "analyzer database busy", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, j2.ID, now); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("finishing a queued (not running) job: %v", err)
	}
	j3, err := s.ClaimJob(ctx, []string{"vet"}, now.Add(time.Hour), time.Minute)
	if err != nil || j3.LastError != "analyzer database busy" {
		t.Fatalf("claim after retry = %+v, %v", j3, err)
	}
	if err := s.FinishJob(ctx, j3.ID, now); err != nil {
		t.Fatal(err)
	}
	// Done: the key is free again.
	if ok, err := s.EnqueueJob(ctx, domain.Job{Kind: "vet", Key: "sub_1", RunAt: now}); err != nil || !ok {
		t.Fatalf("EnqueueJob after done = %v, %v", ok, err)
	}
	j4, _ := s.ClaimJob(ctx, []string{"vet"}, now, time.Minute)
	if err := s.FailJob(ctx, j4.ID, "gave up", now); err != nil {
		t.Fatal(err)
	}
	failed, err := s.ListJobs(ctx, "failed", 10)
	if err != nil || len(failed) != 1 || failed[0].LastError != "gave up" {
		t.Fatalf("ListJobs(failed) = %+v, %v", failed, err)
	}
	// Other kinds are not claimed.
	s.EnqueueJob(ctx, domain.Job{Kind: "revalidate", Key: "v1", RunAt: now})
	if _, err := s.ClaimJob(ctx, []string{"vet"}, now, time.Minute); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("claimed a job of another kind: %v", err)
	}
}

// testConcurrentClaims has eight workers claim twenty jobs: each job is
// claimed exactly once.
func testConcurrentClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := s.EnqueueJob(ctx, domain.Job{Kind: "vet", Key: fmt.Sprintf("k%d", i), RunAt: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := s.ClaimJob(ctx, []string{"vet"}, at(1), time.Hour)
				if errors.Is(err, domain.ErrNotFound) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[j.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d jobs claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("job %d claimed %d times", id, c)
		}
	}
}

func testVetRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	v := create(t, s, newVersion("sub_v", "acme/vet", "1.0.0", "vet"))
	if _, err := s.LatestVetRun(ctx, v.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("LatestVetRun before any run: %v", err)
	}
	r1, err := s.SaveVetRun(ctx, domain.VetRun{VersionID: v.ID, Results: []byte(`[{"analyzer":"a"}]`), Blocked: true, Summary: "secrets failed", CreatedAt: at(20)}, event(audit.SubmissionVet, "submission:"+v.ID, 20))
	if err != nil || r1.Run != 1 {
		t.Fatalf("first run = %+v, %v", r1, err)
	}
	r2, err := s.SaveVetRun(ctx, domain.VetRun{VersionID: v.ID, Results: []byte(`[]`), Summary: "passed", CreatedAt: at(21)}, event(audit.SubmissionVet, "submission:"+v.ID, 21))
	if err != nil || r2.Run != 2 {
		t.Fatalf("second run = %+v, %v", r2, err)
	}
	got, err := s.LatestVetRun(ctx, v.ID)
	if err != nil || got.Run != 2 || got.Blocked || got.Summary != "passed" || !got.CreatedAt.Equal(stored(at(21))) {
		t.Fatalf("LatestVetRun = %+v, %v", got, err)
	}
	if _, err := s.SaveVetRun(ctx, domain.VetRun{VersionID: "sub_missing", Results: []byte(`[]`)}, event(audit.SubmissionVet, "submission:sub_missing", 22)); err == nil {
		t.Fatal("a run for a version that does not exist was saved")
	}
	mustVerify(t, s, 3)
}

func testSuppressions(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.AddSuppression(ctx, domain.Suppression{PluginID: "acme/a", Fingerprint: "fp1", RuleID: "secrets/x", By: "rita"}, event(audit.FindingFalsePositive, "plugin:acme/a", 1)); err == nil {
		t.Fatal("a suppression without a reason was accepted")
	}
	for i, reason := range []string{"test fixture, not a key", "a fake key used in the docs"} {
		sup := domain.Suppression{PluginID: "acme/a", Fingerprint: "fp1", RuleID: "secrets/x", By: "rita", Reason: reason, CreatedAt: at(i)}
		if err := s.AddSuppression(ctx, sup, event(audit.FindingFalsePositive, "plugin:acme/a", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListSuppressions(ctx, "acme/a")
	if err != nil || len(got) != 1 || got[0].Reason != "a fake key used in the docs" || got[0].By != "rita" {
		t.Fatalf("ListSuppressions = %+v, %v", got, err)
	}
	if other, _ := s.ListSuppressions(ctx, "acme/b"); len(other) != 0 {
		t.Fatalf("suppressions leaked to another plugin: %+v", other)
	}
	mustVerify(t, s, 2)
}
