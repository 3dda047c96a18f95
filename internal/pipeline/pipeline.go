// Package pipeline moves a stored version from its package to a verdict:
// vetting, triage by policy, then certification or the review queue.
//
// It is a state machine over jobs keyed by version. Each state that the
// pipeline owns (lifecycle.MovedBy reports lifecycle.Pipeline) has exactly
// one step, a job kind, that moves it on:
//
//	received, vetting  --vet-->     triage
//	triage             --triage-->  rejected | auto_approved | in_review
//	auto_approved      --certify--> certified
//
// The jobs are River's (riverqueue), in the store's own database. A step
// finishes by moving its version to the next state, and the runner then
// queues the step of that state. Every step is idempotent: it reads
// the version first and does nothing when the version has moved on, and
// every state change is a compare-and-set, so running a step twice changes
// nothing. At most one job per (step, version) is queued or running
// (River's unique jobs). So a process killed anywhere leaves each version
// in a state whose step either still has its job, running until River's
// rescuer hands it to another worker, or is given one by Reconcile.
// Nothing is stuck.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/tracing"
)

// The steps, each a job kind keyed by version id.
const (
	// Vet runs the analyzers, records the run and moves the version to
	// triage. With VetArgs.Rerun it records a new run on demand and
	// moves nothing.
	Vet = "vet"
	// Triage moves a vetted version to rejected (vetting blocked it or the
	// policy says so), auto_approved or in_review.
	Triage = "triage"
	// Certify issues the certificate of an approved version: one the
	// policy auto-approved, or one its reviewers approved when the
	// process stopped before the certificate.
	Certify = "certify"
)

// stepOf is the one step that moves each pipeline state on.
var stepOf = map[lifecycle.State]string{
	lifecycle.Received:     Vet,
	lifecycle.Vetting:      Vet,
	lifecycle.Triage:       Triage,
	lifecycle.AutoApproved: Certify,
}

// StepOf returns the step that moves a version in state s on, or "" when
// people, time or nobody moves it.
func StepOf(s lifecycle.State) string { return stepOf[s] }

// VetArgs are the arguments of a vetting job.
type VetArgs struct {
	// Rerun asks for a new run on a version that may have left vetting;
	// it records results and moves no state.
	Rerun bool   `json:"rerun,omitempty"`
	Actor string `json:"actor,omitempty"`
}

// The River jobs of the steps. Each is unique per (step, version) while
// queued, scheduled, retrying or running (store.ActiveStates), whatever
// its other arguments.
type (
	vetJob struct {
		Version string `json:"version" river:"unique"`
		VetArgs
	}
	triageJob struct {
		Version string `json:"version" river:"unique"`
	}
	certifyJob struct {
		Version string `json:"version" river:"unique"`
	}
)

func (vetJob) Kind() string     { return Vet }
func (triageJob) Kind() string  { return Triage }
func (certifyJob) Kind() string { return Certify }

func (vetJob) InsertOpts() river.InsertOpts     { return insertOpts }
func (triageJob) InsertOpts() river.InsertOpts  { return insertOpts }
func (certifyJob) InsertOpts() river.InsertOpts { return insertOpts }

func (j vetJob) version() string     { return j.Version }
func (j triageJob) version() string  { return j.Version }
func (j certifyJob) version() string { return j.Version }

// stepJob is the arguments of a step's job.
type stepJob interface {
	river.JobArgs
	version() string
}

// Job tuning: River's rescuer takes a step still running after jobRescue
// for a dead worker's and runs it again (the analyzers' own timeouts are
// shorter: a minute each by default, the provenance rebuild at most 4.5
// minutes); a failed step is retried with exponential backoff, then given
// up.
const (
	// Queue is the River queue of the pipeline's steps.
	Queue     = "pipeline"
	jobRescue = 10 * time.Minute
	// batch bounds the versions one look at a state takes; the rest wait
	// for the next look.
	batch = 500
	// reconcileEvery is how often a running worker looks for versions
	// whose step has no job (Reconcile); it also looks at start-up.
	reconcileEvery = time.Minute
	// workers is how many steps one process runs at once under River's
	// client (vetting runs are bounded again by intake's own limit).
	workers = 4
)

// retry: a failed step is retried 4 times, 5 s, 10 s, 20 s and 40 s
// after each failure, then given up.
var retry = store.Retry{Attempts: 5, First: 5 * time.Second}

var insertOpts = river.InsertOpts{
	MaxAttempts: retry.Attempts,
	UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: store.ActiveStates},
}

// Records is what the pipeline reads and writes: the job queue, versions
// and their state, and the audit trail.
type Records interface {
	store.Jobs
	// LeaseLive reports whether the lease name is held (a live worker).
	LeaseLive(ctx context.Context, name string) (bool, error)
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	FindVersions(ctx context.Context, q domain.VersionQuery) ([]domain.Version, error)
	Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error
	AppendAudit(ctx context.Context, ev audit.Event) error
}

// Vetting does the vetting step and prepares triage; intake.Service is
// one. Each step must be idempotent, as the package comment says.
type Vetting interface {
	VetStep(ctx context.Context, id string, args VetArgs) error
	TriageStep(ctx context.Context, id string) error
	// SendToReview moves a version in triage to people with reason,
	// opening its review: how a given-up step fails closed.
	SendToReview(ctx context.Context, id, reason string) error
}

// Certifying does the certify step; review.Service is one.
type Certifying interface {
	CertifyStep(ctx context.Context, id string) error
	// Approved lists versions in review that their reviewers approved but
	// that have no certificate: the process stopped between the last
	// approval and the certificate.
	Approved(ctx context.Context, limit int) ([]string, error)
}

// Config configures a Pipeline.
type Config struct {
	Store   Records
	Vetting Vetting
	// Certifying may be nil: then auto-approved versions wait for a
	// process that certifies.
	Certifying Certifying
	Log        *slog.Logger
	// Now is the clock of the pipeline and its job queue (nil: the real
	// one).
	Now func() time.Time
	// TracerProvider traces each step's job (nil: no tracing).
	TracerProvider trace.TracerProvider
	// ObserveStep, when set, is told how long each step's work took
	// (the per-stage latency histogram).
	ObserveStep func(step string, d time.Duration)
}

// Pipeline runs the steps. Its methods are safe for concurrent use, and
// any number of processes may run one over the same store.
type Pipeline struct {
	cfg    Config
	tracer trace.Tracer
	kinds  []string // the steps this pipeline runs
	wake   chan struct{}
	q      store.Queue
	qerr   error // why the queue could not be opened

	mu            sync.Mutex
	lastReconcile time.Time
}

// New returns a Pipeline; cfg.Store and cfg.Vetting are required.
func New(cfg Config) *Pipeline {
	kinds := []string{Vet, Triage}
	if cfg.Certifying != nil {
		kinds = append(kinds, Certify)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	clock := cfg.Now
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	p := &Pipeline{cfg: cfg, tracer: cfg.TracerProvider.Tracer(tracing.Scope), kinds: kinds, wake: make(chan struct{}, 1)}
	ws := []store.Worker{store.Work[vetJob](&stepWorker[vetJob]{p: p}), store.Work[triageJob](&stepWorker[triageJob]{p: p})}
	if cfg.Certifying != nil {
		ws = append(ws, store.Work[certifyJob](&stepWorker[certifyJob]{p: p}))
	}
	p.q, p.qerr = cfg.Store.JobQueue(store.QueueConfig{
		Name: Queue, Workers: ws, MaxWorkers: workers, RescueAfter: jobRescue, Now: clock, Log: cfg.Log,
	})
	if p.qerr != nil {
		p.qerr = fmt.Errorf("opening the pipeline's job queue: %w", p.qerr)
	}
	return p
}

// WorkerID names what works the pipeline's jobs in this process (see
// store.WorkerLease); "" when its queue could not open.
func (p *Pipeline) WorkerID() string {
	if p.q == nil {
		return ""
	}
	return p.q.WorkerID()
}

// Wake makes a running Work loop look for work now rather than at its
// next poll (a version was just submitted).
func (p *Pipeline) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Work runs steps until ctx ends: River's client works the jobs (any
// number of processes may, each job once), and this loop queues the
// vetting of received versions at once after Wake and every poll, and
// reconciles every reconcileEvery. When ctx ends, running steps get up to
// stopGrace to finish; a step cut short is run again elsewhere (River's
// rescuer, or Reconcile at the next start).
func (p *Pipeline) Work(ctx context.Context, poll time.Duration) {
	if p.qerr != nil {
		p.cfg.Log.Error("running the pipeline", "err", p.qerr)
		return
	}
	if err := p.q.Start(ctx); err != nil {
		p.cfg.Log.Error("starting the pipeline's job queue", "err", err)
		return
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
		defer cancel()
		if err := p.q.Stop(stop); err != nil {
			p.cfg.Log.Warn("stopping the pipeline's job queue", "err", err)
		}
	}()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		p.reconcileIfDue(ctx)
		for {
			full, err := p.queueReceived(ctx)
			if err != nil && ctx.Err() == nil {
				p.cfg.Log.Error("running the pipeline", "err", err)
			}
			if !full || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// stopGrace is how long running steps may finish when the worker stops.
const stopGrace = 30 * time.Second

// reconcileIfDue runs Reconcile at most every reconcileEvery.
func (p *Pipeline) reconcileIfDue(ctx context.Context) {
	p.mu.Lock()
	due := p.cfg.Now().Sub(p.lastReconcile) >= reconcileEvery
	if due {
		p.lastReconcile = p.cfg.Now()
	}
	p.mu.Unlock()
	if due {
		// Another live worker holds a step for at most jobRescue.
		if _, err := p.Reconcile(ctx, jobRescue); err != nil && ctx.Err() == nil {
			p.cfg.Log.Error("resuming versions left mid-way", "err", err)
		}
	}
}

// RunPending queues the vetting of every received version, gives steps
// without a job theirs (at most every reconcileEvery), and works every
// due job in this goroutine, including the steps those jobs queue and
// retries whose time came, until none is due: Work without River's
// client, so tests drive the pipeline synchronously.
func (p *Pipeline) RunPending(ctx context.Context) error {
	if p.qerr != nil {
		return p.qerr
	}
	p.reconcileIfDue(ctx)
	for {
		full, err := p.queueReceived(ctx)
		if err != nil {
			return err
		}
		if err := p.q.RunPending(ctx); err != nil {
			return fmt.Errorf("running the pipeline's jobs: %w", err)
		}
		if !full {
			return nil
		}
	}
}

// queueReceived queues the vetting of the oldest received versions; full
// reports that there may be more.
func (p *Pipeline) queueReceived(ctx context.Context) (full bool, err error) {
	if p.qerr != nil {
		return false, p.qerr
	}
	vs, err := p.cfg.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Received, Limit: batch})
	if err != nil {
		return false, fmt.Errorf("finding received versions: %w", err)
	}
	for _, v := range vs {
		if _, err := p.q.Insert(ctx, vetJob{Version: v.ID}, &river.InsertOpts{ScheduledAt: p.cfg.Now()}); err != nil {
			return false, fmt.Errorf("queueing vetting of %s: %w", v.ID, err)
		}
	}
	return len(vs) == batch, nil
}

// RequestVet queues a new vetting run of a version on demand; false when
// one is already queued or running.
func (p *Pipeline) RequestVet(ctx context.Context, id, actor string) (bool, error) {
	if p.qerr != nil {
		return false, p.qerr
	}
	if _, err := p.cfg.Store.GetVersion(ctx, id); err != nil {
		return false, err
	}
	ok, err := p.q.Insert(ctx, vetJob{Version: id, VetArgs: VetArgs{Rerun: true, Actor: actor}}, &river.InsertOpts{ScheduledAt: p.cfg.Now()})
	if ok {
		p.Wake()
	}
	return ok, err
}

// FailedJobs lists the steps given up on, newest last, each with its
// errors: River's discarded jobs of the pipeline's queue, kept for
// operators until River's cleaner removes them.
func (p *Pipeline) FailedJobs(ctx context.Context, limit int) ([]*rivertype.JobRow, error) {
	if p.qerr != nil {
		return nil, p.qerr
	}
	return p.q.List(ctx, []rivertype.JobState{rivertype.JobStateDiscarded}, limit)
}

// stepWorker is River's worker of one step.
type stepWorker[T stepJob] struct {
	river.WorkerDefaults[T]
	p *Pipeline
}

// Work runs the step. On success it queues the next; when the last
// attempt fails it gives up (fails closed) before River discards the job.
func (w *stepWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	p := w.p
	id := job.Args.version()
	// Each job is the root of its own trace, and everything under it
	// (analyzers, store calls) carries the version id.
	ctx, span := p.tracer.Start(tracing.WithVersion(ctx, id), "pipeline."+job.Kind, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("gatehouse.job.kind", job.Kind), attribute.Int("gatehouse.job.attempt", job.Attempt), attribute.Int64("gatehouse.job.id", job.ID),
			// How long the job waited in the queue since it was queued:
			// the hand-off between steps, which no span covers.
			attribute.Int64("gatehouse.job.queue_wait_ms", max(0, p.cfg.Now().Sub(job.CreatedAt).Milliseconds()))))
	defer span.End()
	start := time.Now()
	runErr := p.run(ctx, job.Kind, job.Args)
	if p.cfg.ObserveStep != nil {
		p.cfg.ObserveStep(job.Kind, time.Since(start))
	}
	if runErr != nil {
		span.SetStatus(codes.Error, "step failed")
	}
	switch {
	case runErr == nil:
		p.advance(ctx, job.JobRow, id)
	case ctx.Err() != nil:
		// Cut short: the job stays running, as after a kill.
	case store.LastAttempt(job.JobRow):
		p.cfg.Log.Error("a pipeline step failed; giving up", "step", job.Kind, "submission", id, "attempts", job.Attempt, "err", runErr)
		p.giveUp(ctx, job.Kind, id, job.Attempt, runErr)
	default:
		p.cfg.Log.Warn("a pipeline step failed; will retry", "step", job.Kind, "submission", id, "attempt", job.Attempt, "retry_in", retry.After(job.Attempt), "err", runErr)
	}
	return runErr
}

// NextRetry is the step's backoff, on the pipeline's clock.
func (w *stepWorker[T]) NextRetry(job *river.Job[T]) time.Time {
	return w.p.cfg.Now().Add(retry.After(job.Attempt))
}

// run does the work of one job.
func (p *Pipeline) run(ctx context.Context, kind string, args stepJob) error {
	switch a := args.(type) {
	case vetJob:
		return p.cfg.Vetting.VetStep(ctx, a.Version, a.VetArgs)
	case triageJob:
		return p.cfg.Vetting.TriageStep(ctx, a.Version)
	case certifyJob:
		if p.cfg.Certifying != nil {
			return p.cfg.Certifying.CertifyStep(ctx, a.Version)
		}
	}
	return fmt.Errorf("unknown pipeline step %q", kind)
}

// jobOf is the job of step for version id.
func jobOf(step, id string) river.JobArgs {
	switch step {
	case Vet:
		return vetJob{Version: id}
	case Triage:
		return triageJob{Version: id}
	default:
		return certifyJob{Version: id}
	}
}

// advance queues the step of the state a finished job left its version
// in. The next step keeps the job's place in the queue (its scheduled
// time, by which River fetches), so a version that started vetting
// reaches its verdict before versions submitted after it are vetted. A
// crash before this is what Reconcile repairs.
func (p *Pipeline) advance(ctx context.Context, job *rivertype.JobRow, id string) {
	v, err := p.cfg.Store.GetVersion(ctx, id)
	if err != nil {
		p.cfg.Log.Error("reading a version to queue its next step", "submission", id, "err", err)
		return
	}
	next := StepOf(v.State)
	if next == "" || !slices.Contains(p.kinds, next) {
		return
	}
	at := p.cfg.Now()
	if !job.ScheduledAt.IsZero() && job.ScheduledAt.Before(at) {
		at = job.ScheduledAt
	}
	if _, err := p.q.Insert(ctx, jobOf(next, id), &river.InsertOpts{ScheduledAt: at}); err != nil {
		p.cfg.Log.Error("queueing the next step", "step", next, "submission", id, "err", err)
	}
}

// giveUp fails closed without blaming the author: a version whose vetting
// or triage cannot complete cannot pass automatically, so it goes to
// people with the cause. A certification that cannot complete (the
// certifier is unavailable) leaves the version approved; Reconcile queues
// it again later.
func (p *Pipeline) giveUp(ctx context.Context, kind, id string, attempts int, cause error) {
	if kind == Certify {
		return
	}
	v, err := p.cfg.Store.GetVersion(ctx, id)
	if err != nil {
		p.cfg.Log.Error("reading a version whose step failed", "submission", id, "err", err)
		return
	}
	step := "vetting"
	if kind == Triage {
		step = "triage"
	}
	reason := fmt.Sprintf("%s could not complete after %d attempts (%v); a reviewer must decide", step, attempts, cause)
	// Walk up to triage, from where the version goes to people with its
	// review opened (a version in review without one could not be decided).
	for _, to := range []lifecycle.State{lifecycle.Vetting, lifecycle.Triage} {
		if !lifecycle.Allowed(v.State, to) || v.State == to {
			continue
		}
		ev := audit.Event{Time: p.cfg.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + v.ID}
		if err := p.cfg.Store.Transition(ctx, v.ID, v.State, to, step+" was given up", ev); err != nil {
			if !errors.Is(err, domain.ErrStateChanged) {
				p.cfg.Log.Error("sending a version whose step failed to review", "submission", v.ID, "err", err)
			}
			return
		}
		v.State = to
	}
	if v.State != lifecycle.Triage {
		return
	}
	if err := p.cfg.Vetting.SendToReview(ctx, v.ID, reason); err != nil {
		// The triage step of the version has no job now; Reconcile
		// queues it again, and it gives up here again if it must.
		p.cfg.Log.Error("sending a version whose step failed to review", "submission", v.ID, "err", err)
	}
}

// Reconcile gives every version in a pipeline state whose step has no
// job its job back, and returns how many it resumed; each resume is an
// audit.SubmissionResume event. It queues work and does none, so it is
// quick: the worker does the steps.
//
// grace is how long a version (and a running job) must have gone
// untouched to count as abandoned: zero at start-up when the process is
// alone on its store, where any running job belongs to a process that
// died; longer when other processes may be at work.
func (p *Pipeline) Reconcile(ctx context.Context, grace time.Duration) (resumed int, err error) {
	if p.qerr != nil {
		return 0, p.qerr
	}
	now := p.cfg.Now()
	var errs []error
	{
		// Alone on the store (no grace), a running job's worker is dead.
		// Otherwise one is dead when it no longer holds its lease. Either
		// way River's rescuer, which waits longer than any step can run,
		// is not worth waiting for.
		var dead func(context.Context, string) (bool, error)
		if grace > 0 {
			dead = func(ctx context.Context, worker string) (bool, error) {
				live, err := p.cfg.Store.LeaseLive(ctx, store.WorkerLease(worker))
				return !live, err
			}
		}
		jobs, err := p.q.RescueRunning(ctx, "the process running it stopped", dead)
		if err != nil {
			return 0, fmt.Errorf("requeueing running jobs: %w", err)
		}
		for _, j := range jobs {
			var a struct {
				Version string `json:"version"`
			}
			if json.Unmarshal(j.EncodedArgs, &a) != nil || a.Version == "" {
				continue
			}
			p.resumed(ctx, a.Version, "the process running its "+j.Kind+" step stopped; the step runs again")
			resumed++
		}
	}
	var cutoff time.Time // zero: every version, however recent
	if grace > 0 {
		cutoff = now.Add(-grace)
	}
	for _, st := range []lifecycle.State{lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved} {
		if !slices.Contains(p.kinds, StepOf(st)) {
			continue
		}
		vs, err := p.cfg.Store.FindVersions(ctx, domain.VersionQuery{State: st, UpdatedBefore: cutoff, Limit: batch})
		if err != nil {
			errs = append(errs, fmt.Errorf("finding versions in %s: %w", st, err))
			continue
		}
		for _, v := range vs {
			n, err := p.requeue(ctx, v.ID, StepOf(st), fmt.Sprintf("in %s without a %s job; the step runs again", st, StepOf(st)))
			resumed += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if p.cfg.Certifying != nil {
		ids, err := p.cfg.Certifying.Approved(ctx, batch)
		if err != nil {
			errs = append(errs, fmt.Errorf("finding approved versions without a certificate: %w", err))
		}
		for _, id := range ids {
			n, err := p.requeue(ctx, id, Certify, "approved by its reviewers without a certificate; certification runs again")
			resumed += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if resumed > 0 {
		p.Wake()
	}
	return resumed, errors.Join(errs...)
}

// requeue queues step for version id unless it has a job already.
func (p *Pipeline) requeue(ctx context.Context, id, step, reason string) (int, error) {
	ok, err := p.q.Insert(ctx, jobOf(step, id), &river.InsertOpts{ScheduledAt: p.cfg.Now()})
	if err != nil {
		return 0, fmt.Errorf("queueing the %s step of %s: %w", step, id, err)
	}
	if !ok {
		return 0, nil
	}
	p.resumed(ctx, id, reason)
	return 1, nil
}

// resumed records that the work on version id was taken up again.
func (p *Pipeline) resumed(ctx context.Context, id, reason string) {
	ev := audit.Event{Time: p.cfg.Now(), Actor: "system", Action: audit.SubmissionResume, Subject: "submission:" + id, Reason: reason}
	if err := p.cfg.Store.AppendAudit(ctx, ev); err != nil {
		p.cfg.Log.Error("recording a resumed submission", "submission", id, "err", err)
	}
	p.cfg.Log.Warn("resumed a submission left mid-way", "submission", id, "reason", reason)
}
