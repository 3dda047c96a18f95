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

// vetting returns a version's newest run with today's false-positive
// decisions applied, or nil when it has not been vetted.
func (s *Server) vetting(ctx context.Context, v store.Version) (*api.Vetting, error) {
	run, err := s.cfg.Store.LatestVetRun(ctx, v.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &api.Vetting{Run: run.Run, Blocked: run.Blocked, Summary: run.Summary, At: run.CreatedAt}
	if err := json.Unmarshal(run.Results, &out.Results); err != nil {
		return nil, fmt.Errorf("decoding stored results of %s: %w", v.ID, err)
	}
	sups, err := s.cfg.Store.ListSuppressions(ctx, v.PluginID)
	if err != nil {
		return nil, err
	}
	byFP := map[string]store.Suppression{}
	for _, x := range sups {
		byFP[x.Fingerprint] = x
	}
	for i := range out.Results {
		for j := range out.Results[i].Findings {
			f := &out.Results[i].Findings[j]
			if x, ok := byFP[f.Fingerprint]; ok && f.Suppressed == nil {
				f.Suppressed = &vet.Suppression{By: x.By, Reason: x.Reason, At: x.CreatedAt}
			}
		}
	}
	return out, nil
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
	vt, err := s.vetting(r.Context(), v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if vt == nil {
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
	if err := sarif.Write(w, vt.Results, rules, sarif.ToolInfo{Name: "gatehouse"}); err != nil {
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
	ev := audit.Event{Time: now, Actor: p.Subject, Action: "finding.true_positive", Subject: "submission:" + v.ID, Reason: req.Reason, Data: data}
	if _, err := s.cfg.Store.AddMessage(r.Context(), store.Message{PluginID: v.PluginID, VersionID: v.ID, Author: p.Subject, Kind: "comment", Body: body, CreatedAt: now}, ev); err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "confirmed"})
}

// finding returns the finding with fingerprint fp in v's newest run.
func (s *Server) finding(r *http.Request, v store.Version, fp string) (*vet.Finding, error) {
	vt, err := s.vetting(r.Context(), v)
	if err != nil || vt == nil {
		return nil, err
	}
	for i := range vt.Results {
		for j := range vt.Results[i].Findings {
			if vt.Results[i].Findings[j].Fingerprint == fp {
				return &vt.Results[i].Findings[j], nil
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
	vt, err := s.vetting(r.Context(), v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var found *vet.Finding
	if vt != nil {
		for i := range vt.Results {
			for j := range vt.Results[i].Findings {
				if vt.Results[i].Findings[j].Fingerprint == fp {
					found = &vt.Results[i].Findings[j]
				}
			}
		}
	}
	if found == nil {
		writeError(w, http.StatusNotFound, "not_found", "the newest vetting run of this version has no finding with fingerprint "+fp)
		return
	}
	now := s.cfg.Now()
	data, _ := json.Marshal(map[string]string{"fingerprint": fp, "rule": found.RuleID, "version": v.Version, "submission": v.ID})
	ev := audit.Event{Time: now, Actor: p.Subject, Action: "finding.false_positive", Subject: "plugin:" + v.PluginID, Reason: req.Reason, Data: data}
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
