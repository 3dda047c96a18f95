package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/manifest"
)

type queueItem struct {
	store.ReviewItem
	Version   string
	Approvals int
	Overdue   bool
	Claimed   bool
	DueIn     time.Duration
}

type queueData struct {
	Items []queueItem
	Stats store.QueueStats
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	items, err := h.cfg.Store.ListReviews(ctx, store.ReviewQuery{Limit: 200})
	if err != nil {
		h.internal(w, r, c, err)
		return
	}
	now := h.cfg.Now()
	d := queueData{}
	if d.Stats, err = h.cfg.Store.QueueStats(ctx, now); err != nil {
		h.internal(w, r, c, err)
		return
	}
	for _, it := range items {
		v, err := h.cfg.Store.GetVersion(ctx, it.VersionID)
		if err != nil {
			h.internal(w, r, c, err)
			return
		}
		as, err := h.cfg.Store.ListApprovals(ctx, it.VersionID)
		if err != nil {
			h.internal(w, r, c, err)
			return
		}
		d.Items = append(d.Items, queueItem{ReviewItem: it, Version: v.Version, Approvals: len(as), Overdue: now.After(it.Deadline),
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
	Item        store.ReviewItem
	Version     store.Version
	Manifest    *manifest.Manifest
	Approvals   []store.Approval
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
	Thread      []store.Message
	RejectCodes []string
	Decided     bool
}

func (h *Handler) reviewPage(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	id := r.PathValue("id")
	it, err := h.cfg.Store.GetReview(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, c, http.StatusNotFound, "Submission "+id+" has not been sent to review.")
		return
	}
	if err != nil {
		h.internal(w, r, c, err)
		return
	}
	v, err := h.cfg.Store.GetVersion(ctx, id)
	if err != nil {
		h.internal(w, r, c, err)
		return
	}
	now := h.cfg.Now()
	d := reviewData{Item: it, Version: v, Overdue: it.Open && now.After(it.Deadline), RejectCodes: review.RejectCodes, Decided: v.State != lifecycle.InReview}
	if it.ClaimedBy != "" && it.ClaimUntil.After(now) {
		d.ClaimedBy = it.ClaimedBy
	}
	if d.Manifest, err = parseStored(v.Manifest); err != nil {
		h.internal(w, r, c, err)
		return
	}
	if d.Approvals, err = h.cfg.Store.ListApprovals(ctx, id); err != nil {
		h.internal(w, r, c, err)
		return
	}
	if _, d.Results, d.Findings, err = h.findings(ctx, v); err != nil {
		h.internal(w, r, c, err)
		return
	}
	if vd, err := h.cfg.Store.LatestVerdict(ctx, id); err == nil {
		var tv triage.Verdict
		if json.Unmarshal(vd.Body, &tv) == nil {
			d.Verdict = &tv
		}
	}
	if d.Risk, err = h.risk(r, id); err != nil {
		h.internal(w, r, c, err)
		return
	}
	prev, err := h.cfg.Intake.PreviousApproved(ctx, v.PluginID, v.Version)
	if err != nil {
		h.internal(w, r, c, err)
		return
	}
	var old *manifest.Manifest
	if prev != nil {
		d.Previous = prev.Version
		if old, err = parseStored(prev.Manifest); err != nil {
			h.internal(w, r, c, err)
			return
		}
		d.Changes = manifestChanges(old, d.Manifest)
		if d.Verdict != nil && len(d.Verdict.Input.Diff.ImportsAdded) > 0 {
			d.Changes = append(d.Changes, "The module calls new host functions: "+strings.Join(d.Verdict.Input.Diff.ImportsAdded, ", ")+".")
		}
		if d.CodeDiff, err = h.codeDiff(r, *prev, v); err != nil {
			h.internal(w, r, c, err)
			return
		}
	} else {
		d.Changes = []string{"This is the plugin's first approved version: everything it asks for is new."}
	}
	d.Permissions = permissionDiff(old, d.Manifest)
	if d.Thread, err = h.cfg.Store.ListMessages(ctx, v.PluginID); err != nil {
		h.internal(w, r, c, err)
		return
	}
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

// maxCodeDiff bounds the diff text one review page carries.
const maxCodeDiff = 1 << 20

// codeDiff diffs the text files of two stored versions.
func (h *Handler) codeDiff(r *http.Request, prev, cur store.Version) ([]fileDiff, error) {
	a, err := h.cfg.Intake.LoadPackage(r.Context(), prev.Digest)
	if err != nil {
		return nil, err
	}
	b, err := h.cfg.Intake.LoadPackage(r.Context(), cur.Digest)
	if err != nil {
		return nil, err
	}
	var out []fileDiff
	for _, c := range review.CodeDiff(a, b, maxCodeDiff) {
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
	return out, nil
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
	ctx := r.Context()
	id, action := r.PathValue("id"), r.PathValue("action")
	rv := h.cfg.Review
	msg := strings.TrimSpace(r.PostFormValue("message"))
	var err error
	done := ""
	back := "/reviews/" + id
	switch action {
	case "claim":
		_, err = rv.Claim(ctx, c.p, id)
		done = "claimed"
	case "approve":
		var granted []string
		if r.PostForm.Has("granted-shown") {
			granted = r.PostForm["granted"]
			if granted == nil {
				granted = []string{}
			}
		}
		var st lifecycle.State
		st, err = rv.Approve(ctx, c.p, id, granted, msg)
		done = "approved"
		if st == lifecycle.Certified {
			done, back = "certified", "/reviews"
		}
	case "reject":
		err = rv.Reject(ctx, c.p, id, r.PostFormValue("code"), msg)
		done, back = "rejected", "/reviews"
	case "request-changes":
		err = rv.RequestChanges(ctx, c.p, id, msg)
		done, back = "changes", "/reviews"
	default:
		h.fail(w, r, c, http.StatusNotFound, "No review action "+action+": claim, approve, reject or request-changes.")
		return
	}
	if err != nil {
		h.reviewErr(w, r, c, err)
		return
	}
	redirect(w, r, back, done)
}
