package app

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// countingStore counts the catalog's reads of a store.
type countingStore struct {
	store.Store
	reads map[string]int
}

func (c *countingStore) ListPlugins(ctx context.Context, q domain.PluginQuery) ([]domain.Plugin, error) {
	c.reads["ListPlugins"]++
	return c.Store.ListPlugins(ctx, q)
}

func (c *countingStore) ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error) {
	c.reads["ListVersions"]++
	return c.Store.ListVersions(ctx, pluginID)
}

func (c *countingStore) ListVersionsOf(ctx context.Context, ids []string) (map[string][]domain.Version, error) {
	c.reads["ListVersionsOf"]++
	return c.Store.ListVersionsOf(ctx, ids)
}

func (c *countingStore) GetPlugin(ctx context.Context, id string) (domain.Plugin, error) {
	c.reads["GetPlugin"]++
	return c.Store.GetPlugin(ctx, id)
}

// TestCatalogPageReadsDoNotGrowWithThePage: a catalog page costs the same
// store reads however many plugins it lists (the page and its versions),
// never a read per plugin: that was 51 round trips to PostgreSQL for a
// page of 50, and the catalog's first limit (docs/benchmarks.md).
func TestCatalogPageReadsDoNotGrowWithThePage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i := range 30 {
		v := domain.Version{ID: fmt.Sprintf("v-%02d", i), PluginID: fmt.Sprintf("acme/p%02d", i), Version: "1.0.0", Digest: fmt.Sprintf("sha256:%064x", i),
			Manifest: []byte(`{}`), Submitter: "pia", State: lifecycle.Received, CreatedAt: w.now, UpdatedAt: w.now}
		if _, _, err := w.st.CreateVersion(ctx, v, []audit.Event{{Time: w.now, Actor: "pia", Action: audit.SubmissionCreate, Subject: "submission:" + v.ID}}); err != nil {
			t.Fatal(err)
		}
		from := lifecycle.Received
		for _, to := range lifecycle.Path(lifecycle.Received, lifecycle.Certified) {
			if err := w.st.Transition(ctx, v.ID, from, to, "test", audit.Event{Time: w.now, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + v.ID}); err != nil {
				t.Fatal(err)
			}
			from = to
		}
	}
	for _, limit := range []int{1, 10, 30} {
		for _, caller := range []domain.Principal{anonymous, pia, otto} {
			cs := &countingStore{Store: w.st, reads: map[string]int{}}
			a := New(Config{Store: cs, Now: func() time.Time { return w.now }})
			ps, err := a.Plugins(ctx, caller, PluginSearch{Limit: limit})
			if err != nil || len(ps) != limit {
				t.Fatalf("a page of %d for %s: %d plugins, %v", limit, caller.Subject, len(ps), err)
			}
			want := map[string]int{"ListPlugins": 1, "ListVersionsOf": 1}
			if !maps.Equal(cs.reads, want) {
				t.Errorf("a page of %d for %q read the store %v, want %v", limit, caller.Subject, cs.reads, want)
			}
		}
	}
}
