package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/manifest"
)

type queueItem struct {
	domain.ReviewItem
	Version   string
	Approvals int
	Overdue   bool
	Claimed   bool
	DueIn     time.Duration
}

type queueData struct {
	Items []queueItem
	Stats domain.QueueStats
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	entries, err := h.app.Queue(ctx, c.p, app.Page{Limit: 200})
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	now := h.app.Now()
	d := queueData{}
	if d.Stats, err = h.app.QueueStats(ctx, c.p); err != nil {
		h.failApp(w, r, c, err)
		return
	}
	for _, e := range entries {
		it := e.Item
		d.Items = append(d.Items, queueItem{ReviewItem: it, Version: e.Version.Version, Approvals: len(e.Approvals), Overdue: now.After(it.Deadline),
			Claimed: it.ClaimedBy != "" && it.ClaimUntil.After(now), DueIn: it.Deadline.Sub(now).Round(time.Minute)})
	}
	h.render(w, r, c, http.StatusOK, "queue.html", "Review queue", d)
}

type permDiff struct {
	Raw, Plain, Status string // Status: new, kept, removed
}

type diffLine struct {
	Kind, Text string // Kind: add, del, hunk, ctx
}

type fileDiff struct {
	Path, Status, Note string
	Lines              []diffLine
}

type reviewData struct {
	Item        domain.ReviewItem
	Version     domain.Version
	Manifest    *manifest.Manifest
	Approvals   []domain.Approval
	Overdue     bool
	ClaimedBy   string
	Verdict     *triage.Verdict
	Risk        *riskView
	Results     []resultView
	Findings    int
	Previous    string
	Changes     []string
	Permissions []permDiff
	CodeDiff    []fileDiff
	Thread      []domain.Message
	RejectCodes []string
	Decided     bool
	// Flows are the version's data flows, each approved with the version
	// unless the reviewer ticks it refused.
	Flows []api.PrivacyFlow
}

func (h *Handler) reviewPage(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	rv, err := h.app.Review(r.Context(), c.p, id)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	v, it := rv.Version, rv.Item
	now := h.app.Now()
	d := reviewData{Item: it, Version: v, Approvals: rv.Approvals, Overdue: it.Open && now.After(it.Deadline), RejectCodes: review.RejectCodes,
		Decided: v.State != lifecycle.InReview, Risk: risk(rv.Verdict), Thread: rv.Thread}
	if it.ClaimedBy != "" && it.ClaimUntil.After(now) {
		d.ClaimedBy = it.ClaimedBy
	}
	if d.Manifest, err = parseStored(v.Manifest); err != nil {
		h.internal(w, r, c, err)
		return
	}
	d.Results, d.Findings = resultViews(rv.Vetting)
	if rv.Verdict != nil {
		d.Verdict = rv.Verdict.Verdict
	}
	var old *manifest.Manifest
	if prev := rv.Previous; prev != nil {
		d.Previous = prev.Version
		if old, err = parseStored(prev.Manifest); err != nil {
			h.internal(w, r, c, err)
			return
		}
		d.Changes = manifestChanges(old, d.Manifest)
		if d.Verdict != nil && len(d.Verdict.Input.Diff.ImportsAdded) > 0 {
			d.Changes = append(d.Changes, "The module calls new host functions: "+strings.Join(d.Verdict.Input.Diff.ImportsAdded, ", ")+".")
		}
		d.CodeDiff = codeDiff(rv.CodeDiff)
	} else {
		d.Changes = []string{"This is the plugin's first approved version: everything it asks for is new."}
	}
	d.Permissions = permissionDiff(old, d.Manifest)
	rep, err := h.app.PrivacyReport(r.Context(), c.p, id)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	d.Flows = rep.Flows
	h.render(w, r, c, http.StatusOK, "review.html", "Review "+v.PluginID+"@"+v.Version, d)
}

// permissionDiff lists every permission of either manifest with whether it
// is new, kept or removed, in plain language.
func permissionDiff(old, cur *manifest.Manifest) []permDiff {
	var before []string
	if old != nil {
		before = old.Permissions
	}
	bs, cs := set(before), set(cur.Permissions)
	plain := func(p string) string {
		if perm, err := manifest.ParsePermission(p); err == nil {
			return perm.Describe()
		}
		return p
	}
	var out []permDiff
	for _, p := range cur.Permissions {
		st := "kept"
		if !bs[p] {
			st = "new"
		}
		out = append(out, permDiff{Raw: p, Plain: plain(p), Status: st})
	}
	for _, p := range before {
		if !cs[p] {
			out = append(out, permDiff{Raw: p, Plain: plain(p), Status: "removed"})
		}
	}
	return out
}

// codeDiff is a code diff as the review page shows it.
func codeDiff(cs []review.FileChange) []fileDiff {
	var out []fileDiff
	for _, c := range cs {
		fd := fileDiff{Path: c.Path, Status: c.Status}
		switch {
		case c.Binary:
			fd.Note = fmt.Sprintf("Binary file: %d → %d bytes.", c.OldSize, c.NewSize)
		case c.Omitted:
			fd.Note = "Diff omitted: this page's limit is reached."
		case c.Diff != "":
			fd.Lines = diffLines(c.Diff)
		}
		out = append(out, fd)
	}
	return out
}

func diffLines(u string) []diffLine {
	var out []diffLine
	for _, l := range strings.Split(strings.TrimRight(u, "\n"), "\n") {
		k := "ctx"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			k = "file"
		case strings.HasPrefix(l, "@@"):
			k = "hunk"
		case strings.HasPrefix(l, "+"):
			k = "add"
		case strings.HasPrefix(l, "-"):
			k = "del"
		}
		out = append(out, diffLine{Kind: k, Text: l})
	}
	return out
}

func (h *Handler) reviewAction(w http.ResponseWriter, r *http.Request, c *call) {
	id, action := r.PathValue("id"), r.PathValue("action")
	d := app.Decision{Action: action, Code: r.PostFormValue("code"), Message: strings.TrimSpace(r.PostFormValue("message"))}
	if action == "approve" && r.PostForm.Has("granted-shown") {
		d.Granted = r.PostForm["granted"]
		if d.Granted == nil {
			d.Granted = []string{}
		}
	}
	if action == "approve" {
		d.RefusedFlows = r.PostForm["refuse-flow"]
	}
	res, err := h.app.Decide(r.Context(), c.p, id, d)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	done, back := "", "/reviews/"+id
	switch action {
	case "claim":
		done = "claimed"
	case "approve":
		done = "approved"
		if res.State == lifecycle.Certified {
			done, back = "certified", "/reviews"
		}
	case "reject":
		done, back = "rejected", "/reviews"
	case "request-changes":
		done, back = "changes", "/reviews"
	}
	redirect(w, r, back, done)
}
