package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"gatehouse.dev/gatehouse/internal/obs"
	"gatehouse.dev/gatehouse/internal/tracing"
)

// readFromWriter is a ResponseWriter whose ReadFrom is the connection's
// (sendfile); it notes being used.
type readFromWriter struct {
	*httptest.ResponseRecorder
	used bool
}

func (w *readFromWriter) ReadFrom(src io.Reader) (int64, error) {
	w.used = true
	return io.Copy(w.ResponseRecorder, src)
}

// TestWritersPassReadFromOn: a body a handler copies to its writer, as
// http.ServeContent copies a kept package's file, reaches the
// connection's ReadFrom (which sends a file with sendfile) through every
// writer the server puts between them: the metrics', the tracing
// middleware's and the server's own. The metrics still count its bytes.
func TestWritersPassReadFromOn(t *testing.T) {
	m := obs.New()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		if _, err := io.Copy(sw, io.LimitReader(strings.NewReader("package bytes"), 7)); err != nil {
			t.Error(err)
		}
	})
	var logged strings.Builder
	chain := m.Middleware(tracing.Middleware(noop.NewTracerProvider())(handler), slog.New(slog.NewTextHandler(&logged, nil)))
	inner := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
	chain.ServeHTTP(inner, httptest.NewRequest("GET", "/api/v1/packages/sha256:00", nil))
	if inner.Body.String() != "package" {
		t.Fatalf("body %q, want %q", inner.Body.String(), "package")
	}
	if !inner.used {
		t.Error("the copy did not reach the connection's ReadFrom")
	}
	if !strings.Contains(logged.String(), " bytes=7 ") {
		t.Errorf("the request's log line does not count its 7 bytes: %s", logged.String())
	}
}
