package tracing

import (
	"strings"
	"testing"
)

// FuzzVersionInPath: whatever path a client sends, the version id taken
// from it is empty or a well-formed submission id that the path holds.
func FuzzVersionInPath(f *testing.F) {
	for _, s := range []string{"/api/v1/submissions/sub_abcdefghijklmnop", "/submissions/sub_abcdefghijklmnop/appeal", "/api/v1/submissions/", "/api/v1/submissions/sub_ABC", "/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id := versionInPath(p)
		if id == "" {
			return
		}
		if !validVersionID(id) || !strings.Contains(p, id) || len(id) != 20 {
			t.Fatalf("versionInPath(%q) = %q", p, id)
		}
	})
}
