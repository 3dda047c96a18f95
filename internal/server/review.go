package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/trust"
)

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

func (s *Server) itemJSON(r *http.Request, it store.ReviewItem) (api.ReviewItem, error) {
	v, err := s.cfg.Store.GetVersion(r.Context(), it.VersionID)
	if err != nil {
		return api.ReviewItem{}, err
	}
	as, err := s.cfg.Store.ListApprovals(r.Context(), it.VersionID)
	if err != nil {
		return api.ReviewItem{}, err
	}
	out := api.ReviewItem{ID: it.VersionID, Plugin: it.PluginID, Version: v.Version, Tier: it.Tier, Weight: it.Weight,
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
	out := []api.ReviewItem{}
	for _, it := range items {
		j, err := s.itemJSON(r, it)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, api.ReviewList{Items: out})
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
	out := api.ReviewDetail{Item: item, Submission: sub, Changes: []string{}, CodeDiff: []api.FileDiff{}, Thread: []api.ReviewMessage{}}
	if vd, err := s.cfg.Store.LatestVerdict(r.Context(), id); err == nil {
		var tv triage.Verdict
		if json.Unmarshal(vd.Body, &tv) == nil {
			out.Verdict = verdictJSON(tv)
			out.Changes = plainChanges(tv.Input)
		}
	}
	if prev, err := s.cfg.Intake.PreviousApproved(r.Context(), v.PluginID, v.Version); err != nil {
		s.internal(w, r, err)
		return
	} else if prev != nil {
		out.Previous = prev.Version
		if out.CodeDiff, err = s.codeDiff(r, *prev, v); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	msgs, err := s.cfg.Store.ListMessages(r.Context(), v.PluginID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, m := range msgs {
		out.Thread = append(out.Thread, api.ReviewMessage{ID: m.ID, PluginID: m.PluginID, VersionID: m.VersionID, Author: m.Author, Kind: m.Kind, Body: m.Body, CreatedAt: m.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// verdictJSON is a triage verdict as the API shows it, or nil when its
// policy input or decision cannot be encoded (then it is left out, as an
// unreadable stored verdict is).
func verdictJSON(tv triage.Verdict) *api.Verdict {
	in, err := json.Marshal(tv.Input)
	if err != nil {
		return nil
	}
	dec, err := json.Marshal(tv.Decision)
	if err != nil {
		return nil
	}
	out := &api.Verdict{Outcome: string(tv.Outcome), Reasons: tv.Reasons, Tier: string(tv.Tier),
		Weight:            api.RiskWeight{Total: tv.Weight.Total},
		ApprovalsRequired: tv.ApprovalsRequired, ReviewDeadlineHours: tv.ReviewDeadlineHours, CertificateLifetimeDays: tv.CertificateLifetimeDays,
		PolicyDigest: tv.PolicyDigest, Input: in, Decision: dec, Explanation: tv.Explanation,
		DryRun: api.DryRun{WouldAutoApprove: tv.DryRun.WouldAutoApprove, Mode: tv.DryRun.Mode, Summary: tv.DryRun.Summary}}
	if tv.Weight.Factors != nil {
		out.Weight.Factors = []api.RiskFactor{}
	}
	for _, f := range tv.Weight.Factors {
		out.Weight.Factors = append(out.Weight.Factors, api.RiskFactor{Name: f.Name, Value: f.Value, Cap: f.Cap, Reason: f.Reason})
	}
	if tv.DryRun.FailedGates != nil {
		out.DryRun.FailedGates = []api.Gate{}
	}
	for _, g := range tv.DryRun.FailedGates {
		out.DryRun.FailedGates = append(out.DryRun.FailedGates, api.Gate{Name: g.Name, Passed: g.Passed, Reason: g.Reason})
	}
	return out
}

func (s *Server) reviewAction(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var req api.DecisionRequest
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
	var req api.DecisionRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	var err error
	// The route table admits only publishers to appeal.
	if strings.HasSuffix(r.URL.Path, "/appeal") {
		err = s.cfg.Review.Appeal(r.Context(), p, v.ID, req.Message)
	} else {
		_, err = s.cfg.Review.Comment(r.Context(), p, v.ID, req.Message)
	}
	if err != nil {
		s.reviewErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "recorded"})
}

// plainChanges says in sentences what the version asks for that the last
// approved one did not, from what the policy saw.
func plainChanges(in policy.Input) []string {
	d := in.Diff
	out := []string{}
	if in.Plugin.FirstVersion {
		return append(out, "This is the plugin's first version: everything it asks for is new.")
	}
	for _, p := range d.PermissionsAdded {
		desc := p
		if perm, err := manifest.ParsePermission(p); err == nil {
			desc = perm.Describe()
		}
		out = append(out, fmt.Sprintf("New permission %s: the plugin may %s.", p, desc))
	}
	for _, p := range d.PermissionsRemoved {
		out = append(out, fmt.Sprintf("No longer asks for %s.", p))
	}
	for _, o := range d.OriginsAdded {
		out = append(out, fmt.Sprintf("May now reach %s.", o))
	}
	for _, c := range d.DataCategoriesAdded {
		out = append(out, fmt.Sprintf("Now handles %s data.", c))
	}
	if d.HostAPIChanged {
		out = append(out, fmt.Sprintf("Host API range changed (was %s).", d.PreviousHostAPI))
	}
	if len(d.ImportsAdded) > 0 {
		out = append(out, fmt.Sprintf("The module calls new host functions: %s.", strings.Join(d.ImportsAdded, ", ")))
	}
	if d.SizeChangePercent != 0 {
		out = append(out, fmt.Sprintf("The module's size changed by %+.1f%%.", d.SizeChangePercent))
	}
	if d.FilesChanged > 0 {
		out = append(out, fmt.Sprintf("%d file(s) changed.", d.FilesChanged))
	}
	return out
}

// MaxCodeDiff bounds the diffs one review view carries.
const MaxCodeDiff = 1 << 20

// codeDiff diffs the text files of two stored versions.
func (s *Server) codeDiff(r *http.Request, prev, cur store.Version) ([]api.FileDiff, error) {
	a, err := s.cfg.Intake.LoadPackage(r.Context(), prev.Digest)
	if err != nil {
		return nil, err
	}
	b, err := s.cfg.Intake.LoadPackage(r.Context(), cur.Digest)
	if err != nil {
		return nil, err
	}
	out := []api.FileDiff{}
	for _, c := range review.CodeDiff(a, b, MaxCodeDiff) {
		fd := api.FileDiff{Path: c.Path, Status: c.Status, Diff: c.Diff}
		switch {
		case c.Binary:
			fd.Diff = fmt.Sprintf("binary file: %d → %d bytes", c.OldSize, c.NewSize)
		case c.Omitted:
			fd.Diff = "(diff omitted: the review view's limit is reached)"
		}
		out = append(out, fd)
	}
	return out, nil
}

func (s *Server) setAutoApproval(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req api.AutoApprovalRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusUnprocessableEntity, "reason_required", "say why: the switch is audited")
		return
	}
	action := audit.AutoApprovalOn
	if req.Off {
		action = audit.AutoApprovalOff
	}
	ev := audit.Event{Time: s.cfg.Now(), Actor: p.Subject, Action: action, Subject: req.Scope, Reason: req.Reason}
	if err := s.cfg.Store.SetAutoApprovalOff(r.Context(), req.Scope, req.Off, p.Subject, req.Reason, ev); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "bad_scope", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scope": req.Scope, "autoApprovalOff": req.Off})
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	e := s.cfg.Review.Engine()
	hist, err := s.cfg.Store.ListPolicies(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := api.Policy{Digest: e.Digest(), Modules: e.Policy().Modules, History: []api.PolicyVersion{}}
	for _, p := range hist {
		out.History = append(out.History, api.PolicyVersion{Digest: p.Digest, AppliedBy: p.AppliedBy, AppliedAt: p.AppliedAt, Active: p.Active})
	}
	writeJSON(w, http.StatusOK, out)
}

// policyCheck compiles and tests a proposed policy, answering with file,
// line and column when it fails.
func (s *Server) policyCheck(w http.ResponseWriter, r *http.Request) (*policy.Engine, bool) {
	var req api.PolicyRequest
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
	// The certified versions the proposed policy would suspend, re-decided
	// from their latest vetting results.
	var suspend []revalidate.Impact
	if s.cfg.Revalidate != nil {
		if suspend, err = s.cfg.Revalidate.PolicyImpact(r.Context(), proposed); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, policyDryRunJSON(proposed.Digest(), s.cfg.Review.Engine().Digest(), diffs, suspend))
}

func (s *Server) applyPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	proposed, ok := s.policyCheck(w, r)
	if !ok {
		return
	}
	mods, _ := json.Marshal(proposed.Policy().Modules)
	now := s.cfg.Now()
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.PolicyApply, Subject: "policy:" + proposed.Digest(), Reason: "replaces " + s.cfg.Review.Engine().Digest()}
	if err := s.cfg.Store.ApplyPolicy(r.Context(), store.PolicyRecord{Digest: proposed.Digest(), Modules: mods, AppliedBy: p.Subject, AppliedAt: now}, ev); err != nil {
		s.internal(w, r, err)
		return
	}
	s.cfg.Review.Use(proposed)
	if s.cfg.Trust != nil {
		// The policy decides what gets certified: its change is logged.
		if err := s.cfg.Trust.LogEvent(r.Context(), trust.Event{Kind: trust.EventPolicyApplied, Subject: proposed.Digest(), Detail: "applied by " + p.Subject}); err != nil {
			s.internal(w, r, fmt.Errorf("the policy is applied, but logging it failed: %w", err))
			return
		}
	}
	if s.cfg.Revalidate != nil {
		// Revalidate what the new policy would suspend: the analyzers run
		// again, so a suspension rests on today's results.
		impact, err := s.cfg.Revalidate.PolicyImpact(r.Context(), proposed)
		if err == nil {
			err = s.cfg.Revalidate.PolicyApplied(r.Context(), p.Subject, proposed.Digest(), impact)
		}
		if err != nil {
			s.internal(w, r, fmt.Errorf("the policy is applied, but queueing the revalidations it calls for failed: %w", err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"digest": proposed.Digest(), "status": "applied", "revalidating": len(impact)})
		return
	}
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
