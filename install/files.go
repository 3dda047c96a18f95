package install

import (
	"gatehouse.dev/gatehouse/hostapi"

	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// The files of an install folder.
const (
	TrustRootFile   = "trust-root.json"
	RevocationsFile = "revocations.json"
	LockFile        = "gatehouse.lock"
	// HistoryFile records every change of the lock's pins (History).
	HistoryFile = "gatehouse.history"
	// StateDir is the verification state folder (the last checkpoint and
	// revocation list this host accepted).
	StateDir = ".gatehouse-state"

	packageExt = ".gpkg"
	bundleExt  = ".bundle.json"
)

// PackageFileName is the file name of an installed plugin version:
// "namespace__name@version.gpkg". The double underscore cannot occur in a
// plugin id, so the name maps back to exactly one id.
func PackageFileName(pluginID, version string) string {
	return strings.Replace(pluginID, "/", "__", 1) + "@" + version + packageExt
}

// BundleFileName is the file name of the certificate bundle that travels with
// the package file pkgName.
func BundleFileName(pkgName string) string {
	return strings.TrimSuffix(pkgName, packageExt) + bundleExt
}

// Files names what verifying one package on a host reads: the package, its
// bundle, the marketplace's trust root, the current revocation list, and the
// host's state folder.
type Files struct {
	Package     string
	Bundle      string
	TrustRoot   string
	Revocations string
	StateDir    string
	// Lock, if it exists, pins the package's digest.
	Lock string
	// Status is the environment's status feed kept by `gatehouse sync`;
	// when the file exists every verification obeys it (issue 18).
	Status string
}

// Beside returns the files an install folder holds for the package at
// pkgPath, all in the package's own folder.
func Beside(pkgPath string) Files {
	dir := filepath.Dir(pkgPath)
	return Files{
		Package:     pkgPath,
		Bundle:      filepath.Join(dir, BundleFileName(filepath.Base(pkgPath))),
		TrustRoot:   filepath.Join(dir, TrustRootFile),
		Revocations: filepath.Join(dir, RevocationsFile),
		StateDir:    filepath.Join(dir, StateDir),
		Lock:        filepath.Join(dir, LockFile),
		Status:      filepath.Join(dir, StatusFile),
	}
}

// Check is what a host decides for itself when it verifies a package.
type Check struct {
	// Policy is the host's allow-list of permissions.
	Policy verify.Policy
	// MaxAge overrides the trust root's revocation maximum age when
	// positive. It may only shorten it.
	MaxAge time.Duration
	// Prover supplies consistency proofs when a bundle's checkpoint is newer
	// than the state's; nil fails such a bundle closed.
	Prover verify.Prover
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StatusMaxAge is the oldest status feed accepted (zero:
	// DefaultStatusMaxAge); Environment the host's, when it is known.
	StatusMaxAge time.Duration
	Environment  string
	// HostAPIs are the marketplace's published host API versions, which
	// Policy.HostAPI is checked against (verify.Options.HostAPIs).
	HostAPIs []hostapi.Published
}

// Limits on the files a host reads before verifying them.
const (
	maxPackageFileBytes = 100 << 20 // pkgfile.DefaultLimits().MaxPackageBytes
	maxLockBytes        = 4 << 20
)

// VerifyFile reads the files and verifies the package with verify.Verify.
// It returns the exact bytes it verified, so the caller loads those and not
// whatever the file holds a moment later. Any failure, a missing or unreadable
// trust file included, is a *verify.Error naming the check.
func VerifyFile(ctx context.Context, f Files, c Check) ([]byte, *verify.Result, error) {
	pkg, b, opts, err := Load(f, c)
	if err != nil {
		return nil, nil, err
	}
	res, err := verify.Verify(ctx, pkg, b, opts)
	if err != nil {
		return nil, nil, err
	}
	return pkg, res, nil
}

// Load reads what verifying the package needs: its bytes, its bundle and the
// verify.Options made of the trust root, the revocation list, the state
// folder, the lock file's pin and c. A missing or unreadable file is a
// *verify.Error of the setup check.
func Load(f Files, c Check) ([]byte, *verify.Bundle, verify.Options, error) {
	setup := func(err error) ([]byte, *verify.Bundle, verify.Options, error) {
		return nil, nil, verify.Options{}, &verify.Error{Check: verify.CheckSetup, Err: err}
	}
	pkg, err := readLimited(f.Package, maxPackageFileBytes)
	if err != nil {
		return setup(fmt.Errorf("reading the package: %w", err))
	}
	bdata, err := readLimited(f.Bundle, verify.MaxBundleBytes)
	if err != nil {
		return setup(fmt.Errorf("reading the certificate bundle: %w (pass --bundle, or install the package with `gatehouse install`, which writes it beside the package)", err))
	}
	b, err := verify.ParseBundle(bdata)
	if err != nil {
		return setup(fmt.Errorf("%s: %w", f.Bundle, err))
	}
	opts, err := loadOptions(f, c)
	if err != nil {
		return setup(err)
	}
	if f.Lock != "" {
		l, err := ReadLock(f.Lock)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return setup(err)
		default:
			if e, ok := l.entryForFile(filepath.Base(f.Package)); ok {
				opts.ExpectedDigest = e.Digest
			}
		}
	}
	return pkg, b, opts, nil
}

// loadOptions reads the trust root and the revocation list.
func loadOptions(f Files, c Check) (verify.Options, error) {
	data, err := readLimited(f.TrustRoot, verify.MaxTrustRootBytes)
	if err != nil {
		return verify.Options{}, fmt.Errorf("reading the trust root: %w (pass --trust-root, or fetch it from the marketplace's /.well-known/gatehouse/trust-root.json)", err)
	}
	root, err := verify.ParseTrustRoot(data)
	if err != nil {
		return verify.Options{}, fmt.Errorf("%s: %w", f.TrustRoot, err)
	}
	data, err = readLimited(f.Revocations, trust.MaxEnvelopeBytes)
	if err != nil {
		return verify.Options{}, fmt.Errorf("reading the revocation list: %w (pass --revocations, or fetch it from the marketplace's /api/v1/revocations)", err)
	}
	rev, err := trust.ParseEnvelope(data)
	if err != nil {
		return verify.Options{}, fmt.Errorf("%s: %w", f.Revocations, err)
	}
	opts := optionsFor(root, rev, f.StateDir, c)
	if f.Status != "" {
		// A folder that follows an environment obeys its feed: a stale
		// one fails closed until the next sync.
		data, err := readLimited(f.Status, trust.MaxEnvelopeBytes)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return verify.Options{}, fmt.Errorf("reading the status feed: %w", err)
		default:
			env, err := trust.ParseEnvelope(data)
			if err != nil {
				return verify.Options{}, fmt.Errorf("%s: %w", f.Status, err)
			}
			opts.Status, opts.StatusMaxAge, opts.Environment = env, c.StatusMaxAge, c.Environment
			if opts.StatusMaxAge <= 0 {
				opts.StatusMaxAge = DefaultStatusMaxAge
			}
		}
	}
	return opts, nil
}

func optionsFor(root *verify.TrustRoot, rev *dsse.Envelope, stateDir string, c Check) verify.Options {
	maxAge := root.RevocationMaxAge
	if c.MaxAge > 0 && c.MaxAge < maxAge {
		maxAge = c.MaxAge
	}
	return verify.Options{
		MarketplaceKeys:  root.MarketplaceKeys,
		LogVerifier:      root.LogVerifier,
		StateDir:         stateDir,
		Prover:           c.Prover,
		Revocations:      rev,
		RevocationMaxAge: maxAge,
		Policy:           c.Policy,
		HostAPIs:         c.HostAPIs,
		Now:              c.Now,
	}
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// heldFolder marks, in a context, the install folder whose lock the call
// tree holds already: Sync installs and rolls back under its own lock.
type heldFolder struct{}

// lockFolder takes dir's lock (verify.LockFolder) unless ctx says the
// caller holds it, and returns the context to pass on.
func lockFolder(ctx context.Context, dir string) (context.Context, func(), error) {
	dir = filepath.Clean(dir)
	if held, _ := ctx.Value(heldFolder{}).(string); held == dir {
		return ctx, func() {}, nil
	}
	unlock, err := verify.LockFolder(ctx, dir)
	if err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, heldFolder{}, dir), unlock, nil
}
