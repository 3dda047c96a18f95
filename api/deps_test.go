package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublicDependencies holds the promise that the wire types and the
// client a program imports name only public packages: a type from under
// internal/ in a response would be one its user cannot name.
func TestPublicDependencies(t *testing.T) {
	t.Parallel()
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

// TestWireTypesLiveInAPI holds the other half: the HTTP transport declares
// no request or response body of its own (a struct with JSON tags, named,
// local or anonymous); it converts its values to this package's types at
// the edge.
func TestWireTypesLiveInAPI(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, filepath.Join("..", "internal", "server"), func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				st, ok := n.(*ast.StructType)
				if !ok {
					return true
				}
				for _, field := range st.Fields.List {
					if field.Tag != nil && strings.Contains(field.Tag.Value, `json:"`) {
						t.Errorf("%s: a struct with JSON tags is a wire type; declare it in package api", fset.Position(st.Pos()))
						break
					}
				}
				return true
			})
		}
	}
}
