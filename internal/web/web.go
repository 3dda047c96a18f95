// Package web serves Gatehouse's pages: the public catalog and plugin
// pages, the author's submission page, the review queue, the steward's
// dashboard, the audit trail, the policy, and a plugin's release timeline
// and rollout controls (releases.go). Pages are rendered on the
// server with html/template from embedded templates, and the one asset is a
// stylesheet: charts are SVG drawn on the server and no page runs a script,
// so the Content-Security-Policy forbids scripts outright.
//
// Signing in exchanges an API token for a session cookie (session.go). Who
// may open a page is decided by the same roles as the matching API route
// (the access table below; a test holds the two together), through
// domain.Principal.Allowed, and a publisher sees only its own namespaces'
// submissions, as in the API.
//
// The package reads the store and calls the domain services (review,
// intake); it never imports the API server, which mounts it as its
// fallback handler.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/trust"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// CertificateSource finds a version's current certificate (certify.Service
// satisfies it); nil shows no certificate details.
type CertificateSource interface {
	LatestCertificate(ctx context.Context, versionID string) (*trust.Certificate, error)
}

// Config holds what the pages read and call.
type Config struct {
	// App is the application layer the pages call (required): every
	// record, decision and package they show comes through it.
	App *app.App
	// Certificates, when set, supplies certificate state and expiry.
	Certificates CertificateSource
	// SessionKey MACs session cookies and CSRF tokens (KeySize bytes; see
	// LoadOrCreateKey).
	SessionKey []byte
	// Secure marks cookies Secure and sends HSTS: set it when the server is
	// reached over TLS (directly or behind a proxy that terminates it).
	Secure bool
	// SessionTTL bounds a session; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// PublicURL is the marketplace's address as users reach it, shown in
	// install instructions; "" shows a placeholder.
	PublicURL string
	Now       func() time.Time
	Log       *slog.Logger
}

// Handler serves the pages.
type Handler struct {
	cfg   Config
	app   *app.App
	sess  *sessions
	mux   *http.ServeMux
	tmpl  map[string]*template.Template
	pages []Page
	dash  *dashCache
}

// Access says who may open a page: the same shape as the API's.
type Access struct {
	Public bool
	Roles  []domain.Role // empty with Public false: any signed-in user
}

// Page is one row of the access table.
type Page struct {
	Method string
	Path   string
	Access Access
	// API is the API route whose access this page must match ("" when
	// the page has no API counterpart).
	API     string
	handler func(w http.ResponseWriter, r *http.Request, c *call)
}

var (
	anyone    = Access{Public: true}
	signedIn  = Access{}
	publisher = Access{Roles: []domain.Role{domain.RolePublisher}}
	auditors  = Access{Roles: []domain.Role{domain.RoleSteward, domain.RoleAuditor}}
	stewards  = Access{Roles: []domain.Role{domain.RoleSteward}}
	reviewers = Access{Roles: []domain.Role{domain.RoleReviewer, domain.RoleSteward}}
	// releasers change releases: stewards, and the plugin's publishers
	// (the application checks the namespace).
	releasers = Access{Roles: []domain.Role{domain.RoleSteward, domain.RolePublisher}}
)

// New builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.App == nil {
		return nil, errors.New("web: the application layer (Config.App) is required")
	}
	if len(cfg.SessionKey) != KeySize {
		return nil, fmt.Errorf("web: the session key must have %d bytes", KeySize)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	h := &Handler{cfg: cfg, app: cfg.App, mux: http.NewServeMux(), dash: &dashCache{}}
	h.sess = &sessions{key: cfg.SessionKey, secure: cfg.Secure, ttl: cfg.SessionTTL, now: cfg.Now, app: cfg.App}
	var err error
	if h.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	h.pages = []Page{
		{Method: "GET", Path: "/{$}", Access: anyone, API: "GET /api/v1/plugins", handler: h.catalog},
		{Method: "GET", Path: "/plugins/{namespace}/{name}", Access: anyone, API: "GET /api/v1/plugins/{namespace}/{name}", handler: h.plugin},
		{Method: "GET", Path: "/plugins/{namespace}/{name}/releases", Access: signedIn, API: "GET /api/v1/plugins/{namespace}/{name}/releases", handler: h.releases},
		// The rollout page shows the controls of the POST beside it, so it
		// has that route's access; app.MayChangeReleases checks the namespace.
		{Method: "GET", Path: "/plugins/{namespace}/{name}/rollout", Access: releasers, API: "POST /api/v1/plugins/{namespace}/{name}/rollout", handler: h.rolloutPage},
		{Method: "POST", Path: "/plugins/{namespace}/{name}/rollout", Access: releasers, API: "POST /api/v1/plugins/{namespace}/{name}/rollout", handler: h.rolloutAction},
		{Method: "GET", Path: "/signin", Access: anyone, handler: h.signinForm},
		{Method: "POST", Path: "/signin", Access: anyone, handler: h.signin},
		{Method: "POST", Path: "/signout", Access: anyone, handler: h.signout}, // ending a session needs no right, and a host's has no other page,
		{Method: "GET", Path: "/submissions", Access: signedIn, handler: h.submissions},
		{Method: "GET", Path: "/submissions/{id}", Access: signedIn, API: "GET /api/v1/submissions/{id}", handler: h.submission},
		{Method: "POST", Path: "/submissions/{id}/comment", Access: signedIn, API: "POST /api/v1/submissions/{id}/thread/comment", handler: h.comment},
		{Method: "POST", Path: "/submissions/{id}/appeal", Access: publisher, API: "POST /api/v1/submissions/{id}/thread/appeal", handler: h.appeal},
		{Method: "GET", Path: "/reviews", Access: reviewers, API: "GET /api/v1/reviews", handler: h.queue},
		{Method: "GET", Path: "/reviews/{id}", Access: reviewers, API: "GET /api/v1/reviews/{id}", handler: h.reviewPage},
		{Method: "POST", Path: "/reviews/{id}/{action}", Access: reviewers, API: "POST /api/v1/reviews/{id}/{action}", handler: h.reviewAction},
		{Method: "GET", Path: "/dashboard", Access: auditors, handler: h.dashboard},
		{Method: "GET", Path: "/audit", Access: auditors, API: "GET /api/v1/audit/verify", handler: h.audit},
		{Method: "GET", Path: "/audit/export", Access: auditors, API: "GET /api/v1/audit/events", handler: h.auditExport},
		{Method: "GET", Path: "/host-api", Access: signedIn, API: "GET /api/v1/host-api/matrix", handler: h.hostAPIMatrix},
		{Method: "GET", Path: "/host-api/calendar", Access: anyone, API: "GET /api/v1/host-api/calendar", handler: h.hostAPICalendar},
		{Method: "GET", Path: "/submissions/{id}/privacy", Access: signedIn, API: "GET /api/v1/submissions/{id}/privacy", handler: h.privacyReport},
		{Method: "GET", Path: "/privacy", Access: overseers, API: "GET /api/v1/privacy/categories", handler: h.dataCategories},
		{Method: "GET", Path: "/policy", Access: signedIn, API: "GET /api/v1/policy", handler: h.policy},
		{Method: "POST", Path: "/policy/dry-run", Access: stewards, API: "POST /api/v1/policy/dry-run", handler: h.policyDryRun},
	}
	for _, p := range h.pages {
		h.mux.Handle(p.Method+" "+p.Path, h.guard(p))
	}
	assets, _ := fs.Sub(assetFS, "assets")
	h.mux.Handle("GET /assets/", http.StripPrefix("/assets/", assetHandler(assets)))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		if ss, p, err := h.sess.read(r.Context(), r); err == nil {
			c.p, c.signedIn, c.csrf = p, true, h.sess.csrfToken(ss)
		}
		h.fail(w, r, c, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return h, nil
}

// Pages returns the access table (for tests and documentation).
func (h *Handler) Pages() []Page { return append([]Page(nil), h.pages...) }

// csp allows nothing but this origin's stylesheet and images, and no
// scripts at all: the pages need none.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
	if h.cfg.Secure {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.mux.ServeHTTP(w, r)
}

func assetHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// call is one request's caller.
type call struct {
	p        domain.Principal
	signedIn bool
	csrf     string // the form token to render
}

// SignedIn, Subject, Role and CSRF are for templates.
func (c *call) SignedIn() bool  { return c.signedIn }
func (c *call) Subject() string { return c.p.Subject }
func (c *call) Role() string    { return string(c.p.Role) }
func (c *call) CSRF() string    { return c.csrf }

// guard resolves the session, enforces the page's access and, for POST,
// the CSRF token, before the handler runs.
func (h *Handler) guard(p Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		ss, pr, err := h.sess.read(r.Context(), r)
		switch {
		case err == nil:
			c.p, c.signedIn, c.csrf = pr, true, h.sess.csrfToken(ss)
		case !errors.Is(err, errNoSession):
			h.internal(w, r, c, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				h.fail(w, r, c, http.StatusRequestEntityTooLarge, "The form is larger than this server accepts.")
				return
			}
			ok := false
			if c.signedIn {
				ok = tokensEqual(c.csrf, r.PostFormValue(csrfField))
			} else if p.Path == "/signin" {
				ok = h.sess.checkPreSession(r)
			}
			if !ok && (c.signedIn || p.Path == "/signin") {
				h.fail(w, r, c, http.StatusForbidden, "The form's security token is missing or stale. Reload the page and try again.")
				return
			}
		}
		if !p.Access.Public {
			if !c.signedIn {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				h.fail(w, r, c, http.StatusUnauthorized, "Sign in to do this.")
				return
			}
			// As in the API, a host token opens no page that needs a
			// token, not even those open to any signed-in user.
			if (len(p.Access.Roles) > 0 || c.p.Role == domain.RoleHost) && !c.p.Allowed(p.Access.Roles...) {
				h.fail(w, r, c, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not open this page.", c.p.Role))
				return
			}
		}
		p.handler(w, r, c)
	})
}

// maxFormBytes bounds a form (a policy dry run carries Rego sources).
const maxFormBytes = 1 << 20

// view is what every template gets.
type view struct {
	Title string
	Call  *call
	Nav   []navItem
	Data  any
	// Notice is a fixed message chosen by a code in the URL (never text
	// from the URL itself, which anyone could craft).
	Notice string
}

type navItem struct {
	Label, Href string
}

func (h *Handler) nav(c *call) []navItem {
	items := []navItem{{"Catalog", "/"}}
	if !c.signedIn {
		return items
	}
	items = append(items, navItem{"Submissions", "/submissions"})
	if c.p.Allowed(reviewers.Roles...) {
		items = append(items, navItem{"Review queue", "/reviews"})
	}
	if c.p.Allowed(auditors.Roles...) {
		items = append(items, navItem{"Dashboard", "/dashboard"}, navItem{"Audit", "/audit"})
	}
	if c.p.Allowed(overseers.Roles...) {
		items = append(items, navItem{"Data categories", "/privacy"})
	}
	return append(items, navItem{"Host API", "/host-api"}, navItem{"Policy", "/policy"})
}

var notices = map[string]string{
	"signedin":   "You are signed in.",
	"signedout":  "You are signed out.",
	"claimed":    "You claimed this review for two hours.",
	"approved":   "Your approval is recorded.",
	"certified":  "Approved: the version is certified and in the catalog.",
	"rejected":   "The version is rejected; its author has been told why.",
	"changes":    "Changes requested; the author's next version comes back to you.",
	"commented":  "Your message is in the review thread.",
	"appealed":   "Your appeal is recorded; the version is back in review.",
	"dryrun":     "Dry run finished.",
	"notallowed": "That is not allowed.",
}

// render writes a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, c *call, status int, name, title string, data any) {
	t, ok := h.tmpl[name]
	if !ok {
		h.internal(w, r, c, fmt.Errorf("no template %q", name))
		return
	}
	v := view{Title: title, Call: c, Nav: h.nav(c), Data: data, Notice: notices[r.URL.Query().Get("done")]}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.internal(w, r, c, fmt.Errorf("rendering %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers with an error page that says what to do.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *call, status int, msg string) {
	t := h.tmpl["error.html"]
	var buf bytes.Buffer
	v := view{Title: http.StatusText(status), Call: c, Nav: h.nav(c), Data: msg}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, c *call, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	h.cfg.Log.ErrorContext(r.Context(), "web page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.fail(w, r, c, http.StatusInternalServerError, "Something went wrong on our side; the server log has the details.")
}

// failApp answers with the error page of an application error: the
// status of its kind (app.Classify, as the API answers) and its message;
// an internal error is logged and its message withheld.
func (h *Handler) failApp(w http.ResponseWriter, r *http.Request, c *call, err error) {
	k, _, msg := app.Classify(err)
	if k == app.KindInternal {
		h.internal(w, r, c, err)
		return
	}
	h.fail(w, r, c, k.HTTPStatus(), sentence(msg))
}

// visibleStates are the version states c may see in the catalog: every
// state for the overseers, the released ones (domain.Released) for anyone
// else. A publisher finds its own unreleased versions under Submissions.
func visibleStates(c *call) []lifecycle.State {
	if c.signedIn && c.p.Oversees() {
		return lifecycle.States
	}
	var out []lifecycle.State
	for _, st := range lifecycle.States {
		if domain.Released(st) {
			out = append(out, st)
		}
	}
	return out
}

func visible(c *call, st lifecycle.State) bool {
	for _, s := range visibleStates(c) {
		if s == st {
			return true
		}
	}
	return false
}

// redirect sends the browser on after a form, with a notice code.
func redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	if done != "" {
		path += "?done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}
