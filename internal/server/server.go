// Package server is Gatehouse's HTTP API. Every endpoint is one row of a
// route table that says who may call it; the mux, the role checks, the
// OpenAPI document and the access tests are all made from that table, so
// they cannot drift apart.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/tlog"
)

// MaxJSONBody bounds every JSON request body.
const MaxJSONBody = 64 << 10

// Config holds the server's parts.
type Config struct {
	// App is the application layer the handlers call; it holds the
	// records, blobs and services, which the server never touches itself.
	// Required to serve: a Server without it can only describe its routes
	// (the generated docs), and answers every request 503.
	App *app.App
	// TransparencyLog is the log's storage, whose checkpoint and tiles
	// are served under /log/; nil answers those paths 503.
	TransparencyLog tlog.Storage
	Log             *slog.Logger
	Now             func() time.Time
	// Fallback serves the paths outside /api/ that no route matches (the
	// web pages); nil answers them with the JSON 404.
	Fallback http.Handler
	// Middleware wraps the whole server (request ids, metrics, request
	// logs); when set, it logs each request instead of the server.
	Middleware func(http.Handler) http.Handler
	// Metrics serves GET /metrics; nil answers 404.
	Metrics http.Handler
	// PublicCacheBytes bounds the memory that answers to anonymous
	// catalog and package requests are kept in (publicCache); 0 is
	// DefaultPublicCacheBytes, and a negative value keeps none.
	PublicCacheBytes int64
	// PublicURL is the address users reach the marketplace at
	// (--public-url); it names the host-API calendar's event ids. ""
	// takes the request's host.
	PublicURL string
	// PublicCacheDir is a folder private to this process in which the
	// public cache keeps the bytes of large answers (packages), sent from
	// there by the kernel; "" keeps them in memory. The server removes
	// nothing from it but the files it made.
	PublicCacheDir string
	// MaxConcurrentUploads bounds the package uploads this process takes
	// at once; the excess is answered 429 with Retry-After. Zero is
	// DefaultMaxConcurrentUploads.
	MaxConcurrentUploads int
	// UploadTimeout bounds how long one upload's body may take to
	// arrive; zero is DefaultUploadTimeout.
	UploadTimeout time.Duration
}

// Server serves the API.
type Server struct {
	cfg    Config
	app    *app.App
	routes []Route
	mux    *http.ServeMux
	// handler is the mux behind the configured middleware.
	handler http.Handler
	// cache keeps anonymous answers of the cached routes; nil keeps none.
	cache *publicCache
	// draining fails the readiness probe once shutdown has begun.
	draining atomic.Bool
	// uploads holds one token per upload in progress (takeUpload).
	uploads chan struct{}
}

// Access says who may call a route. The guard enforces all of it before
// the handler runs, except where a field says the handler does; the
// OpenAPI document, docs/api-roles.md and the access tests are made from it.
type Access struct {
	// Public routes need no token.
	Public bool
	// Roles may call the route (admin always may). Empty with Public false
	// means any signed-in caller but a host: a host token reports health
	// and reads only what is public.
	Roles []domain.Role
	// Reads says which versions the caller may read through the route,
	// beyond what its role allows.
	Reads Reads
	// Owners: the route changes a namespace, which only its owners (a
	// publisher token scoped to it, or an owner's unscoped one) and admins
	// may do; the handler refuses other callers with 403.
	Owners bool
	// SeparateDuties: the handler refuses (403) a caller who publishes in
	// the plugin's namespace or submitted the version.
	SeparateDuties bool
	// Note states any finer rule the handler applies, for the docs.
	Note string
}

// Reads says which versions a route lets its callers read.
type Reads int

const (
	// NoVersion: the route reads no version, or its roles read them all.
	NoVersion Reads = iota
	// ReleasedVersion: the route reads a version or what is made from it
	// (package, manifest, certificate, bundle, provenance; a plugin's list
	// of versions). A released version (domain.Released) is read by every
	// caller the route admits; one that is not is read by its namespace's
	// members and the overseers only (domain.Principal.CanSeeVersion).
	// Anyone else gets the 404 of a version that does not exist, and lists
	// leave it out.
	ReleasedVersion
	// PublishedVersion: as ReleasedVersion, for what a certificate made
	// public (certificate, bundle, provenance): also a version revoked
	// since (domain.Published), which hosts must still be able to check.
	PublishedVersion
	// SubmissionRecord: the route reads or writes a version's submission
	// record (history, findings, SARIF, review, thread): its namespace's
	// members and the overseers only, released or not
	// (domain.Principal.CanSee); anyone else gets the 404 of a submission
	// that does not exist.
	SubmissionRecord
)

// Route is one endpoint.
type Route struct {
	Method  string
	Path    string // net/http pattern path, e.g. /api/v1/submissions/{id}
	Summary string
	Access  Access
	// Body describes the request body for the OpenAPI document ("" for none).
	Body string
	// cached: anonymous answers of this public read route are kept in the
	// public cache (publicCache) while the catalog is unchanged.
	cached  bool
	handler func(w http.ResponseWriter, r *http.Request, p domain.Principal)
}

// New builds the server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	maxUploads := cfg.MaxConcurrentUploads
	if maxUploads <= 0 {
		maxUploads = DefaultMaxConcurrentUploads
	}
	s := &Server{cfg: cfg, app: cfg.App, mux: http.NewServeMux(), uploads: make(chan struct{}, maxUploads)}
	if cfg.App != nil && cfg.PublicCacheBytes >= 0 {
		size := cfg.PublicCacheBytes
		if size == 0 {
			size = DefaultPublicCacheBytes
		}
		s.cache = newPublicCache(cfg.App.CatalogState, size, cfg.PublicCacheDir, cfg.Now)
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.guard(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Fallback != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			cfg.Fallback.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s %s; the API is described at /api/v1/openapi.json", r.Method, r.URL.Path))
	})
	s.handler = http.HandlerFunc(s.serve)
	if cfg.Middleware != nil {
		s.handler = cfg.Middleware(s.handler)
	}
	return s
}

// Routes returns the route table (for tests and documentation).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	sw.Header().Set("X-Content-Type-Options", "nosniff")
	sw.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(sw, r)
	if s.cfg.Middleware != nil {
		return
	}
	s.cfg.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom passes a body on to the writer beneath, so that a file a
// handler sends reaches the connection's sendfile.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(w.ResponseWriter, src)
}

// guard authenticates and authorises before the handler runs.
func (s *Server) guard(rt Route) http.Handler {
	checked := s.check(rt)
	if !rt.cached || s.cache == nil {
		return checked
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cacheable(r) {
			checked.ServeHTTP(w, r)
			return
		}
		s.cache.serve(w, r, checked)
	})
}

// check is the guard itself: who calls, whether they may, and the
// version they read.
func (s *Server) check(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.app == nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the server was built without its application layer")
			return
		}
		var p domain.Principal
		if rt.Access.Public {
			// A token on a public route reads what it may, and an unusable
			// one what anyone may.
			p, _ = s.optionalPrincipal(r)
		} else {
			var err error
			if p, err = s.authenticate(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
				writeError(w, http.StatusUnauthorized, "unauthenticated", err.Error())
				return
			}
			// A host token reports health and nothing else, not even the
			// routes open to any signed-in caller.
			if (len(rt.Access.Roles) > 0 || p.Role == domain.RoleHost) && !p.Allowed(rt.Access.Roles...) {
				writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("role %s may not %s %s", p.Role, rt.Method, rt.Path))
				return
			}
		}
		if rt.Access.Reads != NoVersion {
			var ok bool
			if r, ok = s.readable(w, r, p, rt.Access.Reads); !ok {
				return
			}
		}
		rt.handler(w, r, p)
	})
}

type versionKey struct{}

// readable loads the version the path names, if it names one, and checks
// that p may read it under rule; the version travels on in the request's
// context (pathVersion, version and download take it from there). A
// version p may not read gets the answer of one that does not exist, so
// the answer does not disclose it.
func (s *Server) readable(w http.ResponseWriter, r *http.Request, p domain.Principal, rule Reads) (*http.Request, bool) {
	var ref app.VersionRef
	switch {
	case r.PathValue("id") != "":
		ref.ID = r.PathValue("id")
	case r.PathValue("version") != "":
		ref.Plugin, ref.Version = pluginID(r), r.PathValue("version")
	case r.PathValue("digest") != "":
		ref.Digest = r.PathValue("digest")
	default:
		// A list: the handler leaves out what p may not read.
		return r, true
	}
	reading := map[Reads]app.Reading{ReleasedVersion: app.ReadReleased, PublishedVersion: app.ReadPublished, SubmissionRecord: app.ReadRecord}[rule]
	v, err := s.app.Version(r.Context(), p, ref, reading)
	if err != nil {
		s.fail(w, r, err)
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), versionKey{}, v)), true
}

// guarded returns the version the guard loaded for r, if it did.
func guarded(r *http.Request) (domain.Version, bool) {
	v, ok := r.Context().Value(versionKey{}).(domain.Version)
	return v, ok
}

// authenticate finds the caller of a request by its bearer token; a
// refusal says why (no token, unknown, expired, revoked).
func (s *Server) authenticate(r *http.Request) (domain.Principal, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return domain.Principal{}, errors.New("this endpoint needs a token: send Authorization: Bearer <token>")
	}
	return s.app.Authenticate(r.Context(), secret)
}

// writeError answers with an RFC 9457 problem.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	e := api.Error{Type: api.ProblemBase + code, Title: app.KindForStatus(status).Title(), Status: status, Detail: msg}
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(e) // the client went away: nothing to do
}

// fail answers with the problem an application error maps to; internal
// errors are logged and their message withheld. Every handler reports the
// application's errors through here, so the API's statuses and codes come
// from one table (app.Kind).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	k, code, msg := app.Classify(err)
	if k == app.KindInternal {
		s.internal(w, r, err)
		return
	}
	var ae *app.Error
	if k == app.KindTooMany && errors.As(err, &ae) && ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	writeError(w, k.HTTPStatus(), code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

// internal answers 500 without leaking internals, and logs the cause.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.cfg.Log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error; the server log has the details")
}

// decodeJSON reads a bounded JSON body into v, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxJSONBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is over %d bytes", MaxJSONBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_json", "the request body is not valid JSON for this endpoint: "+err.Error())
		return false
	}
	return true
}
