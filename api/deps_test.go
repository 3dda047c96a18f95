package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPublicDependencies holds the promise that the wire types and the
// client a program imports name only public packages: a type from under
// internal/ in a response would be one its user cannot name.
func TestPublicDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{"gatehouse.dev/gatehouse/api", "gatehouse.dev/gatehouse/client"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "gatehouse.dev/gatehouse/internal/") {
				t.Errorf("%s depends on %s; a program importing it could not name that package's types", pkg, dep)
			}
		}
	}
}
