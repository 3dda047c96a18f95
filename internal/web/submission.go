package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
)

type submissionsData struct {
	Versions []store.Version
	Overseer bool
}

// maxListed bounds the submissions list.
const maxListed = 200

func (h *Handler) submissions(w http.ResponseWriter, r *http.Request, c *call) {
	d := submissionsData{Overseer: c.p.Allowed(store.RoleReviewer, store.RoleSteward, store.RoleAuditor)}
	ctx := r.Context()
	if d.Overseer {
		vs, err := h.cfg.Store.FindVersions(ctx, store.VersionQuery{Limit: 1000})
		if err != nil {
			h.internal(w, r, c, err)
			return
		}
		d.Versions = vs
	} else {
		nss, err := h.ownNamespaces(ctx, c)
		if err != nil {
			h.internal(w, r, c, err)
			return
		}
		for _, ns := range nss {
			ps, err := h.cfg.Store.ListPlugins(ctx, store.PluginQuery{Namespace: ns, Limit: 500})
			if err != nil {
				h.internal(w, r, c, err)
				return
			}
			for _, p := range ps {
				vs, err := h.cfg.Store.ListVersions(ctx, p.ID)
				if err != nil {
					h.internal(w, r, c, err)
					return
				}
				d.Versions = append(d.Versions, vs...)
			}
		}
	}
	sort.SliceStable(d.Versions, func(i, j int) bool { return d.Versions[i].CreatedAt.After(d.Versions[j].CreatedAt) })
	if len(d.Versions) > maxListed {
		d.Versions = d.Versions[:maxListed]
	}
	h.render(w, r, c, http.StatusOK, "submissions.html", "Submissions", d)
}

// ownNamespaces are the namespaces a publisher publishes in.
func (h *Handler) ownNamespaces(ctx context.Context, c *call) ([]string, error) {
	if c.p.Namespace != "" {
		return []string{c.p.Namespace}, nil
	}
	all, err := h.cfg.Store.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if contains(n.Owners, c.p.Subject) {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

type step struct {
	State   lifecycle.State
	Status  string // done, current, ahead
	At      time.Time
	Actor   string
	Reason  string
	Overdue bool
}

type findingView struct {
	vet.Finding
	Where string
}

type resultView struct {
	Analyzer string
	Status   vet.Status
	Reason   string
	Blocking bool
	Findings []findingView
}

type submissionData struct {
	Version   store.Version
	Timeline  []step
	Events    []audit.Event
	Vetting   *store.VetRun
	Results   []resultView
	Findings  int
	Review    *store.ReviewItem
	Overdue   bool
	Approvals int
	Thread    []store.Message
	CanAppeal bool
	Next      string
}

func (h *Handler) submission(w http.ResponseWriter, r *http.Request, c *call) {
	v, ok := h.readable(w, r, c)
	if !ok {
		return
	}
	ctx := r.Context()
	d := submissionData{Version: v, Next: next(v.State)}
	err := h.cfg.Store.ScanAudit(ctx, store.AuditQuery{Subject: "submission:" + v.ID, Limit: 1000}, func(e audit.Event) error {
		d.Events = append(d.Events, e)
		return nil
	})
	if err != nil {
		h.internal(w, r, c, err)
		return
	}
	if it, err := h.cfg.Store.GetReview(ctx, v.ID); err == nil {
		d.Review = &it
		d.Overdue = it.Open && h.cfg.Now().After(it.Deadline)
		as, err := h.cfg.Store.ListApprovals(ctx, v.ID)
		if err != nil {
			h.internal(w, r, c, err)
			return
		}
		d.Approvals = len(as)
	} else if !errors.Is(err, store.ErrNotFound) {
		h.internal(w, r, c, err)
		return
	}
	d.Timeline = timeline(v, d.Events)
	if d.Vetting, d.Results, d.Findings, err = h.findings(ctx, v); err != nil {
		h.internal(w, r, c, err)
		return
	}
	if d.Thread, err = h.cfg.Store.ListMessages(ctx, v.PluginID); err != nil {
		h.internal(w, r, c, err)
		return
	}
	d.CanAppeal = v.State == lifecycle.Rejected && c.p.Allowed(store.RolePublisher)
	h.render(w, r, c, http.StatusOK, "submission.html", v.PluginID+"@"+v.Version, d)
}

// readable loads the submission in the path and checks c may read it,
// answering the request itself when not.
func (h *Handler) readable(w http.ResponseWriter, r *http.Request, c *call) (store.Version, bool) {
	id := r.PathValue("id")
	v, err := h.cfg.Store.GetVersion(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, c, http.StatusNotFound, "There is no submission "+id+".")
		return v, false
	}
	if err != nil {
		h.internal(w, r, c, err)
		return v, false
	}
	ok, err := h.canSee(r.Context(), c, v.PluginID)
	if err != nil {
		h.internal(w, r, c, err)
		return v, false
	}
	if !ok {
		// The same answer as for a submission that does not exist.
		h.fail(w, r, c, http.StatusNotFound, "There is no submission "+id+".")
		return v, false
	}
	return v, true
}

// happyPath is the road a version travels when nothing stops it; the
// timeline shows where this one stands on it, and any detour it took.
var happyPath = []lifecycle.State{lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.InReview, lifecycle.Certified}

func timeline(v store.Version, events []audit.Event) []step {
	var out []step
	seen := map[lifecycle.State]bool{}
	for _, e := range events {
		st := lifecycle.State(e.NewState)
		if st == "" {
			continue
		}
		out = append(out, step{State: st, Status: "done", At: e.Time, Actor: e.Actor, Reason: e.Reason})
		seen[st] = true
	}
	if len(out) > 0 {
		out[len(out)-1].Status = "current"
	}
	if lifecycle.Terminal(v.State) {
		return out
	}
	// What lies ahead on the usual road.
	ahead := false
	for _, st := range happyPath {
		if st == v.State {
			ahead = true
			continue
		}
		if ahead && !seen[st] {
			out = append(out, step{State: st, Status: "ahead"})
		}
	}
	return out
}

// next says in a sentence what happens to a version in state st.
func next(st lifecycle.State) string {
	switch st {
	case lifecycle.Received, lifecycle.Vetting, lifecycle.Triage:
		return "Automatic checks are running; reload in a few seconds."
	case lifecycle.InReview:
		return "Waiting for a reviewer's decision before the deadline."
	case lifecycle.ChangesRequested:
		return "The reviewer asked for changes: read the thread, fix them and submit a new version."
	case lifecycle.AutoApproved:
		return "Approved automatically; the certificate is being issued."
	case lifecycle.Certified:
		return "Certified: hosts may install it."
	case lifecycle.Rejected:
		return "Rejected: read the findings and the reason, fix them in a new version, or appeal below."
	case lifecycle.Suspended:
		return "Suspended: certify a fixed version before the deadline, or this one is revoked."
	case lifecycle.Revoked:
		return "Revoked: hosts refuse it."
	}
	return ""
}

// findings loads a version's newest vetting run with today's
// false-positive decisions applied.
func (h *Handler) findings(ctx context.Context, v store.Version) (*store.VetRun, []resultView, int, error) {
	run, err := h.cfg.Store.LatestVetRun(ctx, v.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, 0, nil
	}
	if err != nil {
		return nil, nil, 0, err
	}
	var results []vet.Result
	if err := json.Unmarshal(run.Results, &results); err != nil {
		return nil, nil, 0, fmt.Errorf("decoding the stored results of %s: %w", v.ID, err)
	}
	sups, err := h.cfg.Store.ListSuppressions(ctx, v.PluginID)
	if err != nil {
		return nil, nil, 0, err
	}
	byFP := map[string]store.Suppression{}
	for _, x := range sups {
		byFP[x.Fingerprint] = x
	}
	var out []resultView
	n := 0
	for _, res := range results {
		rv := resultView{Analyzer: res.Analyzer, Status: res.Status, Reason: res.Reason, Blocking: res.Blocking}
		for _, f := range res.Findings {
			if x, ok := byFP[f.Fingerprint]; ok && f.Suppressed == nil {
				f.Suppressed = &vet.Suppression{By: x.By, Reason: x.Reason, At: x.CreatedAt}
			}
			rv.Findings = append(rv.Findings, findingView{Finding: f, Where: where(f.Location)})
			n++
		}
		out = append(out, rv)
	}
	// What blocks comes first, then what failed, then the rest: an author
	// reads from the top.
	rank := func(r resultView) int {
		switch {
		case r.Blocking:
			return 0
		case r.Status == vet.Failed || r.Status == vet.Errored:
			return 1
		case len(r.Findings) > 0:
			return 2
		}
		return 3
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return &run, out, n, nil
}

// where formats a finding's location as an author's editor wants it.
func where(l vet.Location) string {
	switch {
	case l.File == "":
		return "the package"
	case l.Line > 0 && l.Column > 0:
		return fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Column)
	case l.Line > 0:
		return fmt.Sprintf("%s:%d", l.File, l.Line)
	case l.Offset > 0:
		return fmt.Sprintf("%s at byte %d", l.File, l.Offset)
	}
	return l.File
}

func (h *Handler) comment(w http.ResponseWriter, r *http.Request, c *call) {
	v, ok := h.readable(w, r, c)
	if !ok {
		return
	}
	msg := strings.TrimSpace(r.PostFormValue("message"))
	if _, err := h.cfg.Review.Comment(r.Context(), c.p, v.ID, msg); err != nil {
		h.reviewErr(w, r, c, err)
		return
	}
	back := "/submissions/" + v.ID
	if r.PostFormValue("from") == "review" && c.p.Allowed(reviewers.Roles...) {
		back = "/reviews/" + v.ID
	}
	redirect(w, r, back, "commented")
}

func (h *Handler) appeal(w http.ResponseWriter, r *http.Request, c *call) {
	v, ok := h.readable(w, r, c)
	if !ok {
		return
	}
	if err := h.cfg.Review.Appeal(r.Context(), c.p, v.ID, strings.TrimSpace(r.PostFormValue("message"))); err != nil {
		h.reviewErr(w, r, c, err)
		return
	}
	redirect(w, r, "/submissions/"+v.ID, "appealed")
}

// reviewErr answers a refused review action with what was wrong.
func (h *Handler) reviewErr(w http.ResponseWriter, r *http.Request, c *call, err error) {
	switch {
	case errors.Is(err, review.ErrForbidden):
		h.fail(w, r, c, http.StatusForbidden, sentence(err))
	case errors.Is(err, review.ErrInvalid):
		h.fail(w, r, c, http.StatusUnprocessableEntity, sentence(err))
	case errors.Is(err, review.ErrState), errors.Is(err, store.ErrStateChanged), errors.Is(err, store.ErrConflict):
		h.fail(w, r, c, http.StatusConflict, sentence(err))
	case errors.Is(err, store.ErrNotFound):
		h.fail(w, r, c, http.StatusNotFound, sentence(err))
	default:
		h.internal(w, r, c, err)
	}
}

func sentence(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
