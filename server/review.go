package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/audit"
	"gatehouse.dev/gatehouse/auth"
	"gatehouse.dev/gatehouse/lifecycle"
	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/review"
	"gatehouse.dev/gatehouse/store"
	"gatehouse.dev/gatehouse/triage"
	"gatehouse.dev/gatehouse/vet"
)

// ReviewItem is a queue entry as the API shows it.
type ReviewItem struct {
	ID                string    `json:"id"`
	Plugin            string    `json:"plugin"`
	Version           string    `json:"version"`
	Tier              string    `json:"tier"`
	Weight            int       `json:"weight"`
	ApprovalsRequired int       `json:"approvalsRequired"`
	Approvals         []string  `json:"approvals"`
	Deadline          time.Time `json:"deadline"`
	Overdue           bool      `json:"overdue"`
	ClaimedBy         string    `json:"claimedBy,omitempty"`
	ClaimUntil        time.Time `json:"claimUntil,omitzero"`
	PreferredReviewer string    `json:"preferredReviewer,omitempty"`
}

// ReviewDetail is everything a reviewer decides on.
type ReviewDetail struct {
	Item       ReviewItem      `json:"item"`
	Submission any             `json:"submission"`
	Verdict    *triage.Verdict `json:"verdict,omitempty"`
	// Changes says in plain language what this version asks for that the
	// last approved one did not (from the diff analyzer).
	Changes []string        `json:"changes"`
	Thread  []store.Message `json:"thread"`
}

// DecisionRequest is the body of approve, reject, request-changes,
// comment and appeal.
type DecisionRequest struct {
	// Granted narrows the permissions an approval grants; omitted grants
	// what the manifest asks for.
	Granted []string `json:"granted,omitempty"`
	// Code is a rejection's reason code.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func (s *Server) reviewErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, review.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, review.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
	case errors.Is(err, review.ErrState), errors.Is(err, store.ErrStateChanged), errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) itemJSON(r *http.Request, it store.ReviewItem) (ReviewItem, error) {
	v, err := s.cfg.Store.GetVersion(r.Context(), it.VersionID)
	if err != nil {
		return ReviewItem{}, err
	}
	as, err := s.cfg.Store.ListApprovals(r.Context(), it.VersionID)
	if err != nil {
		return ReviewItem{}, err
	}
	out := ReviewItem{ID: it.VersionID, Plugin: it.PluginID, Version: v.Version, Tier: it.Tier, Weight: it.Weight,
		ApprovalsRequired: it.ApprovalsRequired, Approvals: []string{}, Deadline: it.Deadline, Overdue: s.cfg.Now().After(it.Deadline),
		PreferredReviewer: it.PreferredReviewer}
	if it.ClaimedBy != "" && it.ClaimUntil.After(s.cfg.Now()) {
		out.ClaimedBy, out.ClaimUntil = it.ClaimedBy, it.ClaimUntil
	}
	for _, a := range as {
		out.Approvals = append(out.Approvals, a.Reviewer)
	}
	return out, nil
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 500)
	if !ok {
		return
	}
	offset, ok := intParam(w, r, "offset", 0, 10_000_000)
	if !ok {
		return
	}
	items, err := s.cfg.Store.ListReviews(r.Context(), store.ReviewQuery{Limit: limit, Offset: offset})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []ReviewItem{}
	for _, it := range items {
		j, err := s.itemJSON(r, it)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (s *Server) getReview(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	it, err := s.cfg.Store.GetReview(r.Context(), id)
	if err != nil {
		s.reviewErr(w, r, err)
		return
	}
	item, err := s.itemJSON(r, it)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v, err := s.cfg.Store.GetVersion(r.Context(), id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	sub := submissionJSON(v, true)
	if sub.Vetting, err = s.vetting(r.Context(), v); err != nil {
		s.internal(w, r, err)
		return
	}
	out := ReviewDetail{Item: item, Submission: sub, Changes: []string{}, Thread: []store.Message{}}
	if vd, err := s.cfg.Store.LatestVerdict(r.Context(), id); err == nil {
		var tv triage.Verdict
		if json.Unmarshal(vd.Body, &tv) == nil {
			out.Verdict = &tv
		}
	}
	if sub.Vetting != nil {
		out.Changes = plainChanges(sub.Vetting.Results)
	}
	if out.Thread, err = s.cfg.Store.ListMessages(r.Context(), v.PluginID); err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reviewAction(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var req DecisionRequest
	if action != "claim" {
		if !decodeJSON(w, r, &req) {
			return
		}
	}
	rv := s.cfg.Review
	var err error
	result := map[string]any{"id": id}
	switch action {
	case "claim":
		var it store.ReviewItem
		if it, err = rv.Claim(r.Context(), p, id); err == nil {
			result["claimedUntil"] = it.ClaimUntil
		}
	case "approve":
		var st lifecycle.State
		if st, err = rv.Approve(r.Context(), p, id, req.Granted, req.Message); err == nil {
			result["state"] = st
		}
	case "reject":
		err = rv.Reject(r.Context(), p, id, req.Code, req.Message)
		result["state"] = lifecycle.Rejected
	case "request-changes":
		err = rv.RequestChanges(r.Context(), p, id, req.Message)
		result["state"] = lifecycle.ChangesRequested
	default:
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no review action %q: claim, approve, reject or request-changes", action))
		return
	}
	if err != nil {
		s.reviewErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, result)
}

// comment lets a reviewer, or the plugin's own publisher, write in the
// review thread; appeal reopens a rejected version.
func (s *Server) threadAction(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req DecisionRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	v, ok := s.readableVersion(w, r, p)
	if !ok {
		return
	}
	var err error
	switch r.PathValue("action") {
	case "comment":
		_, err = s.cfg.Review.Comment(r.Context(), p, v.ID, req.Message)
	case "appeal":
		if !p.Allowed(store.RolePublisher) {
			writeError(w, http.StatusForbidden, "forbidden", "only the plugin's publisher appeals a rejection")
			return
		}
		err = s.cfg.Review.Appeal(r.Context(), p, v.ID, req.Message)
	default:
		writeError(w, http.StatusNotFound, "not_found", "no action "+r.PathValue("action")+": comment or appeal")
		return
	}
	if err != nil {
		s.reviewErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "recorded"})
}

// plainChanges turns the diff analyzer's findings into sentences.
func plainChanges(results []vet.Result) []string {
	out := []string{}
	for _, res := range results {
		if res.Analyzer != "diff" {
			continue
		}
		for _, f := range res.Findings {
			out = append(out, f.Message)
		}
	}
	return out
}

// PolicyRequest carries policy sources: file name → Rego.
type PolicyRequest struct {
	Modules map[string]string `json:"modules"`
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	e := s.cfg.Review.Engine()
	hist, err := s.cfg.Store.ListPolicies(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type entry struct {
		Digest    string    `json:"digest"`
		AppliedBy string    `json:"appliedBy"`
		AppliedAt time.Time `json:"appliedAt"`
		Active    bool      `json:"active"`
	}
	h := []entry{}
	for _, p := range hist {
		h = append(h, entry{p.Digest, p.AppliedBy, p.AppliedAt, p.Active})
	}
	writeJSON(w, http.StatusOK, map[string]any{"digest": e.Digest(), "modules": e.Policy().Modules, "history": h})
}

// policyCheck compiles and tests a proposed policy, answering with file,
// line and column when it fails.
func (s *Server) policyCheck(w http.ResponseWriter, r *http.Request) (*policy.Engine, bool) {
	var req PolicyRequest
	r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Modules) == 0 {
		writeError(w, http.StatusBadRequest, "bad_policy", `send {"modules": {"file.rego": "source", ...}}`)
		return nil, false
	}
	p := policy.New(req.Modules)
	e, err := policy.Compile(r.Context(), p)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "policy_does_not_compile", err.Error())
		return nil, false
	}
	rep, err := policy.Test(r.Context(), p)
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "policy_tests_fail", err.Error())
		return nil, false
	}
	return e, true
}

// dryRun reports which versions awaiting a decision the proposed policy
// would decide differently from the active one.
func (s *Server) policyDryRun(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	proposed, ok := s.policyCheck(w, r)
	if !ok {
		return
	}
	diffs, err := s.cfg.Review.DryRun(r.Context(), proposed)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"proposed": proposed.Digest(), "active": s.cfg.Review.Engine().Digest(), "differences": diffs})
}

func (s *Server) applyPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	proposed, ok := s.policyCheck(w, r)
	if !ok {
		return
	}
	mods, _ := json.Marshal(proposed.Policy().Modules)
	now := s.cfg.Now()
	ev := audit.Event{Time: now, Actor: p.Subject, Action: "policy.apply", Subject: "policy:" + proposed.Digest(), Reason: "replaces " + s.cfg.Review.Engine().Digest()}
	if err := s.cfg.Store.ApplyPolicy(r.Context(), store.PolicyRecord{Digest: proposed.Digest(), Modules: mods, AppliedBy: p.Subject, AppliedAt: now}, ev); err != nil {
		s.internal(w, r, err)
		return
	}
	s.cfg.Review.Use(proposed)
	writeJSON(w, http.StatusOK, map[string]string{"digest": proposed.Digest(), "status": "applied"})
}

// reviewState adds the review item and the plugin's thread to a
// submission's view, so its author sees the deadline and the conversation.
func (s *Server) reviewState(r *http.Request, v store.Version, sub *api.Submission) error {
	it, err := s.cfg.Store.GetReview(r.Context(), v.ID)
	switch {
	case err == nil:
		as, err := s.cfg.Store.ListApprovals(r.Context(), v.ID)
		if err != nil {
			return err
		}
		sub.Review = &api.Review{Tier: it.Tier, Weight: it.Weight, Deadline: it.Deadline, ApprovalsRequired: it.ApprovalsRequired, Approvals: len(as), Open: it.Open}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	ms, err := s.cfg.Store.ListMessages(r.Context(), v.PluginID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		sub.Thread = append(sub.Thread, api.Message{Version: m.VersionID, Author: m.Author, Kind: m.Kind, Body: m.Body, At: m.CreatedAt})
	}
	return nil
}
