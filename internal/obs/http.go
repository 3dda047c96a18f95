package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// RequestIDHeader carries a request id in and out.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds an incoming request id; a longer or odd one is
// replaced, so a client cannot write arbitrary text into the logs.
const MaxRequestIDLen = 64

type ctxKey struct{}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// ValidRequestID reports whether an incoming id is safe to keep: 1 to
// MaxRequestIDLen characters of letters, digits, '-', '_', '.' and ':'.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// LogHandler wraps h so every record logged with a request's context
// carries its request_id: handlers that log with InfoContext(r.Context())
// need not pass it themselves.
func LogHandler(h slog.Handler) slog.Handler { return ctxHandler{h} }

type ctxHandler struct{ slog.Handler }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ctxHandler{h.Handler.WithAttrs(as)}
}

func (h ctxHandler) WithGroup(name string) slog.Handler { return ctxHandler{h.Handler.WithGroup(name)} }

// Middleware returns next wrapped with request ids, HTTP metrics and one
// structured log line per request.
//
// The route label is the pattern the ServeMux matched (r.Pattern, which
// the mux sets on the request it is given), never the raw path: a path
// holds ids and digests, and a label per id would grow without bound.
// Requests no pattern matched are labelled "unmatched".
func (m *Metrics) Middleware(next http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, ok := log.Handler().(ctxHandler); !ok {
		log = slog.New(LogHandler(log.Handler()))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !ValidRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		r = r.WithContext(WithRequestID(r.Context(), id))
		rw := &recorder{ResponseWriter: w, status: http.StatusOK}
		m.httpInFlight.Inc()
		defer func() {
			m.httpInFlight.Dec()
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			m.httpRequests.WithLabelValues(r.Method, route, strconv.Itoa(rw.status)).Inc()
			m.httpDuration.WithLabelValues(r.Method, route).Observe(d.Seconds())
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
				slog.Int("status", rw.status), slog.Int64("bytes", rw.bytes), slog.Duration("duration", d))
		}()
		next.ServeHTTP(rw, r)
	})
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *recorder) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushing, deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom passes a body on to the writer beneath, so that a file a
// handler sends reaches the connection's sendfile, and counts it.
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	w.wroteHeader = true
	n, err := io.Copy(w.ResponseWriter, src)
	w.bytes += n
	return n, err
}
