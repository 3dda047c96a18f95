// Package retention purges the marketplace's own personal data once its
// retention ends. Today that is the audit trail's actors and token
// subjects, pseudonymised in place (audit.Pseudonymise) so that the chain
// still verifies; every purge that changes anything is itself an audit
// event. The job runs on its own River queue, one worker, periodically.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/store"
)

// Queue is the River queue of the purge job; PurgeKind its job kind.
const (
	Queue     = "retention"
	PurgeKind = "retention_purge"
)

// Limits and defaults of the audit subjects' retention: at least 30 days
// (an incident is investigated with names), at most 10 years; by default
// 400 days, a year of audits and a month to act on them.
const (
	DefaultAuditSubjects = 400 * 24 * time.Hour
	MinAuditSubjects     = 30 * 24 * time.Hour
	MaxAuditSubjects     = 10 * 365 * 24 * time.Hour
	// Batch bounds one purge transaction; a longer backlog is worked by
	// the following runs.
	Batch = 5000
)

// Config configures a Service.
type Config struct {
	Store store.Store
	// AuditSubjects is how long an audit event keeps its actor and token
	// subject in clear (default DefaultAuditSubjects).
	AuditSubjects time.Duration
	// Every is how often the purge runs (default 24h).
	Every time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// Service runs the purge.
type Service struct {
	cfg Config
	q   store.Queue
}

// New checks cfg and opens the purge's queue.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("retention: a store is required")
	}
	if cfg.AuditSubjects == 0 {
		cfg.AuditSubjects = DefaultAuditSubjects
	}
	if cfg.AuditSubjects < MinAuditSubjects || cfg.AuditSubjects > MaxAuditSubjects {
		return nil, fmt.Errorf("retention: the audit subjects' retention %s is outside %s..%s; set it in days between 30 and 3650", cfg.AuditSubjects, MinAuditSubjects, MaxAuditSubjects)
	}
	clock := cfg.Now
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Every <= 0 {
		cfg.Every = 24 * time.Hour
	}
	s := &Service{cfg: cfg}
	// store.Periodic inserts each tick into this queue (a bare River
	// periodic job would go to the default queue, which nothing works).
	tick := store.Periodic{Every: cfg.Every, Args: func() river.JobArgs { return purgeJob{} }, RunOnStart: true}
	q, err := cfg.Store.JobQueue(store.QueueConfig{
		Name:        Queue,
		Workers:     []store.Worker{store.Work[purgeJob](&purgeWorker{s: s})},
		MaxWorkers:  1,
		Periodic:    []store.Periodic{tick},
		RescueAfter: 30 * time.Minute,
		Now:         clock,
		Log:         cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the retention job queue: %w", err)
	}
	s.q = q
	return s, nil
}

// Queue is the purge's queue (Start/Stop, RunPending in tests).
func (s *Service) Queue() store.Queue { return s.q }

// Result is what one purge did.
type Result struct {
	Before        time.Time
	Pseudonymised int
	// SealedBefore counts events older than the cut-off written before
	// events were sealed with salts: they keep their subjects (see
	// docs/decisions.md).
	SealedBefore int
}

// Purge pseudonymises the audit events older than the retention, a batch
// at a time, recording one audit event per batch that changed anything.
func (s *Service) Purge(ctx context.Context) (Result, error) {
	now := s.cfg.Now()
	res := Result{Before: now.Add(-s.cfg.AuditSubjects)}
	for {
		ev := audit.Event{Time: now, Actor: "system", Action: audit.AuditPseudonymise, Subject: "audit",
			Reason: "audit subjects older than " + res.Before.UTC().Format(time.RFC3339) + " (retention " + s.cfg.AuditSubjects.String() + ")"}
		n, old, err := s.cfg.Store.PseudonymiseAudit(ctx, res.Before, Batch, ev)
		if err != nil {
			return res, fmt.Errorf("retention: pseudonymising the audit trail: %w", err)
		}
		res.Pseudonymised += n
		res.SealedBefore = old
		if n < Batch {
			break
		}
	}
	if res.Pseudonymised > 0 || res.SealedBefore > 0 {
		s.cfg.Log.Info("retention purge", "before", res.Before, "pseudonymised", res.Pseudonymised, "sealed_before_salts", res.SealedBefore)
	}
	return res, nil
}

type purgeJob struct{}

func (purgeJob) Kind() string { return PurgeKind }

func (purgeJob) InsertOpts() river.InsertOpts {
	// The queue is named here too: River inserts the periodic job with
	// these options alone.
	return river.InsertOpts{Queue: Queue, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: store.ActiveStates}}
}

type purgeWorker struct {
	river.WorkerDefaults[purgeJob]
	s *Service
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeJob]) error {
	_, err := w.s.Purge(ctx)
	return err
}

// Work runs the purge's queue until ctx ends.
func (s *Service) Work(ctx context.Context) {
	if err := s.q.Start(ctx); err != nil {
		s.cfg.Log.Error("starting the retention job queue", "err", err)
		return
	}
	<-ctx.Done()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.q.Stop(stop); err != nil {
		s.cfg.Log.Warn("stopping the retention job queue", "err", err)
	}
}
