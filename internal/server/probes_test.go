package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbes: /healthz answers while the process is up, whatever else is
// down; /readyz fails while a part a request needs does not answer, naming
// the part but not its error, and from the moment the process drains.
func TestProbes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		breakIt   func(e *env)
		readyCode int
		mentions  string
	}{
		{"all up", func(*env) {}, 200, "ready"},
		{"database closed", func(e *env) { e.st.Close() }, 503, "database"},
		{"log storage gone", func(e *env) {
			if err := os.RemoveAll(filepath.Join(e.logDir, "checkpoint")); err != nil {
				t.Fatal(err)
			}
		}, 503, "transparency log"},
		{"draining", func(e *env) { e.srv.Drain() }, 503, "draining"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.breakIt(e)
			if resp, b := e.do("GET", "/healthz", "", nil); resp.StatusCode != 200 {
				t.Errorf("healthz = %d %s; liveness must not depend on other parts", resp.StatusCode, b)
			}
			resp, b := e.do("GET", "/readyz", "", nil)
			if resp.StatusCode != tt.readyCode || !strings.Contains(string(b), tt.mentions) {
				t.Errorf("readyz = %d %s; want %d naming %q", resp.StatusCode, b, tt.readyCode, tt.mentions)
			}
			if strings.Contains(string(b), "sql") || strings.Contains(string(b), e.logDir) {
				t.Errorf("readyz shows an internal error: %s", b)
			}
		})
	}
}
