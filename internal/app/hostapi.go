package app

import (
	"context"
	"errors"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hostcompat"
)

// Host API versions as first-class objects (issue 19 item 6): stewards
// publish them; anyone signed in reads the compatibility matrix of the
// versions they may see; the published versions (what hosts and
// check-upgrade read) are open to every token, hosts included; the
// deprecation calendar is public, and the plugins a sunset affects are
// shown to those who may see them.

func (a *App) hostAPIOn() error {
	if a.cfg.HostAPI == nil {
		return Refuse(KindUnavailable, "hostapi_disabled", "this server runs without host API versions (they need revalidation, which needs the certifier)")
	}
	return nil
}

// PublishHostAPI publishes a host API version (stewards).
func (a *App) PublishHostAPI(ctx context.Context, caller domain.Principal, req hostcompat.PublishRequest) (hostcompat.Published, error) {
	if err := a.hostAPIOn(); err != nil {
		return hostcompat.Published{}, err
	}
	if err := allow(caller, "publish a host API version", monitorStewards...); err != nil {
		return hostcompat.Published{}, err
	}
	req.Actor = caller.Subject
	out, err := a.cfg.HostAPI.Publish(ctx, req)
	switch {
	case errors.Is(err, domain.ErrInvalid):
		return out, &Error{Kind: KindInvalid, Code: "bad_host_api", Msg: err.Error(), Err: err}
	case errors.Is(err, domain.ErrConflict):
		return out, &Error{Kind: KindConflict, Code: "host_api_published", Msg: err.Error(), Err: err}
	}
	return out, err
}

// PublishedHostAPIs lists the published host API versions, newest first
// (any token, hosts included).
func (a *App) PublishedHostAPIs(ctx context.Context, caller domain.Principal) ([]hostapi.Published, error) {
	if err := a.hostAPIOn(); err != nil {
		return nil, err
	}
	if caller.Role == "" {
		return nil, Errorf(KindUnauthenticated, "sign in to read the host API versions")
	}
	return a.cfg.HostAPI.Published(ctx)
}

// HostAPIMatrix returns the compatibility matrix cells q selects, of the
// versions the caller may see (signed in, not a host).
func (a *App) HostAPIMatrix(ctx context.Context, caller domain.Principal, q domain.CompatQuery) (hostcompat.Matrix, error) {
	if err := a.hostAPIOn(); err != nil {
		return hostcompat.Matrix{}, err
	}
	if err := signedIn(caller, "read the compatibility matrix"); err != nil {
		return hostcompat.Matrix{}, err
	}
	m, err := a.cfg.HostAPI.Matrix(ctx, q)
	if err != nil {
		return m, err
	}
	if caller.Oversees() {
		return m, nil
	}
	shown := m.Cells[:0]
	for _, c := range m.Cells {
		v, err := a.cfg.Store.GetVersion(ctx, c.VersionID)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return m, err
		}
		ok, err := caller.CanSeeVersion(ctx, a.cfg.Store, v.PluginID, v.State)
		if err != nil {
			return m, err
		}
		if ok {
			shown = append(shown, c)
		}
	}
	m.Cells = shown
	return m, nil
}

// HostAPICalendar lists the announced sunsets, soonest first (anyone).
// The plugins each affects are listed only to those who may read their
// submissions (domain.Principal.CanSee): every plugin to the overseers,
// its own namespaces' to a publisher, none to anyone else.
func (a *App) HostAPICalendar(ctx context.Context, caller domain.Principal) ([]hostcompat.Entry, error) {
	if err := a.hostAPIOn(); err != nil {
		return nil, err
	}
	entries, err := a.cfg.HostAPI.Calendar(ctx, "")
	if err != nil {
		return nil, err
	}
	for i := range entries {
		shown := entries[i].Affected[:0]
		for _, af := range entries[i].Affected {
			ok, err := caller.CanSee(ctx, a.cfg.Store, af.PluginID)
			if err != nil {
				return nil, err
			}
			if ok {
				shown = append(shown, af)
			}
		}
		entries[i].Affected = shown
	}
	return entries, nil
}

// HostAPINotices lists the newest sunset notices sent for the plugins
// whose submissions the caller may read: a publisher's own, or every
// plugin's for the overseers.
func (a *App) HostAPINotices(ctx context.Context, caller domain.Principal, limit int) ([]domain.HostAPINotice, error) {
	if err := a.hostAPIOn(); err != nil {
		return nil, err
	}
	if err := signedIn(caller, "read sunset notices"); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	ns := ""
	if caller.Namespace != "" && !caller.Oversees() {
		ns = caller.Namespace
	}
	all, err := a.cfg.HostAPI.Notices(ctx, ns, limit)
	if err != nil {
		return nil, err
	}
	shown := all[:0]
	for _, n := range all {
		ok, err := caller.CanSee(ctx, a.cfg.Store, n.PluginID)
		if err != nil {
			return nil, err
		}
		if ok {
			shown = append(shown, n)
		}
	}
	return shown, nil
}
