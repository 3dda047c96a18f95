package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
)

// Jobs is the queue of background work. At most one job per (Kind, Key) is
// queued or running at a time, so the same version is never vetted twice at
// once.
//
// A job's life is an operational record, not an audit event: the steps the
// job takes record their own changes.
type Jobs interface {
	// EnqueueJob adds j unless one with its Kind and Key is already queued
	// or running (then enqueued is false).
	EnqueueJob(ctx context.Context, j domain.Job) (enqueued bool, err error)
	// ClaimJob leases the next due job of one of kinds until now+lease, or
	// returns ErrNotFound. A job whose lease ran out (its worker died) is
	// due again.
	ClaimJob(ctx context.Context, kinds []string, now time.Time, lease time.Duration) (domain.Job, error)
	// FinishJob marks a claimed job done.
	FinishJob(ctx context.Context, id int64, now time.Time) error
	// RetryJob puts a claimed job back in the queue for at, with its error.
	RetryJob(ctx context.Context, id int64, lastErr string, at time.Time) error
	// FailJob gives up on a job (it stays, with its error, for operators).
	FailJob(ctx context.Context, id int64, lastErr string, now time.Time) error
	// ListJobs lists jobs in a state ("queued", "running", "done",
	// "failed").
	ListJobs(ctx context.Context, state string, limit int) ([]domain.Job, error)
}

// JobOutcomes are the calls that settle a claimed job; any Jobs is one.
type JobOutcomes interface {
	FinishJob(ctx context.Context, id int64, now time.Time) error
	RetryJob(ctx context.Context, id int64, lastErr string, at time.Time) error
	FailJob(ctx context.Context, id int64, lastErr string, now time.Time) error
}

// Retry is how a failed job is retried: after First, doubling each time,
// until Attempts claims have failed.
type Retry struct {
	Attempts int
	First    time.Duration
}

// Settle records the outcome of a claimed job whose run returned runErr:
// done when it is nil, queued again after the backoff (retryIn) while
// attempts remain, failed otherwise (gaveUp), kept with its error for
// operators. A run cut short because ctx ended is left leased, so it runs
// again when the lease runs out; Settle then records nothing.
func Settle(ctx context.Context, q JobOutcomes, job domain.Job, runErr error, now time.Time, r Retry) (gaveUp bool, retryIn time.Duration, err error) {
	switch {
	case runErr == nil:
		return false, 0, q.FinishJob(ctx, job.ID, now)
	case ctx.Err() != nil:
		return false, 0, nil
	case job.Attempts >= r.Attempts:
		return true, 0, q.FailJob(ctx, job.ID, runErr.Error(), now)
	}
	retryIn = r.First << (job.Attempts - 1)
	return false, retryIn, q.RetryJob(ctx, job.ID, runErr.Error(), now.Add(retryIn))
}
