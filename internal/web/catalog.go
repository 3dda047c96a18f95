package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/manifest"
)

// Catalog limits: the store filters by text, state and tier; permission
// kind and badge are filtered here over at most catalogCandidates entries,
// of which one page is shown.
const (
	catalogCandidates = app.MaxCatalog
	catalogPage       = 50
	maxSearch         = 200
)

// permissionKinds are the catalog's permission filter, by grammar prefix.
var permissionKinds = []struct{ Value, Label string }{
	{"net", "Network access"},
	{"fs", "Read-only files"},
	{"kv", "Key-value storage"},
	{"secret", "Secrets"},
	{"data", "Host data"},
}

var tiers = []string{"low", "medium", "high", "critical"}

type catalogFilters struct {
	Q, Perm, Tier, Badge, State string
}

type catalogItem struct {
	ID, Name, Description, Version string
	State                          lifecycle.State
	Tier                           string
	Kinds                          []string
	Badges                         []string
	Expires                        time.Time
}

type catalogData struct {
	Filters   catalogFilters
	Items     []catalogItem
	More      bool
	Kinds     []struct{ Value, Label string }
	Tiers     []string
	States    []lifecycle.State
	Badges    []string
	Anonymous bool
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request, c *call) {
	qv := r.URL.Query()
	f := catalogFilters{Q: qv.Get("q"), Perm: qv.Get("perm"), Tier: qv.Get("tier"), Badge: qv.Get("badge"), State: qv.Get("state")}
	if len(f.Q) > maxSearch {
		h.fail(w, r, c, http.StatusBadRequest, "Search text is limited to 200 characters.")
		return
	}
	q := app.CatalogSearch{Text: f.Q, States: visibleStates(c), Tier: f.Tier, Limit: catalogCandidates}
	if f.State != "" {
		st := lifecycle.State(f.State)
		if !visible(c, st) {
			h.fail(w, r, c, http.StatusBadRequest, "Unknown certification state "+f.State+".")
			return
		}
		q.States = []lifecycle.State{st}
	}
	entries, err := h.app.Catalog(r.Context(), c.p, q)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	data := catalogData{Filters: f, Kinds: permissionKinds, Tiers: tiers, States: visibleStates(c), Badges: h.knownBadges(), Anonymous: !c.signedIn}
	for _, e := range entries {
		it := catalogItem{ID: e.Plugin.ID, Name: e.Plugin.DisplayName, Description: e.Plugin.Description, Version: e.Version.Version, State: e.Version.State, Tier: e.Tier}
		if m, err := parseStored(e.Version.Manifest); err == nil {
			it.Kinds = kindsOf(m)
		}
		if f.Perm != "" && !contains(it.Kinds, f.Perm) {
			continue
		}
		if len(data.Items) >= catalogPage && f.Badge == "" {
			data.More = true
			break
		}
		cert, badges, err := h.badges(r.Context(), c, e.Version)
		if err != nil {
			h.internal(w, r, c, err)
			return
		}
		it.Badges = badges
		if cert != nil {
			it.Expires = cert.ExpiresAt
		}
		if f.Badge != "" && !contains(badges, f.Badge) {
			continue
		}
		if len(data.Items) >= catalogPage {
			data.More = true
			break
		}
		data.Items = append(data.Items, it)
	}
	if len(entries) == catalogCandidates {
		data.More = true
	}
	h.render(w, r, c, http.StatusOK, "catalog.html", "Catalog", data)
}

// parseStored reads a stored manifest. Stored manifests are canonical v1
// JSON written by intake, so a plain decode suffices.
func parseStored(b []byte) (*manifest.Manifest, error) {
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// kindsOf lists the permission kinds (grammar prefixes) a manifest asks for.
func kindsOf(m *manifest.Manifest) []string {
	var out []string
	for _, p := range m.Permissions {
		k, _, _ := strings.Cut(p, ":")
		if !contains(out, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// knownBadges are the badge filter's choices: the analyzers this server
// runs and "reviewed".
func (h *Handler) knownBadges() []string {
	var out []string
	for name := range h.app.Rules() {
		out = append(out, name)
	}
	// Certificates add these to the analyzers' names.
	for _, extra := range []string{"reviewed", "provenance", "reproducible"} {
		if !contains(out, extra) {
			out = append(out, extra)
		}
	}
	sort.Strings(out)
	return out
}

// badges are the checks a version passed: its certificate's when it has
// one; otherwise the analyzers whose newest result passed, plus "reviewed"
// when people approved it (app.Checks).
func (h *Handler) badges(ctx context.Context, c *call, v domain.Version) (*certView, []string, error) {
	if cert, err := h.certificate(ctx, v); err != nil {
		return nil, nil, err
	} else if cert != nil {
		return cert, cert.Checks, nil
	}
	checks, err := h.app.Checks(ctx, c.p, v)
	return nil, checks, err
}

// certView is what pages show of a certificate.
type certView struct {
	IssuedAt, ExpiresAt time.Time
	Checks, Permissions []string
	Reviewers           []string
	Tier                string
	PolicyDigest        string
	ExpiresSoon         bool
	Expired             bool
}

// certificate returns v's current certificate, or nil when there is none
// or no certificate source is configured.
func (h *Handler) certificate(ctx context.Context, v domain.Version) (*certView, error) {
	if h.cfg.Certificates == nil || (v.State != lifecycle.Certified && v.State != lifecycle.Suspended) {
		return nil, nil
	}
	c, err := h.cfg.Certificates.LatestCertificate(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := h.cfg.Now()
	return &certView{IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, Checks: c.Checks, Permissions: c.Permissions, Reviewers: c.Reviewers,
		Tier: c.RiskTier, PolicyDigest: c.PolicyDigest,
		Expired: !now.Before(c.ExpiresAt), ExpiresSoon: now.Before(c.ExpiresAt) && c.ExpiresAt.Sub(now) < expiringSoon}, nil
}

// expiringSoon is when a certificate counts as expiring soon.
const expiringSoon = 14 * 24 * time.Hour

// sortVersions orders versions by SemVer, newest first.
func sortVersions(vs []domain.Version) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, errA := semver.NewVersion(vs[i].Version)
		b, errB := semver.NewVersion(vs[j].Version)
		if errA != nil || errB != nil {
			return vs[i].CreatedAt.After(vs[j].CreatedAt)
		}
		return a.GreaterThan(b)
	})
}
