// Package retention purges the marketplace's own personal data once its
// retention ends: the audit trail's actors, token subjects and the
// reasons and data that name people, pseudonymised in place
// (audit.Pseudonymise) so that the chain still verifies; the tokens that
// expired or were revoked before the cut-off, deleted with the subjects
// they were issued to; old field health reports and votes, sent webhook
// deliveries and disabled webhooks, deleted. Every purge that changes
// anything is itself an audit event. The job runs on its own River queue,
// one worker, periodically.
//
// The retention is the installation's, recorded in the database (Adopt):
// every process sharing it purges on the same one.
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
	"gatehouse.dev/gatehouse/internal/domain"
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
	// Retention is used when the database records none (a store that
	// was never Adopted); each run otherwise purges on the database's
	// (default DefaultRetention).
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
	// Records counts the other rows deleted (store.Purged).
	Records store.Purged
}

// Purge deletes the tokens that ended before the retention's cut-off and
// pseudonymises the audit events older than it, a batch at a time,
// recording one audit event per batch that changed anything. Tokens go
// first, so the purge's own token.purge event is recent and the events
// naming the deleted tokens are pseudonymised in the same run.
func (s *Service) Purge(ctx context.Context) (Result, error) {
	now := s.cfg.Now()
	keep, err := s.retention(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Before: now.Add(-keep)}
	cut := res.Before.UTC().Format(time.RFC3339) + " (retention " + days(keep) + ")"
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
		ev := audit.Event{Time: now, Actor: "system", Action: audit.RecordsPurge, Subject: "records",
			Reason: "health reports, webhook deliveries and disabled webhooks older than " + cut}
		p, err := s.cfg.Store.PurgeRecords(ctx, res.Before, Batch, ev)
		if err != nil {
			return res, fmt.Errorf("retention: purging health reports and webhooks: %w", err)
		}
		res.Records.HealthReports += p.HealthReports
		res.Records.HealthVotes += p.HealthVotes
		res.Records.Deliveries += p.Deliveries
		res.Records.Webhooks += p.Webhooks
		if p.HealthReports < Batch && p.HealthVotes < Batch && p.Deliveries < Batch && p.Webhooks < Batch {
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
	if res.Pseudonymised > 0 || res.SealedBefore > 0 || res.TokensDeleted > 0 || res.Records.Total() > 0 {
		s.cfg.Log.Info("retention purge", "before", res.Before, "tokens_deleted", res.TokensDeleted, "pseudonymised", res.Pseudonymised,
			"sealed_before_salts", res.SealedBefore, "health_reports_deleted", res.Records.HealthReports, "health_votes_deleted", res.Records.HealthVotes,
			"deliveries_deleted", res.Records.Deliveries, "webhooks_deleted", res.Records.Webhooks)
	}
	return res, nil
}

// retention is the database's retention, or the configured one when the
// database records none.
func (s *Service) retention(ctx context.Context) (time.Duration, error) {
	v, _, err := s.cfg.Store.Setting(ctx, store.SettingPersonalDataRetention)
	if errors.Is(err, domain.ErrNotFound) {
		return s.cfg.Retention, nil
	}
	if err != nil {
		return 0, fmt.Errorf("retention: reading the database's retention: %w", err)
	}
	d, err := ParseDays(v)
	if err != nil {
		return 0, fmt.Errorf("retention: the database records the retention %q, which is not valid: %w", v, err)
	}
	return d, nil
}

// Adopt settles the retention of a process that starts on a database
// (every process sharing it must purge on the same retention, or the one
// with the shortest decides for all). given is the process's
// --personal-data-retention, zero when it was not given.
//
//   - The database records none (its first start): given, or
//     DefaultRetention, is recorded with a personal-data-retention.set
//     event.
//   - It records one and given is zero or the same: that one.
//   - It records another: an error naming both values and the fix,
//     unless change is set (--change-personal-data-retention): then given
//     replaces it, with its event, and the other processes purge on it
//     from their next run.
func Adopt(ctx context.Context, st store.Settings, given time.Duration, change bool, now time.Time) (time.Duration, error) {
	if given != 0 {
		if err := CheckRetention(given); err != nil {
			return 0, err
		}
	}
	if change && given == 0 {
		return 0, errors.New("--change-personal-data-retention needs --personal-data-retention with the new value, such as 400d")
	}
	// Two tries: a process that started at the same moment may record
	// the first value between the read and the write.
	for try := 0; ; try++ {
		v, at, err := st.Setting(ctx, store.SettingPersonalDataRetention)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			want := given
			if want == 0 {
				want = DefaultRetention
			}
			err := st.SetSetting(ctx, store.SettingPersonalDataRetention, "", days(want), now, setEvent(now, "", days(want), "recorded by the first process to start on this database"))
			if errors.Is(err, domain.ErrStateChanged) && try == 0 {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("recording the personal data retention: %w", err)
			}
			return want, nil
		case err != nil:
			return 0, fmt.Errorf("reading the personal data retention: %w", err)
		}
		cur, err := ParseDays(v)
		if err != nil {
			return 0, fmt.Errorf("the database records the personal data retention %q, which is not valid: %w", v, err)
		}
		if given == 0 || given == cur {
			return cur, nil
		}
		if !change {
			return 0, fmt.Errorf("--personal-data-retention %s differs from the %s this database keeps personal data for (set %s), and every process sharing a database purges on the same retention: start this process with --personal-data-retention %s or without the flag, or, to change the installation's retention, add --change-personal-data-retention (recorded in the audit trail; the other processes follow at their next purge)",
				days(given), v, at.UTC().Format(time.RFC3339), v)
		}
		err = st.SetSetting(ctx, store.SettingPersonalDataRetention, v, days(given), now, setEvent(now, v, days(given), "changed by a process started with --change-personal-data-retention"))
		if errors.Is(err, domain.ErrStateChanged) && try == 0 {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("changing the personal data retention from %s to %s: %w", v, days(given), err)
		}
		return given, nil
	}
}

func setEvent(now time.Time, from, to, why string) audit.Event {
	return audit.Event{Time: now, Actor: "system", Action: audit.PersonalDataRetentionSet, Subject: "setting:" + store.SettingPersonalDataRetention,
		OldState: from, NewState: to, Reason: why}
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
