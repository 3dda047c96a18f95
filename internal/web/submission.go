package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet"
)

type submissionsData struct {
	Versions []domain.Version
	Overseer bool
}

// maxListed bounds the submissions list.
const maxListed = 200

func (h *Handler) submissions(w http.ResponseWriter, r *http.Request, c *call) {
	d := submissionsData{Overseer: c.p.Oversees()}
	vs, err := h.app.Submissions(r.Context(), c.p, app.SubmissionQuery{Limit: 1000})
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	d.Versions = vs
	sort.SliceStable(d.Versions, func(i, j int) bool { return d.Versions[i].CreatedAt.After(d.Versions[j].CreatedAt) })
	if len(d.Versions) > maxListed {
		d.Versions = d.Versions[:maxListed]
	}
	h.render(w, r, c, http.StatusOK, "submissions.html", "Submissions", d)
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
	Version   domain.Version
	Timeline  []step
	Events    []audit.Event
	Vetting   *domain.VetRun
	Results   []resultView
	Findings  int
	Review    *domain.ReviewItem
	Overdue   bool
	Approvals int
	Thread    []domain.Message
	CanAppeal bool
	Next      string
}

func (h *Handler) submission(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	sr, err := h.app.Submission(r.Context(), c.p, id)
	if err != nil {
		h.refuse(w, r, c, id, err)
		return
	}
	v := sr.Version
	d := submissionData{Version: v, Next: next(v.State), Events: sr.History, Review: sr.Review, Approvals: len(sr.Approvals), Thread: sr.Thread}
	if sr.Review != nil {
		d.Overdue = sr.Review.Open && h.app.Now().After(sr.Review.Deadline)
	}
	d.Timeline = timeline(v, d.Events)
	if sr.Vetting != nil {
		d.Vetting = &sr.Vetting.Run
	}
	d.Results, d.Findings = resultViews(sr.Vetting)
	d.CanAppeal = v.State == lifecycle.Rejected && c.p.Allowed(domain.RolePublisher)
	h.render(w, r, c, http.StatusOK, "submission.html", v.PluginID+"@"+v.Version, d)
}

// refuse answers a refused operation on submission id: a submission c may
// not read gets the page of one that does not exist.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, c *call, id string, err error) {
	if k, _, _ := app.Classify(err); k == app.KindNotFound {
		h.fail(w, r, c, http.StatusNotFound, "There is no submission "+id+".")
		return
	}
	h.failApp(w, r, c, err)
}

// happyPath is the road a version travels when nothing stops it; the
// timeline shows where this one stands on it, and any detour it took.
var happyPath = []lifecycle.State{lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.InReview, lifecycle.Certified}

func timeline(v domain.Version, events []audit.Event) []step {
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

// resultViews are a vetting run's results as pages show them, with the
// number of findings: what blocks comes first, then what failed, then the
// rest, as an author reads from the top.
func resultViews(vt *app.Vetting) ([]resultView, int) {
	if vt == nil {
		return nil, 0
	}
	var out []resultView
	n := 0
	for _, res := range vt.Results {
		rv := resultView{Analyzer: res.Analyzer, Status: res.Status, Reason: res.Reason, Blocking: res.Blocking}
		for _, f := range res.Findings {
			rv.Findings = append(rv.Findings, findingView{Finding: f, Where: where(f.Location)})
			n++
		}
		out = append(out, rv)
	}
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
	return out, n
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
	id := r.PathValue("id")
	if _, err := h.app.Comment(r.Context(), c.p, id, strings.TrimSpace(r.PostFormValue("message"))); err != nil {
		h.refuse(w, r, c, id, err)
		return
	}
	back := "/submissions/" + id
	if r.PostFormValue("from") == "review" && c.p.Allowed(reviewers.Roles...) {
		back = "/reviews/" + id
	}
	redirect(w, r, back, "commented")
}

func (h *Handler) appeal(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	if err := h.app.Appeal(r.Context(), c.p, id, strings.TrimSpace(r.PostFormValue("message"))); err != nil {
		h.refuse(w, r, c, id, err)
		return
	}
	redirect(w, r, "/submissions/"+id, "appealed")
}

// sentence makes an error message a sentence for a page.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
