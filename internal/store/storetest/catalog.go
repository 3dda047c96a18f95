package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// versionIn creates pluginID@ver and moves it to state st.
func versionIn(t *testing.T, s store.Store, id, pluginID, ver string, st lifecycle.State) {
	t.Helper()
	create(t, s, newVersion(id, pluginID, ver, id))
	from := lifecycle.Received
	for i, to := range lifecycle.Path(lifecycle.Received, st) {
		if err := s.Transition(context.Background(), id, from, to, "test", event(audit.SubmissionTransition, "submission:"+id, 20+i)); err != nil {
			t.Fatalf("moving %s to %s: %v", id, to, err)
		}
		from = to
	}
}

// testCatalogReader: a reader's listing keeps, in the query, exactly the
// plugins the read rule admits (a released version, or any version of a
// namespace the reader publishes in), so that every page but the last is
// full and walking the pages lists each such plugin once. Unreleased
// plugins outnumber the released ones and sit between them.
func testCatalogReader(t *testing.T, s store.Store) {
	ctx := context.Background()
	// states[plugin] are the states of the plugin's versions.
	states := map[string][]lifecycle.State{}
	add := func(id, plugin, ver string, st lifecycle.State) {
		versionIn(t, s, id, plugin, ver, st)
		states[plugin] = append(states[plugin], st)
	}
	nss := []string{"acme", "beta", "zeta"}
	for i := 0; i < 40; i++ {
		st := lifecycle.States[i%len(lifecycle.States)]
		add(fmt.Sprintf("v%02d", i), fmt.Sprintf("%s/p%02d", nss[i%3], i), "1.0.0", st)
	}
	// Released once, with a newer unreleased version: still listed.
	add("mixed1", "zeta/mixed", "1.0.0", lifecycle.Certified)
	add("mixed2", "zeta/mixed", "2.0.0", lifecycle.InReview)
	// Revoked and rejected, never released now: never listed.
	add("gone1", "zeta/gone", "1.0.0", lifecycle.Revoked)
	add("gone2", "zeta/gone", "1.1.0", lifecycle.Rejected)

	// want is the read rule of domain.Principal.CanSeeVersion, applied to
	// every plugin in Go: what the listing showed before it paged in SQL.
	want := func(namespace string, own ...string) []string {
		var out []string
		for plugin, sts := range states {
			pns, _, _ := strings.Cut(plugin, "/")
			if namespace != "" && pns != namespace {
				continue
			}
			if slices.Contains(own, pns) || slices.ContainsFunc(sts, domain.Released) {
				out = append(out, plugin)
			}
		}
		slices.Sort(out)
		return out
	}
	walk := func(q domain.PluginQuery, size int) []string {
		t.Helper()
		var got []string
		for q.Offset, q.Limit = 0, size; ; q.Offset += size {
			ps, err := s.ListPlugins(ctx, q)
			if err != nil {
				t.Fatalf("ListPlugins(%+v): %v", q, err)
			}
			for _, p := range ps {
				got = append(got, p.ID)
			}
			if len(ps) < size {
				// A short page is the last: the next is empty.
				q.Offset += size
				if more, _ := s.ListPlugins(ctx, q); len(more) != 0 {
					t.Fatalf("a page of %d was short (%d), but more followed: %+v", size, len(ps), more)
				}
				return got
			}
		}
	}
	for _, tc := range []struct {
		name string
		q    domain.PluginQuery
		want []string
	}{
		{"anonymous", domain.PluginQuery{Reader: &domain.PluginReader{}}, want("")},
		{"publisher of acme", domain.PluginQuery{Reader: &domain.PluginReader{Namespaces: []string{"acme"}}}, want("", "acme")},
		{"publisher of acme and zeta", domain.PluginQuery{Reader: &domain.PluginReader{Namespaces: []string{"acme", "zeta"}}}, want("", "acme", "zeta")},
		{"publisher of a namespace without plugins", domain.PluginQuery{Reader: &domain.PluginReader{Namespaces: []string{"nobody"}}}, want("")},
		{"anonymous in namespace zeta", domain.PluginQuery{Namespace: "zeta", Reader: &domain.PluginReader{}}, want("zeta")},
		{"overseer", domain.PluginQuery{}, want("", "acme", "beta", "zeta")},
	} {
		for _, size := range []int{1, 3, 7, 500} {
			got := walk(tc.q, size)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s, pages of %d: listed %v\nwant %v (each once, in order)", tc.name, size, got, tc.want)
			}
		}
	}
	anon := want("")
	if len(anon) < 5 || len(anon) > len(states)/3 {
		t.Fatalf("the fixture lists %d of %d plugins anonymously; it should hide most", len(anon), len(states))
	}
	for _, hidden := range []string{"zeta/gone", "acme/p00", "beta/p07", "zeta/p05"} {
		if slices.Contains(anon, hidden) {
			t.Errorf("%s is listed anonymously", hidden)
		}
	}
	if !slices.Contains(anon, "zeta/mixed") {
		t.Error("zeta/mixed, released with a newer unreleased version, is not listed")
	}
	// The search narrows what the reader reads, and the page is cut after.
	ps, err := s.ListPlugins(ctx, domain.PluginQuery{Search: "ZETA/", Reader: &domain.PluginReader{}, Limit: 2})
	if err != nil || len(ps) != 2 || ps[0].ID != want("zeta")[0] || ps[1].ID != want("zeta")[1] {
		t.Errorf("search zeta/ anonymously, 2 = %+v, %v; want %v", ps, err, want("zeta")[:2])
	}
}

// testCatalogGeneration: every committed change to a plugin or a version
// gives a new catalog generation, so that a server never serves a cached
// page from before it. A notification may take a moment to arrive, so the
// test waits for the change (bounded) rather than expecting it at once.
func testCatalogGeneration(t *testing.T, s store.Store) {
	ctx := context.Background()
	gen := func() store.Generation {
		t.Helper()
		g, err := s.CatalogGeneration(ctx)
		if err != nil {
			t.Fatalf("CatalogGeneration: %v", err)
		}
		return g
	}
	changed := func(what string, before store.Generation) store.Generation {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if g := gen(); g != before {
				return g
			}
			if time.Now().After(deadline) {
				t.Fatalf("the catalog generation is still %+v 10 s after %s", before, what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	g := gen()
	if again := gen(); again != g && g.Epoch == 0 {
		// The database's own counter (SQLite, or PostgreSQL before its
		// listener starts) moves only with this store's changes; a
		// listener also counts other tests' notifications on the server.
		t.Fatalf("the catalog generation moved from %+v to %+v with no change", g, again)
	}
	create(t, s, newVersion("g1", "acme/gen", "1.0.0", "gen"))
	g = changed("a new version", g)
	if err := s.Transition(ctx, "g1", lifecycle.Received, lifecycle.Vetting, "test", event(audit.SubmissionTransition, "submission:g1", 11)); err != nil {
		t.Fatal(err)
	}
	changed("a transition", g)
}
