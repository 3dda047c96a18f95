package tracing

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

// TestStatusRecorderPassesReadFromOn: a body copied through the tracing
// writer reaches the connection's ReadFrom, which sends a file with
// sendfile.
func TestStatusRecorderPassesReadFromOn(t *testing.T) {
	inner := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
	var w http.ResponseWriter = &statusRecorder{ResponseWriter: inner}
	n, err := io.Copy(w, io.LimitReader(strings.NewReader("package bytes"), 7))
	if err != nil || n != 7 || inner.Body.String() != "package" {
		t.Fatalf("copied %d, %v: %q", n, err, inner.Body.String())
	}
	if !inner.used {
		t.Error("the copy did not reach the connection's ReadFrom")
	}
}
