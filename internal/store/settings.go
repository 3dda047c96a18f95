package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
)

// The settings every process sharing a database must agree on.
const (
	// SettingPersonalDataRetention is the personal data retention in
	// days ("400"), recorded by the first process to start and changed
	// only deliberately (package retention).
	SettingPersonalDataRetention = "personal-data-retention"
	// SettingAdminBootstrapped is set, in the same transaction, when the
	// first admin token is made (BootstrapAdmin); its value says when or
	// how.
	SettingAdminBootstrapped = "admin-bootstrapped"
)

// Settings keeps values that belong to the installation rather than to a
// process's flags, so that every process reads the same one.
type Settings interface {
	// Setting returns a setting's value and when it was last set;
	// ErrNotFound when it never was.
	Setting(ctx context.Context, name string) (value string, at time.Time, err error)
	// SetSetting sets name to value, if its value is still expect (""
	// for never set), and records ev in the same transaction;
	// ErrStateChanged when another process set it meanwhile.
	SetSetting(ctx context.Context, name, expect, value string, at time.Time, ev audit.Event) error
}

// Purged counts what PurgeRecords deleted.
type Purged struct {
	HealthReports int // field health reports received before the cut-off
	HealthVotes   int // health votes last cast before the cut-off
	Deliveries    int // webhook deliveries delivered or dead, last changed before the cut-off
	Webhooks      int // webhooks disabled before the cut-off, with their remaining deliveries
}

// Total is the number of rows deleted.
func (p Purged) Total() int { return p.HealthReports + p.HealthVotes + p.Deliveries + p.Webhooks }

// Retention deletes the rows that hold personal data past the retention
// and serve nothing any more (package retention).
type Retention interface {
	// PurgeRecords deletes at most limit rows of each kind in Purged
	// whose time is before before, and records ev with the counts in the
	// same transaction; nothing is recorded when nothing was deleted.
	PurgeRecords(ctx context.Context, before time.Time, limit int, ev audit.Event) (Purged, error)
}
