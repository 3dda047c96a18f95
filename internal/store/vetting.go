package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Vetting keeps what the analyzers found: every run over a version, and
// reviewers' false-positive decisions.
//
// Each write records its audit event in the same transaction.
type Vetting interface {
	// SaveVetRun keeps one run of the analyzers over a version: it assigns
	// r.Run (1, 2, …) and records ev in the same transaction.
	SaveVetRun(ctx context.Context, r domain.VetRun, ev audit.Event) (domain.VetRun, error)
	// LatestVetRun returns the newest run for a version, or ErrNotFound.
	LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error)

	// AddSuppression records that a finding is a false positive, per
	// plugin and finding fingerprint; it carries forward to later versions
	// of the plugin.
	AddSuppression(ctx context.Context, s domain.Suppression, ev audit.Event) error
	ListSuppressions(ctx context.Context, pluginID string) ([]domain.Suppression, error)
}
