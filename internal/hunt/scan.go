package hunt

import (
	"context"
	"fmt"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Corpus is what a backward hunt searches: every stored version.
type Corpus interface {
	// Each calls fn with every stored version.
	Each(ctx context.Context, fn func(domain.Version) error) error
	// Input loads a version's package as the analyzers see it.
	Input(ctx context.Context, v domain.Version) (*vet.Input, error)
}

// Catalog lists the plugins and their versions; store.Store is one.
type Catalog interface {
	ListPlugins(ctx context.Context, q domain.PluginQuery) ([]domain.Plugin, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
}

// StoreCorpus is the marketplace's corpus: the versions in a store, their
// packages loaded (digest-checked) by Load.
type StoreCorpus struct {
	Store    Catalog
	Load     func(ctx context.Context, digest string) (*pkgfile.Package, error)
	Manifest manifest.Options
}

// Each walks the catalog a page at a time.
func (c StoreCorpus) Each(ctx context.Context, fn func(domain.Version) error) error {
	const page = 500
	for off := 0; ; off += page {
		ps, err := c.Store.ListPlugins(ctx, domain.PluginQuery{Limit: page, Offset: off})
		if err != nil {
			return fmt.Errorf("listing plugins: %w", err)
		}
		for _, p := range ps {
			vs, err := c.Store.ListVersions(ctx, p.ID)
			if err != nil {
				return fmt.Errorf("listing versions of %s: %w", p.ID, err)
			}
			for _, v := range vs {
				if err := fn(v); err != nil {
					return err
				}
			}
		}
		if len(ps) < page {
			return nil
		}
	}
}

// Input loads a version's package.
func (c StoreCorpus) Input(ctx context.Context, v domain.Version) (*vet.Input, error) {
	pkg, err := c.Load(ctx, v.Digest)
	if err != nil {
		return nil, err
	}
	return analyzers.LoadInput(pkg, c.Manifest)
}

// Hit is a version some rule matched.
type Hit struct {
	VersionID string  `json:"submission"`
	Plugin    string  `json:"plugin"`
	Version   string  `json:"version"`
	State     string  `json:"state"`
	Matches   []Match `json:"matches"`
}

// Report is the outcome of a backward hunt.
type Report struct {
	Scanned int   `json:"scanned"`
	Hits    []Hit `json:"hits"`
	// Unreadable lists versions whose package could not be read, with the
	// reason: a hunt that skipped them silently would promise too much.
	Unreadable []string `json:"unreadable,omitempty"`
}

// MaxUnreadable bounds the unreadable versions a report lists.
const MaxUnreadable = 100

// Scan searches every version of the corpus for the rules.
func Scan(ctx context.Context, c Corpus, rules []*Rule) (Report, error) {
	var rep Report
	err := c.Each(ctx, func(v domain.Version) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep.Scanned++
		in, err := c.Input(ctx, v)
		if err != nil {
			if len(rep.Unreadable) < MaxUnreadable {
				rep.Unreadable = append(rep.Unreadable, fmt.Sprintf("%s (%s@%s): %v", v.ID, v.PluginID, v.Version, err))
			}
			return nil
		}
		if ms := Find(rules, in); len(ms) > 0 {
			rep.Hits = append(rep.Hits, Hit{VersionID: v.ID, Plugin: v.PluginID, Version: v.Version, State: string(v.State), Matches: ms})
		}
		return nil
	})
	return rep, err
}
