package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Jobs is the queue of background work: River (riverqueue) on the store's
// own database, in River's tables (river_job and the rest), which opening
// the store migrates. Uniqueness, retries with backoff, periodic jobs,
// leader election and the rescue of jobs left running by a dead process
// are River's.
//
// A job's life is an operational record, not an audit event: the steps the
// job takes record their own changes.
type Jobs interface {
	// JobQueue returns a queue over the store's database that works cfg's
	// workers in River queue cfg.Name. Each service that runs jobs has its
	// own queue name, so a process works only the kinds it knows.
	JobQueue(cfg QueueConfig) (Queue, error)
}

// QueueConfig configures a Queue.
type QueueConfig struct {
	// Name is the River queue the jobs go to and are worked from.
	Name string
	// Workers are the job kinds of the queue (see Work).
	Workers []Worker
	// MaxWorkers bounds the jobs one process works at once (Start).
	MaxWorkers int
	// Periodic jobs are inserted on their schedule by the elected leader
	// alone, so they run once across all processes, into this queue.
	Periodic []Periodic
	// RescueAfter is how long a job may run before River's rescuer takes
	// it for a dead worker's and runs it again: longer than any job.
	RescueAfter time.Duration
	// Now, when set, is the queue's clock (tests walk months in
	// milliseconds); nil is the real clock.
	Now func() time.Time
	Log *slog.Logger
}

// Periodic is a job inserted every Every into its queue. The queue names
// the River queue, not the job: a job whose own InsertOpts named none
// would go to River's "default" queue, which no Gatehouse worker serves,
// and never run.
type Periodic struct {
	Every time.Duration
	// Args makes the job's arguments at each period.
	Args func() river.JobArgs
	// RunOnStart inserts one as soon as the leader starts, too.
	RunOnStart bool
}

// Queue is one service's job queue.
type Queue interface {
	// Insert adds a job; enqueued is false when River's unique options
	// found one already active.
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (enqueued bool, err error)
	// InsertUnique is Insert that also returns the job: the one added,
	// or, when enqueued is false, the active one River's unique options
	// kept (its state says whether it is already running).
	InsertUnique(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (job *rivertype.JobRow, enqueued bool, err error)
	// RunPending works, in this goroutine, every job of the queue that is
	// due (scheduled and retried jobs whose time came included), and the
	// jobs those queue, until none is due: how tests drive the queue
	// synchronously. A job cut short because ctx ended stays running, as
	// after a kill, until it is rescued.
	RunPending(ctx context.Context) error
	// Start works jobs in the background (River's client: fetching,
	// retries, periodic jobs, leader election, the rescuer) until Stop.
	Start(ctx context.Context) error
	// Stop stops working, letting running jobs finish until ctx ends.
	Stop(ctx context.Context) error
	// List lists the queue's jobs in states, oldest first.
	List(ctx context.Context, states []rivertype.JobState, limit int) ([]*rivertype.JobRow, error)
	// RescueRunning makes every running job of the queue available again
	// at once with reason as its error, and returns them: at start-up, a
	// process alone on its store knows their worker died, and need not
	// wait for River's rescuer.
	// With dead, only the jobs whose worker dead reports gone (by the
	// worker id in their attempted_by) are made available.
	RescueRunning(ctx context.Context, reason string, dead func(ctx context.Context, worker string) (bool, error)) ([]*rivertype.JobRow, error)
	// WorkerID names what works the queue's jobs in this process, as a
	// job's attempted_by records it; a process keeps a lease named
	// WorkerLease(id) while it works, so others know it lives.
	WorkerID() string
}

// WorkerLease names the lease a process renews while its River client
// works jobs: a running job whose worker holds none belongs to a dead
// process and is handed to another at once, not after River's rescue
// timeout.
func WorkerLease(workerID string) string { return "jobs-worker/" + workerID }

// Worker is one job kind of a queue: River's worker and a way to run a
// fetched row through it.
type Worker struct {
	Kind string
	// Add registers the worker with River.
	Add func(*river.Workers) error
	// Run decodes row's arguments and works it.
	Run func(ctx context.Context, row *rivertype.JobRow) error
	// NextRetry is when a failed row runs again (zero: River's default).
	NextRetry func(row *rivertype.JobRow) time.Time
}

// Work makes a Worker of a River worker.
func Work[T river.JobArgs](w river.Worker[T]) Worker {
	var args T
	job := func(row *rivertype.JobRow) (*river.Job[T], error) {
		var a T
		if err := json.Unmarshal(row.EncodedArgs, &a); err != nil {
			return nil, fmt.Errorf("reading the arguments of %s job %d: %w", row.Kind, row.ID, err)
		}
		return &river.Job[T]{JobRow: row, Args: a}, nil
	}
	return Worker{
		Kind: args.Kind(),
		Add:  func(ws *river.Workers) error { return river.AddWorkerSafely(ws, w) },
		Run: func(ctx context.Context, row *rivertype.JobRow) error {
			j, err := job(row)
			if err != nil {
				return err
			}
			if t := w.Timeout(j); t > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, t)
				defer cancel()
			}
			return w.Work(ctx, j)
		},
		NextRetry: func(row *rivertype.JobRow) time.Time {
			j, err := job(row)
			if err != nil {
				return time.Time{}
			}
			return w.NextRetry(j)
		},
	}
}

// ActiveStates are the states in which a job counts against its unique
// key: queued, scheduled or retrying, or running. A completed, discarded
// or cancelled job does not stop a new one.
var ActiveStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// Retry is how a failed job is retried: after First, doubling each time,
// until Attempts attempts have failed.
type Retry struct {
	Attempts int
	First    time.Duration
}

// After is how long after its attempt-th failure a job runs again.
func (r Retry) After(attempt int) time.Duration {
	return r.First << max(attempt-1, 0)
}

// LastAttempt reports whether job's attempt is its last: when it fails,
// River discards the job (kept for operators) and the caller gives up.
func LastAttempt(job *rivertype.JobRow) bool {
	return job.Attempt >= job.MaxAttempts
}

// LastError is the error of a job's latest failed attempt, or "".
func LastError(job *rivertype.JobRow) string {
	if len(job.Errors) == 0 {
		return ""
	}
	return job.Errors[len(job.Errors)-1].Error
}
