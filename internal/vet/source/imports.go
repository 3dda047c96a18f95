package source

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"slices"

	"golang.org/x/tools/go/gcexportdata"
	"golang.org/x/tools/go/packages"
)

// imports is what type-checking one of the plugin's packages needs from
// outside its own folder: the types of each package it imports, and what
// the go command listed of the package itself. Held in the cache, it lets
// an update that changes a package's code but nothing that package
// imports be type-checked without running the go command at all: listing
// the source and compiling its dependencies' export data
// (`go list -export -deps`) is most of the analyzer's time on an update
// (docs/benchmarks.md).
//
// The types are held as gcexportdata writes them (the indexed format,
// types only, each package's blob self-contained): about a hundredth of the
// compiler's export data, which also carries the bodies of inlinable
// functions. gosec needs only types of its imports (its SSA builds them
// from types, without bodies).
//
// It is keyed by importsDigest: the package graph's key (every Go file's
// path and header, go.mod, go.sum, vendor/modules.txt, the kit, the go
// command and its environment), the package's id and the contents of
// every file in the folders of the plugin's packages it imports, however
// indirectly. Those decide both what the go command lists of the package
// (its files and imports come from the headers) and the types of all it
// imports, so the types held are what a fresh listing would give; the
// package's own files are parsed and type-checked anew each time, as
// go/packages does.
type imports struct {
	name, pkgPath string
	// goVersion is the module's go version, the type checker's language
	// version.
	goVersion string
	// Files relative to the source root, as tree.rel makes them.
	goFiles, compiled, other, ignored, embedFiles []string
	embedPatterns                                 []string
	// export is each imported package's types, by import path as written
	// in the source ("unsafe" is not held: it is built in).
	export map[string]exportData
}

type exportData struct {
	pkgPath string // the package the import path resolved to
	data    []byte // gcexportdata.Write's encoding
}

func (m *imports) size() int64 {
	n := 200 + len(m.name) + len(m.pkgPath) + len(m.goVersion)
	for _, list := range [][]string{m.goFiles, m.compiled, m.other, m.ignored, m.embedFiles, m.embedPatterns} {
		for _, f := range list {
			n += 16 + len(f)
		}
	}
	for p, e := range m.export {
		n += 64 + len(p) + len(e.pkgPath) + len(e.data)
	}
	return int64(n)
}

// importsDigest covers what decides the go command's listing of r and the
// types of everything r imports: the graph's digest and the files
// of the plugin's packages r depends on, not r's own files.
func importsDigest(graph [sha256.Size]byte, r graphRoot, byDir map[string][]fileSum) [sha256.Size]byte {
	return foldersDigest(graph, r.id, r.deps, byDir)
}

// importsOf records what the go command loaded for p, for type-checking
// p again without it. ok is false when p's load had a problem the type
// checker alone would not reproduce (a listing error, an import that did
// not resolve, is incomplete or has errors of its own, types that cannot
// be encoded):
// such a package is always loaded by the go command.
func (w *tree) importsOf(p *packages.Package) (m *imports, ok bool) {
	for _, e := range p.Errors {
		if e.Kind != packages.TypeError && e.Kind != packages.ParseError {
			return nil, false
		}
	}
	m = &imports{
		name: p.Name, pkgPath: p.PkgPath,
		embedPatterns: slices.Clone(p.EmbedPatterns),
		export:        make(map[string]exportData, len(p.Imports)),
	}
	if p.Module != nil {
		m.goVersion = p.Module.GoVersion
	}
	for _, list := range []struct {
		dst *[]string
		src []string
	}{{&m.goFiles, p.GoFiles}, {&m.compiled, p.CompiledGoFiles}, {&m.other, p.OtherFiles}, {&m.ignored, p.IgnoredFiles}, {&m.embedFiles, p.EmbedFiles}} {
		for _, f := range list.src {
			*list.dst = append(*list.dst, w.rel(f))
		}
	}
	// Each compiled file must be one of the plugin's: it is parsed again
	// from the package's bytes.
	for _, f := range m.compiled {
		if _, ok := w.files[w.abs(f)]; !ok {
			return nil, false
		}
	}
	for path, imp := range p.Imports {
		if path == "unsafe" {
			continue
		}
		if imp.Types == nil || !imp.Types.Complete() || imp.IllTyped || len(imp.Errors) > 0 {
			return nil, false
		}
		var b bytes.Buffer
		if err := gcexportdata.Write(&b, p.Fset, imp.Types); err != nil {
			return nil, false
		}
		m.export[path] = exportData{imp.PkgPath, b.Bytes()}
	}
	return m, true
}

// typeCheck parses r's files from the tree and type-checks them against
// the imports' types m holds, as go/packages would after the go command
// listed them: the same parser mode, sizes, language version and
// importer. It fails on the first syntax or type error: such a package
// goes to the go command, whose compile error is part of what the report
// quotes, so the errors themselves are not kept here.
func (w *tree) typeCheck(r graphRoot, m *imports) (*packages.Package, error) {
	fset := token.NewFileSet()
	abs := func(list []string) []string {
		out := make([]string, len(list))
		for i, f := range list {
			out[i] = w.abs(f)
		}
		return out
	}
	p := &packages.Package{
		ID: r.id, Name: m.name, PkgPath: m.pkgPath,
		GoFiles: abs(m.goFiles), CompiledGoFiles: abs(m.compiled),
		OtherFiles: abs(m.other), IgnoredFiles: abs(m.ignored),
		EmbedFiles: abs(m.embedFiles), EmbedPatterns: slices.Clone(m.embedPatterns),
		Fset:       fset,
		TypesSizes: types.SizesFor("gc", "wasm"),
		Imports:    make(map[string]*packages.Package, len(m.export)),
	}
	if m.goVersion != "" {
		p.Module = &packages.Module{GoVersion: m.goVersion}
	}
	for _, name := range p.CompiledGoFiles {
		src, ok := w.files[name]
		if !ok {
			return nil, fmt.Errorf("%s is not in the package", w.rel(name))
		}
		f, err := parser.ParseFile(fset, name, src, parser.AllErrors|parser.ParseComments)
		if err != nil {
			return nil, err
		}
		p.Syntax = append(p.Syntax, f)
	}

	// One map of packages for every import, as gcexportdata asks, so that
	// a type two imports share is one type.
	view := make(map[string]*types.Package)
	imported := make(map[string]*types.Package, len(m.export))
	for _, path := range slices.Sorted(maps.Keys(m.export)) {
		e := m.export[path]
		tp, err := gcexportdata.Read(bytes.NewReader(e.data), fset, view, e.pkgPath)
		if err != nil {
			return nil, fmt.Errorf("reading the export data of %s: %w", e.pkgPath, err)
		}
		imported[path] = tp
		p.Imports[path] = &packages.Package{ID: e.pkgPath, Name: tp.Name(), PkgPath: e.pkgPath, Types: tp}
	}

	p.Types = types.NewPackage(m.pkgPath, m.name)
	p.TypesInfo = &types.Info{
		Types:        make(map[ast.Expr]types.TypeAndValue),
		Defs:         make(map[*ast.Ident]types.Object),
		Uses:         make(map[*ast.Ident]types.Object),
		Implicits:    make(map[ast.Node]types.Object),
		Instances:    make(map[*ast.Ident]types.Instance),
		Scopes:       make(map[ast.Node]*types.Scope),
		Selections:   make(map[*ast.SelectorExpr]*types.Selection),
		FileVersions: make(map[*ast.File]string),
	}
	tc := &types.Config{
		// No Error handler: the check stops at the first error.
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if path == "unsafe" {
				return types.Unsafe, nil
			}
			if tp, ok := imported[path]; ok {
				return tp, nil
			}
			return nil, fmt.Errorf("no metadata for %s", path)
		}),
		Sizes: p.TypesSizes,
	}
	if m.goVersion != "" {
		tc.GoVersion = "go" + m.goVersion
	}
	if err := types.NewChecker(tc, fset, p.Types, p.TypesInfo).Files(p.Syntax); err != nil {
		return nil, err
	}
	return p, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
