package gatehouse_test

import (
	"encoding/json"
	"os/exec"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The layers of the module, innermost first, and what each may import.
// docs/architecture.md draws the same map; this test is what holds the code
// to it. A package belongs to the first layer with a pattern that matches
// it ("x/..." matches x and everything below it).
//
// The rules, in words:
//   - public packages (what hosts and authors import) import nothing under
//     internal/: an outside module could not name the types they expose;
//   - the domain imports nothing of ours but public formats, and nothing
//     that does IO;
//   - storage interfaces import the domain; drivers import the interfaces;
//   - services (the engines behind operations) import the domain, the
//     storage interfaces and each other, never a driver, the application
//     layer or a transport;
//   - the application layer imports services, storage interfaces and the
//     domain;
//   - transports (the API, the web pages) import the application layer,
//     and the services' and the domain's types, never storage;
//   - the command line is a transport too (it calls the API through the
//     client, and runs local operations such as vet and verify); it may
//     also start the marketplace (serve), never open storage itself;
//   - wiring (marketplace, cmd/) puts it all together and may import
//     anything.
var layers = []struct {
	name string
	pkgs []string
	may  []string // layers this one may import, besides itself
}{
	{"public", []string{"api/...", "client/...", "verify/...", "trust/...", "tlog/...", "install/...", "sandbox/...",
		"hostapi/...", "pdk/...", "manifest/...", "pkgfile/...", "."}, nil},
	{"domain", []string{"internal/domain/...", "internal/lifecycle/...", "internal/audit/..."}, []string{"public"}},
	{"storage", []string{"internal/store"}, []string{"domain", "public"}},
	{"storage drivers", []string{"internal/store/..."}, []string{"storage", "domain", "public"}},
	{"application", []string{"internal/app/..."}, []string{"services", "storage", "domain", "public"}},
	{"API", []string{"internal/server/..."}, []string{"application", "services", "domain", "public"}},
	{"web pages", []string{"internal/web/..."}, []string{"application", "services", "domain", "public"}},
	{"command line", []string{"internal/cli/..."}, []string{"wiring", "application", "services", "domain", "public"}},
	{"wiring", []string{"internal/marketplace/...", "cmd/...", "e2e/...", "examples/..."}, []string{"*"}},
	// Everything else under internal/ is a service.
	{"services", []string{"internal/..."}, []string{"storage", "domain", "public"}},
}

// debt lists imports that break the rules, each with why it is still
// there. It is empty, and should stay so: a new wrong import fails the
// test, and an entry that no longer holds fails it too, so that if an
// exception is ever needed it is written down and can only shrink.
var debt = map[string]string{}

// domainForbidden are standard and outside packages the domain may not
// import: they do IO.
var domainForbidden = []string{"database/sql", "net", "net/http", "os", "os/exec", "io/fs", "path/filepath",
	"github.com/spf13/cobra", "github.com/jackc/pgx/v5", "modernc.org/sqlite"}

const module = "gatehouse.dev/gatehouse"

func layerOf(pkg string) (int, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	if rel == "" {
		rel = "."
	}
	for i, l := range layers {
		for _, p := range l.pkgs {
			if base, ok := strings.CutSuffix(p, "/..."); ok {
				if rel == base || strings.HasPrefix(rel, base+"/") {
					return i, true
				}
			} else if rel == p {
				return i, true
			}
		}
	}
	return 0, false
}

func mayImport(from, to int) bool {
	if from == to {
		return true
	}
	for _, m := range layers[from].may {
		if m == "*" || m == layers[to].name {
			return true
		}
	}
	return false
}

type goPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestLayers fails on an import that points outward: a domain type that
// imports the database, a handler that reaches storage, a public package
// that exposes an internal type.
func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		from, ok := layerOf(p.ImportPath)
		if !ok {
			t.Errorf("%s belongs to no layer: add it to the table in layers_test.go and to docs/architecture.md", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if layers[from].name == "domain" && slices.Contains(domainForbidden, imp) {
				t.Errorf("%s (domain) imports %s: the domain does no IO; put this in a service or a driver", p.ImportPath, imp)
			}
			if !strings.HasPrefix(imp, module+"/") && imp != module {
				continue
			}
			to, ok := layerOf(imp)
			if !ok || mayImport(from, to) {
				continue
			}
			edge := strings.TrimPrefix(p.ImportPath, module+"/") + " -> " + strings.TrimPrefix(imp, module+"/")
			if _, ok := debt[edge]; ok {
				seen[edge] = true
				continue
			}
			t.Errorf("%s: %s (%s) may not import %s (%s); see docs/architecture.md for where the code belongs",
				edge, path.Base(p.ImportPath), layers[from].name, path.Base(imp), layers[to].name)
		}
	}
	var stale []string
	for edge := range debt {
		if !seen[edge] {
			stale = append(stale, edge)
		}
	}
	sort.Strings(stale)
	for _, e := range stale {
		t.Errorf("debt entry %q no longer holds: delete it from layers_test.go", e)
	}
}

// TestLayerRulesCatchWrongImports proves the rules bite: each of these
// imports would fail TestLayers.
func TestLayerRulesCatchWrongImports(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"internal/domain", "internal/store"},
		{"internal/lifecycle", "internal/server"},
		{"internal/server", "internal/store"},
		{"internal/web", "internal/store/sqlite"},
		{"internal/cli", "internal/store/postgres"},
		{"internal/app", "internal/server"},
		{"internal/server", "internal/marketplace"},
		{"internal/web", "internal/server"},
		{"internal/review", "internal/app"},
		{"internal/intake", "internal/store/blobfs"},
		{"internal/store", "internal/intake"},
		{"internal/store/sqlite", "internal/app"},
		{"verify", "internal/store"},
		{"api", "internal/vet"},
	} {
		from, ok1 := layerOf(module + "/" + c.from)
		to, ok2 := layerOf(module + "/" + c.to)
		if !ok1 || !ok2 {
			t.Fatalf("%s or %s has no layer", c.from, c.to)
		}
		if mayImport(from, to) {
			t.Errorf("%s (%s) -> %s (%s) is allowed; the rules should refuse it", c.from, layers[from].name, c.to, layers[to].name)
		}
	}
	for _, c := range []struct{ from, to string }{
		{"internal/server", "internal/app"},
		{"internal/app", "internal/review"},
		{"internal/review", "internal/store"},
		{"internal/store/sqlite", "internal/store"},
		{"internal/marketplace", "internal/store/sqlite"},
		{"internal/domain", "manifest"},
	} {
		from, _ := layerOf(module + "/" + c.from)
		to, _ := layerOf(module + "/" + c.to)
		if !mayImport(from, to) {
			t.Errorf("%s -> %s is refused; the rules should allow it", c.from, c.to)
		}
	}
}
