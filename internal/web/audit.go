package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/policy"
)

type auditData struct {
	Filter    auditForm
	Events    []audit.Event
	Older     string // query string of the next page, "" when none
	Export    string // query string for the export
	Report    audit.Report
	Verified  bool
	VerifyErr string
}

type auditForm struct {
	Actor, Action, Subject, Since, Until string
}

const auditPageSize = 100

// auditFilter reads the page's filters; dates are YYYY-MM-DD in UTC.
func auditFilter(q url.Values) (domain.AuditFilter, auditForm, string) {
	f := auditForm{Actor: q.Get("actor"), Action: q.Get("action"), Subject: q.Get("subject"), Since: q.Get("since"), Until: q.Get("until")}
	out := domain.AuditFilter{Actor: f.Actor, Action: f.Action, Subject: f.Subject, Limit: auditPageSize}
	for _, s := range []string{f.Actor, f.Action, f.Subject} {
		if len(s) > 200 {
			return out, f, "Filters are limited to 200 characters."
		}
	}
	day := func(s string) (time.Time, bool) {
		if s == "" {
			return time.Time{}, true
		}
		t, err := time.Parse("2006-01-02", s)
		return t, err == nil
	}
	var ok bool
	if out.Since, ok = day(f.Since); !ok {
		return out, f, "Since must be a date such as 2026-11-01."
	}
	if out.Until, ok = day(f.Until); !ok {
		return out, f, "Until must be a date such as 2026-11-30."
	}
	if !out.Until.IsZero() {
		out.Until = out.Until.AddDate(0, 0, 1) // the whole day
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return out, f, "Before must be a sequence number."
		}
		out.BeforeSeq = n
	}
	return out, f, ""
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, c *call) {
	f, form, bad := auditFilter(r.URL.Query())
	if bad != "" {
		h.fail(w, r, c, http.StatusBadRequest, bad)
		return
	}
	evs, err := h.app.SearchAudit(r.Context(), c.p, f)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	d := auditData{Filter: form, Events: evs}
	q := url.Values{}
	for k, v := range map[string]string{"actor": form.Actor, "action": form.Action, "subject": form.Subject, "since": form.Since, "until": form.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	d.Export = q.Encode()
	if len(evs) == auditPageSize {
		q.Set("before", strconv.FormatInt(evs[len(evs)-1].Seq, 10))
		d.Older = q.Encode()
	}
	// The whole chain is recomputed: that is the point of looking.
	rep, err := h.app.VerifyAudit(r.Context(), c.p)
	if err != nil {
		d.VerifyErr = "The trail could not be read to verify it; the server log has the details."
		h.cfg.Log.ErrorContext(r.Context(), "verifying the audit trail", "err", err)
	} else {
		d.Report, d.Verified = rep, true
	}
	h.render(w, r, c, http.StatusOK, "audit.html", "Audit trail", d)
}

// auditExport downloads the filtered trail as JSON lines, each event with
// its hashes, so an auditor can verify the chain offline.
func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request, c *call) {
	f, _, bad := auditFilter(r.URL.Query())
	if bad != "" {
		h.fail(w, r, c, http.StatusBadRequest, bad)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-audit.jsonl"`)
	enc := json.NewEncoder(w)
	err := h.app.ExportAuditSearch(r.Context(), c.p, f, func(e audit.Event) error { return enc.Encode(e) })
	if err != nil && !errors.Is(err, context.Canceled) {
		// Headers are gone; the truncated file and the log say so.
		h.cfg.Log.ErrorContext(r.Context(), "audit export failed", "err", err, "actor", c.p.Subject)
	}
}

type policyData struct {
	Digest   string
	Modules  []module
	History  []domain.PolicyRecord
	CanDry   bool
	Proposal module
	DryRun   *dryRunView
}

type module struct{ Name, Source string }

type dryRunView struct {
	Proposed, Active string
	Error            string
	Differences      []policy.Difference
}

func (h *Handler) policyData(ctx context.Context, c *call) (policyData, error) {
	ap, err := h.app.Policy(ctx, c.p)
	if err != nil {
		return policyData{}, err
	}
	e := ap.Engine
	d := policyData{Digest: e.Digest(), CanDry: c.p.Allowed(stewards.Roles...), History: ap.History}
	p := e.Policy()
	for _, n := range p.Names() {
		d.Modules = append(d.Modules, module{Name: n, Source: p.Modules[n]})
	}
	return d, nil
}

func (h *Handler) policy(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := h.policyData(r.Context(), c)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "policy.html", "Policy", d)
}

// policyDryRun replaces (or adds) one module of the active policy with the
// form's source, and reports which versions in review it would decide
// differently. Nothing is applied: applying stays an API and CLI action.
func (h *Handler) policyDryRun(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	d, err := h.policyData(ctx, c)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	name, src := r.PostFormValue("module"), r.PostFormValue("source")
	d.Proposal = module{Name: name, Source: src}
	d.DryRun = &dryRunView{Active: d.Digest}
	mods := map[string]string{}
	for _, m := range d.Modules {
		mods[m.Name] = m.Source
	}
	status := http.StatusOK
	if name == "" || src == "" {
		d.DryRun.Error = "Give the module's file name and its Rego source."
		status = http.StatusUnprocessableEntity
	} else {
		mods[name] = src
		d.DryRun.Proposed = policy.New(mods).Digest
		dry, err := h.app.PolicyDryRun(ctx, c.p, mods)
		var ae *app.Error
		switch {
		case errors.As(err, &ae) && ae.Kind == app.KindInvalid:
			// A policy that does not compile or whose tests fail: the
			// page shows where, as the API's answer does.
			d.DryRun.Error = ae.Error()
			status = http.StatusUnprocessableEntity
		case err != nil:
			h.failApp(w, r, c, err)
			return
		default:
			d.DryRun.Differences = dry.Differences
		}
	}
	h.render(w, r, c, status, "policy.html", "Policy", d)
}
