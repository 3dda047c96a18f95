// Package riverq is the store's job queue on River (riverqueue), for both
// databases: riverpgxv5 on PostgreSQL and riversqlite on SQLite, the same
// River release. The sqlite and postgres drivers migrate River's tables
// when they open the store (Migrate) and hand out queues (New).
package riverq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"gatehouse.dev/gatehouse/internal/store"
)

// Migrate brings River's tables up to the River release's newest
// migration; it does nothing when they are there already.
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("preparing River's migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating River's tables: %w", err)
	}
	return nil
}

// Queue is a store.Queue on a River driver.
type Queue[TTx any] struct {
	driver  riverdriver.Driver[TTx]
	client  *river.Client[TTx]
	cfg     store.QueueConfig
	workers map[string]store.Worker
	kinds   []string
	id      string // the worker id RunPending records in attempted_by
}

var _ store.Queue = (*Queue[any])(nil)

// clock stubs River's time with the queue's clock.
type clock struct{ now func() time.Time }

func (c clock) Now() time.Time { return c.now() }
func (c clock) NowOrNil() *time.Time {
	t := c.now()
	return &t
}

// New returns a queue over driver.
func New[TTx any](driver riverdriver.Driver[TTx], cfg store.QueueConfig) (*Queue[TTx], error) {
	if cfg.Name == "" {
		return nil, errors.New("a job queue needs a name")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	q := &Queue[TTx]{driver: driver, cfg: cfg, workers: map[string]store.Worker{}}
	ws := river.NewWorkers()
	for _, w := range cfg.Workers {
		if err := w.Add(ws); err != nil {
			return nil, fmt.Errorf("registering the %s worker: %w", w.Kind, err)
		}
		q.workers[w.Kind] = w
		q.kinds = append(q.kinds, w.Kind)
	}
	b := make([]byte, 6)
	rand.Read(b)
	q.id = "gatehouse-" + hex.EncodeToString(b)
	rc := &river.Config{
		ID:      q.id,
		Workers: ws,
		Queues:  map[string]river.QueueConfig{cfg.Name: {MaxWorkers: max(cfg.MaxWorkers, 1)}},
		// Each step has its own timeouts (the analyzers' among them);
		// River's rescuer, after RescueAfter, is the backstop.
		JobTimeout:           -1,
		RescueStuckJobsAfter: cfg.RescueAfter,
		PeriodicJobs:         cfg.Periodic,
		RetryPolicy:          q,
		// River logs every leadership change and maintenance run at info.
		Logger: slog.New(levelHandler{cfg.Log.Handler(), slog.LevelWarn}),
	}
	if cfg.Now != nil {
		rc.Test.Time = clock{cfg.Now}
	}
	c, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("starting River's client for the %s queue: %w", cfg.Name, err)
	}
	q.client = c
	return q, nil
}

// Client returns River's client (for its subscriptions and job API).
func (q *Queue[TTx]) Client() *river.Client[TTx] { return q.client }

func (q *Queue[TTx]) now() time.Time {
	if q.cfg.Now != nil {
		return q.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

// NextRetry is the retry policy of a job whose worker has none: River's.
func (q *Queue[TTx]) NextRetry(job *rivertype.JobRow) time.Time {
	if w, ok := q.workers[job.Kind]; ok && w.NextRetry != nil {
		if t := w.NextRetry(job); !t.IsZero() {
			return t
		}
	}
	return (&river.DefaultClientRetryPolicy{}).NextRetry(job)
}

// Insert adds a job to the queue (the job's own InsertOpts name no queue).
func (q *Queue[TTx]) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (bool, error) {
	o := river.InsertOpts{}
	if opts != nil {
		o = *opts
	}
	if o.Queue == "" {
		o.Queue = q.cfg.Name
	}
	res, err := q.client.Insert(ctx, args, &o)
	if err != nil {
		return false, fmt.Errorf("queueing a %s job: %w", args.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// Start runs River's client.
func (q *Queue[TTx]) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops River's client.
func (q *Queue[TTx]) Stop(ctx context.Context) error { return q.client.Stop(ctx) }

// List lists the queue's jobs in states.
func (q *Queue[TTx]) List(ctx context.Context, states []rivertype.JobState, limit int) ([]*rivertype.JobRow, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	p := river.NewJobListParams().Queues(q.cfg.Name).States(states...).OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(limit)
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("listing %s jobs: %w", q.cfg.Name, err)
	}
	return res.Jobs, nil
}

// RescueRunning makes the queue's running jobs available now.
func (q *Queue[TTx]) RescueRunning(ctx context.Context, reason string) ([]*rivertype.JobRow, error) {
	jobs, err := q.List(ctx, []rivertype.JobState{rivertype.JobStateRunning}, 1000)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	now := q.now()
	// Every listed job is dead, however recently it started: the horizon
	// (River updates jobs attempted before it) is past them all.
	p := &riverdriver.JobRescueManyParams{StuckHorizon: now.Add(time.Second)}
	for _, j := range jobs {
		e, _ := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt, Error: reason})
		p.ID = append(p.ID, j.ID)
		p.Error = append(p.Error, e)
		p.FinalizedAt = append(p.FinalizedAt, nil)
		p.ScheduledAt = append(p.ScheduledAt, now)
		p.State = append(p.State, string(rivertype.JobStateAvailable))
	}
	if _, err := q.driver.GetExecutor().JobRescueMany(ctx, p); err != nil {
		return nil, fmt.Errorf("rescuing running %s jobs: %w", q.cfg.Name, err)
	}
	return jobs, nil
}

// RunPending works due jobs in this goroutine until none is due: what
// River's scheduler, producer and completer do, one job at a time,
// through the same driver calls.
func (q *Queue[TTx]) RunPending(ctx context.Context) error {
	exec := q.driver.GetExecutor()
	for ctx.Err() == nil {
		now := q.now()
		// Due scheduled and retryable jobs become available (River's
		// scheduler does this on the leader every few seconds).
		if _, err := exec.JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: 1000, Now: &now}); err != nil {
			return fmt.Errorf("scheduling due %s jobs: %w", q.cfg.Name, err)
		}
		res, err := exec.JobGetAvailable(ctx, &riverdriver.JobGetAvailableParams{
			ClientID: q.id, Kind: q.kinds, MaxAttemptedBy: 100, MaxToLock: 1, Now: &now, Queue: q.cfg.Name,
		})
		if err != nil {
			return fmt.Errorf("fetching a %s job: %w", q.cfg.Name, err)
		}
		if len(res.Jobs) == 0 {
			return nil
		}
		job := res.Jobs[0]
		runErr := res.DecodeErrors[job.ID]
		if runErr == nil {
			runErr = q.workers[job.Kind].Run(ctx, job)
		}
		if runErr != nil && ctx.Err() != nil {
			return ctx.Err() // left running, as after a kill
		}
		if err := q.settle(ctx, exec, job, runErr); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// settle records a worked job's outcome as River's completer does.
func (q *Queue[TTx]) settle(ctx context.Context, exec riverdriver.Executor, job *rivertype.JobRow, runErr error) error {
	now := q.now()
	var p *riverdriver.JobSetStateIfRunningParams
	switch {
	case runErr == nil:
		p = riverdriver.JobSetStateCompleted(job.ID, now, nil)
	default:
		e, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: job.Attempt, Error: runErr.Error()})
		if err != nil {
			return err
		}
		if store.LastAttempt(job) {
			p = riverdriver.JobSetStateDiscarded(job.ID, now, e, nil)
		} else {
			p = riverdriver.JobSetStateErrorRetryable(job.ID, q.NextRetry(job).UTC(), e, nil)
		}
	}
	_, err := exec.JobSetStateIfRunningMany(ctx, &riverdriver.JobSetStateIfRunningManyParams{
		ID:              []int64{p.ID},
		Attempt:         []*int{p.Attempt},
		ErrData:         [][]byte{p.ErrData},
		FinalizedAt:     []*time.Time{p.FinalizedAt},
		MetadataDoMerge: []bool{p.MetadataDoMerge},
		MetadataUpdates: [][]byte{p.MetadataUpdates},
		Now:             &now,
		ScheduledAt:     []*time.Time{p.ScheduledAt},
		State:           []rivertype.JobState{p.State},
	})
	if err != nil {
		return fmt.Errorf("recording the outcome of %s job %d: %w", job.Kind, job.ID, err)
	}
	return nil
}

// levelHandler drops records below min.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(as), h.min}
}

func (h levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(n), h.min}
}
