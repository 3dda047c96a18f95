package marketplace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store/postgres"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
)

// AuditTrail is a marketplace's audit trail read straight from its
// database, for the offline checks of "gatehouse audit --data/--database"
// that must work when the server is down.
type AuditTrail interface {
	ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error
	Close() error
}

// OpenAuditTrail opens the audit trail of the PostgreSQL database at
// databaseURL or, when that is empty, of the SQLite store in the data
// folder. It never creates a store: a folder without one is an error.
func OpenAuditTrail(ctx context.Context, data, databaseURL string) (AuditTrail, error) {
	if databaseURL != "" {
		return postgres.Open(ctx, databaseURL)
	}
	path := filepath.Join(data, "gatehouse.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no Gatehouse store in %s: %w", data, err)
	}
	return sqlite.OpenExisting(ctx, path)
}
