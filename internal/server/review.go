package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/manifest"
)

// itemJSON is a queue entry as the API shows it.
func (s *Server) itemJSON(e app.QueueEntry) api.ReviewItem {
	it, now := e.Item, s.app.Now()
	out := api.ReviewItem{ID: it.VersionID, Plugin: it.PluginID, Version: e.Version.Version, Tier: it.Tier, Weight: it.Weight,
		ApprovalsRequired: it.ApprovalsRequired, Approvals: []string{}, Deadline: it.Deadline, Overdue: now.After(it.Deadline),
		PreferredReviewer: it.PreferredReviewer}
	if it.ClaimedBy != "" && it.ClaimUntil.After(now) {
		out.ClaimedBy, out.ClaimUntil = it.ClaimedBy, it.ClaimUntil
	}
	for _, a := range e.Approvals {
		out.Approvals = append(out.Approvals, a.Reviewer)
	}
	return out
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 500)
	if !ok {
		return
	}
	offset, ok := intParam(w, r, "offset", 0, 10_000_000)
	if !ok {
		return
	}
	items, err := s.app.Queue(r.Context(), p, app.Page{Limit: limit, Offset: offset})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.ReviewItem{}
	for _, it := range items {
		out = append(out, s.itemJSON(it))
	}
	writeJSON(w, http.StatusOK, api.ReviewList{Items: out})
}

func (s *Server) getReview(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	rv, err := s.app.Review(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub := submissionJSON(rv.Version, true)
	sub.Vetting = vettingJSON(rv.Vetting)
	out := api.ReviewDetail{Item: s.itemJSON(app.QueueEntry{Item: rv.Item, Version: rv.Version, Approvals: rv.Approvals}), Submission: sub,
		Changes: []string{}, CodeDiff: []api.FileDiff{}, Thread: []api.ReviewMessage{}}
	if rv.Verdict != nil && rv.Verdict.Verdict != nil {
		out.Verdict = verdictJSON(*rv.Verdict.Verdict)
		out.Changes = plainChanges(rv.Verdict.Verdict.Input)
	}
	if rv.Previous != nil {
		out.Previous = rv.Previous.Version
		out.CodeDiff = codeDiffJSON(rv.CodeDiff)
	}
	for _, m := range rv.Thread {
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

func (s *Server) reviewAction(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var req api.DecisionRequest
	if action != "claim" {
		if !decodeJSON(w, r, &req) {
			return
		}
	}
	d, err := s.app.Decide(r.Context(), p, id, app.Decision{Action: action, Granted: req.Granted, RefusedFlows: req.RefusedFlows, Code: req.Code, Message: req.Message})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	result := map[string]any{"id": id}
	if action == "claim" {
		result["claimedUntil"] = d.ClaimUntil
	} else {
		result["state"] = d.State
	}
	writeJSON(w, http.StatusOK, result)
}

// comment lets a reviewer, or the plugin's own publisher, write in the
// review thread; appeal reopens a rejected version.
func (s *Server) threadAction(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.DecisionRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var err error
	if strings.HasSuffix(r.URL.Path, "/appeal") {
		err = s.app.Appeal(r.Context(), p, r.PathValue("id"), req.Message)
	} else {
		_, err = s.app.Comment(r.Context(), p, r.PathValue("id"), req.Message)
	}
	if err != nil {
		s.fail(w, r, err)
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
const MaxCodeDiff = app.MaxCodeDiff

func (s *Server) setAutoApproval(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.AutoApprovalRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := s.app.SetAutoApproval(r.Context(), p, req.Scope, req.Off, req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scope": req.Scope, "autoApprovalOff": req.Off})
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	ap, err := s.app.Policy(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.Policy{Digest: ap.Engine.Digest(), Modules: ap.Engine.Policy().Modules, History: []api.PolicyVersion{}}
	for _, p := range ap.History {
		out.History = append(out.History, api.PolicyVersion{Digest: p.Digest, AppliedBy: p.AppliedBy, AppliedAt: p.AppliedAt, Active: p.Active})
	}
	writeJSON(w, http.StatusOK, out)
}

// dryRun reports which versions awaiting a decision the proposed policy
// would decide differently from the active one.
func (s *Server) policyDryRun(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	mods, ok := policyModules(w, r)
	if !ok {
		return
	}
	d, err := s.app.PolicyDryRun(r.Context(), p, mods)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyDryRunJSON(d.Proposed, d.Active, d.Differences, d.WouldSuspend))
}

func (s *Server) applyPolicy(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	mods, ok := policyModules(w, r)
	if !ok {
		return
	}
	a, err := s.app.ApplyPolicy(r.Context(), p, mods)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if a.Revalidated {
		writeJSON(w, http.StatusOK, map[string]any{"digest": a.Digest, "status": "applied", "revalidating": a.Revalidating})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"digest": a.Digest, "status": "applied"})
}

// reviewState adds the review item and the plugin's thread to a
// submission's view, so its author sees the deadline and the conversation.
func reviewState(sr app.Submission, sub *api.Submission) {
	if it := sr.Review; it != nil {
		sub.Review = &api.Review{Tier: it.Tier, Weight: it.Weight, Deadline: it.Deadline, ApprovalsRequired: it.ApprovalsRequired, Approvals: len(sr.Approvals), Open: it.Open}
	}
	for _, m := range sr.Thread {
		sub.Thread = append(sub.Thread, api.Message{Version: m.VersionID, Author: m.Author, Kind: m.Kind, Body: m.Body, At: m.CreatedAt})
	}
}

// codeDiffJSON is a code diff as the API shows it.
func codeDiffJSON(cs []review.FileChange) []api.FileDiff {
	out := []api.FileDiff{}
	for _, c := range cs {
		fd := api.FileDiff{Path: c.Path, Status: c.Status, Diff: c.Diff}
		switch {
		case c.Binary:
			fd.Diff = fmt.Sprintf("binary file: %d → %d bytes", c.OldSize, c.NewSize)
		case c.Omitted:
			fd.Diff = "(diff omitted: the review view's limit is reached)"
		}
		out = append(out, fd)
	}
	return out
}

// policyModules reads a proposed policy's sources.
func policyModules(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	var req api.PolicyRequest
	r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Modules) == 0 {
		writeError(w, http.StatusBadRequest, "bad_policy", `send {"modules": {"file.rego": "source", ...}}`)
		return nil, false
	}
	return req.Modules, true
}
