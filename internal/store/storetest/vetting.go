package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// jobArgs is a test job keyed by Key, unique while active.
type jobArgs struct {
	Key string `json:"key" river:"unique"`
	N   int    `json:"n"`
}

func (jobArgs) Kind() string { return "test" }

func (jobArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 2, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: store.ActiveStates}}
}

// jobWorker records the jobs it works; fail decides their outcome.
type jobWorker struct {
	river.WorkerDefaults[jobArgs]
	now  func() time.Time
	fail func(ctx context.Context, key string) error

	mu   sync.Mutex
	runs map[string]int
}

func (w *jobWorker) Work(ctx context.Context, j *river.Job[jobArgs]) error {
	w.mu.Lock()
	w.runs[j.Args.Key]++
	w.mu.Unlock()
	if w.fail != nil {
		return w.fail(ctx, j.Args.Key)
	}
	return nil
}

func (w *jobWorker) NextRetry(*river.Job[jobArgs]) time.Time { return w.now().Add(time.Hour) }

func (w *jobWorker) count(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runs[key]
}

// testQueue is a job queue on s whose clock the test moves.
func testQueue(t *testing.T, s store.Store, name string, w *jobWorker) (store.Queue, func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	now := at(100)
	w.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	w.runs = map[string]int{}
	q, err := s.JobQueue(store.QueueConfig{Name: name, Workers: []store.Worker{store.Work[jobArgs](w)}, Now: w.now, RescueAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return q, func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}

func states(ss ...rivertype.JobState) []rivertype.JobState { return ss }

func testJobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := &jobWorker{}
	q, advance := testQueue(t, s, "test", w)
	ok, err := q.Insert(ctx, jobArgs{Key: "sub_1", N: 1}, nil)
	if err != nil || !ok {
		t.Fatalf("Insert = %v, %v", ok, err)
	}
	// The same key while active, whatever the other arguments: not
	// queued twice.
	if ok, err := q.Insert(ctx, jobArgs{Key: "sub_1", N: 2}, nil); err != nil || ok {
		t.Fatalf("second Insert for an active key = %v, %v; want false", ok, err)
	}
	// Not due yet: nothing runs.
	if ok, err := q.Insert(ctx, jobArgs{Key: "later"}, &river.InsertOpts{ScheduledAt: at(100).Add(time.Minute)}); err != nil || !ok {
		t.Fatalf("Insert of a scheduled job = %v, %v", ok, err)
	}
	if err := q.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	if w.count("sub_1") != 1 || w.count("later") != 0 {
		t.Fatalf("runs = %v; want sub_1 once, later not yet", w.runs)
	}
	advance(time.Minute)
	if err := q.RunPending(ctx); err != nil || w.count("later") != 1 {
		t.Fatalf("after its time: later ran %d times, %v", w.count("later"), err)
	}
	// Done: the key is free again.
	if ok, err := q.Insert(ctx, jobArgs{Key: "sub_1"}, nil); err != nil || !ok {
		t.Fatalf("Insert after done = %v, %v", ok, err)
	}
	// A failing job is retried after its backoff, then discarded with its
	// error, kept for operators.
	w.fail = func(context.Context, string) error { return errors.New("analyzer database busy") }
	if err := q.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	retrying, err := q.List(ctx, states(rivertype.JobStateRetryable), 10)
	if err != nil || len(retrying) != 1 || store.LastError(retrying[0]) != "analyzer database busy" || retrying[0].Attempt != 1 {
		t.Fatalf("retryable jobs = %+v, %v", retrying, err)
	}
	if ok, _ := q.Insert(ctx, jobArgs{Key: "sub_1"}, nil); ok {
		t.Fatal("queued a job whose key has one retrying")
	}
	advance(30 * time.Minute)
	if q.RunPending(ctx); w.count("sub_1") != 2 {
		t.Fatalf("ran %d times before its backoff ended, want 2", w.count("sub_1"))
	}
	advance(time.Hour)
	if q.RunPending(ctx); w.count("sub_1") != 3 {
		t.Fatalf("ran %d times after its backoff, want 3", w.count("sub_1"))
	}
	failed, err := q.List(ctx, states(rivertype.JobStateDiscarded), 10)
	if err != nil || len(failed) != 1 || store.LastError(failed[0]) != "analyzer database busy" || !store.LastAttempt(failed[0]) {
		t.Fatalf("discarded jobs = %+v, %v", failed, err)
	}
	// A job cut short (its process killed) stays running until rescued.
	kctx, kill := context.WithCancel(ctx)
	w.fail = func(context.Context, string) error { kill(); return errors.New("killed") }
	q.Insert(ctx, jobArgs{Key: "killed"}, nil)
	if err := q.RunPending(kctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunPending of a killed worker = %v", err)
	}
	w.fail = nil
	q.RunPending(ctx)
	if w.count("killed") != 1 {
		t.Fatalf("a running job ran again before it was rescued (%d runs)", w.count("killed"))
	}
	// Only the jobs of a worker that no longer holds its lease are
	// rescued while other processes may be at work.
	workerDead := func(ctx context.Context, worker string) (bool, error) {
		live, err := s.LeaseLive(ctx, store.WorkerLease(worker))
		return !live, err
	}
	running, _ := q.List(ctx, states(rivertype.JobStateRunning), 10)
	if len(running) != 1 || len(running[0].AttemptedBy) == 0 {
		t.Fatalf("running jobs = %+v", running)
	}
	worker := running[0].AttemptedBy[len(running[0].AttemptedBy)-1]
	if ok, err := s.AcquireLease(ctx, store.WorkerLease(worker), worker, time.Hour); err != nil || !ok {
		t.Fatalf("the worker's lease: %v, %v", ok, err)
	}
	if rescued, err := q.RescueRunning(ctx, "the process running it stopped", workerDead); err != nil || len(rescued) != 0 {
		t.Fatalf("the job of a live worker was rescued: %+v, %v", rescued, err)
	}
	if err := s.ReleaseLease(ctx, store.WorkerLease(worker), worker); err != nil {
		t.Fatal(err)
	}
	rescued, err := q.RescueRunning(ctx, "the process running it stopped", workerDead)
	if err != nil || len(rescued) != 1 {
		t.Fatalf("RescueRunning of a dead worker's job = %+v, %v", rescued, err)
	}
	if q.RunPending(ctx); w.count("killed") != 2 {
		t.Fatalf("a rescued job ran %d times, want 2", w.count("killed"))
	}
	// Another queue's jobs are not worked here.
	other, _ := testQueue(t, s, "other", &jobWorker{})
	other.Insert(ctx, jobArgs{Key: "elsewhere"}, nil)
	if q.RunPending(ctx); w.count("elsewhere") != 0 {
		t.Fatal("worked a job of another queue")
	}
}

// testConcurrentJobs has four workers drain twenty jobs at once: each
// job is worked exactly once.
func testConcurrentJobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := &jobWorker{}
	q, _ := testQueue(t, s, "test", w)
	const n = 20
	for i := range n {
		if _, err := q.Insert(ctx, jobArgs{Key: fmt.Sprintf("k%d", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := q.RunPending(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if c := w.count(fmt.Sprintf("k%d", i)); c != 1 {
			t.Errorf("job k%d worked %d times", i, c)
		}
	}
}

// testJobsDueNow: a job queued with a scheduled time that has come is
// available at once, keeping that time (River fetches by it, so a step
// keeps its version's place in the queue); one scheduled for later waits.
// River itself would insert both as scheduled and leave the first to its
// scheduler, which runs every few seconds on the leader only: each
// pipeline step used to wait for it.
func testJobsDueNow(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := &jobWorker{}
	q, _ := testQueue(t, s, "due", w)
	past := w.now().Add(-time.Minute)
	job, ok, err := q.InsertUnique(ctx, jobArgs{Key: "due"}, &river.InsertOpts{ScheduledAt: past})
	if err != nil || !ok {
		t.Fatalf("queueing a due job: %v, %v", ok, err)
	}
	// River keeps times to the millisecond on SQLite, the microsecond on
	// PostgreSQL.
	if job.State != rivertype.JobStateAvailable || job.ScheduledAt.Sub(past).Abs() >= time.Millisecond {
		t.Errorf("a job due a minute ago was queued %s at %s; want available at %s", job.State, job.ScheduledAt, past)
	}
	later, ok, err := q.InsertUnique(ctx, jobArgs{Key: "later"}, &river.InsertOpts{ScheduledAt: w.now().Add(time.Hour)})
	if err != nil || !ok {
		t.Fatalf("queueing a later job: %v, %v", ok, err)
	}
	if later.State != rivertype.JobStateScheduled {
		t.Errorf("a job due in an hour was queued %s; want scheduled", later.State)
	}
	// Unique while active, whatever state it was queued in.
	if _, ok, err := q.InsertUnique(ctx, jobArgs{Key: "due"}, &river.InsertOpts{ScheduledAt: past}); err != nil || ok {
		t.Errorf("a second due job of the same key: queued %v, %v", ok, err)
	}
	avail, err := q.List(ctx, states(rivertype.JobStateAvailable), 10)
	if err != nil || len(avail) != 1 || avail[0].ID != job.ID {
		t.Errorf("available jobs: %d, %v; want the due one", len(avail), err)
	}
}

// testJobsClient has River's own client work the jobs in the
// background, as a worker process does.
func testJobsClient(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := &jobWorker{runs: map[string]int{}, now: time.Now}
	q, err := s.JobQueue(store.QueueConfig{Name: "test", Workers: []store.Worker{store.Work[jobArgs](w)}, MaxWorkers: 2, RescueAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	for i := range 5 {
		if _, err := q.Insert(ctx, jobArgs{Key: fmt.Sprintf("c%d", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		done, err := q.List(ctx, states(rivertype.JobStateCompleted), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(done) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("River's client completed %d of 5 jobs in 20 s", len(done))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 5 {
		if c := w.count(fmt.Sprintf("c%d", i)); c != 1 {
			t.Errorf("job c%d worked %d times", i, c)
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
