package tracing

import (
	"io"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Middleware returns a wrapper that gives each request a server span,
// named by the route pattern the server's ServeMux matched ("GET
// /api/v1/submissions/{id}"), with the method, the route and the status.
// Install it only when tracing is on; off, wrap nothing.
//
// Every request starts a new trace. A traceparent header sent by the
// client becomes a link, never the parent: a caller on the internet must
// not choose our trace ids or, through its sampled flag, what we record
// and export. The path, the query and the headers are never recorded
// (they can hold ids of other records and tokens); only the pattern and
// the version id a submission path names.
//
// It must sit inside any wrapper that reads r.Pattern after the fact (the
// metrics middleware): the mux sets Pattern on the request it is given,
// which is this middleware's copy, so the pattern is copied back to the
// caller's request when the handler returns.
func Middleware(tp trace.TracerProvider) func(http.Handler) http.Handler {
	tr := tp.Tracer(Scope)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if id := versionInPath(r.URL.Path); id != "" {
				ctx = WithVersion(ctx, id)
			}
			ctx, span := tr.Start(ctx, r.Method, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method)))
			defer span.End()
			if remote := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header))); remote.IsValid() {
				span.AddLink(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("gatehouse.link", "client traceparent")}})
			}
			rw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			r2 := r.WithContext(ctx)
			next.ServeHTTP(rw, r2)
			r.Pattern = r2.Pattern
			route := r2.Pattern
			if _, path, ok := strings.Cut(route, " "); ok {
				route = path
			}
			if route == "" {
				route = "unmatched"
			}
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", rw.status))
			if rw.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rw.status))
			}
		})
	}
}

// versionInPath returns the submission id a path names (the API's
// /api/v1/submissions/{id}/… and the pages' /submissions/{id}/…), or ""
// when it names none or the segment is not shaped like one: a client's
// text never becomes an attribute.
func versionInPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/api/v1/submissions/")
	if !ok {
		if rest, ok = strings.CutPrefix(p, "/submissions/"); !ok {
			return ""
		}
	}
	id, _, _ := strings.Cut(rest, "/")
	if !validVersionID(id) {
		return ""
	}
	return id
}

// validVersionID: "sub_" and 16 characters of lowercase base32 (package
// ids).
func validVersionID(id string) bool {
	s, ok := strings.CutPrefix(id, "sub_")
	if !ok || len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// statusRecorder notes the status of a response.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom passes a body on to the writer beneath, so that a file a
// handler sends reaches the connection's sendfile.
func (w *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	w.wroteHeader = true
	return io.Copy(w.ResponseWriter, src)
}
