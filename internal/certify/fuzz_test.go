package certify_test

import (
	"path"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/certify"
)

// FuzzPublicLogPath: the log's file server serves a path only when it is
// the checkpoint or a clean path under tile/, so no request reaches state/
// or leaves the log directory.
func FuzzPublicLogPath(f *testing.F) {
	for _, s := range []string{"checkpoint", "tile/0/000", "tile/entries/x001/234.p/7", "state/hashes", "tile/../state/lock", "tile/0/../../x", "tile/%2e%2e", "tile\\0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !certify.PublicLogPath(p) {
			return
		}
		if p == "checkpoint" {
			return
		}
		if !strings.HasPrefix(p, "tile/") || path.Clean(p) != p || strings.Contains(p, "..") || strings.HasPrefix(path.Clean("/"+p), "/state") {
			t.Fatalf("PublicLogPath accepted %q", p)
		}
	})
}
