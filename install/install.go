// Package install puts certified plugins on a host: it resolves a plugin and
// its dependencies by SemVer against the marketplace's catalog, downloads
// each package with its certificate bundle, verifies every one with
// verify.Verify before writing anything, and pins the digests in a lock file
// so that installing again gives the same bytes and `gatehouse verify` works
// on the folder alone.
//
// Ranges are Masterminds/semver constraints, the grammar the manifest's
// dependencies are validated with (manifest.Parse), so a range a publisher
// could submit is a range install understands.
//
// The package has no CLI dependency; Source abstracts the marketplace so a
// host can install from a mirror.
package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// The reasons an install is refused besides a failed verification (which is
// a *verify.Error).
var (
	// ErrConflict: no set of certified versions satisfies every range.
	ErrConflict = errors.New("dependency conflict")
	// ErrCycle: plugins depend on each other in a loop.
	ErrCycle = errors.New("dependency cycle")
	// ErrLimit: the install is larger than its Limits allow.
	ErrLimit = errors.New("install limit exceeded")
)

// Request names what to install: a plugin id and a SemVer range.
type Request struct {
	ID    string
	Range string
}

func (r Request) String() string { return r.ID + "@" + r.Range }

// maxRangeLen bounds a range expression, as the manifest does.
const maxRangeLen = 128

// ParseRequest parses "namespace/name@RANGE"; without "@RANGE" any version
// will do.
func ParseRequest(s string) (Request, error) {
	id, rng, ok := strings.Cut(s, "@")
	if !ok || strings.TrimSpace(rng) == "" {
		rng = "*"
	}
	if err := validID(id); err != nil {
		return Request{}, err
	}
	if _, err := constraint(rng); err != nil {
		return Request{}, err
	}
	return Request{ID: id, Range: rng}, nil
}

func constraint(rng string) (*semver.Constraints, error) {
	if len(rng) > maxRangeLen {
		return nil, fmt.Errorf("the range %.20q... is longer than %d characters", rng, maxRangeLen)
	}
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return nil, fmt.Errorf("%q is not a SemVer range such as ^1.2.0 or >=1.0.0 <2.0.0: %w", rng, err)
	}
	return c, nil
}

// Limits bound one install. Zero fields take the defaults.
type Limits struct {
	// MaxPlugins bounds the plugins installed together. Default 64.
	MaxPlugins int
	// MaxDepth bounds a chain of dependencies. Default 16.
	MaxDepth int
	// MaxReleases bounds the certified versions considered per plugin.
	// Default 1000.
	MaxReleases int
	// MaxCandidates bounds the versions downloaded and verified while
	// resolving (backtracking included). Default 256.
	MaxCandidates int
	// MaxPackageBytes bounds one package. Default 100 MiB, what the
	// marketplace accepts.
	MaxPackageBytes int64
	// MaxDownloadBytes bounds all packages downloaded. Default 1 GiB.
	MaxDownloadBytes int64
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxPlugins, 64)
	def(&l.MaxDepth, 16)
	def(&l.MaxReleases, 1000)
	def(&l.MaxCandidates, 256)
	if l.MaxPackageBytes <= 0 {
		l.MaxPackageBytes = int64(pkgfile.DefaultLimits().MaxPackageBytes)
	}
	if l.MaxDownloadBytes <= 0 {
		l.MaxDownloadBytes = 1 << 30
	}
	return l
}

// Options configure Install.
type Options struct {
	Source Source
	// Marketplace is the marketplace's URL, recorded in the lock file.
	Marketplace string
	// Dir is the install folder.
	Dir string
	// Policy is the host's allow-list of permissions.
	Policy verify.Policy
	// HostAPIs are the marketplace's published host API versions, which
	// Policy.HostAPI is checked against: a plugin relying on a deprecated
	// one verifies with warnings (Installed.Result.Warnings), or is
	// refused after its sunset when the policy says so.
	HostAPIs []hostapi.Published
	// TrustRoot, if set, is the trust root obtained out of band. Otherwise
	// the folder's trust-root.json is used, and only when there is none is
	// the marketplace's fetched (trust on first use) and pinned there.
	TrustRoot []byte
	// Update re-resolves versions instead of keeping the lock file's pins.
	Update bool
	// Keep is how many earlier versions of each plugin stay in Dir for
	// Rollback, the most recently used first; 0 means DefaultKeep. The files
	// of older ones are removed.
	Keep int
	// Reason and By are recorded in the history (HistoryFile) with every
	// pin this install adds or moves: why, and who. One line of plain text
	// each.
	Reason, By string
	Limits     Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Installed is one plugin version written to the install folder.
type Installed struct {
	ID, Version, Digest string
	// Package and Bundle are the files written.
	Package, Bundle string
	// Pinned reports that the lock file chose this version.
	Pinned bool
	// Result is what verification established.
	Result *verify.Result
}

// Result is a finished install.
type Result struct {
	// Plugins are sorted by id.
	Plugins []Installed
	// TrustRootFetched reports that the trust root was fetched from the
	// marketplace and pinned, rather than read from the folder.
	TrustRootFetched bool
	TrustRoot        *verify.TrustRoot
	// Refreshed are plugins installed earlier whose bundles were fetched
	// again, so that they keep verifying against the log checkpoint this
	// install moved the state folder to.
	Refreshed []Installed
	// Kept are the earlier versions kept in the folder for Rollback, each
	// with its bundle fetched again (so that it proves inclusion in the
	// checkpoint the state folder now holds) and verified; Err says why a
	// rollback to it would be refused today.
	Kept []Status
	// Recorded are the records this install added to the history: a pin
	// added or moved, and pins found unrecorded (see History.Unrecorded).
	Recorded []Record
	// Pruned are the files of earlier versions no longer kept, removed.
	Pruned []string
	// Warnings name plugins installed earlier that no longer verify (a
	// revoked version, an expired certificate); their files are left as
	// they were and hosts refuse to load them. They also say when the
	// history could not be read or written.
	Warnings []string
}

// Install resolves req and its dependencies, verifies every package, and
// writes the packages, their bundles, the trust root, the revocation list and
// the lock file into opts.Dir. Nothing is written until every package
// verified; each file is written atomically, and the lock file after the
// files it names.
//
// The history (HistoryFile) is written after the lock: the lock is what
// hosts load by, so it is the commit point, and a crash between the two
// leaves a history that lags the lock by one change, which the next install
// or rollback records (History.Unrecorded), never a history that claims a
// change the lock does not hold. Packages replaced by this install stay in
// the folder, opts.Keep per plugin, so that Rollback needs no network;
// their bundles are fetched again with the others.
func Install(ctx context.Context, req Request, opts Options) (*Result, error) {
	return InstallAll(ctx, []Request{req}, opts)
}

// InstallAll is Install of several requests resolved together, as the
// dependencies a manifest declares are: one set of versions satisfies every
// request's range and their dependencies', or nothing is installed.
func InstallAll(ctx context.Context, reqs []Request, opts Options) (*Result, error) {
	if len(reqs) == 0 {
		return nil, errors.New("install: nothing to install")
	}
	if opts.Source == nil || opts.Dir == "" {
		return nil, errors.New("install: a source and a folder are required")
	}
	keep, err := keepOrDefault(opts.Keep)
	if err != nil {
		return nil, err
	}
	if err := validText("reason", opts.Reason, maxReasonBytes); err != nil {
		return nil, err
	}
	if err := validText(`name in "by"`, opts.By, maxByBytes); err != nil {
		return nil, err
	}
	lim := opts.Limits.withDefaults()
	if len(reqs) > lim.MaxPlugins {
		return nil, fmt.Errorf("%w: %d plugins requested, more than %d", ErrLimit, len(reqs), lim.MaxPlugins)
	}
	pending := make([]requirement, 0, len(reqs))
	for _, req := range reqs {
		c, err := constraint(req.Range)
		if err != nil {
			return nil, err
		}
		if err := validID(req.ID); err != nil {
			return nil, err
		}
		pending = append(pending, requirement{id: req.ID, rng: req.Range, c: c})
	}
	// The folder's files are read, decided on and written back under its
	// lock, so an install and a rollback or sync at once cannot lose one
	// another's change.
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the install folder: %w", err)
	}
	ctx, unlock, err := lockFolder(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := &resolver{ctx: ctx, opts: opts, lim: opts.Limits.withDefaults(), keep: keep, cands: map[string]*candidate{}, releases: map[string][]release{}}
	if err := r.setup(); err != nil {
		return nil, err
	}
	sel, err := r.solve(map[string]selection{}, pending)
	if err != nil {
		return nil, err
	}
	return r.write(sel)
}

type release struct {
	Release
	v      *semver.Version
	pinned bool
}

// candidate is a plugin version downloaded and verified.
type candidate struct {
	id, version string
	pinned      bool
	pkg, bundle []byte
	res         *verify.Result
	deps        []manifest.Dependency
}

// requirement is a range some plugin (or the user) asks of another.
type requirement struct {
	id, rng string
	c       *semver.Constraints
	path    []string // the chain of id@version that led here; empty for the user's request
}

func (q requirement) from() string {
	if len(q.path) == 0 {
		return "the install request"
	}
	return strings.Join(q.path, " → ")
}

// selection is the version chosen for a plugin and the requirement that
// chose it.
type selection struct {
	c  *candidate
	by requirement
}

type resolver struct {
	ctx      context.Context
	opts     Options
	lim      Limits
	root     *verify.TrustRoot
	rootData []byte
	fetched  bool
	revData  []byte
	rev      *dsse.Envelope
	lock     *Lock // pins in force; nil when updating or when there is no lock
	oldLock  *Lock
	keep     int
	// hist is the folder's history; histErr says why it could not be
	// read, and then it is neither written nor used to prune.
	hist    *History
	histErr error

	releases   map[string][]release
	cands      map[string]*candidate
	downloaded int64
}

// setup reads the trust root, the revocation list and the lock file.
func (r *resolver) setup() error {
	ctx, dir := r.ctx, r.opts.Dir
	switch data, err := readLimited(filepath.Join(dir, TrustRootFile), verify.MaxTrustRootBytes); {
	case r.opts.TrustRoot != nil:
		r.rootData = r.opts.TrustRoot
	case err == nil:
		r.rootData = data
	case errors.Is(err, fs.ErrNotExist):
		if r.rootData, err = r.opts.Source.TrustRoot(ctx); err != nil {
			return fmt.Errorf("fetching the marketplace's trust root: %w", err)
		}
		r.fetched = true
	default:
		return fmt.Errorf("reading the pinned trust root: %w", err)
	}
	var err error
	if r.root, err = verify.ParseTrustRoot(r.rootData); err != nil {
		return fmt.Errorf("the trust root: %w", err)
	}
	// The current list and checkpoint are recorded in the state folder
	// before anything is downloaded, so an older one is refused from here on.
	if r.revData, r.rev, _, err = current(ctx, r.opts.Source, r.root, filepath.Join(dir, StateDir), Check{
		Prover: tlog.TileProver{Fetch: r.opts.Source.Log}, Now: r.opts.Now,
	}); err != nil {
		return err
	}
	l, err := ReadLock(filepath.Join(dir, LockFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if l.Marketplace != r.opts.Marketplace && !r.opts.Update {
			return fmt.Errorf("the lock file in %s pins plugins from %s, not %s; install from that marketplace or pass --update to re-resolve", dir, l.Marketplace, r.opts.Marketplace)
		}
		r.oldLock = l
		if !r.opts.Update {
			r.lock = l
		}
	}
	// A damaged history does not stop an install (it may be the security
	// update the host needs); it is left as it is, and the result says so.
	r.hist, r.histErr = readHistoryIn(dir)
	return nil
}

// solve picks a version for the first pending requirement and recurses,
// backtracking to the next lower version when a later requirement cannot be
// met. Versions are tried highest first, so the result is the highest
// versions, in the order requirements are met, that satisfy every range.
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
	if len(q.path) > r.lim.MaxDepth {
		return nil, fmt.Errorf("%w: the dependency chain %s is deeper than %d", ErrLimit, q.from(), r.lim.MaxDepth)
	}
	if s, ok := sel[q.id]; ok {
		if q.c.Check(semver.MustParse(s.c.version)) {
			return r.solve(sel, rest)
		}
		why := ""
		if s.c.pinned {
			why = " (pinned by " + LockFile + "; pass --update to re-resolve)"
		}
		return nil, fmt.Errorf("%w: %s needs %s %s, but %s@%s was chosen for %s, which needs %s%s",
			ErrConflict, q.from(), q.id, q.rng, q.id, s.c.version, s.by.from(), s.by.rng, why)
	}
	if len(sel) >= r.lim.MaxPlugins {
		return nil, fmt.Errorf("%w: more than %d plugins to install", ErrLimit, r.lim.MaxPlugins)
	}
	rels, err := r.releasesOf(q.id)
	if err != nil {
		return nil, err
	}
	var first error
	tried := 0
	for _, rel := range rels {
		if !q.c.Check(rel.v) {
			continue
		}
		tried++
		c, err := r.load(q.id, rel)
		if err != nil {
			return nil, err // a package that does not verify stops the install
		}
		next := maps.Clone(sel)
		next[q.id] = selection{c: c, by: q}
		more := slices.Clone(rest)
		path := append(slices.Clone(q.path), q.id+"@"+c.version)
		for _, d := range c.deps {
			dc, err := constraint(d.Range)
			if err != nil {
				return nil, fmt.Errorf("%s@%s depends on %s: %w", q.id, c.version, d.ID, err)
			}
			more = append(more, requirement{id: d.ID, rng: d.Range, c: dc, path: path})
		}
		out, err := r.solve(next, more)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err // cycles, limits and verification failures are not retried
		}
		if first == nil {
			first = err
		}
	}
	if tried == 0 {
		if len(rels) == 1 && rels[0].pinned {
			return nil, fmt.Errorf("%w: %s needs %s %s, but %s pins %s@%s; pass --update to re-resolve", ErrConflict, q.from(), q.id, q.rng, LockFile, q.id, rels[0].Version)
		}
		return nil, fmt.Errorf("%w: no certified version of %s satisfies %s (needed by %s); %d certified versions exist", ErrConflict, q.id, q.rng, q.from(), len(rels))
	}
	return nil, first
}

// releasesOf returns the versions of a plugin to try, highest first: the
// lock file's pin alone when there is one.
func (r *resolver) releasesOf(id string) ([]release, error) {
	if rels, ok := r.releases[id]; ok {
		return rels, nil
	}
	var rels []release
	if e, ok := r.pin(id); ok {
		rels = []release{{Release: Release{Version: e.Version, Digest: e.Digest}, v: semver.MustParse(e.Version), pinned: true}}
	} else {
		list, err := r.opts.Source.Releases(r.ctx, id)
		if err != nil {
			return nil, fmt.Errorf("listing the versions of %s: %w", id, err)
		}
		if len(list) > r.lim.MaxReleases {
			return nil, fmt.Errorf("%w: %s has %d certified versions, more than %d", ErrLimit, id, len(list), r.lim.MaxReleases)
		}
		for _, l := range list {
			v, err := semver.StrictNewVersion(l.Version)
			if err != nil || !trust.ValidDigest(l.Digest) {
				continue // not installable; the marketplace never certifies one
			}
			rels = append(rels, release{Release: l, v: v})
		}
		slices.SortFunc(rels, func(a, b release) int { return b.v.Compare(a.v) })
	}
	r.releases[id] = rels
	return rels, nil
}

func (r *resolver) pin(id string) (LockEntry, bool) {
	if r.lock == nil {
		return LockEntry{}, false
	}
	return r.lock.entry(id)
}

// load downloads a version and its bundle and verifies them, pinning the
// digest the catalog or the lock file named. The dependencies are read from
// the verified package.
func (r *resolver) load(id string, rel release) (*candidate, error) {
	key := id + "@" + rel.Version
	if c, ok := r.cands[key]; ok {
		return c, nil
	}
	if len(r.cands) >= r.lim.MaxCandidates {
		return nil, fmt.Errorf("%w: resolving needed more than %d candidate versions", ErrLimit, r.lim.MaxCandidates)
	}
	max := min(r.lim.MaxPackageBytes, r.lim.MaxDownloadBytes-r.downloaded)
	if max <= 0 {
		return nil, fmt.Errorf("%w: the packages add up to more than %d bytes", ErrLimit, r.lim.MaxDownloadBytes)
	}
	pkg, err := r.opts.Source.Package(r.ctx, rel.Digest, max)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", key, err)
	}
	r.downloaded += int64(len(pkg))
	bdata, err := r.opts.Source.Bundle(r.ctx, id, rel.Version)
	if err != nil {
		return nil, fmt.Errorf("downloading the certificate bundle of %s: %w", key, err)
	}
	b, err := verify.ParseBundle(bdata)
	if err != nil {
		return nil, fmt.Errorf("the certificate bundle of %s: %w", key, err)
	}
	vo := optionsFor(r.root, r.rev, filepath.Join(r.opts.Dir, StateDir), Check{
		Policy: r.opts.Policy, Prover: tlog.TileProver{Fetch: r.opts.Source.Log}, Now: r.opts.Now, HostAPIs: r.opts.HostAPIs,
	})
	vo.ExpectedDigest = rel.Digest
	res, err := verify.Verify(r.ctx, pkg, b, vo)
	if err != nil {
		return nil, fmt.Errorf("%s did not verify: %w", key, err)
	}
	// Verification proves the bytes are a certified plugin version; check it
	// is the one asked for, not another certified package served in its place.
	if res.PluginID != id || res.Version != rel.Version {
		return nil, &verify.Error{Check: verify.CheckSubject, Err: fmt.Errorf("%w: asked for %s, the marketplace served %s", trust.ErrWrongSubject, key, trust.SubjectName(res.PluginID, res.Version))}
	}
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	m, err := manifest.Parse(p.Manifest(), manifest.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: the manifest: %w", key, err)
	}
	for _, d := range m.Dependencies {
		if err := validID(d.ID); err != nil {
			return nil, fmt.Errorf("%s depends on %w", key, err)
		}
	}
	c := &candidate{id: id, version: rel.Version, pinned: rel.pinned, pkg: pkg, bundle: bdata, res: res, deps: m.Dependencies}
	r.cands[key] = c
	return c, nil
}

// write puts the verified files in the folder, then the lock file, then
// the history; everything that needs the network happens before the lock
// is written.
func (r *resolver) write(sel map[string]selection) (*Result, error) {
	dir := r.opts.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the install folder: %w", err)
	}
	out := &Result{TrustRootFetched: r.fetched, TrustRoot: r.root}
	lock := &Lock{LockVersion: LockVersion, Marketplace: r.opts.Marketplace}
	if r.oldLock != nil {
		for _, e := range r.oldLock.Plugins {
			if _, ok := sel[e.ID]; !ok {
				lock.Plugins = append(lock.Plugins, e)
			}
		}
	}
	// Bundles of plugins installed earlier are fetched again: the state
	// folder now holds a newer checkpoint, and a bundle proving inclusion in
	// an older one would be refused as a rollback.
	for _, e := range lock.Plugins {
		in, bundle, err := r.refresh(e)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s@%s, installed earlier, no longer verifies: %v", e.ID, e.Version, err))
			continue
		}
		if err := trust.WriteFileAtomic(in.Bundle, bundle, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", in.Bundle, err)
		}
		out.Refreshed = append(out.Refreshed, in)
	}
	now := time.Now
	if r.opts.Now != nil {
		now = r.opts.Now
	}
	var recs []Record
	if r.histErr == nil {
		recs = r.hist.late(r.oldLock, now())
	}
	for _, id := range slices.Sorted(maps.Keys(sel)) {
		c := sel[id].c
		name := PackageFileName(c.id, c.version)
		in := Installed{ID: c.id, Version: c.version, Digest: c.res.Digest, Pinned: c.pinned, Result: c.res,
			Package: filepath.Join(dir, name), Bundle: filepath.Join(dir, BundleFileName(name))}
		if err := trust.WriteFileAtomic(in.Package, c.pkg, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", in.Package, err)
		}
		if err := trust.WriteFileAtomic(in.Bundle, c.bundle, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", in.Bundle, err)
		}
		out.Plugins = append(out.Plugins, in)
		e := LockEntry{ID: c.id, Version: c.version, Digest: c.res.Digest, Bundle: BundleFileName(name)}
		lock.Plugins = append(lock.Plugins, e)
		if r.histErr != nil {
			continue
		}
		switch old, had := r.pinned(c.id); {
		case !had:
			recs = append(recs, newRecord(now(), ActionInstall, e, "", r.opts.Reason, r.opts.By))
		case old.Version != e.Version || old.Digest != e.Digest:
			recs = append(recs, newRecord(now(), ActionUpdate, e, old.Version, r.opts.Reason, r.opts.By))
		}
	}
	var hist *History
	var drop []Record
	if r.histErr == nil {
		hist = r.hist.with(recs...)
		// The versions kept for rollback get fresh bundles too, for the
		// same reason as the plugins above; one that no longer verifies
		// keeps its genuine bundle, so that a rollback to it is refused
		// for what is wrong with it (revoked, expired), not for a stale
		// checkpoint.
		var kept []Record
		kept, drop = hist.kept(lock, dir, r.keep)
		chk := Check{Policy: r.opts.Policy, Prover: tlog.TileProver{Fetch: r.opts.Source.Log}, Now: r.opts.Now}
		for _, k := range kept {
			out.Kept = append(out.Kept, refreshPlugin(r.ctx, r.opts.Source, r.root, r.rev, dir, filepath.Join(dir, StateDir), k.entry(), chk))
		}
	} else {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%v: the history was left as it is and records nothing of this install, and no earlier version was removed; restore it from a backup, or move it aside and the next install starts a new one", r.histErr))
	}
	files := []struct {
		name string
		data []byte
	}{{TrustRootFile, r.rootData}, {RevocationsFile, r.revData}}
	for _, f := range files {
		if err := trust.WriteFileAtomic(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.name, err)
		}
	}
	data, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, LockFile), data, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", LockFile, err)
	}
	if hist == nil {
		return out, nil
	}
	if err := writeHistory(trust.WriteFileAtomic, dir, hist, len(recs)); err != nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("the plugins are installed and pinned, but %v; the next install or rollback records these pins, marked as recorded late", err))
		return out, nil
	}
	out.Recorded = recs
	removed, failed := prune(dir, drop)
	out.Pruned = removed
	out.Warnings = append(out.Warnings, failed...)
	return out, nil
}

// pinned returns the pin the lock held for id before this install.
func (r *resolver) pinned(id string) (LockEntry, bool) {
	if r.oldLock == nil {
		return LockEntry{}, false
	}
	return r.oldLock.entry(id)
}

// writeFunc writes a file of the install folder atomically:
// trust.WriteFileAtomic, or a test's stand-in that fails on purpose.
type writeFunc func(path string, data []byte, mode fs.FileMode) error

// writeHistory writes h when it has added records.
func writeHistory(write writeFunc, dir string, h *History, added int) error {
	if added == 0 {
		return nil
	}
	data, err := h.Marshal()
	if err != nil {
		return fmt.Errorf("%s was not written: %w", HistoryFile, err)
	}
	if err := write(filepath.Join(dir, HistoryFile), data, 0o644); err != nil {
		return fmt.Errorf("%s was not written: %w", HistoryFile, err)
	}
	return nil
}

// refresh fetches a fresh bundle for a plugin installed earlier and verifies
// the installed package with it, pinned to the lock file's digest.
func (r *resolver) refresh(e LockEntry) (Installed, []byte, error) {
	name := PackageFileName(e.ID, e.Version)
	in := Installed{ID: e.ID, Version: e.Version, Digest: e.Digest, Pinned: true,
		Package: filepath.Join(r.opts.Dir, name), Bundle: filepath.Join(r.opts.Dir, BundleFileName(name))}
	pkg, err := readLimited(in.Package, r.lim.MaxPackageBytes)
	if err != nil {
		return in, nil, err
	}
	bdata, err := r.opts.Source.Bundle(r.ctx, e.ID, e.Version)
	if err != nil {
		return in, nil, fmt.Errorf("fetching its bundle: %w", err)
	}
	b, err := verify.ParseBundle(bdata)
	if err != nil {
		return in, nil, err
	}
	vo := optionsFor(r.root, r.rev, filepath.Join(r.opts.Dir, StateDir), Check{
		Policy: r.opts.Policy, Prover: tlog.TileProver{Fetch: r.opts.Source.Log}, Now: r.opts.Now, HostAPIs: r.opts.HostAPIs,
	})
	vo.ExpectedDigest = e.Digest
	if in.Result, err = verify.Verify(r.ctx, pkg, b, vo); err != nil {
		return in, nil, err
	}
	return in, bdata, nil
}
