// Package revalidate keeps certification a promise that is re-earned: every
// certified version is revalidated on its risk tier's cadence, and at once
// when something it depends on changes (new vulnerability data, a new
// policy). Revalidation re-runs the analyzers with today's rules,
// vulnerability database and policy. Passing renews the certificate;
// failing suspends the version with a remediation deadline and records what
// to fix; past the deadline, unless a newer version of the plugin is
// certified by then, the version is revoked.
//
// All of it runs as River jobs (riverqueue) in the store's database: one
// job per version at a time (unique while queued or running; a change
// made while one runs queues a follow-up that waits for it), rescued by
// River when a worker dies mid-way, and retried with exponential backoff.
// The cadence itself is a River periodic job, inserted by the elected
// leader alone, so it runs once across all processes. Time comes from
// Config.Now, so tests walk months in milliseconds.
//
// The package is domain code: it reaches the database only through
// Records, and certificates only through the Certifier interface.
package revalidate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/trust"
)

// JobKind is the kind of a revalidation job, keyed by the version id;
// TickKind is the periodic job that queues the due ones.
const (
	JobKind  = "revalidate"
	TickKind = "revalidate_tick"
	// Queue is the River queue of revalidation.
	Queue = "revalidate"
)

// Outcomes recorded in domain.Revalidation.LastOutcome.
const (
	Passed     = "passed"
	Failed     = "failed"
	Revoked    = "revoked"
	Superseded = "superseded"
	Errored    = "errored"
)

// retry: a failing revalidation is retried 4 times, from 30 s and
// doubling, then given up until the next cadence (retryLater).
var retry = store.Retry{Attempts: 5, First: 30 * time.Second}

// Job tuning. River's rescuer takes a revalidation still running after
// jobRescue (far longer than the analyzers' own timeouts) for a dead
// worker's; a failing one is retried with exponential backoff, then given
// up until the next cadence (retryLater).
const (
	jobRescue  = 10 * time.Minute
	workers    = 2
	retryLater = 24 * time.Hour
	page       = 500
	// MaxProblems bounds what one failed revalidation lists, so its audit
	// event stays within the store's limit.
	MaxProblems = 50
)

// Certifier changes a version's certificate (certify.Service).
type Certifier interface {
	Renew(ctx context.Context, versionID, actor, reason string) (*trust.Certificate, error)
	Suspend(ctx context.Context, versionID, actor, reason string, deadline time.Time) error
	Revoke(ctx context.Context, versionID, actor, reason string) error
}

// Vetter runs today's analyzers over a stored version and records the run
// (intake.Service).
type Vetter interface {
	Revet(ctx context.Context, id, actor, why string) (intake.Revetted, error)
}

// Schedules are the versions' revalidation schedules.
type Schedules interface {
	UnscheduledVersions(ctx context.Context, states []lifecycle.State, limit int) ([]domain.Version, error)
	SaveRevalidation(ctx context.Context, r domain.Revalidation, evs []audit.Event) error
	GetRevalidation(ctx context.Context, versionID string) (domain.Revalidation, error)
	DueRevalidations(ctx context.Context, now time.Time, limit int) ([]domain.Revalidation, error)
	ListRevalidations(ctx context.Context, q domain.RevalidationQuery) ([]domain.Revalidation, error)
}

// Versions reads versions with their verdicts and vetting runs, the host
// API versions offered, and records what the triggers decide.
type Versions interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	LatestVerdict(ctx context.Context, versionID string) (domain.Verdict, error)
	LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error)
	AppendAudit(ctx context.Context, ev audit.Event) error
	OfferHostAPI(ctx context.Context, o domain.HostAPIOffer, ev audit.Event) error
}

// Signatures reads a version's publisher signature and its namespace's
// keys, which revalidation checks again.
type Signatures interface {
	GetSignature(ctx context.Context, versionID string) (domain.Signature, error)
	ListPublisherKeys(ctx context.Context, namespace string) ([]domain.PublisherKey, error)
}

// Records is everything the Scheduler stores; store.Store is one.
type Records interface {
	Schedules
	store.Jobs
	Versions
	ComponentIndex
	Signatures
}

// Config is what a Scheduler needs.
type Config struct {
	Store     Records
	Vetter    Vetter
	Certifier Certifier
	// Policy returns the active policy engine (review.Service.Engine).
	Policy func() *policy.Engine
	// VetConfig is the check modes vetting runs with, which say which
	// findings are enforced.
	VetConfig vet.Config
	// Manifest reads stored manifests when a decision is re-made from
	// stored results (a policy dry run).
	Manifest manifest.Options
	Now      func() time.Time
	Log      *slog.Logger
	// SigstoreRoot verifies keyless Sigstore publisher bundles again (nil:
	// they no longer verify).
	SigstoreRoot root.TrustedMaterial
	// Every is how often the elected worker looks for due revalidations
	// (a River periodic job); a minute when zero.
	Every time.Duration
	// HostAPI, when set, checks each revalidated version against every
	// published host API version (hostcompat.Service). It is set after
	// New with SetHostAPI, as that service queues revalidations itself.
	HostAPI HostAPIChecker
}

// HostAPIChecker confirms a version's compatibility with the published
// host API versions from its fresh vetting input (hostcompat.Service).
type HostAPIChecker interface {
	CheckVersion(ctx context.Context, v domain.Version, in *vet.Input) error
}

// SetHostAPI sets the host API checker revalidation runs (before Work).
func (s *Scheduler) SetHostAPI(c HostAPIChecker) { s.cfg.HostAPI = c }

// Scheduler schedules and runs revalidations.
type Scheduler struct {
	cfg  Config
	wake chan struct{}
	q    store.Queue
}

// New returns a Scheduler.
func New(cfg Config) (*Scheduler, error) {
	switch {
	case cfg.Store == nil || cfg.Vetter == nil || cfg.Certifier == nil || cfg.Policy == nil:
		return nil, errors.New("revalidation needs a store, a vetter, a certifier and the active policy")
	}
	clock := cfg.Now
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	s := &Scheduler{cfg: cfg, wake: make(chan struct{}, 1)}
	tick := store.Periodic{Every: cfg.Every, Args: func() river.JobArgs { return tickJob{} }, RunOnStart: true}
	q, err := cfg.Store.JobQueue(store.QueueConfig{
		Name:        Queue,
		Workers:     []store.Worker{store.Work[revalidateJob](&worker{s: s}), store.Work[tickJob](&tickWorker{s: s})},
		MaxWorkers:  workers,
		Periodic:    []store.Periodic{tick},
		RescueAfter: jobRescue,
		Now:         clock,
		Log:         cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the revalidation job queue: %w", err)
	}
	s.q = q
	return s, nil
}

// jobArgs travel with a job.
type jobArgs struct {
	Actor string `json:"actor"`
	Why   string `json:"why"`
	// Trigger names what queued a targeted re-check (one of the Trigger
	// constants); empty for the cadence and older jobs.
	Trigger Trigger `json:"trigger,omitempty"`
}

// revalidateJob is the River job of one version's revalidation, unique
// per version while queued or running. River counts a running job against
// the unique key (its unique states must include running), so a change
// made while a revalidation runs (which may have read the state before
// it) would be dropped as a duplicate: After names the running job such
// a change follows, making the follow-up a job of its own, one per
// running job (further changes meanwhile join it).
type revalidateJob struct {
	Version string `json:"version" river:"unique"`
	After   int64  `json:"after,omitempty" river:"unique"`
	jobArgs
}

func (revalidateJob) Kind() string { return JobKind }

func (revalidateJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: retry.Attempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: store.ActiveStates}}
}

// tickJob is the periodic job that queues due revalidations.
type tickJob struct{}

func (tickJob) Kind() string { return TickKind }

func (tickJob) InsertOpts() river.InsertOpts {
	// The next period tries again; one tick at a time is enough.
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByState: store.ActiveStates}}
}

type tickWorker struct {
	river.WorkerDefaults[tickJob]
	s *Scheduler
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[tickJob]) error {
	return w.s.queueDue(ctx)
}

type worker struct {
	river.WorkerDefaults[revalidateJob]
	s *Scheduler
}

func (w *worker) Work(ctx context.Context, job *river.Job[revalidateJob]) error {
	// One revalidation of a version at a time: a follow-up waits for the
	// older job it follows, which another worker may still be running.
	running, err := w.s.q.List(ctx, []rivertype.JobState{rivertype.JobStateRunning}, 1000)
	if err != nil {
		return err
	}
	for _, r := range running {
		var other revalidateJob
		if r.ID < job.ID && r.Kind == JobKind && json.Unmarshal(r.EncodedArgs, &other) == nil && other.Version == job.Args.Version {
			return river.JobSnooze(followUpWait)
		}
	}
	return w.s.runJob(ctx, job)
}

// followUpWait is how long a follow-up revalidation waits before looking
// again whether the one it follows has finished.
const followUpWait = 5 * time.Second

func (w *worker) NextRetry(job *river.Job[revalidateJob]) time.Time {
	return w.s.cfg.Now().Add(retry.After(job.Attempt))
}

// Work works revalidation jobs with River's client until ctx ends: the
// elected leader among all processes inserts the periodic tick that
// queues due revalidations, and Wake queues them at once.
func (s *Scheduler) Work(ctx context.Context) {
	if err := s.q.Start(ctx); err != nil {
		s.cfg.Log.Error("starting the revalidation job queue", "err", err)
		return
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.q.Stop(stop); err != nil {
			s.cfg.Log.Warn("stopping the revalidation job queue", "err", err)
		}
	}()
	// The periodic tick is inserted by River's elected leader alone (one
	// River client per process carries every queue's jobs), so due
	// revalidations are looked for once across all processes; Wake looks
	// at once, in this process.
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		if err := s.queueDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Error("revalidating", "err", err)
		}
	}
}

// FailedJobs lists the revalidation jobs given up on, with their errors
// (River's discarded jobs, kept for operators).
func (s *Scheduler) FailedJobs(ctx context.Context, limit int) ([]*rivertype.JobRow, error) {
	return s.q.List(ctx, []rivertype.JobState{rivertype.JobStateDiscarded}, limit)
}

// PendingJobs lists the revalidation jobs queued, scheduled, retrying or
// running.
func (s *Scheduler) PendingJobs(ctx context.Context, limit int) ([]*rivertype.JobRow, error) {
	return s.q.List(ctx, store.ActiveStates, limit)
}

// Wake asks Work to run a tick now.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Tick is one job cycle in this goroutine: it schedules newly certified
// versions, queues the revalidations that are due, and works every due
// job (Work without River's client, for tests and tools).
func (s *Scheduler) Tick(ctx context.Context) error {
	if err := s.queueDue(ctx); err != nil {
		return err
	}
	return s.q.RunPending(ctx)
}

// queueDue schedules newly certified versions and queues the
// revalidations that are due: the periodic tick's work.
func (s *Scheduler) queueDue(ctx context.Context) error {
	if err := s.schedule(ctx); err != nil {
		return err
	}
	due, err := s.cfg.Store.DueRevalidations(ctx, s.cfg.Now(), page)
	if err != nil {
		return fmt.Errorf("finding due revalidations: %w", err)
	}
	for _, r := range due {
		why := fmt.Sprintf("scheduled revalidation of the %s tier", r.Tier)
		if !r.Deadline.IsZero() && !r.Deadline.After(s.cfg.Now()) {
			why = "the remediation deadline " + r.Deadline.UTC().Format(time.RFC3339) + " passed"
		}
		if _, err := s.Enqueue(ctx, r.VersionID, "system", why); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue queues a revalidation of one version now; false when one is
// already queued and not yet started (it will see today's data too). When
// one is running, a follow-up is queued to run after it.
func (s *Scheduler) Enqueue(ctx context.Context, versionID, actor, why string) (bool, error) {
	job := revalidateJob{Version: versionID, jobArgs: jobArgs{Actor: actor, Why: truncate(why, 1024)}}
	ok, err := s.insert(ctx, job)
	if err != nil {
		return false, fmt.Errorf("queueing revalidation of %s: %w", versionID, err)
	}
	return ok, nil
}

// insert queues job, or, when a revalidation of the version is already
// running (it may have read what the change alters before the change), a
// follow-up that runs after it. A queued one that has not started will
// see the change itself: false.
func (s *Scheduler) insert(ctx context.Context, job revalidateJob) (bool, error) {
	opts := &river.InsertOpts{ScheduledAt: s.cfg.Now()}
	row, ok, err := s.q.InsertUnique(ctx, job, opts)
	if err != nil || ok || row == nil || row.State != rivertype.JobStateRunning {
		return ok, err
	}
	job.After = row.ID
	return s.q.Insert(ctx, job, opts)
}

// Trigger names a change that queues re-checks of the versions it covers.
type Trigger string

// The triggers of issue 19 item 7: a change of who may sign for a
// namespace re-checks what was certified under the old arrangement.
const (
	TriggerOwnerChange    Trigger = "owner-change"
	TriggerKeyRemoved     Trigger = "key-removed"
	TriggerKeyCompromised Trigger = "key-compromised"
	// TriggerHostAPIChange: a host API version was published (issue 19
	// item 6); the run also confirms the version's matrix cells.
	TriggerHostAPIChange Trigger = "host-api-change"
)

// EnqueueVersions queues a revalidation of each version for trigger, and
// returns how many were queued (a version already queued is not queued
// twice, as it will see the change too; one whose revalidation is running
// gets a follow-up after it, since the running one may have read the
// state before the change).
func (s *Scheduler) EnqueueVersions(ctx context.Context, ids []string, actor string, trigger Trigger, why string) (int, error) {
	n := 0
	for _, id := range ids {
		job := revalidateJob{Version: id, jobArgs: jobArgs{Actor: actor, Why: truncate(string(trigger)+": "+why, 1024), Trigger: trigger}}
		ok, err := s.insert(ctx, job)
		if err != nil {
			return n, fmt.Errorf("queueing revalidation of %s (%s): %w", id, trigger, err)
		}
		if ok {
			n++
		}
	}
	if n > 0 {
		s.Wake()
	}
	return n, nil
}

// EnqueueAll queues a revalidation of every certified and suspended
// version, and returns how many were queued.
func (s *Scheduler) EnqueueAll(ctx context.Context, actor, why string) (int, error) {
	n := 0
	err := s.each(ctx, []lifecycle.State{lifecycle.Certified, lifecycle.Suspended}, func(r domain.Revalidation) error {
		ok, err := s.Enqueue(ctx, r.VersionID, actor, why)
		if ok {
			n++
		}
		return err
	})
	if n > 0 {
		s.Wake()
	}
	return n, err
}

// each calls fn for the schedule of every version in states, after
// scheduling the versions that have none yet.
func (s *Scheduler) each(ctx context.Context, states []lifecycle.State, fn func(domain.Revalidation) error) error {
	if err := s.schedule(ctx); err != nil {
		return err
	}
	after := ""
	for {
		rs, err := s.cfg.Store.ListRevalidations(ctx, domain.RevalidationQuery{States: states, AfterVersion: after, Limit: page})
		if err != nil {
			return fmt.Errorf("listing revalidation schedules: %w", err)
		}
		for _, r := range rs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rs) < page {
			return nil
		}
		after = rs[len(rs)-1].VersionID
	}
}

// schedule gives every certified version without a schedule its first
// revalidation time: its tier's cadence after it was certified, by the
// active policy's decision on its stored verdict. A version whose cadence
// cannot be decided is revalidated now, which settles it.
func (s *Scheduler) schedule(ctx context.Context) error {
	for {
		vs, err := s.cfg.Store.UnscheduledVersions(ctx, []lifecycle.State{lifecycle.Certified, lifecycle.Suspended}, page)
		if err != nil {
			return fmt.Errorf("finding unscheduled versions: %w", err)
		}
		for _, v := range vs {
			r := domain.Revalidation{VersionID: v.ID, PluginID: v.PluginID, NextAt: s.cfg.Now(), UpdatedAt: s.cfg.Now()}
			if d, err := s.storedDecision(ctx, v.ID); err == nil {
				r.Tier, r.NextAt = string(d.Tier), v.UpdatedAt.Add(days(d.RevalidationDays))
			} else if !errors.Is(err, domain.ErrNotFound) {
				s.cfg.Log.Warn("no revalidation cadence; revalidating now", "version", v.ID, "err", err)
			}
			if err := s.cfg.Store.SaveRevalidation(ctx, r, nil); err != nil {
				return fmt.Errorf("scheduling %s: %w", v.ID, err)
			}
		}
		if len(vs) < page {
			return nil
		}
	}
}

// storedDecision re-decides a version's stored triage input under the
// active policy.
func (s *Scheduler) storedDecision(ctx context.Context, versionID string) (policy.Decision, error) {
	vd, err := s.cfg.Store.LatestVerdict(ctx, versionID)
	if err != nil {
		return policy.Decision{}, err
	}
	var tv triage.Verdict
	if err := json.Unmarshal(vd.Body, &tv); err != nil {
		return policy.Decision{}, fmt.Errorf("reading the verdict of %s: %w", versionID, err)
	}
	return s.cfg.Policy().Decide(ctx, tv.Input)
}

// runJob revalidates one version; when its last attempt fails it records
// that (gaveUp) before River discards the job.
func (s *Scheduler) runJob(ctx context.Context, job *river.Job[revalidateJob]) error {
	args := job.Args.jobArgs
	if args.Actor == "" {
		args.Actor = "system"
	}
	id := job.Args.Version
	runErr := s.revalidate(ctx, id, args)
	switch {
	case runErr == nil, ctx.Err() != nil:
	case store.LastAttempt(job.JobRow):
		s.cfg.Log.Error("revalidation failed; giving up until later", "version", id, "attempts", job.Attempt, "err", runErr)
		s.gaveUp(ctx, id, runErr)
	default:
		s.cfg.Log.Warn("revalidation failed; will retry", "version", id, "attempt", job.Attempt, "retry_in", retry.After(job.Attempt), "err", runErr)
	}
	return runErr
}

// gaveUp records that a version could not be revalidated, so stewards see
// it, and tries again after retryLater. The certificate's own expiry still
// bounds how long the version stays trusted without a revalidation.
func (s *Scheduler) gaveUp(ctx context.Context, id string, cause error) {
	r, err := s.cfg.Store.GetRevalidation(ctx, id)
	if err != nil {
		s.cfg.Log.Error("reading the schedule of a failed revalidation", "version", id, "err", err)
		return
	}
	now := s.cfg.Now()
	reason := truncate("revalidation could not complete: "+cause.Error(), 4096)
	r.LastRunAt, r.LastOutcome, r.LastReason, r.UpdatedAt = now, Errored, reason, now
	if r.Deadline.IsZero() {
		r.NextAt = now.Add(retryLater)
	}
	ev := audit.Event{Time: now, Actor: "system", Action: audit.RevalidationErrored, Subject: "submission:" + id, Reason: reason}
	if err := s.cfg.Store.SaveRevalidation(ctx, r, []audit.Event{ev}); err != nil {
		s.cfg.Log.Error("recording a failed revalidation", "version", id, "err", err)
	}
}

// revalidate runs one job: a check of a certified version (or of a
// suspended one before its deadline, on request), or the end of a
// suspended version's remediation time.
func (s *Scheduler) revalidate(ctx context.Context, id string, args jobArgs) error {
	v, err := s.cfg.Store.GetVersion(ctx, id)
	if err != nil {
		return fmt.Errorf("reading version %s: %w", id, err)
	}
	if v.State != lifecycle.Certified && v.State != lifecycle.Suspended {
		return nil // revoked or never certified: nothing to revalidate
	}
	r, err := s.cfg.Store.GetRevalidation(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		r = domain.Revalidation{VersionID: v.ID, PluginID: v.PluginID}
	case err != nil:
		return err
	}
	if v.State == lifecycle.Suspended {
		switch {
		case r.Deadline.IsZero():
			// Suspended by something other than revalidation (an incident,
			// a steward) or superseded by a fix: whoever suspended it
			// decides; a passing analyzer run must not quietly restore it.
			return nil
		case !r.Deadline.After(s.cfg.Now()):
			return s.expire(ctx, v, r, args)
		}
	}
	return s.check(ctx, v, r, args)
}

// Problem is one thing a publisher must fix.
type Problem struct {
	Rule        string `json:"rule"`
	Message     string `json:"message"`
	Remediation string `json:"remediation,omitempty"`
}

func (p Problem) String() string {
	if p.Rule == "" {
		return p.Message
	}
	return p.Rule + ": " + p.Message
}

// check re-runs the analyzers and the policy over a version and renews or
// suspends it.
func (s *Scheduler) check(ctx context.Context, v domain.Version, r domain.Revalidation, args jobArgs) error {
	rv, err := s.cfg.Vetter.Revet(ctx, v.ID, args.Actor, "revalidation: "+args.Why)
	if err != nil {
		return fmt.Errorf("re-running the analyzers: %w", err)
	}
	if s.cfg.HostAPI != nil {
		// The matrix is information for authors and hosts, not a verdict
		// on the version: a host API it does not fit never suspends it, and
		// a check that cannot run leaves the cells as they were.
		if err := s.cfg.HostAPI.CheckVersion(ctx, v, rv.Input); err != nil {
			s.cfg.Log.Warn("checking the version against the published host API versions", "version", v.ID, "err", err)
		}
	}
	prev := s.previousManifest(ctx, v)
	var manifestNow *manifest.Manifest
	if rv.Input != nil {
		manifestNow = rv.Input.Manifest
	}
	verdict, problems, err := s.judge(ctx, v, manifestNow, prev, rv.Results, s.cfg.Policy())
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	sigProblem, err := s.checkSignature(ctx, v)
	if err != nil {
		return err
	}
	if sigProblem != nil {
		problems = append(problems, *sigProblem)
	}
	if r.NeedsReview {
		problems = append(problems, Problem{Rule: "people-review", Message: "revalidation was routed to people: " + r.ReviewReason,
			Remediation: "a steward looks at the version and runs gatehouse revalidate --reviewed VERSION to let the analyzers decide again"})
	}
	r.LastRunAt, r.UpdatedAt = now, now
	if verdict != nil {
		r.Tier = string(verdict.Tier)
	}
	if len(problems) == 0 {
		reason := "revalidation passed (" + args.Why + ")"
		if _, err := s.cfg.Certifier.Renew(ctx, v.ID, args.Actor, truncate(reason, 4096)); err != nil {
			return fmt.Errorf("renewing the certificate: %w", err)
		}
		r.NextAt, r.Deadline, r.LastOutcome, r.LastReason = now.Add(days(verdict.Decision.RevalidationDays)), time.Time{}, Passed, reason
		data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "version": v.Version, "tier": r.Tier, "next": r.NextAt, "run": rv.Run.Run})
		ev := audit.Event{Time: now, Actor: args.Actor, Action: audit.RevalidationPassed, Subject: "submission:" + v.ID, Reason: reason, Data: data}
		return s.cfg.Store.SaveRevalidation(ctx, r, []audit.Event{ev})
	}

	summary := summarize(problems)
	remediation := 14
	if verdict != nil {
		remediation = verdict.Decision.RemediationDays
	}
	if r.Deadline.IsZero() {
		r.Deadline = now.Add(days(remediation))
	}
	if v.State == lifecycle.Certified {
		if err := s.cfg.Certifier.Suspend(ctx, v.ID, args.Actor, truncate("revalidation failed: "+summary, 4096), r.Deadline); err != nil {
			return fmt.Errorf("suspending: %w", err)
		}
	}
	r.NextAt, r.LastOutcome, r.LastReason = r.Deadline, Failed, truncate(summary, 4096)
	data, _ := json.Marshal(map[string]any{
		"plugin": v.PluginID, "version": v.Version, "tier": r.Tier, "deadline": r.Deadline, "run": rv.Run.Run,
		"problems": problems, "why": args.Why,
		"fix": "fix the problems, submit a new version of " + v.PluginID + " before the deadline; once it is certified it serves the plugin, and this version is not revoked",
	})
	ev := audit.Event{Time: now, Actor: args.Actor, Action: audit.RevalidationFailed, Subject: "submission:" + v.ID,
		Reason: truncate(fmt.Sprintf("%s@%s failed revalidation; fix by %s: %s", v.PluginID, v.Version, r.Deadline.UTC().Format(time.RFC3339), summary), 8192), Data: data}
	return s.cfg.Store.SaveRevalidation(ctx, r, []audit.Event{ev})
}

// checkSignature verifies a version's stored publisher signature again,
// against its namespace's keys as they are now: a retired key still
// vouches for what it signed while current (its window), a compromised one
// vouches for nothing. A version stored without a signature has nothing to
// re-check (its namespace did not require one when it was submitted).
func (s *Scheduler) checkSignature(ctx context.Context, v domain.Version) (*Problem, error) {
	sig, err := s.cfg.Store.GetSignature(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the publisher signature of %s: %w", v.ID, err)
	}
	ns, _, _ := strings.Cut(v.PluginID, "/")
	keys, err := s.cfg.Store.ListPublisherKeys(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("reading the publisher keys of namespace %s: %w", ns, err)
	}
	trusted := keys[:0:0]
	var compromised []string
	for _, k := range keys {
		if k.Compromised() {
			compromised = append(compromised, k.ID)
			continue
		}
		trusted = append(trusted, k)
	}
	_, err = certify.VerifySignature(sig.Envelope, v.Digest, certify.SignatureCheck{Keys: trusted, Root: s.cfg.SigstoreRoot, ReceivedAt: sig.CreatedAt})
	if err == nil {
		return nil, nil
	}
	msg := "the publisher signature no longer verifies with namespace " + ns + "'s keys: " + err.Error()
	if len(compromised) > 0 {
		msg += " (keys reported compromised: " + strings.Join(compromised, ", ") + ")"
	}
	return &Problem{Rule: "publisher-signature", Message: msg,
		Remediation: "sign a new version with a current key of the namespace (gatehouse namespace key list " + ns + ") and submit it"}, nil
}

// judge decides a version's results under a policy and lists what fails
// it. verdict is nil when the manifest no longer reads.
func (s *Scheduler) judge(ctx context.Context, v domain.Version, m, prev *manifest.Manifest, results []vet.Result, e *policy.Engine) (*triage.Verdict, []Problem, error) {
	var problems []Problem
	for _, res := range results {
		if !res.Blocking {
			continue
		}
		n := 0
		for _, f := range res.Findings {
			if f.Suppressed != nil {
				continue
			}
			problems = append(problems, Problem{Rule: f.RuleID, Message: f.Message, Remediation: f.Remediation})
			n++
		}
		if n == 0 {
			problems = append(problems, Problem{Rule: res.Analyzer, Message: fmt.Sprintf("the %s check %s: %s", res.Analyzer, res.Status, res.Reason)})
		}
	}
	if m == nil {
		problems = append(problems, Problem{Rule: "manifest", Message: "the manifest does not pass today's rules", Remediation: "see the manifest check's findings"})
		return nil, capProblems(problems), nil
	}
	facts := triage.Facts{Manifest: m, Previous: prev, Results: results, VetConfig: s.cfg.VetConfig, Publisher: policy.Publisher{InGoodStanding: true}}
	if vd, err := s.cfg.Store.LatestVerdict(ctx, v.ID); err == nil {
		var tv triage.Verdict
		if json.Unmarshal(vd.Body, &tv) == nil {
			facts.Publisher, facts.AutoApprovalOff, facts.HostErrorRate = tv.Input.Publisher, tv.Input.AutoApprovalOff, tv.Input.HostErrorRate
		}
	} else if !errors.Is(err, domain.ErrNotFound) {
		return nil, nil, err
	}
	in, err := triage.NewInput(facts)
	if err != nil {
		return nil, nil, fmt.Errorf("building the policy input of %s: %w", v.ID, err)
	}
	verdict, err := triage.Triage(ctx, e, in)
	if err != nil {
		return nil, nil, err
	}
	// Only a rejection fails a certified version: the auto-approval gates
	// ask whether people must look, and people already did or the gates
	// passed when it was certified.
	for _, d := range verdict.Decision.Deny {
		problems = append(problems, Problem{Rule: d.Rule, Message: d.Message, Remediation: d.Suggestion})
	}
	for _, id := range verdict.Decision.BlockingFindings {
		if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Rule == id }) {
			problems = append(problems, Problem{Rule: id, Message: "the policy blocks this finding"})
		}
	}
	return &verdict, capProblems(problems), nil
}

// expire ends a suspended version's remediation time: revoked, unless a
// newer version of the plugin is certified by now and serves the plugin
// instead (the old one stays suspended).
func (s *Scheduler) expire(ctx context.Context, v domain.Version, r domain.Revalidation, args jobArgs) error {
	now := s.cfg.Now()
	newer, err := s.newerCertified(ctx, v)
	if err != nil {
		return err
	}
	r.LastRunAt, r.UpdatedAt, r.Deadline = now, now, time.Time{}
	if newer != nil {
		r.LastOutcome = Superseded
		r.LastReason = fmt.Sprintf("%s@%s is certified and serves the plugin; %s stays suspended", newer.PluginID, newer.Version, v.Version)
		ev := audit.Event{Time: now, Actor: args.Actor, Action: audit.RevalidationSuperseded, Subject: "submission:" + v.ID, Reason: r.LastReason}
		return s.cfg.Store.SaveRevalidation(ctx, r, []audit.Event{ev})
	}
	reason := truncate("the remediation deadline passed with no fixed version certified; "+r.LastReason, 4096)
	if err := s.cfg.Certifier.Revoke(ctx, v.ID, args.Actor, reason); err != nil {
		return fmt.Errorf("revoking: %w", err)
	}
	r.LastOutcome, r.LastReason = Revoked, reason
	return s.cfg.Store.SaveRevalidation(ctx, r, nil) // Revoke recorded the events
}

// newerCertified returns a certified version of the same plugin above v,
// or nil.
func (s *Scheduler) newerCertified(ctx context.Context, v domain.Version) (*domain.Version, error) {
	cur, err := semver.NewVersion(v.Version)
	if err != nil {
		return nil, nil
	}
	vs, err := s.cfg.Store.ListVersions(ctx, v.PluginID)
	if err != nil {
		return nil, fmt.Errorf("listing versions of %s: %w", v.PluginID, err)
	}
	for i := range vs {
		if vs[i].State != lifecycle.Certified {
			continue
		}
		if sv, err := semver.NewVersion(vs[i].Version); err == nil && sv.GreaterThan(cur) {
			return &vs[i], nil
		}
	}
	return nil, nil
}

// RequestReview routes a version's next revalidation to people, with the
// reason, and queues it now.
func (s *Scheduler) RequestReview(ctx context.Context, versionID, actor, reason string, evs []audit.Event) error {
	v, err := s.cfg.Store.GetVersion(ctx, versionID)
	if err != nil {
		return err
	}
	r, err := s.cfg.Store.GetRevalidation(ctx, versionID)
	if errors.Is(err, domain.ErrNotFound) {
		r = domain.Revalidation{VersionID: v.ID, PluginID: v.PluginID, NextAt: s.cfg.Now()}
	} else if err != nil {
		return err
	}
	r.NeedsReview, r.ReviewReason, r.UpdatedAt = true, truncate(reason, 4096), s.cfg.Now()
	if err := s.cfg.Store.SaveRevalidation(ctx, r, evs); err != nil {
		return err
	}
	_, err = s.Enqueue(ctx, versionID, actor, reason)
	return err
}

// ClearReview records that a steward reviewed a version whose revalidation
// was routed to people, and queues a revalidation the analyzers decide.
func (s *Scheduler) ClearReview(ctx context.Context, versionID, actor string) error {
	r, err := s.cfg.Store.GetRevalidation(ctx, versionID)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	r.NeedsReview, r.ReviewReason, r.UpdatedAt = false, "", now
	ev := audit.Event{Time: now, Actor: actor, Action: audit.RevalidationReviewed, Subject: "submission:" + versionID, Reason: "a steward reviewed the version; the analyzers decide its next revalidation"}
	if err := s.cfg.Store.SaveRevalidation(ctx, r, []audit.Event{ev}); err != nil {
		return err
	}
	_, err = s.Enqueue(ctx, versionID, actor, "reviewed by "+actor)
	return err
}

func summarize(ps []Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

func capProblems(ps []Problem) []Problem {
	if len(ps) > MaxProblems {
		extra := len(ps) - MaxProblems
		ps = append(ps[:MaxProblems:MaxProblems], Problem{Message: fmt.Sprintf("and %d more", extra)})
	}
	for i := range ps {
		ps[i].Message = truncate(ps[i].Message, 512)
		ps[i].Remediation = truncate(ps[i].Remediation, 512)
	}
	return ps
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
