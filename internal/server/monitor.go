package server

import (
	"io"
	"net/http"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// hosts may only report runtime health: a host token reads nothing and
// changes nothing else.
var hosts = Access{Roles: []domain.Role{domain.RoleHost}}

// monitorRoutes are the endpoints for revalidation, host API offers and host health reports.
func (s *Server) monitorRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/api/v1/revalidations", Summary: "Revalidate now ({version: ID or NS/NAME@VERSION} or {all: true}); {reviewed: true} records that a steward looked at a version whose revalidation hosts' health reports routed to people.", Access: stewards, Body: "application/json", handler: s.revalidate},
		{Method: "GET", Path: "/api/v1/revalidations", Summary: "Revalidation schedules: ?state= (certified, suspended), ?after= (a submission id), ?limit=.", Access: auditors, handler: s.listRevalidations},
		{Method: "GET", Path: "/api/v1/revalidations/{id}", Summary: "One version's revalidation schedule: next time, remediation deadline, last outcome and what to fix.", Access: overseers, handler: s.getRevalidation},
		{Method: "POST", Path: "/api/v1/host-api", Summary: "Record a host API version the platform offers ({version}); answers with the certified versions whose range excludes it, each flagged in the audit trail.", Access: stewards, Body: "application/json", handler: s.offerHostAPI},
		{Method: "GET", Path: "/api/v1/host-api", Summary: "The host API versions the platform offers.", Access: signedIn, handler: s.listHostAPIs},
		{Method: "POST", Path: "/api/v1/health", Summary: "A host's runtime health report ({windowStart, windowEnd, plugins: [{plugin, version, calls, errors: {kind: n}, denials, breakerTrips}]}); over the policy's thresholds the reporting host quarantines the version (quarantine: true) and its one vote counts; the version is suspended everywhere only when the policy's quorum of distinct hosts (default 3 in 24 hours) is reached. Rate-limited per host token: 429 with Retry-After.", Access: hosts, Body: "application/json", handler: s.reportHealth},
		{Method: "POST", Path: "/api/v1/health/{id}/confirm", Summary: "A steward confirms hosts' failing health reports of a certified version ({reason}); with the policy's steward confirmations in (default 1) it is suspended at once, naming the hosts; audited.", Access: stewards, Body: "application/json", handler: s.confirmHealth},
		{Method: "GET", Path: "/api/v1/health/{id}", Summary: "The health reports hosts sent about one version, newest first (?limit=).", Access: overseers, handler: s.listHealth},
	}
}

func (s *Server) revalidate(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.RevalidateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	res, err := s.app.Revalidate(r.Context(), p, app.RevalidateRequest{Version: req.Version, All: req.All, Reviewed: req.Reviewed})
	if err != nil {
		s.failBadRequest(w, r, err, "bad_request")
		return
	}
	writeJSON(w, http.StatusAccepted, api.RevalidateResult{Queued: res.Queued, Status: res.Status})
}

// failBadRequest answers as fail does, except that an invalid request of
// code answers 400 rather than 422: these routes answered so before the
// application layer took their rules, and clients may rely on it.
func (s *Server) failBadRequest(w http.ResponseWriter, r *http.Request, err error, code string) {
	if k, c, msg := app.Classify(err); k == app.KindInvalid && c == code {
		writeError(w, http.StatusBadRequest, c, msg)
		return
	}
	s.fail(w, r, err)
}

func revalidationJSON(rv domain.Revalidation, state lifecycle.State) api.Revalidation {
	return api.Revalidation{Version: rv.VersionID, Plugin: rv.PluginID, Tier: rv.Tier, State: string(state), Next: rv.NextAt, Deadline: rv.Deadline,
		LastRun: rv.LastRunAt, LastOutcome: rv.LastOutcome, LastReason: rv.LastReason, NeedsReview: rv.NeedsReview, ReviewReason: rv.ReviewReason}
}

func (s *Server) listRevalidations(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 1000)
	if !ok {
		return
	}
	q := domain.RevalidationQuery{AfterVersion: r.URL.Query().Get("after"), Limit: limit}
	if st := r.URL.Query().Get("state"); st != "" {
		if st != string(lifecycle.Certified) && st != string(lifecycle.Suspended) && st != string(lifecycle.Revoked) {
			writeError(w, http.StatusBadRequest, "bad_parameter", "state must be certified, suspended or revoked")
			return
		}
		q.States = []lifecycle.State{lifecycle.State(st)}
	}
	rs, err := s.app.ListRevalidations(r.Context(), p, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.Revalidation, 0, len(rs))
	for _, rv := range rs {
		out = append(out, revalidationJSON(rv, ""))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRevalidation(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	rv, err := s.app.GetRevalidation(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, revalidationJSON(rv.Revalidation, rv.State))
}

func (s *Server) offerHostAPI(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.HostAPIOfferRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	flagged, err := s.app.OfferHostAPI(r.Context(), p, req.Version)
	if err != nil {
		s.failBadRequest(w, r, err, "bad_version")
		return
	}
	out := api.HostAPIOffer{Version: req.Version, By: p.Subject, OfferedAt: s.cfg.Now(), Incompatible: []api.IncompatibleEntry{}}
	for _, f := range flagged {
		out.Incompatible = append(out.Incompatible, api.IncompatibleEntry{Submission: f.VersionID, Plugin: f.Plugin, Version: f.Version, HostAPI: f.HostAPI})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listHostAPIs(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	os, err := s.app.ListHostAPIs(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.HostAPIOffer, 0, len(os))
	for _, o := range os {
		out = append(out, api.HostAPIOffer{Version: o.Version, By: o.By, OfferedAt: o.OfferedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reportHealth(w http.ResponseWriter, r *http.Request, p domain.Principal) {
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
	out, err := s.app.ReportHealth(r.Context(), p, rep)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, healthAnswer(out))
}

func (s *Server) confirmHealth(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.HealthConfirmation
	if !decodeJSON(w, r, &req) {
		return
	}
	c, err := s.app.ConfirmHealth(r.Context(), p, r.PathValue("id"), req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := c.Decision
	writeJSON(w, http.StatusOK, api.HealthQuorum{Submission: c.Version.ID, Plugin: c.Version.PluginID, Version: c.Version.Version, State: string(c.Version.State),
		Suspended: c.Suspended, Hosts: nonNil(q.Hosts), Stewards: nonNil(q.Stewards), RequiredHosts: q.RequiredHosts, RequiredStewards: q.RequiredStewards,
		WindowHours: q.WindowHours, Reason: q.Reason})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) listHealth(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 1000)
	if !ok {
		return
	}
	rs, err := s.app.HealthReports(r.Context(), p, r.PathValue("id"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.HostHealth, 0, len(rs))
	for _, x := range rs {
		out = append(out, api.HostHealth{Host: x.Host, WindowStart: x.WindowStart, WindowEnd: x.WindowEnd, Calls: x.Calls, Errors: x.Errors, Denials: x.Denials, BreakerTrips: x.BreakerTrips})
	}
	writeJSON(w, http.StatusOK, out)
}
