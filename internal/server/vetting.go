package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
)

// vetting returns a version's newest run as the API shows it, or nil when
// it has not been vetted.
func (s *Server) vetting(ctx context.Context, v store.Version) (*api.Vetting, error) {
	run, results, err := s.latestResults(ctx, v)
	if run == nil || err != nil {
		return nil, err
	}
	return &api.Vetting{Run: run.Run, Blocked: run.Blocked, Summary: run.Summary, At: run.CreatedAt, Results: vet.Wire(results)}, nil
}

// latestResults returns a version's newest run and its results with
// today's false-positive decisions applied, or a nil run when it has not
// been vetted.
func (s *Server) latestResults(ctx context.Context, v store.Version) (*store.VetRun, []vet.Result, error) {
	run, err := s.cfg.Store.LatestVetRun(ctx, v.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var results []vet.Result
	if err := json.Unmarshal(run.Results, &results); err != nil {
		return nil, nil, fmt.Errorf("decoding stored results of %s: %w", v.ID, err)
	}
	sups, err := s.cfg.Store.ListSuppressions(ctx, v.PluginID)
	if err != nil {
		return nil, nil, err
	}
	byFP := map[string]store.Suppression{}
	for _, x := range sups {
		byFP[x.Fingerprint] = x
	}
	for i := range results {
		for j := range results[i].Findings {
			f := &results[i].Findings[j]
			if x, ok := byFP[f.Fingerprint]; ok && f.Suppressed == nil {
				f.Suppressed = &vet.Suppression{By: x.By, Reason: x.Reason, At: x.CreatedAt}
			}
		}
	}
	return &run, results, nil
}

// pathVersion returns the submission named in the path: the one the guard
// loaded and checked when the route reads versions, or else from the
// store, answering the request itself when there is none or the store
// fails.
func (s *Server) pathVersion(w http.ResponseWriter, r *http.Request) (store.Version, bool) {
	if v, ok := guarded(r); ok {
		return v, true
	}
	v, err := s.cfg.Store.GetVersion(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no submission "+r.PathValue("id"))
		return v, false
	}
	if err != nil {
		s.internal(w, r, err)
		return v, false
	}
	return v, true
}

func (s *Server) getSARIF(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	run, results, err := s.latestResults(r.Context(), v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if run == nil {
		writeError(w, http.StatusNotFound, "not_vetted", "this version has not been vetted yet")
		return
	}
	rules := map[string][]vet.Rule{}
	if s.cfg.Intake != nil && s.cfg.Intake.Analyzers != nil {
		for _, a := range s.cfg.Intake.Analyzers() {
			rules[a.Name()] = a.Rules()
		}
	}
	w.Header().Set("Content-Type", "application/sarif+json")
	if err := sarif.Write(w, results, rules, sarif.ToolInfo{Name: "gatehouse"}); err != nil {
		s.cfg.Log.Error("writing SARIF", "err", err)
	}
}

func (s *Server) revet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	queued, err := s.cfg.Intake.RequestVet(r.Context(), id, p.Subject)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no submission "+id)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	msg := "a new vetting run is queued"
	if !queued {
		msg = "a vetting run of this version is already queued or running"
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": msg, "statusUrl": api.BasePath + "/submissions/" + id})
}

// truePositive records a reviewer's confirmation that a finding is real,
// in the audit trail and the plugin's review thread.
func (s *Server) truePositive(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req api.FalsePositive
	if !decodeJSON(w, r, &req) {
		return
	}
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	fp := r.PathValue("fingerprint")
	f, err := s.finding(r, v, fp)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if f == nil {
		writeError(w, http.StatusNotFound, "not_found", "the newest vetting run of this version has no finding with fingerprint "+fp)
		return
	}
	now := s.cfg.Now()
	body := fmt.Sprintf("confirmed finding %s at %s: %s", f.RuleID, f.Location.File, req.Reason)
	data, _ := json.Marshal(map[string]string{"fingerprint": fp, "rule": f.RuleID, "submission": v.ID})
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.FindingTruePositive, Subject: "submission:" + v.ID, Reason: req.Reason, Data: data}
	if _, err := s.cfg.Store.AddMessage(r.Context(), store.Message{PluginID: v.PluginID, VersionID: v.ID, Author: p.Subject, Kind: "comment", Body: body, CreatedAt: now}, ev); err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "confirmed"})
}

// finding returns the finding with fingerprint fp in v's newest run.
func (s *Server) finding(r *http.Request, v store.Version, fp string) (*vet.Finding, error) {
	_, results, err := s.latestResults(r.Context(), v)
	if err != nil {
		return nil, err
	}
	for i := range results {
		for j := range results[i].Findings {
			if results[i].Findings[j].Fingerprint == fp {
				return &results[i].Findings[j], nil
			}
		}
	}
	return nil, nil
}

func (s *Server) falsePositive(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req api.FalsePositive
	if !decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusUnprocessableEntity, "reason_required", "say why the finding is a false positive: the reason is audited and shown to later reviewers")
		return
	}
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	if !p.Allowed(store.RoleSteward) && s.ownsNamespace(r.Context(), p, v.PluginID) {
		writeError(w, http.StatusForbidden, "separation_of_duties", "you publish in this plugin's namespace, so you may not clear its findings")
		return
	}
	fp := r.PathValue("fingerprint")
	found, err := s.finding(r, v, fp)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if found == nil {
		writeError(w, http.StatusNotFound, "not_found", "the newest vetting run of this version has no finding with fingerprint "+fp)
		return
	}
	now := s.cfg.Now()
	data, _ := json.Marshal(map[string]string{"fingerprint": fp, "rule": found.RuleID, "version": v.Version, "submission": v.ID})
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.FindingFalsePositive, Subject: "plugin:" + v.PluginID, Reason: req.Reason, Data: data}
	sup := store.Suppression{PluginID: v.PluginID, Fingerprint: fp, RuleID: found.RuleID, By: p.Subject, Reason: req.Reason, CreatedAt: now}
	if err := s.cfg.Store.AddSuppression(r.Context(), sup, ev); err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "marked a false positive for " + v.PluginID + "; later versions with this finding show it suppressed"})
}

// ownsNamespace reports whether p is an owner of the plugin's namespace.
func (s *Server) ownsNamespace(ctx context.Context, p auth.Principal, pluginID string) bool {
	ns, _, _ := strings.Cut(pluginID, "/")
	n, err := s.cfg.Store.GetNamespace(ctx, ns)
	if err != nil {
		return false
	}
	for _, o := range n.Owners {
		if o == p.Subject {
			return true
		}
	}
	return false
}
