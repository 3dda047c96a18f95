// Package retention purges the marketplace's own personal data once its
// retention ends: the audit trail's actors and token subjects,
// pseudonymised in place (audit.Pseudonymise) so that the chain still
// verifies, and the tokens that expired or were revoked before the
// cut-off, deleted with the subjects they were issued to. Every purge that
// changes anything is itself an audit event. The job runs on its own River
// queue, one worker, periodically.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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

// Limits and default of the personal data retention: at least 30 days
// (an incident is investigated with names), at most 10 years; by default
// 400 days, a year of audits and a month to act on them.
const (
	DefaultRetention = 400 * 24 * time.Hour
	MinRetention     = 30 * 24 * time.Hour
	MaxRetention     = 10 * 365 * 24 * time.Hour
	// Batch bounds one purge transaction; a longer backlog is worked by
	// the following runs.
	Batch = 5000
)

// Config configures a Service.
type Config struct {
	Store store.Store
	// Retention is how long an audit event keeps its actor and token
	// subject in clear, and a token its row once it expired or was
	// revoked (default DefaultRetention).
	Retention time.Duration
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
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if err := CheckRetention(cfg.Retention); err != nil {
		return nil, fmt.Errorf("retention: %w", err)
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
	// TokensDeleted counts the tokens that expired or were revoked before
	// the cut-off, deleted with their subjects.
	TokensDeleted int
}

// Purge deletes the tokens that ended before the retention's cut-off and
// pseudonymises the audit events older than it, a batch at a time,
// recording one audit event per batch that changed anything. Tokens go
// first, so the purge's own token.purge event is recent and the events
// naming the deleted tokens are pseudonymised in the same run.
func (s *Service) Purge(ctx context.Context) (Result, error) {
	now := s.cfg.Now()
	res := Result{Before: now.Add(-s.cfg.Retention)}
	cut := res.Before.UTC().Format(time.RFC3339) + " (retention " + days(s.cfg.Retention) + ")"
	for {
		ev := audit.Event{Time: now, Actor: "system", Action: audit.TokenPurge, Subject: "tokens",
			Reason: "tokens expired or revoked before " + cut}
		n, err := s.cfg.Store.PurgeTokens(ctx, res.Before, Batch, ev)
		if err != nil {
			return res, fmt.Errorf("retention: purging tokens: %w", err)
		}
		res.TokensDeleted += n
		if n < Batch {
			break
		}
	}
	for {
		ev := audit.Event{Time: now, Actor: "system", Action: audit.AuditPseudonymise, Subject: "audit",
			Reason: "audit subjects older than " + cut}
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
	if res.Pseudonymised > 0 || res.SealedBefore > 0 || res.TokensDeleted > 0 {
		s.cfg.Log.Info("retention purge", "before", res.Before, "tokens_deleted", res.TokensDeleted, "pseudonymised", res.Pseudonymised, "sealed_before_salts", res.SealedBefore)
	}
	return res, nil
}

// CheckRetention reports whether d is within MinRetention..MaxRetention.
func CheckRetention(d time.Duration) error {
	if d < MinRetention || d > MaxRetention {
		return fmt.Errorf("the personal data retention %s is outside 30d..3650d; give a number of days between 30 and 3650, such as 400d", days(d))
	}
	return nil
}

// ParseDays reads a retention written as days, such as 400d (the unit
// people keep retention in; time.ParseDuration stops at hours), and checks
// it is within MinRetention..MaxRetention.
func ParseDays(s string) (time.Duration, error) {
	n, ok := strings.CutSuffix(s, "d")
	// Digits only (no sign, no spaces), at most 6 of them: Atoi cannot
	// overflow and the multiplication below cannot wrap into range.
	digits := ok && n != "" && len(n) <= 6 && strings.Trim(n, "0123456789") == ""
	v, err := strconv.Atoi(n)
	if !digits || err != nil {
		return 0, fmt.Errorf("%q is not a number of days; give one between 30 and 3650, such as 400d", s)
	}
	if v < 30 || v > 3650 {
		return 0, fmt.Errorf("%s is outside 30d..3650d; give a number of days between 30 and 3650, such as 400d", s)
	}
	d := time.Duration(v) * 24 * time.Hour
	return d, CheckRetention(d)
}

// days writes d as whole days (400d) when it is, else as a duration.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

type purgeJob struct{}

func (purgeJob) Kind() string { return PurgeKind }

func (purgeJob) InsertOpts() river.InsertOpts {
	// The queue is named here too, for inserts other than the periodic
	// tick (which store.Periodic puts in this queue).
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
