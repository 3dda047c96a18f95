package web

import (
	"fmt"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/manifest"
)

type permView struct {
	Raw, Plain string
}

type versionView struct {
	domain.Version
	Changes []string
	Current bool
}

type riskView struct {
	Tier    string
	Weight  int
	Reasons []string
	Factors []factorView
}

type factorView struct {
	Name        string
	Points, Cap int
	Why         string
}

type pluginData struct {
	Plugin      domain.Plugin
	Version     domain.Version
	Manifest    *manifest.Manifest
	Permissions []permView
	Badges      []string
	Cert        *certView
	Risk        *riskView
	History     []versionView
	MarketURL   string
	Anonymous   bool
	FileName    string
	// Revalidation is the version's schedule: when it is next checked
	// again, and how the last check went (nil before its first).
	Revalidation *domain.Revalidation
}

func (h *Handler) plugin(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("namespace") + "/" + r.PathValue("name")
	// Unreleased versions are for the namespace's publishers and the
	// overseers; nobody else learns anything about plugins without a
	// released version, not even that they exist (app.Plugin).
	p, vs, err := h.app.Plugin(r.Context(), c.p, id)
	if k, _, _ := app.Classify(err); err != nil && k == app.KindNotFound {
		h.fail(w, r, c, http.StatusNotFound, "There is no plugin "+id+" in the catalog.")
		return
	}
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	sortVersions(vs)
	sel := 0
	if want := r.URL.Query().Get("version"); want != "" {
		sel = -1
		for i, v := range vs {
			if v.Version == want {
				sel = i
			}
		}
		if sel < 0 {
			h.fail(w, r, c, http.StatusNotFound, fmt.Sprintf("%s has no version %s to show.", id, want))
			return
		}
	}
	v := vs[sel]
	m, err := parseStored(v.Manifest)
	if err != nil {
		h.internal(w, r, c, fmt.Errorf("reading the manifest of %s: %w", v.ID, err))
		return
	}
	d := pluginData{Plugin: p, Version: v, Manifest: m, Anonymous: !c.signedIn, MarketURL: h.cfg.PublicURL,
		FileName: strings.ReplaceAll(id, "/", "__") + "@" + v.Version + ".gpkg"}
	if d.MarketURL == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		d.MarketURL = scheme + "://" + r.Host
	}
	for _, raw := range m.Permissions {
		pv := permView{Raw: raw, Plain: raw}
		if perm, err := manifest.ParsePermission(raw); err == nil {
			pv.Plain = perm.Describe()
		}
		d.Permissions = append(d.Permissions, pv)
	}
	if d.Cert, d.Badges, err = h.badges(r.Context(), c, v); err != nil {
		h.failApp(w, r, c, err)
		return
	}
	vd, err := h.app.Verdict(r.Context(), c.p, v)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	d.Risk = risk(vd)
	if d.Revalidation, err = h.app.Revalidation(r.Context(), c.p, v); err != nil {
		h.failApp(w, r, c, err)
		return
	}
	for i, x := range vs {
		vv := versionView{Version: x, Current: i == sel}
		if i+1 < len(vs) {
			older, err1 := parseStored(vs[i+1].Manifest)
			newer, err2 := parseStored(x.Manifest)
			if err1 == nil && err2 == nil {
				vv.Changes = manifestChanges(older, newer)
			}
		} else {
			vv.Changes = []string{"First version shown."}
		}
		d.History = append(d.History, vv)
	}
	title := p.DisplayName
	if title == "" {
		title = p.ID
	}
	h.render(w, r, c, http.StatusOK, "plugin.html", title, d)
}

// risk is what pages show of a version's newest verdict; nil before its
// triage.
func risk(vd *app.Verdict) *riskView {
	if vd == nil {
		return nil
	}
	out := &riskView{Tier: vd.Record.Tier, Weight: vd.Record.Weight}
	if tv := vd.Verdict; tv != nil {
		out.Reasons = tv.Reasons
		for _, f := range tv.Weight.Factors {
			if f.Value > 0 {
				out.Factors = append(out.Factors, factorView{Name: f.Name, Points: f.Value, Cap: f.Cap, Why: f.Reason})
			}
		}
	}
	return out
}

// manifestChanges says in sentences what newer asks for that older did
// not, and what it dropped.
func manifestChanges(older, newer *manifest.Manifest) []string {
	var out []string
	oldPerms, newPerms := set(older.Permissions), set(newer.Permissions)
	for _, p := range newer.Permissions {
		if !oldPerms[p] {
			desc := p
			if perm, err := manifest.ParsePermission(p); err == nil {
				desc = perm.Describe()
			}
			out = append(out, fmt.Sprintf("New permission %s: the plugin may %s.", p, desc))
		}
	}
	for _, p := range older.Permissions {
		if !newPerms[p] {
			out = append(out, fmt.Sprintf("No longer asks for %s.", p))
		}
	}
	var oc, nc []string
	var oldLeaves, newLeaves bool
	var oldRet, newRet string
	if older.Data != nil {
		oc, oldLeaves, oldRet = older.Data.Categories, older.Data.LeavesPlatform, older.Data.Retention
	}
	if newer.Data != nil {
		nc, newLeaves, newRet = newer.Data.Categories, newer.Data.LeavesPlatform, newer.Data.Retention
	}
	ocs, ncs := set(oc), set(nc)
	for _, x := range nc {
		if !ocs[x] {
			out = append(out, fmt.Sprintf("Now handles %s data.", x))
		}
	}
	for _, x := range oc {
		if !ncs[x] {
			out = append(out, fmt.Sprintf("No longer handles %s data.", x))
		}
	}
	if newLeaves && !oldLeaves {
		out = append(out, "Data now leaves the platform.")
	} else if oldLeaves && !newLeaves {
		out = append(out, "Data no longer leaves the platform.")
	}
	if oldRet != newRet && newRet != "" {
		out = append(out, fmt.Sprintf("Retention changed from %q to %q.", oldRet, newRet))
	}
	if older.Runtime.HostAPI != newer.Runtime.HostAPI {
		out = append(out, fmt.Sprintf("Compatibility changed: host API %s (was %s).", newer.Runtime.HostAPI, older.Runtime.HostAPI))
	}
	if newer.Deprecation != nil && newer.Deprecation.Deprecated && (older.Deprecation == nil || !older.Deprecation.Deprecated) {
		out = append(out, "Deprecated in this version.")
	}
	if len(out) == 0 {
		out = append(out, "No change to permissions, data handling or compatibility.")
	}
	return out
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m
}
