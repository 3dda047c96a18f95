package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// Refreshed is what Refresh recorded and found.
type Refreshed struct {
	// Checkpoint and RevocationList are the marketplace's current ones,
	// verified against the pinned trust root.
	Checkpoint     tlog.Checkpoint
	RevocationList *trust.RevocationList
	// Recorded reports that the state folder moved on to either of them.
	Recorded bool
	// Plugins are the lock file's plugins, each verified with its fresh
	// certificate bundle.
	Plugins []Status
	// Kept are the earlier versions kept in the folder for Rollback, each
	// verified with its fresh bundle: the bundle must prove inclusion in
	// the checkpoint the state folder now holds, or rolling back to the
	// version offline would be refused as a stale bundle.
	Kept []Status
	// Warnings say what could not be refreshed besides the plugins: a
	// history that cannot be read, so its kept versions are unknown.
	Warnings []string
}

// Status is a plugin version's standing after a refresh.
type Status struct {
	ID, Version, Digest string
	// Package and Bundle are its files; Bundle was rewritten when the
	// marketplace's current bundle is genuine.
	Package, Bundle string
	// Result is set when the package verified; Err says why it did not
	// (revoked, expired, ...).
	Result *verify.Result
	Err    error
}

// Refresh fetches from src the marketplace's current revocation list, log
// checkpoint and the certificate bundles of the plugins f.Lock pins, checks
// their signatures against the trust root pinned at f.TrustRoot, and records
// the checkpoint and the list in f.StateDir, so that an older one replayed
// later is refused. It writes the list to f.Revocations only when it
// verified and is fresh, and each bundle beside its package only when its
// certificate is the marketplace's and about the pinned digest; then it
// verifies every pinned package and reports its standing, and does the
// same for the earlier versions the history keeps for Rollback. f.Package
// and f.Bundle are not used. A failure of the list or the checkpoint is a
// *verify.Error naming the check; nothing is written then but what verified.
func Refresh(ctx context.Context, src Source, f Files, c Check) (*Refreshed, error) {
	data, err := readLimited(f.TrustRoot, verify.MaxTrustRootBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the pinned trust root: %w (a refresh checks what it fetches against it: install a plugin first with `gatehouse install`, or pass --trust-root)", err)
	}
	root, err := verify.ParseTrustRoot(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.TrustRoot, err)
	}
	c.Prover = tlog.TileProver{Fetch: src.Log}
	revData, rev, obs, err := current(ctx, src, root, f.StateDir, c)
	if err != nil {
		return nil, err
	}
	if err := trust.WriteFileAtomic(f.Revocations, revData, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", f.Revocations, err)
	}
	out := &Refreshed{Checkpoint: obs.Checkpoint, RevocationList: obs.RevocationList, Recorded: obs.Recorded}
	if f.Lock == "" {
		return out, nil
	}
	lock, err := ReadLock(f.Lock)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(f.Lock)
	for _, e := range lock.Plugins {
		out.Plugins = append(out.Plugins, refreshPlugin(ctx, src, root, rev, dir, f.StateDir, e, c))
	}
	hist, err := readHistoryIn(dir)
	if err != nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("the versions kept for rollback were not refreshed: %v", err))
		return out, nil
	}
	kept, _ := hist.kept(lock, dir, maxKeep) // pruning is install's and rollback's
	for _, r := range kept {
		out.Kept = append(out.Kept, refreshPlugin(ctx, src, root, rev, dir, f.StateDir, r.entry(), c))
	}
	return out, nil
}

// current fetches the marketplace's revocation list and checkpoint and
// records them in stateDir with verify.Observe.
func current(ctx context.Context, src Source, root *verify.TrustRoot, stateDir string, c Check) ([]byte, *dsse.Envelope, *verify.Observed, error) {
	revData, err := src.Revocations(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fetching the revocation list: %w", err)
	}
	rev, err := trust.ParseEnvelope(revData)
	if err != nil {
		return nil, nil, nil, &verify.Error{Check: verify.CheckRevocationList, Err: fmt.Errorf("the marketplace's revocation list: %w", err)}
	}
	cp, err := src.Log(ctx, tlog.CheckpointPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fetching the log's checkpoint: %w", err)
	}
	obs, err := verify.Observe(ctx, cp, optionsFor(root, rev, stateDir, c))
	if err != nil {
		return nil, nil, nil, err
	}
	return revData, rev, obs, nil
}

// refreshPlugin fetches a pinned plugin's current bundle, writes it if it
// is genuine, and verifies the installed package with it.
func refreshPlugin(ctx context.Context, src Source, root *verify.TrustRoot, rev *dsse.Envelope, dir, stateDir string, e LockEntry, c Check) Status {
	name := PackageFileName(e.ID, e.Version)
	s := Status{ID: e.ID, Version: e.Version, Digest: e.Digest,
		Package: filepath.Join(dir, name), Bundle: filepath.Join(dir, BundleFileName(name))}
	bdata, err := src.Bundle(ctx, e.ID, e.Version)
	if err != nil {
		s.Err = fmt.Errorf("fetching its certificate bundle: %w", err)
		return s
	}
	b, err := verify.ParseBundle(bdata)
	if err != nil {
		s.Err = err
		return s
	}
	cert, _, err := trust.VerifyCertificate(b.Certificate, root.MarketplaceKeys)
	if err != nil {
		s.Err = &verify.Error{Check: verify.CheckCertificateSignature, Err: fmt.Errorf("the marketplace's current bundle: %w", err)}
		return s
	}
	if cert.Digest != e.Digest {
		s.Err = &verify.Error{Check: verify.CheckDigest, Err: fmt.Errorf("%w: the marketplace's current certificate of %s@%s is about %s, %s pins %s", trust.ErrWrongDigest, e.ID, e.Version, cert.Digest, LockFile, e.Digest)}
		return s
	}
	if err := trust.WriteFileAtomic(s.Bundle, bdata, 0o644); err != nil {
		s.Err = fmt.Errorf("writing %s: %w", s.Bundle, err)
		return s
	}
	pkg, err := readLimited(s.Package, maxPackageFileBytes)
	if err != nil {
		s.Err = &verify.Error{Check: verify.CheckSetup, Err: fmt.Errorf("reading the package: %w", err)}
		return s
	}
	opts := optionsFor(root, rev, stateDir, c)
	opts.ExpectedDigest = e.Digest
	s.Result, s.Err = verify.Verify(ctx, pkg, b, opts)
	if s.Err == nil {
		s.Err = suspended(ctx, src, e)
	}
	return s
}

// StateSource is a Source that also says what state a version is in now.
// A suspended version keeps its certificate, so its bundle verifies and
// the revocation list does not name it: Refresh asks, and refuses it.
type StateSource interface {
	VersionState(ctx context.Context, pluginID, version string) (state, reason string, err error)
}

// suspended refuses a version the marketplace says is suspended (a
// steward's suspension, a failed revalidation, a compromised publisher
// key). A host that keeps an environment's status feed learns this from
// the signed feed; one that refreshes from the marketplace learns it here.
// Not being able to ask is a failure too: the host asked to be told.
func suspended(ctx context.Context, src Source, e LockEntry) error {
	ss, ok := src.(StateSource)
	if !ok {
		return nil
	}
	state, reason, err := ss.VersionState(ctx, e.ID, e.Version)
	if err != nil {
		return &verify.Error{Check: verify.CheckStatus, Err: fmt.Errorf("asking the marketplace whether %s@%s is still certified: %w", e.ID, e.Version, err)}
	}
	if state == "suspended" {
		return &verify.Error{Check: verify.CheckStatus, Err: fmt.Errorf("%w: the marketplace suspended %s@%s: %s", verify.ErrSuspended, e.ID, e.Version, reason)}
	}
	return nil
}
