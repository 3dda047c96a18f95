package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/issue"
	"golang.org/x/tools/go/packages"

	"gatehouse.dev/gatehouse"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
)

// Cache holds what gosec found in each Go package of the plugins vetted,
// so that vetting an update analyses only the packages it changed: a
// changed file makes its package and every package of the plugin that
// imports it, directly or not, analysed again; the rest come from the
// cache. Make one with NewCache and share it among the Analyzers of one
// process (WithCache). It is safe for concurrent use.
//
// A package's result is keyed by the contents of every file in its folder
// and in the folder of every package of the plugin it imports, however
// indirectly (its own module and vendor/); by go.mod, go.sum,
// vendor/modules.txt and go.work; by the plugin kit this binary embeds;
// by the build settings (GOOS=wasip1, GOARCH=wasm, the go command's
// environment); by the go command's version and identity; and by the
// analyzer's version, gosec's version and the rule set. Types come from
// nothing else: the standard library is the toolchain's, and a module
// outside the plugin is fixed by go.mod and go.sum.
//
// The package graph itself (which packages the go command finds, and what
// each imports) is cached too, keyed by what decides it: each file's path,
// its header up to the end of its imports (build constraints, package
// clause, imports) and its //go: directives, with the same settings. An
// update that changes code but no import therefore does not list the
// packages again.
//
// Last, what type-checking each package needs from outside its folder (its
// imports' types; see imports) is kept, keyed by everything but the
// package's own files: an update that changes a package but nothing it
// imports has that package type-checked here, with no go command run.
type Cache struct {
	pkgs    *resultcache.Cache[*pkgResult]
	graphs  *resultcache.Cache[*graph]
	imports *resultcache.Cache[*imports]
	// typed counts the packages type-checked from imports held, without
	// the go command (for the tests).
	typed atomic.Int64
}

// NewCache returns an empty cache bounded by lim; the package graphs it
// holds are bounded by an eighth of lim besides, and the imports' types
// by half of it (0.4–120 KB per package of the plugins measured).
func NewCache(lim resultcache.Limits) *Cache {
	def := resultcache.DefaultLimits()
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = def.MaxEntries
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = def.MaxBytes
	}
	return &Cache{
		pkgs:    resultcache.New[*pkgResult](lim),
		graphs:  resultcache.New[*graph](resultcache.Limits{MaxEntries: max(lim.MaxEntries/8, 1), MaxBytes: max(lim.MaxBytes/8, 1)}),
		imports: resultcache.New[*imports](resultcache.Limits{MaxEntries: max(lim.MaxEntries/8, 1), MaxBytes: max(lim.MaxBytes/2, 1)}),
	}
}

// Stats returns the counts of the package results' cache (a hit is a
// package not analysed again).
func (c *Cache) Stats() resultcache.Stats {
	if c == nil {
		return resultcache.Stats{}
	}
	return c.pkgs.Stats()
}

// GraphStats returns the counts of the package graphs' cache.
func (c *Cache) GraphStats() resultcache.Stats {
	if c == nil {
		return resultcache.Stats{}
	}
	return c.graphs.Stats()
}

// WithCache has a reuse what c holds from earlier runs; nil analyses
// every package.
func (a *Analyzer) WithCache(c *Cache) *Analyzer {
	a.cache = c
	return a
}

// graph is what the go command lists of a tree: its root packages (those
// ./... matches) in its order.
type graph struct {
	roots []graphRoot
}

type graphRoot struct {
	id string
	// dir is the package's folder relative to the source root.
	dir string
	// owned is true when the package is made of the plugin's files (see
	// tree.owns): only those are analysed.
	owned bool
	// deps are the folders of the plugin's packages it imports, directly
	// or not, sorted.
	deps []string
}

func (g *graph) size() int64 {
	n := 64
	for _, r := range g.roots {
		n += 64 + len(r.id) + len(r.dir)
		for _, d := range r.deps {
			n += 16 + len(d)
		}
	}
	return int64(n)
}

// graphMode is what listing the graph needs: no types, no syntax, so the
// go command compiles nothing.
const graphMode = packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports | packages.NeedDeps

// analyzeCached analyses the tree, taking each package whose key is
// unchanged from the cache, type-checking a changed package whose imports
// are unchanged from their types held (imports), and loading only the
// others (as the go command's roots; what they import is typed from the
// build cache's export data, as for any dependency). It fills in d as Analyze does with
// no cache. ok is false when the go command could not list the source, or
// did not load a package it listed: then nothing is cached and the caller
// analyses as with no cache, which reports why.
func (a *Analyzer) analyzeCached(ctx context.Context, w *tree, src []srcFile, d *Detail) (issues []*issue.Issue, ok bool, err error) {
	toolchain, err := a.toolchainID(ctx)
	if err != nil {
		return nil, false, nil // the uncached path reports it
	}
	settings := w.settingsDigest(src)
	key := func(part string, content [sha256.Size]byte) resultcache.Key {
		return resultcache.Key{
			Analyzer: Name, AnalyzerVersion: a.logicVersion, RulesDigest: a.rulesDigest,
			Database: toolchain, Part: part, Content: content,
		}
	}

	gk := key("graph", graphDigest(settings, src))
	g, hit := a.cache.graphs.Get(gk)
	if !hit {
		if err := w.write(); err != nil {
			return nil, false, err
		}
		pkgs, err := loadMode(ctx, w, graphMode, "./...")
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		if err != nil {
			return nil, false, nil
		}
		g = w.graphOf(pkgs)
		if !slices.ContainsFunc(g.roots, func(r graphRoot) bool { return r.owned }) {
			return nil, false, nil
		}
		a.cache.graphs.Put(gk, g, g.size())
	}

	byDir := filesByDir(src)
	results := make([]*pkgResult, len(g.roots))
	keys := make([]resultcache.Key, len(g.roots))
	var dirty []int
	for i, r := range g.roots {
		if !r.owned {
			continue
		}
		keys[i] = key("package:"+r.dir, packageDigest(settings, r, byDir))
		if res, ok := a.cache.pkgs.Get(keys[i]); ok {
			results[i] = res
		} else {
			dirty = append(dirty, i)
		}
	}
	d.Loader = LoaderPackages
	// A dirty package whose imports are unchanged is type-checked here
	// from the types held; the rest are loaded by the go command.
	importKeys := make([]resultcache.Key, len(g.roots))
	var listed []int
	for _, i := range dirty {
		r := g.roots[i]
		importKeys[i] = key("imports:"+r.dir, importsDigest(gk.Content, r, byDir))
		if m, ok := a.cache.imports.Get(importKeys[i]); ok {
			// A package with errors goes to the go command, whose
			// compile error is part of what the report quotes.
			if p, err := w.typeCheck(r, m); err == nil {
				a.cache.typed.Add(1)
				results[i] = w.checkPackage(p, LoaderPackages, a.excluded)
				continue
			}
		}
		listed = append(listed, i)
	}
	if len(listed) > 0 {
		patterns := make([]string, len(listed))
		for j, i := range listed {
			patterns[j] = "./" + g.roots[i].dir // "./." is the root folder
		}
		if err := w.write(); err != nil {
			return nil, false, err
		}
		pkgs, err := load(ctx, w, patterns...)
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		if err != nil {
			return nil, false, nil
		}
		byID := make(map[string]*packages.Package, len(pkgs))
		for _, p := range pkgs {
			byID[p.ID] = p
		}
		for _, i := range listed {
			p := byID[g.roots[i].id]
			if p == nil || !w.owns(p) {
				return nil, false, nil
			}
			results[i] = w.checkPackage(p, LoaderPackages, a.excluded)
			if m, ok := w.importsOf(p); ok {
				a.cache.imports.Put(importKeys[i], m, m.size())
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	for _, i := range dirty {
		a.cache.pkgs.Put(keys[i], results[i], results[i].size())
	}
	return w.assemble(slices.DeleteFunc(results, func(r *pkgResult) bool { return r == nil }), d), true, nil
}

// graphOf records the roots of a listing and, for each, the plugin's
// packages it depends on.
func (w *tree) graphOf(pkgs []*packages.Package) *graph {
	g := &graph{}
	for _, p := range pkgs {
		r := graphRoot{id: p.ID, owned: w.owns(p)}
		if dir, ok := w.dirOf(p); ok {
			r.dir = dir
		} else {
			r.owned = false
		}
		if r.owned {
			seen := map[string]bool{p.ID: true}
			deps := map[string]bool{}
			var visit func(q *packages.Package)
			visit = func(q *packages.Package) {
				for _, imp := range q.Imports {
					if seen[imp.ID] {
						continue
					}
					seen[imp.ID] = true
					if dir, ok := w.dirOf(imp); ok && dir != r.dir {
						deps[dir] = true
					}
					visit(imp)
				}
			}
			visit(p)
			for dir := range deps {
				r.deps = append(r.deps, dir)
			}
			slices.Sort(r.deps)
		}
		g.roots = append(g.roots, r)
	}
	return g
}

// dirOf is the folder, relative to the source root, of a package made of
// the plugin's files.
func (w *tree) dirOf(p *packages.Package) (string, bool) {
	for _, list := range [][]string{p.GoFiles, p.CompiledGoFiles, p.IgnoredFiles} {
		for _, f := range list {
			if _, ok := w.files[f]; ok {
				return path.Dir(w.rel(f)), true
			}
		}
	}
	return "", false
}

// fileSum is one file's path and content digest.
type fileSum struct {
	path string
	sum  [sha256.Size]byte
}

// filesByDir digests the .go files by folder.
func filesByDir(src []srcFile) map[string][]fileSum {
	m := map[string][]fileSum{}
	for _, f := range src {
		if strings.HasSuffix(f.path, ".go") {
			dir := path.Dir(f.path)
			m[dir] = append(m[dir], fileSum{f.path, sha256.Sum256(f.data)})
		}
	}
	for _, list := range m {
		slices.SortFunc(list, func(a, b fileSum) int { return strings.Compare(a.path, b.path) })
	}
	return m
}

// digester writes length-prefixed fields, so no two sequences of fields
// share a digest.
type digester struct {
	h interface{ Write([]byte) (int, error) }
}

func (d digester) field(b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	d.h.Write(n[:])
	d.h.Write(b)
}

// packageDigest covers every file of r's folder and of the folders of the
// plugin's packages it depends on, with the tree's settings.
func packageDigest(settings [sha256.Size]byte, r graphRoot, byDir map[string][]fileSum) [sha256.Size]byte {
	return foldersDigest(settings, r.id, slices.Concat([]string{r.dir}, r.deps), byDir)
}

// foldersDigest covers base, the package id and every file of the folders
// dirs.
func foldersDigest(base [sha256.Size]byte, id string, dirs []string, byDir map[string][]fileSum) [sha256.Size]byte {
	h := sha256.New()
	d := digester{h}
	d.field(base[:])
	d.field([]byte(id))
	for _, dir := range dirs {
		d.field([]byte("dir " + dir))
		for _, f := range byDir[dir] {
			d.field([]byte(f.path))
			d.field(f.sum[:])
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// graphDigest covers what decides the go command's listing of the tree:
// each Go file's path, its header (build constraints, package clause and
// imports) and its //go: directives (go:embed names files), with the
// tree's settings. A file that does not parse counts whole.
func graphDigest(settings [sha256.Size]byte, src []srcFile) [sha256.Size]byte {
	h := sha256.New()
	d := digester{h}
	d.field(settings[:])
	fset := token.NewFileSet()
	for _, f := range src {
		if !strings.HasSuffix(f.path, ".go") {
			continue
		}
		d.field([]byte(f.path))
		d.field(goHeader(fset, f.data))
		for line := range bytes.Lines(f.data) {
			if t := bytes.TrimSpace(line); bytes.HasPrefix(t, []byte("//go:")) {
				d.field(t)
			}
		}
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// goHeader is data up to the end of its imports, or all of data when it
// does not parse.
func goHeader(fset *token.FileSet, data []byte) []byte {
	f, err := parser.ParseFile(fset, "", data, parser.ImportsOnly|parser.ParseComments)
	if err != nil || f == nil {
		return data
	}
	end := f.Name.End()
	for _, decl := range f.Decls {
		end = max(end, decl.End())
	}
	tf := fset.File(f.Pos())
	if tf == nil {
		return data
	}
	off := tf.Offset(end)
	if off < 0 || off > len(data) {
		return data
	}
	return data[:off]
}

// settingsDigest covers the tree's build settings: the go command's
// environment, the workspace or vendor mode, every file of the source
// that is not Go (go.mod, go.sum, vendor/modules.txt) and the plugin kit.
func (w *tree) settingsDigest(src []srcFile) [sha256.Size]byte {
	h := sha256.New()
	d := digester{h}
	for _, e := range loadEnv(w) {
		// GOWORK names the temporary folder; go.work's contents count below.
		if w.work != "" && e == "GOWORK="+w.work {
			e = "GOWORK=(the tree's go.work)"
		}
		d.field([]byte(e))
	}
	d.field([]byte(fmt.Sprintf("mode %d buildflags -trimpath", gosec.LoadMode)))
	for _, f := range src {
		if !strings.HasSuffix(f.path, ".go") {
			d.field([]byte(f.path))
			d.field(f.data)
		}
	}
	if w.work != "" {
		d.field(w.workData)
		kit := kitDigest()
		d.field(kit[:])
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// kitDigest is the digest of the plugin kit this binary embeds.
var kitDigest = sync.OnceValue(func() [sha256.Size]byte {
	h := sha256.New()
	d := digester{h}
	_ = fs.WalkDir(gatehouse.PDKSource, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(gatehouse.PDKSource, name)
		if err != nil {
			return err
		}
		d.field([]byte(name))
		d.field(b)
		return nil
	})
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
})

// rulesDigest names the rule set: gosec's version, the rules left out
// and the configuration.
func rulesDigest(version string, excluded []string) string {
	h := sha256.New()
	d := digester{h}
	for _, id := range slices.Concat(secretRules, excluded) {
		d.field([]byte("without " + id))
	}
	for id := range gosecRules(excluded).Rules {
		d.field([]byte("rule " + id))
	}
	for id := range gosecAnalyzers(excluded).Analyzers {
		d.field([]byte("analyzer " + id))
	}
	d.field([]byte(fmt.Sprintf("%v", gosecConfig())))
	return fmt.Sprintf("gosec %s rules sha256:%x", version, h.Sum(nil))
}

// toolchainID names the go command that loads the source: its version,
// GOROOT and identity (goenv.Memo asks it once per identity).
func (a *Analyzer) toolchainID(ctx context.Context) (string, error) {
	if a.toolchain != nil {
		return a.toolchain(ctx)
	}
	vals, id, err := a.goEnv.Get(ctx, "go", append(os.Environ(), "GOTOOLCHAIN=local", "GOENV=off"), "GOVERSION", "GOROOT")
	if errors.Is(err, exec.ErrNotFound) {
		return "", errors.New("no go command on PATH")
	}
	if err != nil {
		return "", fmt.Errorf("asking the go command its version: %w", err)
	}
	return strings.Join(vals, " ") + " (" + id + ")", nil
}
