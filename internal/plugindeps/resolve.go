// Package plugindeps gathers what a plugin's integration workflows need:
// the dependencies its manifest declares, resolved by SemVer range the way
// install resolves them (the highest versions that satisfy every range,
// backtracking on a conflict), from a catalog that is a local folder of
// packages (`gatehouse plugin test --deps`) or the marketplace's certified
// versions (vetting's behaviour stage); and, for each plugin, the folders
// its fs:read permissions mount. `gatehouse plugin test` from a
// marketplace resolves through package install itself, verified.
package plugindeps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// The reasons a resolution fails.
var (
	// ErrMissing: a dependency has no version the catalog offers, or none
	// in its range.
	ErrMissing = errors.New("dependency missing")
	// ErrConflict: no set of versions satisfies every range.
	ErrConflict = errors.New("dependency conflict")
	// ErrCycle: plugins depend on each other in a loop.
	ErrCycle = errors.New("dependency cycle")
	// ErrLimit: the resolution is larger than its limits allow.
	ErrLimit = errors.New("dependency limit exceeded")
)

// Catalog is where dependencies come from.
type Catalog interface {
	// Versions lists the versions of a plugin on offer; none is not an
	// error.
	Versions(ctx context.Context, pluginID string) ([]string, error)
	// Package returns one version's package.
	Package(ctx context.Context, pluginID, version string) (*pkgfile.Package, error)
}

// Limits bound one resolution, as install's do.
const (
	MaxPlugins    = 64
	MaxDepth      = 16
	MaxCandidates = 256
)

// Plugin is one resolved dependency.
type Plugin struct {
	ID, Version string
	Package     *pkgfile.Package
	Manifest    *manifest.Manifest
}

type requirement struct {
	id, rng string
	c       *semver.Constraints
	path    []string
}

func (q requirement) from() string { return strings.Join(q.path, " → ") }

type selection struct {
	p  *Plugin
	by requirement
}

type resolver struct {
	ctx   context.Context
	cat   Catalog
	cands map[string]*Plugin
	vers  map[string][]*semver.Version
}

// Resolve picks a version of every plugin root depends on, directly or
// through another dependency, sorted by id. root itself is not among them;
// a dependency that needs root in a range root's version does not satisfy
// is a conflict.
func Resolve(ctx context.Context, cat Catalog, root *manifest.Manifest) ([]Plugin, error) {
	rv, err := semver.StrictNewVersion(root.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: version %q: %w", root.ID, root.Version, err)
	}
	r := &resolver{ctx: ctx, cat: cat, cands: map[string]*Plugin{}, vers: map[string][]*semver.Version{}}
	self := &Plugin{ID: root.ID, Version: rv.Original(), Manifest: root}
	reqs, err := requirements(root, []string{root.ID + "@" + root.Version})
	if err != nil {
		return nil, err
	}
	sel, err := r.solve(map[string]selection{root.ID: {p: self, by: requirement{path: []string{"the plugin under test"}}}}, reqs)
	if err != nil {
		return nil, err
	}
	var out []Plugin
	for _, id := range slices.Sorted(maps.Keys(sel)) {
		if id != root.ID {
			out = append(out, *sel[id].p)
		}
	}
	return out, nil
}

func requirements(m *manifest.Manifest, path []string) ([]requirement, error) {
	var out []requirement
	for _, d := range m.Dependencies {
		c, err := semver.NewConstraint(d.Range)
		if err != nil {
			return nil, fmt.Errorf("%s depends on %s %q, which is not a SemVer range: %w", path[len(path)-1], d.ID, d.Range, err)
		}
		out = append(out, requirement{id: d.ID, rng: d.Range, c: c, path: path})
	}
	return out, nil
}

func (r *resolver) solve(sel map[string]selection, pending []requirement) (map[string]selection, error) {
	if len(pending) == 0 {
		return sel, nil
	}
	q, rest := pending[0], pending[1:]
	for i, p := range q.path {
		if id, _, _ := strings.Cut(p, "@"); id == q.id {
			return nil, fmt.Errorf("%w: %s → %s", ErrCycle, strings.Join(q.path[i:], " → "), q.id)
		}
	}
	if len(q.path) > MaxDepth {
		return nil, fmt.Errorf("%w: the dependency chain %s is deeper than %d", ErrLimit, q.from(), MaxDepth)
	}
	if s, ok := sel[q.id]; ok {
		if q.c.Check(semver.MustParse(s.p.Version)) {
			return r.solve(sel, rest)
		}
		return nil, fmt.Errorf("%w: %s needs %s %s, but %s@%s was chosen for %s", ErrConflict, q.from(), q.id, q.rng, q.id, s.p.Version, s.by.from())
	}
	if len(sel) > MaxPlugins {
		return nil, fmt.Errorf("%w: more than %d plugins", ErrLimit, MaxPlugins)
	}
	vers, err := r.versions(q.id)
	if err != nil {
		return nil, err
	}
	var first error
	tried := 0
	for _, v := range vers {
		if !q.c.Check(v) {
			continue
		}
		tried++
		p, err := r.load(q.id, v.Original())
		if err != nil {
			return nil, err
		}
		next := maps.Clone(sel)
		next[q.id] = selection{p: p, by: q}
		more, err := requirements(p.Manifest, append(slices.Clone(q.path), q.id+"@"+p.Version))
		if err != nil {
			return nil, err
		}
		out, err := r.solve(next, append(slices.Clone(rest), more...))
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	if tried == 0 {
		if len(vers) == 0 {
			return nil, fmt.Errorf("%w: no version of %s is available (needed by %s)", ErrMissing, q.id, q.from())
		}
		return nil, fmt.Errorf("%w: no available version of %s satisfies %s (needed by %s); available: %s", ErrMissing, q.id, q.rng, q.from(), list(vers))
	}
	return nil, first
}

func list(vs []*semver.Version) string {
	var s []string
	for i, v := range vs {
		if i == 10 {
			s = append(s, fmt.Sprintf("and %d more", len(vs)-10))
			break
		}
		s = append(s, v.Original())
	}
	return strings.Join(s, ", ")
}

// versions returns a plugin's versions, highest first; versions that are
// not strict SemVer are left out, as install leaves them.
func (r *resolver) versions(id string) ([]*semver.Version, error) {
	if vs, ok := r.vers[id]; ok {
		return vs, nil
	}
	raw, err := r.cat.Versions(r.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("listing the versions of %s: %w", id, err)
	}
	var vs []*semver.Version
	for _, s := range raw {
		if v, err := semver.StrictNewVersion(s); err == nil {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b *semver.Version) int { return b.Compare(a) })
	r.vers[id] = vs
	return vs, nil
}

func (r *resolver) load(id, version string) (*Plugin, error) {
	key := id + "@" + version
	if p, ok := r.cands[key]; ok {
		return p, nil
	}
	if len(r.cands) >= MaxCandidates {
		return nil, fmt.Errorf("%w: resolving needed more than %d candidate versions", ErrLimit, MaxCandidates)
	}
	pkg, err := r.cat.Package(r.ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	m, err := manifest.Parse(pkg.Manifest(), manifest.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: the manifest: %w", key, err)
	}
	if m.ID != id || m.Version != version {
		return nil, fmt.Errorf("the package offered as %s is %s@%s", key, m.ID, m.Version)
	}
	p := &Plugin{ID: id, Version: version, Package: pkg, Manifest: m}
	r.cands[key] = p
	return p, nil
}
