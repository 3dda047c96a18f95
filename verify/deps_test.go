package verify_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHostDependencies holds the promise that a host can import verify
// without a database, an HTTP server or a command-line framework coming
// with it: it lists the package's whole dependency graph.
func TestHostDependencies(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "gatehouse.dev/gatehouse/verify").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"net/http", "database/sql", "github.com/spf13/cobra",
		"gatehouse.dev/gatehouse/internal/store", "gatehouse.dev/gatehouse/internal/server",
		"gatehouse.dev/gatehouse/internal/cli", "gatehouse.dev/gatehouse/internal/marketplace",
		"github.com/jackc/pgx", "modernc.org/sqlite",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("verify depends on %s; a host importing it would carry it too", dep)
			}
		}
	}
}
