// Package source runs the gosec rules (github.com/securego/gosec/v2, used
// as a library) over the Go source a package includes, and reports each
// issue at its file, line and column with gosec's rule id and CWE.
//
// The source comes from the package's bytes, never from paths on the
// host: the .go, go.mod and go.sum files are written to a private
// temporary folder and loaded from there with golang.org/x/tools/go/packages
// for GOOS=wasip1 GOARCH=wasm, the platform a plugin is built for. The
// load never reaches the network (GOPROXY=off, GOTOOLCHAIN=local) and a
// plugin's own third-party modules need not be in the module cache: an
// import that does not resolve leaves a type error, and the rules still run
// over the partly typed package (gosec's AST rules need only the syntax
// and whatever types resolved). A package with vendor/modules.txt at its
// root (`gatehouse plugin build` vendors every dependency, the kit too) is
// loaded from the package alone with -mod=vendor, fully typed. Otherwise
// the plugin kit's import,
// gatehouse.dev/gatehouse/pdk, which no proxy serves, is resolved from the
// copy embedded in this binary through a Go workspace, as pluginkit.Build
// does, so a plugin that imports only the standard library and the kit is
// fully typed and gosec's SSA analyzers (G115, G602, the G7xx taint rules)
// run too.
//
// When the go command cannot load the source at all (it is missing, or a
// go.mod it refuses), the analyzer parses each file itself, type-checks
// what it can without any importer, and runs the AST rules alone; Detail
// says so.
package source

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"log"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"github.com/securego/gosec/v2/rules"
	"golang.org/x/tools/go/packages"

	"gatehouse.dev/gatehouse"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/goenv"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
)

// Name is the analyzer's name.
const Name = "source"

// Version changes whenever the analyzer's own logic changes; gosec's
// version is in each result's Databases.
const Version = "1.2.0"

const gosecModule = "github.com/securego/gosec/v2"

// Limits on the source the analyzer writes out and loads. pkgfile already
// bounds the package; these keep one analysis to a size gosec handles in
// the timeout.
const (
	maxGoFiles    = 2000
	maxGoBytes    = 32 << 20
	maxTypeErrors = 5   // type errors quoted in Detail
	maxListed     = 100 // files listed in Detail.NotAnalysed
	snippetBytes  = 160
)

// Loaders, as Detail reports them.
const (
	LoaderPackages = "go/packages" // the go command loaded and type-checked the source
	LoaderParser   = "go/parser"   // the fallback: per-file parsing, no imports resolved
)

// Analyzer is the source analyzer. It is safe for concurrent use: every
// Analyze builds its own gosec analyzer.
type Analyzer struct {
	version string
	rules   []vet.Rule
	// logicVersion is Version, held here so a test can show that a
	// result cached by another version is not reused.
	logicVersion string
	// rulesDigest names the gosec rule set and configuration.
	rulesDigest string
	// cache holds each Go package's result across runs; nil analyses
	// every package.
	cache *Cache
	// excluded are gosec rules left out beyond secretRules (tests only).
	excluded []string
	// toolchain names the go command that loads the source, for the
	// cache's keys (toolchainID; a test replaces it).
	toolchain func(context.Context) (string, error)
	goEnv     goenv.Memo
}

// New returns the source analyzer.
func New() *Analyzer {
	a := &Analyzer{version: gosecVersion(), logicVersion: Version}
	for id, d := range gosecRules(nil).Rules {
		a.rules = append(a.rules, rule(id, d.Description))
	}
	for id, d := range gosecAnalyzers(nil).Analyzers {
		a.rules = append(a.rules, rule(id, d.Description))
	}
	slices.SortFunc(a.rules, func(x, y vet.Rule) int { return strings.Compare(x.ID, y.ID) })
	a.rulesDigest = rulesDigest(a.version, nil)
	return a
}

// withoutRules returns a copy of a that leaves the given gosec rules out:
// a changed rule set, for the tests of the cache.
func (a *Analyzer) withoutRules(gosecIDs ...string) *Analyzer {
	b := &Analyzer{version: a.version, logicVersion: a.logicVersion, cache: a.cache, excluded: gosecIDs}
	for _, r := range a.rules {
		if !slices.Contains(gosecIDs, r.Name) {
			b.rules = append(b.rules, r)
		}
	}
	b.rulesDigest = rulesDigest(b.version, gosecIDs)
	return b
}

func rule(id, desc string) vet.Rule {
	return vet.Rule{
		ID:          RuleID(id),
		Name:        id,
		Description: desc,
		Severity:    defaultSeverity(id),
		Remediation: Remediation(id),
		HelpURI:     "https://github.com/securego/gosec#available-rules",
	}
}

// secretRules are the gosec rules left to the secrets analyzer. G101
// guesses hard-coded credentials from names and value patterns that
// disagree with the secrets analyzer's rules and allowlists (it flags
// AWS's documented example key, which gitleaks allows) and would report
// every real key a second time. Credentials have one source of truth,
// internal/vet/secrets, which scans the same source files and the module too.
var secretRules = []string{"G101"}

// gosecRules returns gosec's AST rules without secretRules and excluded.
func gosecRules(excluded []string) rules.RuleList {
	return rules.Generate(false, rules.NewRuleFilter(true, slices.Concat(secretRules, excluded)...))
}

// gosecAnalyzers returns gosec's SSA analyzers without excluded.
func gosecAnalyzers(excluded []string) *analyzers.AnalyzerList {
	return analyzers.Generate(false, analyzers.NewAnalyzerFilter(true, excluded...))
}

// RuleID is the vet rule id of a gosec rule ("G401" → "source/G401").
func RuleID(gosecID string) string { return Name + "/" + gosecID }

func gosecVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == gosecModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "v2.29.0"
}

func (*Analyzer) Name() string       { return Name }
func (*Analyzer) Version() string    { return Version }
func (*Analyzer) Requires() []string { return nil }

// ExpectedDuration implements vet.Estimator: gosec type-checks every Go
// package, 0.5–1.3 s for a plugin on a 2-core machine (docs/benchmarks.md).
func (*Analyzer) ExpectedDuration() time.Duration { return time.Second }

// Timeout is generous: the first load on a machine compiles the standard
// library's export data for wasip1 (later loads hit the Go build cache).
func (*Analyzer) Timeout() time.Duration { return time.Minute }

// Rules returns one rule per gosec rule and analyzer.
func (a *Analyzer) Rules() []vet.Rule { return slices.Clone(a.rules) }

// Detail is the analyzer's Detail.
type Detail struct {
	// Loader is LoaderPackages or LoaderParser.
	Loader string `json:"loader"`
	// Note says why the fallback was used, when it was.
	Note     string   `json:"note,omitempty"`
	Files    int      `json:"files"`
	Lines    int      `json:"lines"`
	Packages []string `json:"packages"`
	// TypeErrors counts the type errors (mostly imports that did not
	// resolve offline); the rules ran anyway. A few are quoted.
	TypeErrors       int      `json:"typeErrors"`
	TypeErrorSamples []string `json:"typeErrorSamples,omitempty"`
	// SSA is true when gosec's SSA analyzers ran; they need a package
	// without type errors.
	SSA bool `json:"ssa"`
	// NotAnalysed lists Go files no analysed package holds: files whose
	// build constraints leave them out of a wasip1 build, tests, and
	// folders the go command ignores (testdata, names starting with _ or
	// .). They are not compiled into the module.
	NotAnalysed []string `json:"notAnalysed,omitempty"`
}

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Package == nil {
		return nil, errors.New("no package to analyse")
	}
	src, err := collect(in)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(src, func(f srcFile) bool { return strings.HasSuffix(f.path, ".go") }) {
		return nil, fmt.Errorf("%w: the package includes no Go source", vet.ErrSkipped)
	}

	tmp, err := os.MkdirTemp("", "gatehouse-source-")
	if err != nil {
		return nil, fmt.Errorf("creating a folder for the source: %w", err)
	}
	defer os.RemoveAll(tmp)
	w := newTree(tmp, src)

	d := &Detail{Packages: []string{}}
	if a.cache != nil {
		issues, ok, err := a.analyzeCached(ctx, w, src, d)
		if err != nil {
			return nil, err
		}
		if ok {
			return a.report(w, issues, d)
		}
		// The plan failed (the go command could not list the source):
		// analyse as with no cache, which says why in Detail.
		d = &Detail{Packages: []string{}}
	}
	if err := w.write(); err != nil {
		return nil, err
	}
	pkgs, loadErr := load(ctx, w, "./...")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if loadErr != nil || !coversGoFiles(pkgs, w) {
		d.Loader = LoaderParser
		if loadErr != nil {
			d.Note = "the go command could not load the source (" + w.trim(loadErr.Error()) + "); only gosec's AST rules ran, over each file parsed alone"
		} else {
			d.Note = "the go command loaded none of the package's Go files; only gosec's AST rules ran, over each file parsed alone"
		}
		pkgs = parseAlone(w)
	} else {
		d.Loader = LoaderPackages
	}
	if len(pkgs) == 0 {
		return nil, errors.New("no Go file of the package could be parsed")
	}

	issues := w.check(ctx, pkgs, d, a.excluded)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return a.report(w, issues, d)
}

// report is the analyzer's report of issues found over the tree.
func (a *Analyzer) report(w *tree, issues []*issue.Issue, d *Detail) (*vet.Report, error) {
	if len(d.Packages) == 0 {
		return nil, fmt.Errorf("gosec could not analyse any package of the source: %s", d.Note)
	}
	findings := w.findings(issues, d.Loader)
	return &vet.Report{
		Findings:  findings,
		Detail:    d,
		Databases: map[string]string{"gosec": a.version},
	}, nil
}

// check runs gosec's rules, and its SSA analyzers where the types are
// complete, over each package made of the plugin's files, and fills in d.
func (w *tree) check(ctx context.Context, pkgs []*packages.Package, d *Detail, excluded []string) []*issue.Issue {
	var results []*pkgResult
	for _, p := range pkgs {
		if ctx.Err() != nil || !w.owns(p) {
			continue
		}
		results = append(results, w.checkPackage(p, d.Loader, excluded))
	}
	return w.assemble(results, d)
}

// pkgResult is what gosec found in one package, with file names relative
// to the source root, so that it can be cached and assembled with the
// results of other packages (see assemble).
type pkgResult struct {
	pkgPath string
	// note says gosec stopped on the package: it is not listed as
	// analysed, but what gosec found before it stopped is kept.
	note string
	// files are the package's compiled files.
	files            []string
	ssa              bool
	typeErrors       int
	typeErrorSamples []string
	numFiles         int
	numLines         int
	issues           []cachedIssue
}

// cachedIssue is the part of a gosec issue that findings reads.
type cachedIssue struct {
	file, line, col, ruleID, what string
	severity, confidence          issue.Score
}

// size is about what r holds, for the cache's byte bound.
func (r *pkgResult) size() int64 {
	n := 200 + len(r.pkgPath) + len(r.note)
	for _, f := range r.files {
		n += len(f) + 16
	}
	for _, s := range r.typeErrorSamples {
		n += len(s) + 16
	}
	for _, is := range r.issues {
		n += 120 + len(is.file) + len(is.line) + len(is.col) + len(is.ruleID) + len(is.what)
	}
	return int64(n)
}

// checkPackage runs gosec over one package with an analyzer of its own,
// so that its result does not depend on the other packages checked. A
// panic inside gosec (its rules meet ill-typed code here, which its
// command-line use rarely shows them) stops that package only; the
// result's note names it.
func (w *tree) checkPackage(p *packages.Package, loader string, excluded []string) *pkgResult {
	r := &pkgResult{pkgPath: p.PkgPath}
	g := gosec.NewAnalyzer(gosecConfig(), false, false, false, 1, log.New(io.Discard, "", 0))
	g.LoadRules(gosecRules(excluded).RulesInfo())
	g.LoadAnalyzers(gosecAnalyzers(excluded).AnalyzersInfo())
	withSSA := loader == LoaderPackages && !p.IllTyped && len(p.Errors) == 0
	if err := checkOne(g, p, withSSA); err != nil {
		r.note = fmt.Sprintf("gosec stopped on package %s: %v", p.PkgPath, err)
	} else {
		r.ssa = withSSA
		for _, f := range p.CompiledGoFiles {
			r.files = append(r.files, w.rel(f))
		}
		for _, e := range p.Errors {
			r.typeErrors++
			if len(r.typeErrorSamples) < maxTypeErrors {
				r.typeErrorSamples = append(r.typeErrorSamples, w.trim(e.Error()))
			}
		}
	}
	issues, metrics, _ := g.Report()
	r.numFiles, r.numLines = metrics.NumFiles, metrics.NumLines
	for _, is := range issues {
		r.issues = append(r.issues, cachedIssue{
			file: w.rel(is.File), line: is.Line, col: is.Col, ruleID: is.RuleID, what: is.What,
			severity: is.Severity, confidence: is.Confidence,
		})
	}
	return r
}

// assemble fills in d from the packages' results, in the order given, and
// returns their issues at the tree's paths.
func (w *tree) assemble(results []*pkgResult, d *Detail) []*issue.Issue {
	analysed := map[string]bool{}
	var issues []*issue.Issue
	for _, r := range results {
		if r.note != "" {
			d.addNote(r.note)
		} else {
			d.Packages = append(d.Packages, r.pkgPath)
		}
		d.SSA = d.SSA || r.ssa
		for _, f := range r.files {
			analysed[w.abs(f)] = true
		}
		d.TypeErrors += r.typeErrors
		for _, s := range r.typeErrorSamples {
			if len(d.TypeErrorSamples) < maxTypeErrors {
				d.TypeErrorSamples = append(d.TypeErrorSamples, s)
			}
		}
		d.Files += r.numFiles
		d.Lines += r.numLines
		for _, is := range r.issues {
			issues = append(issues, &issue.Issue{
				File: w.abs(is.file), Line: is.line, Col: is.col, RuleID: is.ruleID, What: is.what,
				Severity: is.severity, Confidence: is.confidence,
			})
		}
	}
	slices.Sort(d.Packages)
	for f := range w.files {
		if !analysed[f] && len(d.NotAnalysed) < maxListed {
			d.NotAnalysed = append(d.NotAnalysed, w.trim(f))
		}
	}
	slices.Sort(d.NotAnalysed)
	return issues
}

// rel is an absolute path under the source root as a slash-separated
// path relative to it; a path elsewhere (the kit, the build cache) is
// kept as it is.
func (w *tree) rel(p string) string {
	r, err := filepath.Rel(w.src, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(r)
}

// abs undoes rel.
func (w *tree) abs(r string) string {
	if filepath.IsAbs(r) {
		return r
	}
	return filepath.Join(w.src, filepath.FromSlash(r))
}

func (d *Detail) addNote(s string) {
	if d.Note != "" {
		d.Note += "; "
	}
	d.Note += s
}

func checkOne(g *gosec.Analyzer, p *packages.Package, withSSA bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	g.CheckRules(p)
	if withSSA {
		g.CheckAnalyzers(p)
	}
	return nil
}

// gosecConfig ignores #nosec comments: the author wrote the source under
// review, so an author's suppression must not hide a finding from the
// reviewer. A false positive is marked by a reviewer instead, and that
// decision carries forward by fingerprint.
func gosecConfig() gosec.Config {
	c := gosec.NewConfig()
	c.SetGlobal(gosec.Nosec, "true")
	return c
}

// srcFile is a file of the package the analysis needs.
type srcFile struct {
	path string // package path, already validated by pkgfile
	data []byte
}

// vendorModules is the go command's list of what vendor/ holds. With it
// at the package root (`gatehouse plugin build` writes it), the source is
// loaded from the package alone with -mod=vendor: the plugin's third-party
// modules and its copy of the kit are then typed too.
const vendorModules = "vendor/modules.txt"

// collect picks the .go, go.mod and go.sum files and vendor/modules.txt,
// within the limits.
func collect(in *vet.Input) ([]srcFile, error) {
	var (
		out   []srcFile
		total int
	)
	for _, e := range in.Package.Files {
		base := path.Base(e.Path)
		if !strings.HasSuffix(base, ".go") && base != "go.mod" && base != "go.sum" && e.Path != vendorModules {
			continue
		}
		if len(out) == maxGoFiles {
			return nil, fmt.Errorf("the package has more than %d Go source files; split it or leave generated and vendored code out", maxGoFiles)
		}
		data, _ := in.Package.File(e.Path)
		total += len(data)
		if total > maxGoBytes {
			return nil, fmt.Errorf("the package's Go source is over %d MiB; leave generated and vendored code out of the package", maxGoBytes>>20)
		}
		out = append(out, srcFile{e.Path, data})
	}
	return out, nil
}

// tree is the source as the go command would see it: src holds the
// package's files at their package paths, kit the plugin kit, and go.work
// joins them. Nothing is on disk until write: an update whose packages
// are all typed from the cache (see imports) needs no go command, and so
// no files.
type tree struct {
	root, src, kit string
	work           string            // the go.work file, or "" when the source builds from vendor/
	workData       []byte            // go.work's contents
	files          map[string][]byte // absolute path → contents, the .go files
	out            []srcFile         // every file write puts under src
	kitNeeded      bool
	written        bool
}

// newTree plans the tree under tmp, which must exist and be empty.
func newTree(tmp string, files []srcFile) *tree {
	w := &tree{
		root:  tmp,
		src:   filepath.Join(tmp, "src"),
		kit:   filepath.Join(tmp, "kit"),
		files: make(map[string][]byte),
		out:   files,
	}
	var modDirs []string
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.path, ".go"):
			w.files[filepath.Join(w.src, filepath.FromSlash(f.path))] = f.data
		case path.Base(f.path) == "go.mod":
			modDirs = append(modDirs, path.Dir(f.path))
		}
	}
	if slices.Contains(modDirs, ".") && slices.ContainsFunc(files, func(f srcFile) bool { return f.path == vendorModules }) {
		return w // built from vendor/ alone: no kit, no workspace
	}
	// Source without a go.mod at its root (a plugin kept inside a larger
	// module) gets one of its own, which asks for the kit as plugins do.
	if !slices.Contains(modDirs, ".") {
		gomod := "module plugin.local/vetted\n\ngo 1.26\n\nrequire gatehouse.dev/gatehouse v0.0.0\n"
		w.out = append(slices.Clone(w.out), srcFile{"go.mod", []byte(gomod)})
		modDirs = append(modDirs, ".")
	}
	w.kitNeeded = true
	var work strings.Builder
	work.WriteString("go 1.26\n\nuse (\n\t./kit\n")
	slices.Sort(modDirs)
	for _, d := range modDirs {
		fmt.Fprintf(&work, "\t%s\n", strconv.Quote("./"+path.Join("src", d)))
	}
	work.WriteString(")\n")
	w.work = filepath.Join(tmp, "go.work")
	w.workData = []byte(work.String())
	return w
}

// write puts the tree on disk for the go command, once.
func (w *tree) write() error {
	if w.written {
		return nil
	}
	for _, f := range w.out {
		p := filepath.Join(w.src, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("writing the source: %w", err)
		}
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			return fmt.Errorf("writing the source: %w", err)
		}
	}
	if w.kitNeeded {
		if err := writeKit(w.kit); err != nil {
			return err
		}
	}
	if w.work != "" {
		if err := os.WriteFile(w.work, w.workData, 0o600); err != nil {
			return fmt.Errorf("writing the source: %w", err)
		}
	}
	w.written = true
	return nil
}

// writeKit writes the plugin kit embedded in this binary (pdk and
// hostapi) as the module gatehouse.dev/gatehouse.
func writeKit(dir string) error {
	err := fs.WalkDir(gatehouse.PDKSource, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, "_test.go") {
			return err
		}
		data, err := fs.ReadFile(gatehouse.PDKSource, name)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o600)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gatehouse.dev/gatehouse\n\ngo 1.26\n"), 0o600)
	}
	if err != nil {
		return fmt.Errorf("writing the plugin kit: %w", err)
	}
	return nil
}

// load runs go/packages over the source. The environment keeps the go
// command offline and on this toolchain, ignores the user's go env file
// and GOFLAGS (which could name a -toolexec or -mod=vendor), and builds
// for the plugin's platform with cgo off, so no C compiler ever runs on
// a plugin's source.
func load(ctx context.Context, w *tree, patterns ...string) ([]*packages.Package, error) {
	return loadMode(ctx, w, gosec.LoadMode, patterns...)
}

// loadEnv is the go command's environment for loading the source; see
// load. It is part of every cache key.
func loadEnv(w *tree) []string {
	gowork, goflags := w.work, ""
	if w.work == "" {
		gowork, goflags = "off", "-mod=vendor"
	}
	return []string{
		"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0",
		"GOENV=off", "GOFLAGS=" + goflags, "GO111MODULE=on", "GOWORK=" + gowork,
		"GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local",
		// An external driver would run instead of the go command.
		"GOPACKAGESDRIVER=off",
	}
}

func loadMode(ctx context.Context, w *tree, mode packages.LoadMode, patterns ...string) ([]*packages.Package, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return nil, errors.New("no go command on PATH")
	}
	cfg := &packages.Config{
		Context: ctx,
		Mode:    mode,
		Dir:     w.src,
		Env:     append(os.Environ(), loadEnv(w)...),
		// -trimpath keeps the temporary folder out of the build cache's
		// keys, so the kit's export data is reused across runs.
		BuildFlags: []string{"-trimpath"},
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	return pkgs, nil
}

// coversGoFiles reports whether the loaded packages hold the syntax of at
// least one of the package's Go files. A go.mod the go command refuses
// still "loads", as packages whose only content is the error.
func coversGoFiles(pkgs []*packages.Package, w *tree) bool {
	for _, p := range pkgs {
		if w.owns(p) && len(p.Syntax) > 0 {
			return true
		}
	}
	return false
}

// owns reports whether p is made of files the package shipped (not the
// kit, not a dependency).
func (w *tree) owns(p *packages.Package) bool {
	for _, f := range p.CompiledGoFiles {
		if _, ok := w.files[f]; ok {
			return true
		}
	}
	for _, f := range p.GoFiles {
		if _, ok := w.files[f]; ok {
			return true
		}
	}
	return false
}

// parseAlone is the fallback: each folder's files, grouped by package
// clause, parsed and type-checked with no importer, so every import is an
// error and only local types resolve. Build constraints are not evaluated,
// so every file but tests is analysed, which errs on the side of
// reporting. A file that does not parse at all is left out (and counted
// as an error).
func parseAlone(w *tree) []*packages.Package {
	fset := token.NewFileSet()
	type key struct{ dir, name string }
	groups := map[key]*packages.Package{}
	var order []key
	for _, p := range slices.Sorted(maps.Keys(w.files)) {
		if strings.HasSuffix(p, "_test.go") {
			continue // as the go command leaves tests out of a build
		}
		f, err := parser.ParseFile(fset, p, w.files[p], parser.ParseComments|parser.SkipObjectResolution)
		if err != nil && f == nil {
			continue
		}
		k := key{filepath.Dir(p), f.Name.Name}
		g, ok := groups[k]
		if !ok {
			rel, _ := filepath.Rel(w.src, k.dir)
			g = &packages.Package{ID: filepath.ToSlash(rel), Name: k.name, PkgPath: filepath.ToSlash(rel), Fset: fset}
			groups[k] = g
			order = append(order, k)
		}
		if err != nil {
			g.Errors = append(g.Errors, packages.Error{Msg: err.Error(), Kind: packages.ParseError})
		}
		g.GoFiles = append(g.GoFiles, p)
		g.CompiledGoFiles = append(g.CompiledGoFiles, p)
		g.Syntax = append(g.Syntax, f)
	}
	out := make([]*packages.Package, 0, len(order))
	for _, k := range order {
		g := groups[k]
		g.TypesInfo = &types.Info{
			Types:      map[ast.Expr]types.TypeAndValue{},
			Defs:       map[*ast.Ident]types.Object{},
			Uses:       map[*ast.Ident]types.Object{},
			Implicits:  map[ast.Node]types.Object{},
			Selections: map[*ast.SelectorExpr]*types.Selection{},
			Scopes:     map[ast.Node]*types.Scope{},
			Instances:  map[*ast.Ident]types.Instance{},
		}
		conf := types.Config{
			Importer:  failImporter{},
			GoVersion: "go1.26",
			Sizes:     types.SizesFor("gc", "wasm"),
			Error: func(err error) {
				g.Errors = append(g.Errors, packages.Error{Msg: err.Error(), Kind: packages.TypeError})
			},
		}
		g.Types, _ = conf.Check(g.PkgPath, fset, g.Syntax, g.TypesInfo)
		g.TypesSizes = conf.Sizes
		g.IllTyped = len(g.Errors) > 0
		out = append(out, g)
	}
	return out
}

// failImporter resolves nothing: the fallback must not read export data
// or source from the host. go/types then gives each import a fake package
// whose name still identifies calls such as md5.Sum.
type failImporter struct{}

func (failImporter) Import(p string) (*types.Package, error) {
	return nil, fmt.Errorf("import %q is not resolved in the fallback", p)
}

// findings turns gosec's issues into findings at package paths.
func (w *tree) findings(issues []*issue.Issue, loader string) []vet.Finding {
	var out []vet.Finding
	seen := map[string]int{} // rule, file and line text → occurrences so far
	for _, is := range issues {
		data, ok := w.files[is.File]
		if !ok {
			// An issue in a file the package did not ship (the kit, a
			// generated cgo file): not the author's code.
			continue
		}
		rel, err := filepath.Rel(w.src, is.File)
		if err != nil {
			continue
		}
		file := filepath.ToSlash(rel)
		line, _ := strconv.Atoi(strings.SplitN(is.Line, "-", 2)[0])
		col, _ := strconv.Atoi(is.Col)
		text := lineText(data, line)

		id := RuleID(is.RuleID)
		// The fingerprint names the code, not its line number, so it
		// survives edits elsewhere in the file; the occurrence count
		// keeps two identical lines apart.
		subject := is.RuleID + "\x00" + file + "\x00" + text
		n := seen[subject]
		seen[subject] = n + 1
		fp := vet.Fingerprint(id, file, text, strconv.Itoa(n))

		f := vet.Finding{
			RuleID:      id,
			Severity:    severity(is.Severity, is.Confidence),
			Message:     fmt.Sprintf("%s:%d:%d: %s (gosec %s)", file, line, col, strings.TrimSuffix(is.What, "."), is.RuleID),
			Location:    vet.Location{File: file, Line: line, Column: col},
			Fingerprint: fp,
			Remediation: Remediation(is.RuleID),
			Properties: map[string]any{
				"gosecRule":       is.RuleID,
				"gosecSeverity":   is.Severity.String(),
				"gosecConfidence": is.Confidence.String(),
				"loader":          loader,
			},
		}
		if c := issue.GetCweByRule(is.RuleID); c != nil {
			f.Properties["cwe"] = c.SprintID()
			f.Properties["cweUrl"] = c.SprintURL()
			f.Message += " [" + c.SprintID() + "]"
		}
		// A line about a secret may hold one; the secrets analyzer
		// reports secrets, redacted, so such a line is not echoed here,
		// and any other line is quoted with its secrets redacted.
		if !credentialRule[is.RuleID] {
			f.Location.Snippet = truncate(secrets.RedactText(text), snippetBytes)
		}
		out = append(out, f)
	}
	vet.SortFindings(out)
	return out
}

// credentialRule marks rules whose flagged line may hold a secret (G117:
// a secret-named field that is marshalled).
var credentialRule = map[string]bool{"G117": true}

// severity maps gosec's severity and confidence: the severity stands when
// gosec is at least moderately sure, and drops a level when its confidence
// is low (a guess from a variable's name, for instance).
func severity(sev, conf issue.Score) vet.Severity {
	levels := []vet.Severity{vet.Info, vet.Low, vet.Medium, vet.High}
	i := int(sev) + 1 // Low → Low, Medium → Medium, High → High
	if conf == issue.Low {
		i--
	}
	return levels[max(0, min(i, len(levels)-1))]
}

// lineText returns line n (1-based) of data without surrounding space.
func lineText(data []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return ""
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return string(bytes.TrimSpace(data))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// trim removes the temporary folder from a message, so what is stored
// names package paths only.
func (w *tree) trim(msg string) string {
	msg = strings.ReplaceAll(msg, w.src+string(filepath.Separator), "")
	return strings.ReplaceAll(msg, w.root+string(filepath.Separator), "")
}

// defaultSeverity is the severity a rule usually reports with, for the
// rule list (SARIF's default level); each finding carries its own.
func defaultSeverity(id string) vet.Severity {
	return cmp.Or(ruleSeverity[id], vet.Medium)
}

var ruleSeverity = map[string]vet.Severity{
	"G103": vet.Low, "G104": vet.Low, "G115": vet.High,
	"G401": vet.Medium, "G404": vet.High, "G501": vet.Medium, "G505": vet.Medium,
	"G601": vet.Medium, "G602": vet.Medium, "G702": vet.High, "G703": vet.High,
}
