package marketplace

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/pkgfile"
)

// analyzerSet builds the standard analyzers once, and again whenever a
// newly imported vulnerability database becomes active, so every run uses
// today's database without rebuilding the rule sets per version.
type analyzerSet struct {
	vulns *vulndb.Store
	opts  analyzers.DefaultOptions
	// hunt runs the stewards' hunting rules (internal/vet/hunt), read from the
	// store on every run; nil leaves it out.
	hunt vet.Analyzer

	// sync, when set, loads a vulnerability database another process
	// imported, before each run.
	sync func()

	mu   sync.Mutex
	db   *vulndb.DB
	list []vet.Analyzer
}

func (a *analyzerSet) get() []vet.Analyzer {
	if a.sync != nil {
		a.sync()
	}
	db := a.vulns.DB()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.list == nil || db != a.db {
		opts := a.opts
		opts.VulnDB = db
		a.list, a.db = analyzers.Default(opts), db
		if a.hunt != nil {
			a.list = append(a.list, a.hunt)
		}
	}
	return a.list
}

// close releases the behaviour analyzer's sandbox runtime and its
// temporary compilation cache.
func (a *analyzerSet) close() error {
	if c, ok := a.opts.Behaviour.(interface{ Close(context.Context) error }); ok {
		return c.Close(context.Background())
	}
	return nil
}

// catalog resolves plugin dependencies against the versions the
// marketplace holds that are not rejected or revoked.
type catalog struct {
	st interface {
		ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	}
}

func (c catalog) Versions(ctx context.Context, pluginID string) ([]string, error) {
	vs, err := c.st.ListVersions(ctx, pluginID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vs {
		if v.State != lifecycle.Rejected && v.State != lifecycle.Revoked {
			out = append(out, v.Version)
		}
	}
	return out, nil
}

// certifiedCatalog offers the certified versions the marketplace holds
// (not suspended, revoked or any state short of certified), with their
// packages from the blob store, for the integration workflows of a
// version that declares dependencies: what a host installing it would get.
type certifiedCatalog struct {
	st interface {
		ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	}
	blobs store.Blobs
}

func (c certifiedCatalog) Versions(ctx context.Context, pluginID string) ([]string, error) {
	vs, err := c.st.ListVersions(ctx, pluginID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vs {
		if v.State == lifecycle.Certified {
			out = append(out, v.Version)
		}
	}
	return out, nil
}

func (c certifiedCatalog) Package(ctx context.Context, pluginID, version string) (*pkgfile.Package, error) {
	vs, err := c.st.ListVersions(ctx, pluginID)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.Version != version || v.State != lifecycle.Certified {
			continue
		}
		rc, _, err := c.blobs.Open(ctx, v.Digest)
		if err != nil {
			return nil, fmt.Errorf("opening the package of %s@%s: %w", pluginID, version, err)
		}
		defer rc.Close()
		// The blob store checks the bytes against the digest at the end
		// of the read, so the whole package is read before it is used: a
		// package changed at rest fails here.
		lim := pkgfile.DefaultLimits()
		data, err := io.ReadAll(io.LimitReader(rc, int64(lim.MaxPackageBytes)+1))
		if err != nil {
			return nil, fmt.Errorf("reading the package of %s@%s: %w", pluginID, version, err)
		}
		return pkgfile.Read(bytes.NewReader(data), lim)
	}
	return nil, fmt.Errorf("%s@%s is not certified", pluginID, version)
}

// loadVetConfig reads the check modes (vet.ParseConfig's format) and checks
// that every entry names a real analyzer or rule.
func loadVetConfig(path string, as []vet.Analyzer) (vet.Config, error) {
	if path == "" {
		return vet.Config{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return vet.Config{}, fmt.Errorf("reading the vet configuration: %w", err)
	}
	cfg, err := vet.ParseConfig(b)
	if err != nil {
		return vet.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Check(as); err != nil {
		return vet.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
