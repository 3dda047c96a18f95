package store

import (
	"context"
	"time"
)

// Leases elect one process for work only one may do at a time, such as
// integrating the transparency log. A lease is timed on the database's
// clock; a holder that stops renewing it loses it when it runs out, and any
// other process may then take it. Leases are operational records, not
// audited.
type Leases interface {
	// AcquireLease takes or renews the lease name for holder for ttl and
	// reports whether holder has it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// LeaseLive reports whether someone holds the lease name now.
	LeaseLive(ctx context.Context, name string) (bool, error)
}
