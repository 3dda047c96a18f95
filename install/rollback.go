package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// The reasons a rollback is refused besides a failed verification (a
// *verify.Error) and a dependency conflict (ErrConflict).
var (
	// ErrNoEarlierVersion: the history records no version pinned before
	// the current one.
	ErrNoEarlierVersion = errors.New("no earlier version to roll back to")
	// ErrNotInHistory: the version asked for was never pinned in the
	// folder.
	ErrNotInHistory = errors.New("version not in the history")
	// ErrNotKept: the version's files are no longer in the folder.
	ErrNotKept = errors.New("version not kept in the install folder")
)

// RollbackOptions configure Rollback.
type RollbackOptions struct {
	// Dir is the install folder.
	Dir string
	// To is the version to pin. Empty means the version the current one
	// replaced (see Rollback).
	To string
	// Reason and By are recorded in the history: why, and who. One line
	// of plain text each.
	Reason, By string
	// Check is the host's side of verification, as for VerifyFile. Its
	// clock also times the history record.
	Check Check
	// Keep is how many earlier versions of each plugin stay in Dir, as
	// Options.Keep; 0 means DefaultKeep.
	Keep int
}

// RolledBack is a finished rollback.
type RolledBack struct {
	// From is the pin replaced.
	From LockEntry
	// To is the version now pinned, with what its verification
	// established.
	To Installed
	// Recorded are the records added to the history: the rollback, after
	// any pin found unrecorded (History.Unrecorded).
	Recorded []Record
	// Pruned are the files of earlier versions no longer kept, removed.
	Pruned []string
	// Warnings say what went wrong after the lock was written: the
	// rollback is in effect, but the history or the pruning is behind.
	Warnings []string
}

// Rollback pins an earlier version of a plugin in the install folder again,
// from the files kept there, without the network.
//
// Without opts.To it picks the version the current one replaced: the
// previous version of the newest install or update record that pinned the
// current version. Rollback records are skipped in that search, so rolling
// back twice goes further back (1.2.0 → 1.1.0 → 1.0.0) rather than
// undoing the first rollback; to go forward again, name the version with
// opts.To or install with Update. It is refused with ErrNoEarlierVersion
// when the current version was the plugin's first.
//
// The version is verified first, exactly as VerifyFile verifies an
// installed package (digests, both signatures, the certificate's validity
// window, log inclusion and consistency, the folder's current revocation
// list and its freshness, the host policy), with its digest pinned to the
// one the history recorded; a version revoked since, a certificate expired
// since, a stale revocation list or a damaged file refuse it as they would
// refuse loading it, as a *verify.Error. Its dependencies must be met by
// the other pins, and the plugins pinned that depend on it must accept it,
// or it is refused with ErrConflict.
//
// Only then is gatehouse.lock replaced, atomically, and the rollback
// recorded in the history after it (for why in that order, see Install).
// A rollback refused or failed before that leaves the lock and the history
// as they were.
func Rollback(ctx context.Context, pluginID string, opts RollbackOptions) (*RolledBack, error) {
	return rollback(ctx, pluginID, opts, trust.WriteFileAtomic)
}

func rollback(ctx context.Context, pluginID string, opts RollbackOptions, write writeFunc) (*RolledBack, error) {
	if opts.Dir == "" {
		return nil, errors.New("rollback: an install folder is required")
	}
	if err := validID(pluginID); err != nil {
		if id, v, ok := strings.Cut(pluginID, "@"); ok && validID(id) == nil {
			return nil, fmt.Errorf("%w; name the version to roll back to apart (--to %s)", err, v)
		}
		return nil, err
	}
	if opts.To != "" {
		if err := validVersion(opts.To); err != nil {
			return nil, fmt.Errorf("the version to roll back to: %w", err)
		}
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
	dir := opts.Dir
	now := time.Now
	if opts.Check.Now != nil {
		now = opts.Check.Now
	}

	ctx, unlock, err := lockFolder(ctx, dir)
	if err == nil {
		defer unlock()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	lock, err := ReadLock(filepath.Join(dir, LockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: nothing is installed there (install with `gatehouse install %s --dir %s`)", dir, LockFile, pluginID, dir)
	}
	if err != nil {
		return nil, err
	}
	cur, ok := lock.entry(pluginID)
	if !ok {
		return nil, fmt.Errorf("%s does not pin %s, so there is nothing to roll back (install it with `gatehouse install %s --dir %s`)", LockFile, pluginID, pluginID, dir)
	}
	hist, err := readHistoryIn(dir)
	if err != nil {
		return nil, fmt.Errorf("%w; rollback needs it to know the versions pinned before (pin one with `gatehouse install %s@VERSION --update --dir %s` instead)", err, pluginID, dir)
	}
	// A pin the history missed is recorded first, so the search below sees
	// the lock as it is.
	late := hist.late(lock, now())
	hist = hist.with(late...)
	added := len(late)

	target, err := pick(hist, cur, opts.To, dir)
	if err != nil {
		return nil, err
	}
	in := Installed{ID: pluginID, Version: target.Version, Digest: target.Digest, Pinned: true,
		Package: filepath.Join(dir, target.Package), Bundle: filepath.Join(dir, target.Bundle)}
	for _, p := range []string{in.Package, in.Bundle} {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s@%s was pinned in %s before, but %s is gone (the folder keeps %d earlier versions per plugin); download and verify it again with `gatehouse install %s@%s --update --dir %s`",
				ErrNotKept, pluginID, target.Version, dir, filepath.Base(p), keep, pluginID, target.Version, dir)
		}
	}

	// The same verification as `gatehouse verify`, with the digest the
	// history recorded rather than the lock's pin (which is the current
	// version's).
	f := Beside(in.Package)
	f.Bundle, f.Lock = in.Bundle, ""
	pkg, b, vo, err := Load(f, opts.Check)
	if err != nil {
		return nil, fmt.Errorf("rolling back to %s@%s: %w", pluginID, target.Version, err)
	}
	vo.ExpectedDigest = target.Digest
	if in.Result, err = verify.Verify(ctx, pkg, b, vo); err != nil {
		if errors.Is(err, verify.ErrRollback) || errors.Is(err, trust.ErrStaleList) {
			// What the host holds is older than what it has seen or may
			// use; the network puts it right, then rollback is offline again.
			err = fmt.Errorf("%w (`gatehouse verify --refresh %s` fetches the current revocation list and the kept versions' bundles)", err, dir)
		}
		return nil, fmt.Errorf("rolling back to %s@%s: %w", pluginID, target.Version, err)
	}
	if in.Result.PluginID != pluginID || in.Result.Version != target.Version {
		return nil, &verify.Error{Check: verify.CheckSubject, Err: fmt.Errorf("%w: %s holds %s, not %s@%s", trust.ErrWrongSubject, in.Package, trust.SubjectName(in.Result.PluginID, in.Result.Version), pluginID, target.Version)}
	}
	warnings, err := checkDependencies(dir, lock, pluginID, target.Version, pkg)
	if err != nil {
		return nil, err
	}

	next := &Lock{LockVersion: LockVersion, Marketplace: lock.Marketplace}
	for _, e := range lock.Plugins {
		if e.ID == pluginID {
			e = target.entry()
		}
		next.Plugins = append(next.Plugins, e)
	}
	data, err := next.Marshal()
	if err != nil {
		return nil, err
	}
	if err := write(filepath.Join(dir, LockFile), data, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w; the lock and the history are unchanged", LockFile, err)
	}

	// The lock is written: the rollback is in effect whatever follows.
	out := &RolledBack{From: cur, To: in, Warnings: warnings}
	hist = hist.with(newRecord(now(), ActionRollback, target.entry(), cur.Version, opts.Reason, opts.By))
	added++
	if err := writeHistory(write, dir, hist, added); err != nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s@%s is pinned, but %v; the next install or rollback records it, marked as recorded late", pluginID, target.Version, err))
		return out, nil
	}
	out.Recorded = hist.Records[len(hist.Records)-added:]
	_, drop := hist.kept(next, dir, keep)
	removed, failed := prune(dir, drop)
	out.Pruned = removed
	out.Warnings = append(out.Warnings, failed...)
	return out, nil
}

// pick finds the record of the version to roll back to.
func pick(h *History, cur LockEntry, to, dir string) (Record, error) {
	id := cur.ID
	if to == "" {
		// The newest install or update that pinned the current version
		// says what it replaced.
		for i := len(h.Records) - 1; i >= 0; i-- {
			r := h.Records[i]
			if r.ID != id || r.Action == ActionRollback || r.Version != cur.Version || r.Digest != cur.Digest {
				continue
			}
			if r.Previous == "" {
				return Record{}, fmt.Errorf("%w: %s@%s is the first version of %s pinned in %s", ErrNoEarlierVersion, id, cur.Version, id, dir)
			}
			to = r.Previous
			break
		}
		if to == "" {
			return Record{}, fmt.Errorf("%w: the history of %s does not say which version %s@%s replaced (its records were dropped); name one with --to: %s", ErrNoEarlierVersion, dir, id, cur.Version, versionList(h, id, cur.Version))
		}
	}
	if to == cur.Version {
		return Record{}, fmt.Errorf("%s@%s is already pinned in %s", id, to, dir)
	}
	for i := len(h.Records) - 1; i >= 0; i-- {
		if r := h.Records[i]; r.ID == id && r.Version == to {
			return r, nil
		}
	}
	return Record{}, fmt.Errorf("%w: %s@%s was never pinned in %s, or its records were dropped (pinned before: %s); install it with `gatehouse install %s@%s --update --dir %s`",
		ErrNotInHistory, id, to, dir, versionList(h, id, cur.Version), id, to, dir)
}

// versionList names the versions of a plugin the history knows besides
// the current one, the most recently used first.
func versionList(h *History, id, current string) string {
	var vs []string
	for _, r := range h.byVersion(id) {
		if r.Version != current {
			vs = append(vs, r.Version)
		}
	}
	if len(vs) == 0 {
		return "none"
	}
	return strings.Join(vs, ", ")
}

// checkDependencies checks a rollback against the folder's other pins: the
// version's own dependencies must be pinned at versions in range, and every
// pinned plugin that depends on it must accept it. The manifests are read
// from the installed packages; one that cannot be read is reported as a
// warning rather than a refusal, so that one damaged file does not block
// rolling back another plugin in an emergency (loading the damaged one
// fails verification anyway).
func checkDependencies(dir string, lock *Lock, id, version string, pkg []byte) (warnings []string, err error) {
	m, err := readManifest(pkg)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", id, version, err)
	}
	v := semver.MustParse(version)
	for _, d := range m.Dependencies {
		c, err := constraint(d.Range)
		if err != nil {
			return nil, fmt.Errorf("%s@%s depends on %s: %w", id, version, d.ID, err)
		}
		e, ok := lock.entry(d.ID)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: %s@%s depends on %s %s, which %s does not pin; install it first with `gatehouse install %s@%s --dir %s`", ErrConflict, id, version, d.ID, d.Range, LockFile, d.ID, d.Range, dir)
		case !c.Check(semver.MustParse(e.Version)):
			return nil, fmt.Errorf("%w: %s@%s depends on %s %s, but %s@%s is pinned; roll that back first, or install with --update", ErrConflict, id, version, d.ID, d.Range, d.ID, e.Version)
		}
	}
	for _, e := range lock.Plugins {
		if e.ID == id {
			continue
		}
		data, err := readLimited(filepath.Join(dir, PackageFileName(e.ID, e.Version)), maxPackageFileBytes)
		if err == nil {
			m, err = readManifest(data)
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("could not check whether %s@%s, pinned, depends on %s: %v", e.ID, e.Version, id, err))
			continue
		}
		for _, d := range m.Dependencies {
			if d.ID != id {
				continue
			}
			c, err := constraint(d.Range)
			if err != nil {
				return nil, fmt.Errorf("%s@%s depends on %s: %w", e.ID, e.Version, id, err)
			}
			if !c.Check(v) {
				return nil, fmt.Errorf("%w: %s@%s, pinned, depends on %s %s, which %s does not satisfy; roll back %s first, or pick a version it accepts with --to", ErrConflict, e.ID, e.Version, id, d.Range, version, e.ID)
			}
		}
	}
	return warnings, nil
}

// readManifest reads a package's manifest with the reader's limits.
func readManifest(pkg []byte) (*manifest.Manifest, error) {
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(p.Manifest(), manifest.Options{})
	if err != nil {
		return nil, fmt.Errorf("the manifest: %w", err)
	}
	return m, nil
}
