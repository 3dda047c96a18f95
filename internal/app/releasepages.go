package app

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
)

// Reads for the release pages (issue 18 item 6).

// VersionHealth is what the hosts of one environment reported about one
// version since the environment's release changed to it.
type VersionHealth struct {
	Environment string
	VersionID   string
	Version     string
	// Previous marks the version hosts outside a partial rollout keep.
	Previous     bool
	Since        time.Time
	Reports      int
	Hosts        int
	Calls        int64
	Errors       int64
	BreakerTrips int64
	ErrorRate    float64
}

// ReleaseHealth returns, for each environment in order, the health hosts
// reported of its release's version and, when the rollout is partial, of
// the previous version, both since the release began. Health reports are
// for the overseers, as GET /api/v1/health/{id}.
func (a *App) ReleaseHealth(ctx context.Context, caller domain.Principal, pluginID string) ([]VersionHealth, error) {
	if err := allow(caller, "read health reports", overseerRoles...); err != nil {
		return nil, err
	}
	rs, err := a.cfg.Store.PluginReleases(ctx, pluginID)
	if err != nil {
		return nil, err
	}
	byEnv := map[string]domain.Release{}
	for _, r := range rs {
		byEnv[r.Environment] = r
	}
	var out []VersionHealth
	for _, env := range a.environments() {
		r, ok := byEnv[env]
		if !ok {
			continue
		}
		type one struct {
			id, version string
			previous    bool
		}
		vs := []one{{r.VersionID, r.Version, false}}
		if !r.Complete() {
			vs = append(vs, one{r.PreviousID, r.Previous, true})
		}
		for _, v := range vs {
			h, err := a.healthFacts(ctx, v.id, env, r.Since)
			if err != nil {
				return nil, err
			}
			out = append(out, VersionHealth{Environment: env, VersionID: v.id, Version: v.version, Previous: v.previous, Since: r.Since,
				Reports: h.Reports, Hosts: len(h.Hosts), Calls: h.Calls, Errors: h.Errors, BreakerTrips: h.BreakerTrips, ErrorRate: h.ErrorRate})
		}
	}
	return out, nil
}

// MayChangeReleases returns nil when caller may change pluginID's
// releases (grow, pause, resume, abort, roll back): stewards, and the
// publishers of its namespace.
func (a *App) MayChangeReleases(ctx context.Context, caller domain.Principal, pluginID string) error {
	return a.mayRelease(ctx, caller, pluginID)
}
