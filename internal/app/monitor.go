package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/vulndb"
)

// Monitoring certified versions: revalidation, the host API versions the
// platform offers, hosts' runtime health reports, and the vulnerability
// database whose imports trigger revalidation.

var (
	monitorStewards = []domain.Role{domain.RoleSteward}
	monitorAuditors = []domain.Role{domain.RoleSteward, domain.RoleAuditor}
	overseerRoles   = []domain.Role{domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor}
)

func (a *App) revalidationOn() error {
	if a.cfg.Revalidate == nil {
		return Refuse(KindUnavailable, "revalidation_disabled", "this server runs without revalidation")
	}
	return nil
}

// versionByRef finds a version by submission id or NS/NAME@VERSION.
func (a *App) versionByRef(ctx context.Context, ref string) (domain.Version, error) {
	if id, ver, ok := strings.Cut(ref, "@"); ok && strings.Contains(id, "/") {
		return a.cfg.Store.GetVersionByName(ctx, id, ver)
	}
	return a.cfg.Store.GetVersion(ctx, ref)
}

// RevalidateRequest asks for revalidation of one version (Version: its
// submission id or NS/NAME@VERSION) or of all (All). Reviewed records that
// a steward looked at a version whose revalidation health reports routed
// to people.
type RevalidateRequest struct {
	Version  string
	All      bool
	Reviewed bool
}

// Revalidation is what a revalidation request queued.
type Revalidation struct {
	Queued int
	Status string
}

// Revalidate queues revalidation now (stewards).
func (a *App) Revalidate(ctx context.Context, caller domain.Principal, req RevalidateRequest) (Revalidation, error) {
	if err := allow(caller, "request revalidation", monitorStewards...); err != nil {
		return Revalidation{}, err
	}
	if req.All == (req.Version != "") || (req.All && req.Reviewed) {
		return Revalidation{}, Refuse(KindInvalid, "bad_request", `send {"version": "ID or NS/NAME@VERSION"} (optionally with "reviewed": true) or {"all": true}`)
	}
	if err := a.revalidationOn(); err != nil {
		return Revalidation{}, err
	}
	rv := a.cfg.Revalidate
	if req.All {
		n, err := rv.EnqueueAll(ctx, caller.Subject, "requested by "+caller.Subject)
		if err != nil {
			return Revalidation{}, err
		}
		return Revalidation{Queued: n, Status: "revalidation of every certified and suspended version is queued"}, nil
	}
	v, err := a.versionByRef(ctx, req.Version)
	if errors.Is(err, domain.ErrNotFound) {
		return Revalidation{}, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no version " + req.Version, Err: err}
	}
	if err != nil {
		return Revalidation{}, err
	}
	name := v.PluginID + "@" + v.Version
	if v.State != lifecycle.Certified && v.State != lifecycle.Suspended {
		return Revalidation{}, Refuse(KindConflict, "wrong_state", name+" is "+string(v.State)+"; only certified and suspended versions are revalidated")
	}
	if req.Reviewed {
		err := rv.ClearReview(ctx, v.ID, caller.Subject)
		if errors.Is(err, domain.ErrNotFound) {
			return Revalidation{}, &Error{Kind: KindConflict, Code: "not_routed", Msg: name + " has no revalidation routed to people", Err: err}
		}
		if err != nil {
			return Revalidation{}, err
		}
		rv.Wake()
		return Revalidation{Queued: 1, Status: "recorded the review; the analyzers revalidate " + name + " now"}, nil
	}
	ok, err := rv.Enqueue(ctx, v.ID, caller.Subject, "requested by "+caller.Subject)
	if err != nil {
		return Revalidation{}, err
	}
	if !ok {
		return Revalidation{Status: "a revalidation of " + name + " is already queued or running"}, nil
	}
	rv.Wake()
	return Revalidation{Queued: 1, Status: "revalidation of " + name + " is queued"}, nil
}

// ListRevalidations lists revalidation schedules (stewards and auditors).
func (a *App) ListRevalidations(ctx context.Context, caller domain.Principal, q domain.RevalidationQuery) ([]domain.Revalidation, error) {
	if err := allow(caller, "list revalidations", monitorAuditors...); err != nil {
		return nil, err
	}
	return a.cfg.Store.ListRevalidations(ctx, q)
}

// RevalidationStatus is a version's revalidation schedule and its state.
type RevalidationStatus struct {
	domain.Revalidation
	State lifecycle.State
}

// GetRevalidation is one version's schedule (the overseers).
func (a *App) GetRevalidation(ctx context.Context, caller domain.Principal, ref string) (RevalidationStatus, error) {
	if err := allow(caller, "read revalidations", overseerRoles...); err != nil {
		return RevalidationStatus{}, err
	}
	v, err := a.versionByRef(ctx, ref)
	if err == nil {
		var rv domain.Revalidation
		if rv, err = a.cfg.Store.GetRevalidation(ctx, v.ID); err == nil {
			return RevalidationStatus{Revalidation: rv, State: v.State}, nil
		}
	}
	if errors.Is(err, domain.ErrNotFound) {
		return RevalidationStatus{}, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Err: err,
			Msg: "no revalidation schedule for " + ref + "; versions are scheduled once certified"}
	}
	return RevalidationStatus{}, err
}

// OfferHostAPI records a host API version the platform offers (stewards)
// and returns the certified versions whose range excludes it, each
// flagged in the audit trail. A version that is not semantic is
// KindInvalid with code "bad_version".
func (a *App) OfferHostAPI(ctx context.Context, caller domain.Principal, version string) ([]revalidate.Incompatible, error) {
	if err := a.revalidationOn(); err != nil {
		return nil, err
	}
	if err := allow(caller, "offer a host API version", monitorStewards...); err != nil {
		return nil, err
	}
	flagged, err := a.cfg.Revalidate.OfferHostAPI(ctx, version, caller.Subject)
	if err != nil && (strings.Contains(err.Error(), "semantic version") || strings.Contains(err.Error(), "over")) {
		return nil, &Error{Kind: KindInvalid, Code: "bad_version", Msg: err.Error(), Err: err}
	}
	return flagged, err
}

// ListHostAPIs lists the host API versions offered (any signed-in caller
// but a host).
func (a *App) ListHostAPIs(ctx context.Context, caller domain.Principal) ([]domain.HostAPIOffer, error) {
	if err := signedIn(caller, "list host API versions"); err != nil {
		return nil, err
	}
	return a.cfg.Store.ListHostAPIs(ctx)
}

// ReportHealth takes a host's runtime health report (host tokens),
// rate-limited per host token. A version over the policy's thresholds is
// quarantined on the reporting host only (the outcome says so); it is
// suspended marketplace-wide when the policy's quorum of distinct hosts
// reports it failing.
func (a *App) ReportHealth(ctx context.Context, caller domain.Principal, rep health.Report) ([]health.Outcome, error) {
	if a.cfg.Health == nil {
		return nil, Refuse(KindUnavailable, "health_disabled", "this server does not take host health reports")
	}
	if err := allow(caller, "report health", domain.RoleHost); err != nil {
		return nil, err
	}
	var limited *health.Limited
	if err := a.cfg.Health.Admit(caller.Subject); errors.As(err, &limited) {
		return nil, &Error{Kind: KindTooMany, Code: "health_rate_limited", Msg: limited.Msg, Err: err, RetryAfter: limited.RetryAfter}
	} else if err != nil {
		return nil, err
	}
	out, err := a.cfg.Health.ReceiveIn(ctx, caller.Subject, caller.Environment, rep)
	switch {
	case errors.Is(err, health.ErrUnknownVersion):
		return nil, &Error{Kind: KindNotFound, Code: "unknown_version", Msg: err.Error(), Err: err}
	case errors.Is(err, health.ErrOverlap):
		return nil, &Error{Kind: KindConflict, Code: "already_reported", Msg: err.Error(), Err: err}
	case err != nil:
		return out, err
	}
	if caller.Environment != "" {
		// A staged rollout halts itself when the hosts running its new
		// version cross the policy's threshold; a failure to check is
		// logged, never a refused report.
		for _, p := range rep.Plugins {
			if err := a.checkRollout(ctx, p.Plugin, caller.Environment); err != nil {
				a.cfg.Log.ErrorContext(ctx, "checking a rollout's health", "plugin", p.Plugin, "environment", caller.Environment, "err", err)
			}
		}
	}
	return out, nil
}

// ConfirmHealth records a steward's confirmation of the hosts' failing
// reports of a certified version (by submission id or NS/NAME@VERSION);
// with the policy's steward confirmations in (default one), the version is
// suspended marketplace-wide at once, naming the hosts.
func (a *App) ConfirmHealth(ctx context.Context, caller domain.Principal, ref, reason string) (health.Confirmation, error) {
	if a.cfg.Health == nil {
		return health.Confirmation{}, Refuse(KindUnavailable, "health_disabled", "this server does not take host health reports")
	}
	if err := allow(caller, "confirm host health reports", domain.RoleSteward); err != nil {
		return health.Confirmation{}, err
	}
	v, err := a.versionByRef(ctx, ref)
	if errors.Is(err, domain.ErrNotFound) {
		return health.Confirmation{}, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no version " + ref, Err: err}
	}
	if err != nil {
		return health.Confirmation{}, err
	}
	c, err := a.cfg.Health.Confirm(ctx, v.ID, caller.Subject, reason)
	switch {
	case errors.Is(err, domain.ErrInvalid):
		return c, &Error{Kind: KindInvalid, Code: "invalid_request", Msg: err.Error(), Err: err}
	case errors.Is(err, health.ErrNotCertified):
		return c, &Error{Kind: KindConflict, Code: "wrong_state", Msg: err.Error() + "; only a certified version is confirmed failing", Err: err}
	case errors.Is(err, health.ErrNoReports):
		return c, &Error{Kind: KindConflict, Code: "no_failing_reports", Msg: err.Error(), Err: err}
	}
	return c, err
}

// HealthReports lists the reports hosts sent about one version (by
// submission id or NS/NAME@VERSION), newest first (the overseers).
func (a *App) HealthReports(ctx context.Context, caller domain.Principal, ref string, limit int) ([]domain.HealthReport, error) {
	if err := allow(caller, "read health reports", overseerRoles...); err != nil {
		return nil, err
	}
	v, err := a.versionByRef(ctx, ref)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no version " + ref, Err: err}
	}
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	return a.cfg.Store.ListHealthReports(ctx, v.ID, v.CreatedAt, limit)
}

// VulnDBImport is what an import made active, and the certified versions
// it sent to revalidation.
type VulnDBImport struct {
	Version      vulndb.Version
	Revalidating []revalidate.Affected
}

// HasVulnDB reports whether the marketplace keeps a vulnerability
// database that imports can replace.
func (a *App) HasVulnDB() bool { return a.cfg.VulnDB != nil }

// ImportVulnDB makes an OSV all.zip the vulnerability database
// (stewards). A corrupt or partial file changes nothing (KindInvalid,
// code "invalid_database"); the certified versions that ship a component
// the new advisories affect are revalidated.
func (a *App) ImportVulnDB(ctx context.Context, caller domain.Principal, zip io.ReaderAt, size int64) (VulnDBImport, error) {
	if a.cfg.VulnDB == nil {
		return VulnDBImport{}, Refuse(KindUnavailable, "no_vulndb", "this server has no vulnerability database store")
	}
	if err := allow(caller, "import the vulnerability database", monitorStewards...); err != nil {
		return VulnDBImport{}, err
	}
	old := a.cfg.VulnDB.DB()
	db, err := a.cfg.VulnDB.Import(zip, size)
	if err != nil {
		// The store keeps the previous database; its message says so.
		return VulnDBImport{}, &Error{Kind: KindInvalid, Code: "invalid_database", Msg: err.Error(), Err: err}
	}
	v := db.Version()
	data, _ := json.Marshal(map[string]any{"version": v.String(), "records": v.Records, "bytes": size})
	ev := audit.Event{Time: a.cfg.Now(), Actor: caller.Subject, Action: audit.VulnDBImport, Subject: "vulndb", Reason: "imported " + v.String(), Data: data}
	if err := a.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return VulnDBImport{}, fmt.Errorf("recording the import: %w", err)
	}
	// Before revalidation is queued: a worker that runs it must find this
	// database, not its own older one.
	if a.cfg.ShareVulnDB != nil {
		if err := a.cfg.ShareVulnDB(ctx, zip, size); err != nil {
			return VulnDBImport{}, fmt.Errorf("the database was imported on this process, but the marketplace's other processes do not have it (import it again): %w", err)
		}
	}
	out := VulnDBImport{Version: v}
	if a.cfg.Revalidate != nil {
		if out.Revalidating, err = a.cfg.Revalidate.VulnDBImported(ctx, caller.Subject, db, old); err != nil {
			return out, err
		}
	}
	return out, nil
}

// VulnDBVersion is the active vulnerability database's version; none
// imported is KindNotFound with code "no_vulndb".
func (a *App) VulnDBVersion(caller domain.Principal) (vulndb.Version, error) {
	if err := signedIn(caller, "read the vulnerability database's version"); err != nil {
		return vulndb.Version{}, err
	}
	if a.cfg.VulnDB == nil || a.cfg.VulnDB.DB() == nil {
		return vulndb.Version{}, Refuse(KindNotFound, "no_vulndb", "no vulnerability database has been imported; run gatehouse vulndb import FILE")
	}
	return a.cfg.VulnDB.DB().Version(), nil
}
