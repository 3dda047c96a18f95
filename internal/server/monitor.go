package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// hosts may only report runtime health: a host token reads nothing and
// changes nothing else.
var hosts = Access{Roles: []store.Role{store.RoleHost}}

// monitorRoutes are the endpoints for revalidation, host API offers and host health reports.
func (s *Server) monitorRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/api/v1/revalidations", Summary: "Revalidate now ({version: ID or NS/NAME@VERSION} or {all: true}); {reviewed: true} records that a steward looked at a version whose revalidation hosts' health reports routed to people.", Access: stewards, Body: "application/json", handler: s.revalidate},
		{Method: "GET", Path: "/api/v1/revalidations", Summary: "Revalidation schedules: ?state= (certified, suspended), ?after= (a submission id), ?limit=.", Access: auditors, handler: s.listRevalidations},
		{Method: "GET", Path: "/api/v1/revalidations/{id}", Summary: "One version's revalidation schedule: next time, remediation deadline, last outcome and what to fix.", Access: overseers, handler: s.getRevalidation},
		{Method: "POST", Path: "/api/v1/host-api", Summary: "Record a host API version the platform offers ({version}); answers with the certified versions whose range excludes it, each flagged in the audit trail.", Access: stewards, Body: "application/json", handler: s.offerHostAPI},
		{Method: "GET", Path: "/api/v1/host-api", Summary: "The host API versions the platform offers.", Access: signedIn, handler: s.listHostAPIs},
		{Method: "POST", Path: "/api/v1/health", Summary: "A host's runtime health report ({windowStart, windowEnd, plugins: [{plugin, version, calls, errors: {kind: n}, denials, breakerTrips}]}); over the policy's thresholds it raises an alert and routes the version's next revalidation to people.", Access: hosts, Body: "application/json", handler: s.reportHealth},
		{Method: "GET", Path: "/api/v1/health/{id}", Summary: "The health reports hosts sent about one version, newest first (?limit=).", Access: overseers, handler: s.listHealth},
	}
}

func (s *Server) monitorOff(w http.ResponseWriter) bool {
	if s.cfg.Revalidate == nil {
		writeError(w, http.StatusServiceUnavailable, "revalidation_disabled", "this server runs without revalidation")
		return true
	}
	return false
}

// resolveVersion finds a version by submission id or NS/NAME@VERSION.
func (s *Server) resolveVersion(ctx context.Context, ref string) (store.Version, error) {
	if id, ver, ok := strings.Cut(ref, "@"); ok && strings.Contains(id, "/") {
		return s.cfg.Store.GetVersionByName(ctx, id, ver)
	}
	return s.cfg.Store.GetVersion(ctx, ref)
}

func (s *Server) revalidate(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.monitorOff(w) {
		return
	}
	var req api.RevalidateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.All == (req.Version != "") || (req.All && req.Reviewed) {
		writeError(w, http.StatusBadRequest, "bad_request", `send {"version": "ID or NS/NAME@VERSION"} (optionally with "reviewed": true) or {"all": true}`)
		return
	}
	if req.All {
		n, err := s.cfg.Revalidate.EnqueueAll(r.Context(), p.Subject, "requested by "+p.Subject)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, api.RevalidateResult{Queued: n, Status: "revalidation of every certified and suspended version is queued"})
		return
	}
	v, err := s.resolveVersion(r.Context(), req.Version)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no version "+req.Version)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if v.State != lifecycle.Certified && v.State != lifecycle.Suspended {
		writeError(w, http.StatusConflict, "wrong_state", v.PluginID+"@"+v.Version+" is "+string(v.State)+"; only certified and suspended versions are revalidated")
		return
	}
	if req.Reviewed {
		err := s.cfg.Revalidate.ClearReview(r.Context(), v.ID, p.Subject)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusConflict, "not_routed", v.PluginID+"@"+v.Version+" has no revalidation routed to people")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		s.cfg.Revalidate.Wake()
		writeJSON(w, http.StatusAccepted, api.RevalidateResult{Queued: 1, Status: "recorded the review; the analyzers revalidate " + v.PluginID + "@" + v.Version + " now"})
		return
	}
	ok, err := s.cfg.Revalidate.Enqueue(r.Context(), v.ID, p.Subject, "requested by "+p.Subject)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	res := api.RevalidateResult{Status: "a revalidation of " + v.PluginID + "@" + v.Version + " is already queued or running"}
	if ok {
		res = api.RevalidateResult{Queued: 1, Status: "revalidation of " + v.PluginID + "@" + v.Version + " is queued"}
		s.cfg.Revalidate.Wake()
	}
	writeJSON(w, http.StatusAccepted, res)
}

func revalidationJSON(rv store.Revalidation, state lifecycle.State) api.Revalidation {
	return api.Revalidation{Version: rv.VersionID, Plugin: rv.PluginID, Tier: rv.Tier, State: string(state), Next: rv.NextAt, Deadline: rv.Deadline,
		LastRun: rv.LastRunAt, LastOutcome: rv.LastOutcome, LastReason: rv.LastReason, NeedsReview: rv.NeedsReview, ReviewReason: rv.ReviewReason}
}

func (s *Server) listRevalidations(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 1000)
	if !ok {
		return
	}
	q := store.RevalidationQuery{AfterVersion: r.URL.Query().Get("after"), Limit: limit}
	if st := r.URL.Query().Get("state"); st != "" {
		if st != string(lifecycle.Certified) && st != string(lifecycle.Suspended) && st != string(lifecycle.Revoked) {
			writeError(w, http.StatusBadRequest, "bad_parameter", "state must be certified, suspended or revoked")
			return
		}
		q.States = []lifecycle.State{lifecycle.State(st)}
	}
	rs, err := s.cfg.Store.ListRevalidations(r.Context(), q)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]api.Revalidation, 0, len(rs))
	for _, rv := range rs {
		out = append(out, revalidationJSON(rv, ""))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRevalidation(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	v, err := s.resolveVersion(r.Context(), r.PathValue("id"))
	if err == nil {
		var rv store.Revalidation
		if rv, err = s.cfg.Store.GetRevalidation(r.Context(), v.ID); err == nil {
			writeJSON(w, http.StatusOK, revalidationJSON(rv, v.State))
			return
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no revalidation schedule for "+r.PathValue("id")+"; versions are scheduled once certified")
		return
	}
	s.internal(w, r, err)
}

func (s *Server) offerHostAPI(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.monitorOff(w) {
		return
	}
	var req api.HostAPIOfferRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	flagged, err := s.cfg.Revalidate.OfferHostAPI(r.Context(), req.Version, p.Subject)
	if err != nil {
		if strings.Contains(err.Error(), "semantic version") || strings.Contains(err.Error(), "over") {
			writeError(w, http.StatusBadRequest, "bad_version", err.Error())
			return
		}
		s.internal(w, r, err)
		return
	}
	out := api.HostAPIOffer{Version: req.Version, By: p.Subject, OfferedAt: s.cfg.Now(), Incompatible: []api.IncompatibleEntry{}}
	for _, f := range flagged {
		out.Incompatible = append(out.Incompatible, api.IncompatibleEntry{Submission: f.VersionID, Plugin: f.Plugin, Version: f.Version, HostAPI: f.HostAPI})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listHostAPIs(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	os, err := s.cfg.Store.ListHostAPIs(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]api.HostAPIOffer, 0, len(os))
	for _, o := range os {
		out = append(out, api.HostAPIOffer{Version: o.Version, By: o.By, OfferedAt: o.OfferedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reportHealth(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.cfg.Health == nil {
		writeError(w, http.StatusServiceUnavailable, "health_disabled", "this server does not take host health reports")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, health.MaxReportBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "a health report is at most 256 KiB; split it")
		return
	}
	rep, err := health.ParseReport(body, s.cfg.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_report", err.Error())
		return
	}
	out, err := s.cfg.Health.Receive(r.Context(), p.Subject, rep)
	if errors.Is(err, health.ErrUnknownVersion) {
		writeError(w, http.StatusNotFound, "unknown_version", err.Error())
		return
	}
	if errors.Is(err, health.ErrOverlap) {
		writeError(w, http.StatusConflict, "already_reported", err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, healthAnswer(out))
}

func (s *Server) listHealth(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 1000)
	if !ok {
		return
	}
	v, err := s.resolveVersion(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no version "+r.PathValue("id"))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if limit == 0 {
		limit = 100
	}
	rs, err := s.cfg.Store.ListHealthReports(r.Context(), v.ID, v.CreatedAt, limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]api.HostHealth, 0, len(rs))
	for _, x := range rs {
		out = append(out, api.HostHealth{Host: x.Host, WindowStart: x.WindowStart, WindowEnd: x.WindowEnd, Calls: x.Calls, Errors: x.Errors, Denials: x.Denials, BreakerTrips: x.BreakerTrips})
	}
	writeJSON(w, http.StatusOK, out)
}
