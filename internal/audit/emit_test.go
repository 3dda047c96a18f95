package audit

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The tests in this file read the module's source: every non-test .go
// file is parsed, and every place that sets Event.Action is followed back
// to the value it sets. A value must be one of this package's catalogue
// constants; a string literal, another package's constant or a local
// constant fails, naming file:line. A helper that takes the action as a
// parameter (func event(actor, action string, ...)) is followed to its
// callers in the same package, and a local variable to each value it is
// given. The store's CheckAction catches at run time what this cannot
// see (an action built by a call, for instance: that is reported here
// too, so that nobody writes one).

const auditImport = "gatehouse.dev/gatehouse/internal/audit"

// declaredConstants maps this package's constants whose value the
// catalogue declares, by name, to that value.
func declaredConstants(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range pkgs["audit"].Files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					if _, ok := Lookup(v); ok {
						out[n.Name] = v
					}
				}
			}
		}
	}
	return out
}

// moduleRoot is the directory of the go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// pkgSource is one directory's non-test files.
type pkgSource struct {
	dir   string
	files []*ast.File
}

// parseModule parses every non-test .go file of the module, by directory.
// Directories with their own go.mod (examples, benchmarks) and testdata are
// other modules or inputs, not the module's code.
func parseModule(root string) (*token.FileSet, []pkgSource, error) {
	fset := token.NewFileSet()
	byDir := map[string]*pkgSource{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path) // problems name files as the module does
		f, err := parser.ParseFile(fset, filepath.ToSlash(rel), src, 0)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if byDir[dir] == nil {
			byDir[dir] = &pkgSource{dir: dir}
		}
		byDir[dir].files = append(byDir[dir].files, f)
		return nil
	})
	var out []pkgSource
	for _, p := range byDir {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b pkgSource) int { return strings.Compare(a.dir, b.dir) })
	return fset, out, err
}

var module struct {
	once sync.Once
	fset *token.FileSet
	pkgs []pkgSource
	err  error
}

func parsedModule(t *testing.T) (*token.FileSet, []pkgSource) {
	t.Helper()
	root := moduleRoot(t)
	module.once.Do(func() { module.fset, module.pkgs, module.err = parseModule(root) })
	if module.err != nil {
		t.Fatal(module.err)
	}
	return module.fset, module.pkgs
}

// problem is a value set as an action that is not a catalogue constant.
type problem struct {
	pos token.Position
	msg string
}

func (p problem) String() string { return fmt.Sprintf("%s:%d: %s", p.pos.Filename, p.pos.Line, p.msg) }

// param names a function's parameter that flows into Event.Action.
type param struct {
	fn     string
	method bool
	index  int
}

// checker follows the values set as Event.Action in one package.
type checker struct {
	fset     *token.FileSet
	files    []*ast.File
	inAudit  bool              // the package is internal/audit itself
	declared map[string]string // catalogue constants by name
	problems []problem
	sites    int            // values followed, for the test to see it looked
	params   map[param]bool // parameters already followed to their callers
	queue    []param
}

// checkActions reports every value set as Event.Action in the package made
// of files that is not a declared catalogue constant.
func checkActions(fset *token.FileSet, files []*ast.File, inAudit bool, declared map[string]string) (problems []problem, sites int) {
	c := &checker{fset: fset, files: files, inAudit: inAudit, declared: declared, params: map[param]bool{}}
	for _, f := range files {
		name := c.auditName(f)
		if name == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				switch {
				case c.isEvent(n.Type, name):
					c.checkLiteral(f, n)
				case c.holdsEvents(n.Type, name):
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							el = kv.Value
						}
						if u, ok := el.(*ast.UnaryExpr); ok {
							el = u.X
						}
						if lit, ok := el.(*ast.CompositeLit); ok && lit.Type == nil {
							c.checkLiteral(f, lit)
						}
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					sel, ok := lhs.(*ast.SelectorExpr)
					if !ok || sel.Sel.Name != "Action" || i >= len(n.Rhs) {
						continue
					}
					if id, ok := sel.X.(*ast.Ident); ok && c.declaredAsEvent(id, name) {
						c.check(f, n.Rhs[i], 0)
					}
				}
			}
			return true
		})
	}
	for len(c.queue) > 0 {
		p := c.queue[0]
		c.queue = c.queue[1:]
		c.followCallers(p)
	}
	return c.problems, c.sites
}

// auditName is the name f refers to this package by: "" when f does not
// import it, "." in the package itself.
func (c *checker) auditName(f *ast.File) string {
	if c.inAudit {
		return "."
	}
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == auditImport {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return "audit"
		}
	}
	return ""
}

// isEvent reports whether typ is audit.Event (or *audit.Event).
func (c *checker) isEvent(typ ast.Expr, name string) bool {
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	switch typ := typ.(type) {
	case *ast.SelectorExpr:
		x, ok := typ.X.(*ast.Ident)
		return ok && x.Name == name && typ.Sel.Name == "Event"
	case *ast.Ident:
		return name == "." && typ.Name == "Event"
	}
	return false
}

// holdsEvents reports whether typ is a slice, array or map of events,
// whose elements may be written without their type.
func (c *checker) holdsEvents(typ ast.Expr, name string) bool {
	switch typ := typ.(type) {
	case *ast.ArrayType:
		return c.isEvent(typ.Elt, name)
	case *ast.MapType:
		return c.isEvent(typ.Value, name)
	}
	return false
}

// declaredAsEvent reports whether id was declared with an event's type or
// an event literal, as far as the file shows.
func (c *checker) declaredAsEvent(id *ast.Ident, name string) bool {
	if id.Obj == nil {
		return false
	}
	switch d := id.Obj.Decl.(type) {
	case *ast.Field:
		return c.isEvent(d.Type, name)
	case *ast.ValueSpec:
		if d.Type != nil {
			return c.isEvent(d.Type, name)
		}
		for i, n := range d.Names {
			if n.Name == id.Name && i < len(d.Values) {
				return c.isEventValue(d.Values[i], name)
			}
		}
	case *ast.AssignStmt:
		for i, l := range d.Lhs {
			if l, ok := l.(*ast.Ident); ok && l.Name == id.Name && i < len(d.Rhs) {
				return c.isEventValue(d.Rhs[i], name)
			}
		}
	}
	return false
}

func (c *checker) isEventValue(e ast.Expr, name string) bool {
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = u.X
	}
	lit, ok := e.(*ast.CompositeLit)
	return ok && c.isEvent(lit.Type, name)
}

func (c *checker) checkLiteral(f *ast.File, lit *ast.CompositeLit) {
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
				c.check(f, kv.Value, 0)
			}
		}
	}
	// A literal without keys gives Action as its fourth value.
	if len(lit.Elts) > 3 {
		if _, keyed := lit.Elts[0].(*ast.KeyValueExpr); !keyed {
			c.check(f, lit.Elts[3], 0)
		}
	}
}

func (c *checker) report(at ast.Node, format string, args ...any) {
	c.problems = append(c.problems, problem{c.fset.Position(at.Pos()), fmt.Sprintf(format, args...)})
}

// check follows e, a value that ends up in Event.Action.
func (c *checker) check(f *ast.File, e ast.Expr, depth int) {
	const use = "use a constant of internal/audit's catalogue (declare a new one there)"
	if depth > 8 {
		c.report(e, "the action passes through too many variables to follow; %s", use)
		return
	}
	c.sites++
	name := c.auditName(f)
	switch e := e.(type) {
	case *ast.ParenExpr:
		c.check(f, e.X, depth)
	case *ast.CallExpr:
		if fn, ok := e.Fun.(*ast.Ident); ok && fn.Name == "string" && len(e.Args) == 1 {
			c.check(f, e.Args[0], depth) // a conversion
			return
		}
		c.report(e, "cannot tell which action a call returns; %s", use)
	case *ast.BasicLit:
		c.report(e, "audit action is the literal %s; %s", e.Value, use)
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		switch {
		case ok && x.Obj == nil && x.Name == name:
			if _, ok := c.declared[e.Sel.Name]; !ok {
				c.report(e, "audit.%s is not in the catalogue; add an entry for it in internal/audit", e.Sel.Name)
			}
		case ok && x.Obj == nil && c.imports(f, x.Name):
			c.report(e, "audit action is %s.%s, a constant of another package; %s", x.Name, e.Sel.Name, use)
		case e.Sel.Name == "Action":
			// A copy of another event's action, checked where that one was set.
		default:
			c.report(e, "cannot tell which action %s holds; %s", describe(e), use)
		}
	case *ast.Ident:
		if name == "." {
			if _, ok := c.declared[e.Name]; ok {
				return
			}
		}
		if e.Obj == nil {
			if c.packageConst(e.Name) {
				c.report(e, "audit action is the constant %s, which is not in the catalogue; %s", e.Name, use)
			} else {
				c.report(e, "cannot tell which action %s holds; %s", e.Name, use)
			}
			return
		}
		switch {
		case e.Obj.Kind == ast.Con:
			c.report(e, "audit action is the constant %s, which is not in the catalogue; %s", e.Name, use)
		case e.Obj.Kind != ast.Var:
			c.report(e, "cannot tell which action %s holds; %s", e.Name, use)
		default:
			c.checkVar(f, e, depth)
		}
	default:
		c.report(e, "cannot tell which action %s holds; %s", describe(e), use)
	}
}

// checkVar follows a variable: a parameter to the callers of its
// function, a local variable to every value it is given.
func (c *checker) checkVar(f *ast.File, id *ast.Ident, depth int) {
	if field, ok := id.Obj.Decl.(*ast.Field); ok {
		fd := enclosingFunc(f, id.Pos())
		if fd == nil || fd.Type.Params == nil {
			c.report(id, "cannot tell which action the parameter %s holds", id.Name)
			return
		}
		i := 0
		for _, pf := range fd.Type.Params.List {
			for _, n := range pf.Names {
				if pf == field && n.Name == id.Name {
					p := param{fn: fd.Name.Name, method: fd.Recv != nil, index: i}
					if !c.params[p] {
						c.params[p] = true
						c.queue = append(c.queue, p)
					}
					return
				}
				i++
			}
		}
		c.report(id, "cannot tell which action %s holds (a parameter of a function literal?)", id.Name)
		return
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if l, ok := l.(*ast.Ident); ok && l.Obj == id.Obj && i < len(n.Rhs) && len(n.Lhs) == len(n.Rhs) {
					found = true
					c.check(f, n.Rhs[i], depth+1)
				}
			}
		case *ast.ValueSpec:
			for i, l := range n.Names {
				if l.Obj == id.Obj && i < len(n.Values) {
					found = true
					c.check(f, n.Values[i], depth+1)
				}
			}
		}
		return true
	})
	if !found {
		c.report(id, "cannot tell which action %s holds; %s", id.Name, "assign it a constant of internal/audit's catalogue")
	}
}

// followCallers checks the argument every call of p's function passes for
// the parameter.
func (c *checker) followCallers(p param) {
	for _, f := range c.files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || p.index >= len(call.Args) {
				return true
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if !p.method && fn.Name == p.fn {
					c.check(f, call.Args[p.index], 0)
				}
			case *ast.SelectorExpr:
				if p.method && fn.Sel.Name == p.fn {
					c.check(f, call.Args[p.index], 0)
				}
			}
			return true
		})
	}
}

func (c *checker) imports(f *ast.File, name string) bool {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if (imp.Name != nil && imp.Name.Name == name) || (imp.Name == nil && filepath.Base(p) == name) {
			return true
		}
	}
	return false
}

// packageConst reports whether name is a constant declared at the top of
// one of the package's files.
func (c *checker) packageConst(name string) bool {
	for _, f := range c.files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						if n.Name == name {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

func enclosingFunc(f *ast.File, pos token.Pos) *ast.FuncDecl {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Pos() <= pos && pos < fd.End() {
			return fd
		}
	}
	return nil
}

// describe names what kind of expression e is, for a problem's message.
func describe(e ast.Expr) string {
	switch e.(type) {
	case *ast.CallExpr:
		return "a call returns"
	case *ast.BinaryExpr:
		return "a concatenation holds"
	}
	return fmt.Sprintf("%T", e)
}

// TestEmittedActionsDeclared fails on any place in the module's code that
// sets Event.Action to something other than a catalogue constant.
func TestEmittedActionsDeclared(t *testing.T) {
	t.Parallel()
	declared := declaredConstants(t)
	fset, pkgs := parsedModule(t)
	here, _ := filepath.Abs(".")
	sites := 0
	for _, p := range pkgs {
		problems, n := checkActions(fset, p.files, p.dir == here, declared)
		for _, p := range problems {
			t.Error(p)
		}
		sites += n
	}
	t.Logf("followed %d values set as actions in %d packages", sites, len(pkgs))
	if sites < len(declared) {
		t.Errorf("followed %d values set as actions, fewer than the %d declared: the check does not see the code", sites, len(declared))
	}
	if len(pkgs) < 20 {
		t.Errorf("parsed %d packages; the walk from go.mod missed the module", len(pkgs))
	}
}

// TestCatalogueConstants: each entry has one constant, and each action is
// declared once.
func TestCatalogueConstants(t *testing.T) {
	t.Parallel()
	declared := declaredConstants(t)
	byValue := map[string][]string{}
	for n, v := range declared {
		byValue[v] = append(byValue[v], n)
	}
	seen := map[string]bool{}
	for _, e := range Catalogue() {
		if seen[e.Action] {
			t.Errorf("%s is declared twice", e.Action)
		}
		seen[e.Action] = true
		if len(byValue[e.Action]) != 1 {
			t.Errorf("%s has constants %v; want exactly one", e.Action, byValue[e.Action])
		}
		if e.Meaning == "" || e.Actor == "" || e.Subject == "" {
			t.Errorf("%s: meaning, actor and subject are what an auditor reads; write all three", e.Action)
		}
	}
}

// TestEveryActionEmitted: each catalogue constant is used by code outside
// this package, so the catalogue lists no event that cannot happen.
func TestEveryActionEmitted(t *testing.T) {
	t.Parallel()
	declared := declaredConstants(t)
	_, pkgs := parsedModule(t)
	here, _ := filepath.Abs(".")
	used := map[string]bool{}
	for _, p := range pkgs {
		if p.dir == here {
			continue
		}
		for _, f := range p.files {
			name := (&checker{}).auditName(f)
			if name == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if s, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := s.X.(*ast.Ident); ok && x.Obj == nil && x.Name == name {
						used[s.Sel.Name] = true
					}
				}
				return true
			})
		}
	}
	for n, v := range declared {
		if !used[n] {
			t.Errorf("audit.%s (%s) is declared but no code emits it; remove its entry or emit it", n, v)
		}
	}
}

// TestCheckActions proves the source check on small packages: what it
// must refuse, and what it must let through.
func TestCheckActions(t *testing.T) {
	t.Parallel()
	declared := declaredConstants(t)
	const head = "package p\n\nimport (\n\"gatehouse.dev/gatehouse/internal/audit\"\n\"gatehouse.dev/gatehouse/trust\"\n)\n\nvar _ = trust.EventKind(\"\")\n\n"
	tests := []struct {
		name string
		src  string
		want []string // substrings of the problems, in order; none for clean code
	}{
		{"constant", `func f() audit.Event { return audit.Event{Action: audit.TokenCreate} }`, nil},
		{"literal", `func f() audit.Event { return audit.Event{Action: "token.create"} }`, []string{`literal "token.create"`}},
		{"pointer literal", `func f() *audit.Event { return &audit.Event{Action: "x.y"} }`, []string{`literal "x.y"`}},
		{"slice elements", `var evs = []audit.Event{{Action: audit.TokenRevoke}, {Action: "x.y"}}`, []string{`literal "x.y"`}},
		{"undeclared audit constant", `func f() audit.Event { return audit.Event{Action: audit.GenesisHash} }`, []string{"audit.GenesisHash is not in the catalogue"}},
		{"other package's constant", `func f() audit.Event { return audit.Event{Action: string(trust.EventCertificateIssued)} }`, []string{"trust.EventCertificateIssued, a constant of another package"}},
		{"call", `func g() string { return audit.TokenCreate }
func f() audit.Event { return audit.Event{Action: g()} }`, []string{"a call returns"}},
		{"local constant", "const act = \"x.y\"\n" + `func f() audit.Event { return audit.Event{Action: act} }`, []string{"the constant act"}},
		{"helper's callers", `func ev(action string) audit.Event { return audit.Event{Action: action} }
func a() { _ = ev(audit.TokenCreate); _ = ev("x.y") }`, []string{`literal "x.y"`}},
		{"method helper's callers", `type s struct{}
func (s) ev(actor, action string) audit.Event { return audit.Event{Actor: actor, Action: action} }
func a(x s) { _ = x.ev("alice", audit.TokenCreate); _ = x.ev("alice", "x.y") }`, []string{`literal "x.y"`}},
		{"local variable", `func f(off bool) audit.Event {
	action := audit.AutoApprovalOn
	if off {
		action = "autoapproval.of"
	}
	return audit.Event{Action: action}
}`, []string{`literal "autoapproval.of"`}},
		{"assignment", `func f() audit.Event { var e audit.Event; e.Action = "x.y"; return e }`, []string{`literal "x.y"`}},
		{"copied action", `func f(e audit.Event) audit.Event { return audit.Event{Action: e.Action} }`, nil},
		{"built by a call", `func f(s string) audit.Event { return audit.Event{Action: "x." + s} }`, []string{"concatenation"}},
		{"other struct's Action", `type req struct{ Action string }
func f() req { r := req{Action: "suspend"}; r.Action = "revoke"; return r }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", head+tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			problems, _ := checkActions(fset, []*ast.File{f}, false, declared)
			for _, p := range problems {
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems = %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "p.go:") {
					t.Errorf("problem %d = %q, want p.go:LINE and %q", i, got[i], w)
				}
			}
		})
	}
}
