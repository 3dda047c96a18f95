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
