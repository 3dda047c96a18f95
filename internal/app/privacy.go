package app

import (
	"context"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/privacy"
)

// privacyReaders see the steward's view across the catalog.
var privacyReaders = []domain.Role{domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor}

// PrivacyReport is the privacy report of submission id: its data flows,
// the decision on each, their retention and evidence, and the change since
// the previous released version. Whoever may read the submission may read
// it.
func (a *App) PrivacyReport(ctx context.Context, caller domain.Principal, id string) (*api.PrivacyReport, error) {
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return nil, err
	}
	return privacy.Report(ctx, a.cfg.Store, v, a.Now())
}

// DataCategories is the steward's view: which released plugin versions
// touch which categories of user data, and where the data goes.
func (a *App) DataCategories(ctx context.Context, caller domain.Principal) (*api.DataCategories, error) {
	if err := allow(caller, "read which plugins touch which data", privacyReaders...); err != nil {
		return nil, err
	}
	return privacy.Categories(ctx, a.cfg.Store)
}
