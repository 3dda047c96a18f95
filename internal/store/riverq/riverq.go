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
	"sync"
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

// Runner is the one River client that works every queue of a store in
// this process. River elects one leader per database among its clients,
// and only the leader inserts periodic jobs and rescues the jobs of dead
// workers; a client that did not know every job kind would discard the
// stuck jobs of the kinds it lacks. So the queues of all services share
// one client, built from all their configurations when the first of them
// starts, and stopped when the last stops.
type Runner[TTx any] struct {
	driver riverdriver.Driver[TTx]
	id     string // the client's id, in the attempted_by of what it works

	mu      sync.Mutex
	queues  []*Queue[TTx]
	client  *river.Client[TTx]
	running int
}

// NewRunner returns the runner of a store's queues on driver.
func NewRunner[TTx any](driver riverdriver.Driver[TTx]) *Runner[TTx] {
	return &Runner[TTx]{driver: driver, id: newID()}
}

// start starts the shared client, building it from every queue known so
// far on its first start.
func (r *Runner[TTx]) start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		c, err := r.build()
		if err != nil {
			return err
		}
		r.client = c
	}
	if r.running == 0 {
		if err := r.client.Start(ctx); err != nil {
			return fmt.Errorf("starting River's client: %w", err)
		}
	}
	r.running++
	return nil
}

// stop stops the shared client once every queue that started it stopped.
func (r *Runner[TTx]) stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == 0 {
		return nil
	}
	r.running--
	if r.running > 0 {
		return nil
	}
	err := r.client.Stop(ctx)
	if ctx.Err() == nil {
		return err
	}
	// Running jobs did not finish in time: cancel them, which hands them
	// back to the queue as failed attempts that any process retries
	// shortly, rather than leaving them running until the rescuer takes
	// them for a dead worker's.
	cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cerr := r.client.StopAndCancel(cancelCtx); cerr != nil {
		return fmt.Errorf("stopping River's client: %w (then cancelling its running jobs: %v)", err, cerr)
	}
	return nil
}

func (r *Runner[TTx]) build() (*river.Client[TTx], error) {
	ws := river.NewWorkers()
	rc := &river.Config{
		ID:      r.id,
		Workers: ws,
		Queues:  map[string]river.QueueConfig{},
		// Each step has its own timeouts (the analyzers' among them);
		// River's rescuer, after RescueAfter, is the backstop.
		JobTimeout:  -1,
		RetryPolicy: r,
		// A job queued by another process is picked up within this; the
		// defaults (a 100 ms cooldown between fetches) cap a worker at
		// about 40 short jobs a second.
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 500 * time.Millisecond,
	}
	now := time.Now
	var log *slog.Logger
	added := map[string]bool{}
	for _, q := range r.queues {
		// Two queues of one name (a test playing two processes) share
		// its workers: the first registered kind works it.
		for _, w := range q.cfg.Workers {
			if added[w.Kind] {
				continue
			}
			if err := w.Add(ws); err != nil {
				return nil, fmt.Errorf("registering the %s worker: %w", w.Kind, err)
			}
			added[w.Kind] = true
		}
		n := max(q.cfg.MaxWorkers, 1, rc.Queues[q.cfg.Name].MaxWorkers)
		rc.Queues[q.cfg.Name] = river.QueueConfig{MaxWorkers: n}
		for _, p := range q.cfg.Periodic {
			rc.PeriodicJobs = append(rc.PeriodicJobs, periodicJob(q.cfg.Name, p))
		}
		rc.RescueStuckJobsAfter = max(rc.RescueStuckJobsAfter, q.cfg.RescueAfter)
		if q.cfg.Now != nil && rc.Test.Time == nil {
			rc.Test.Time = clock{q.cfg.Now}
			now = q.cfg.Now
		}
		if log == nil {
			log = q.cfg.Log
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc.Hooks = []rivertype.Hook{dueNow{now}}
	// River logs every leadership change and maintenance run at info.
	rc.Logger = slog.New(levelHandler{log.Handler(), slog.LevelWarn})
	c, err := river.NewClient(r.driver, rc)
	if err != nil {
		return nil, fmt.Errorf("starting River's client: %w", err)
	}
	return c, nil
}

// periodicJob is p as River's periodic job, inserted into queue whatever
// the job's own InsertOpts say (River would put a job naming no queue in
// its "default" queue, which no worker here serves).
func periodicJob(queue string, p store.Periodic) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(p.Every), func() (river.JobArgs, *river.InsertOpts) {
		return p.Args(), &river.InsertOpts{Queue: queue}
	}, &river.PeriodicJobOpts{RunOnStart: p.RunOnStart})
}

// NextRetry is the retry policy of every queue's jobs: their worker's.
func (r *Runner[TTx]) NextRetry(job *rivertype.JobRow) time.Time {
	r.mu.Lock()
	queues := r.queues
	r.mu.Unlock()
	for _, q := range queues {
		if _, ok := q.workers[job.Kind]; ok {
			return q.NextRetry(job)
		}
	}
	return (&river.DefaultClientRetryPolicy{}).NextRetry(job)
}

func newID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "gatehouse-" + hex.EncodeToString(b)
}

// Queue is a store.Queue on a River driver: it inserts and lists through a
// client of its own that works nothing, and works its jobs through the
// store's Runner.
type Queue[TTx any] struct {
	driver  riverdriver.Driver[TTx]
	runner  *Runner[TTx]
	client  *river.Client[TTx]
	cfg     store.QueueConfig
	workers map[string]store.Worker
	kinds   []string
	id      string // the worker id RunPending records in attempted_by
}

var _ store.Queue = (*Queue[any])(nil)

// dueNow makes a job inserted with a scheduled time that has already come
// available at once, keeping that time. River inserts every job given a
// ScheduledAt as scheduled, whenever that is, and only its scheduler, on
// the elected leader every 5 seconds, makes scheduled jobs available; the
// pipeline queues each next step with the time of the step before (so the
// version keeps its place: River fetches by scheduled time), and so each
// step waited for the scheduler, 2.5 s on average. An available job whose
// scheduled time has passed is exactly what the scheduler would have made
// of it, only sooner; jobs scheduled for later are left to it.
type dueNow struct{ now func() time.Time }

func (dueNow) IsHook() bool { return true }

func (d dueNow) InsertBegin(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.State == rivertype.JobStateScheduled && p.ScheduledAt != nil && !p.ScheduledAt.After(d.now()) {
		p.State = rivertype.JobStateAvailable
	}
	return nil
}

var _ rivertype.HookInsertBegin = dueNow{}

// clock stubs River's time with the queue's clock.
type clock struct{ now func() time.Time }

func (c clock) Now() time.Time { return c.now() }
func (c clock) NowOrNil() *time.Time {
	t := c.now()
	return &t
}

// New returns a queue of r's store. Its kinds join r's client when that
// first starts.
func New[TTx any](r *Runner[TTx], cfg store.QueueConfig) (*Queue[TTx], error) {
	if cfg.Name == "" {
		return nil, errors.New("a job queue needs a name")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	q := &Queue[TTx]{driver: r.driver, runner: r, cfg: cfg, workers: map[string]store.Worker{}, id: newID()}
	ws := river.NewWorkers()
	for _, w := range cfg.Workers {
		if err := w.Add(ws); err != nil {
			return nil, fmt.Errorf("registering the %s worker: %w", w.Kind, err)
		}
		q.workers[w.Kind] = w
		q.kinds = append(q.kinds, w.Kind)
	}
	rc := &river.Config{ID: q.id, Workers: ws, Logger: slog.New(levelHandler{cfg.Log.Handler(), slog.LevelWarn})}
	if cfg.Now != nil {
		rc.Test.Time = clock{cfg.Now}
	}
	rc.Hooks = []rivertype.Hook{dueNow{q.now}}
	c, err := river.NewClient(r.driver, rc)
	if err != nil {
		return nil, fmt.Errorf("opening River's client for the %s queue: %w", cfg.Name, err)
	}
	q.client = c
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		return nil, fmt.Errorf("the %s queue was opened after the store's jobs started: open every queue first", cfg.Name)
	}
	r.queues = append(r.queues, q)
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
	_, ok, err := q.InsertUnique(ctx, args, opts)
	return ok, err
}

// InsertUnique adds a job to the queue and returns it, or the active
// duplicate River kept.
func (q *Queue[TTx]) InsertUnique(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, bool, error) {
	o := river.InsertOpts{}
	if opts != nil {
		o = *opts
	}
	if o.Queue == "" {
		o.Queue = q.cfg.Name
	}
	res, err := q.inserter().Insert(ctx, args, &o)
	if err != nil {
		return nil, false, fmt.Errorf("queueing a %s job: %w", args.Kind(), err)
	}
	return res.Job, !res.UniqueSkippedAsDuplicate, nil
}

// inserter is the client to insert through: the store's working client
// while it runs, else the queue's own. Both write the same row through the
// same driver. On PostgreSQL the insert's NOTIFY wakes every process's
// fetcher; on SQLite, whose driver the store gives River without a
// listener (sqlite.localDriver), only the working client wakes its own
// fetcher at once, so a job inserted through a client that works nothing
// would wait for the next fetch poll (FetchPollInterval) even when this
// very process is idle and would run it.
func (q *Queue[TTx]) inserter() *river.Client[TTx] {
	r := q.runner
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running > 0 && r.client != nil {
		return r.client
	}
	return q.client
}

// WorkerID names what works the queue's jobs in this process (the store's
// River client), as jobs' attempted_by records it.
func (q *Queue[TTx]) WorkerID() string { return q.runner.id }

// Start works the queue in the background: it starts the store's one
// River client, which works every queue of the store.
func (q *Queue[TTx]) Start(ctx context.Context) error { return q.runner.start(ctx) }

// Stop stops working: the store's River client stops once every queue
// that started it stopped, letting running jobs finish until ctx ends.
func (q *Queue[TTx]) Stop(ctx context.Context) error { return q.runner.stop(ctx) }

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
func (q *Queue[TTx]) RescueRunning(ctx context.Context, reason string, dead func(ctx context.Context, worker string) (bool, error)) ([]*rivertype.JobRow, error) {
	running, err := q.List(ctx, []rivertype.JobState{rivertype.JobStateRunning}, 1000)
	if err != nil || len(running) == 0 {
		return nil, err
	}
	jobs := running[:0:0]
	for _, j := range running {
		if dead != nil && len(j.AttemptedBy) > 0 {
			gone, err := dead(ctx, j.AttemptedBy[len(j.AttemptedBy)-1])
			if err != nil {
				return nil, err
			}
			if !gone {
				continue
			}
		}
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return nil, nil
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
	var snooze *rivertype.JobSnoozeError
	switch {
	case errors.As(runErr, &snooze):
		// As River's executor: a snoozed job waits, and the attempt it
		// did not use is given back.
		p = riverdriver.JobSetStateSnoozed(job.ID, now.Add(snooze.Duration), job.Attempt-1, nil)
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
