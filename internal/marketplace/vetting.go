package marketplace

import (
	"context"
	"fmt"
	"os"
	"sync"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vulndb"
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
