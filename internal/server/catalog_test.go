package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// TestCatalogPagesAreFull fills the catalog with three unreleased plugins
// for each released one, interleaved by id, in three namespaces, and walks
// GET /api/v1/plugins page by page as each kind of caller. Every page but
// the last is full, and the pages together list, each once and in order,
// exactly the plugins the caller may open one by one (GET
// /api/v1/plugins/{namespace}/{name}, which holds each plugin to the read
// rule in Go): an anonymous caller never lists a plugin, or a latest
// version, it could not read before the catalog paged in the query.
func TestCatalogPagesAreFull(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	states := map[string][]lifecycle.State{} // plugin → its versions' states
	n := 0
	seed := func(plugin, ver, submitter string, st lifecycle.State) {
		t.Helper()
		n++
		id := fmt.Sprintf("sub_cat%03d", n)
		now := time.Now()
		v := domain.Version{
			ID: id, PluginID: plugin, Version: ver, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(id))), Size: 1,
			Manifest:  []byte(fmt.Sprintf(`{"id":%q,"version":%q,"name":"Plugin %s","description":"About %s"}`, plugin, ver, plugin, plugin)),
			Files:     []domain.File{},
			Submitter: submitter, State: lifecycle.Received, Reason: "test", CreatedAt: now, UpdatedAt: now,
		}
		if _, created, err := e.st.CreateVersion(ctx, v, []audit.Event{{Time: now, Actor: submitter, Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil || !created {
			t.Fatalf("creating %s@%s: %v", plugin, ver, err)
		}
		from := lifecycle.Received
		for _, to := range lifecycle.Path(lifecycle.Received, st) {
			ev := audit.Event{Time: now, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}
			if err := e.st.Transition(ctx, id, from, to, "test", ev); err != nil {
				t.Fatalf("moving %s to %s: %v", id, to, err)
			}
			from = to
		}
		states[plugin] = append(states[plugin], st)
	}
	// acme belongs to user-publisher, other is publisher-other's scope.
	owners := []struct{ ns, owner string }{{"acme", "user-publisher"}, {"other", "mallory"}, {"zeta", "zed"}}
	unreleased := []lifecycle.State{lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved,
		lifecycle.InReview, lifecycle.ChangesRequested, lifecycle.Rejected, lifecycle.Revoked}
	for i := 0; i < 48; i++ {
		o := owners[i%3]
		st := unreleased[i%len(unreleased)]
		if i%4 == 3 {
			st = lifecycle.Certified
			if i%8 == 7 {
				st = lifecycle.Suspended
			}
		}
		seed(fmt.Sprintf("%s/p%02d", o.ns, i), "1.0.0", o.owner, st)
	}
	// Released, with a newer version in review: listed at 1.0.0 to those
	// who may not read 2.0.0.
	seed("zeta/mixed", "1.0.0", "zed", lifecycle.Certified)
	seed("zeta/mixed", "2.0.0", "zed", lifecycle.InReview)
	// Released once, revoked since, and a rejected successor.
	seed("zeta/gone", "1.0.0", "zed", lifecycle.Revoked)
	seed("zeta/gone", "1.1.0", "zed", lifecycle.Rejected)

	var all []string
	released := 0
	for p, sts := range states {
		all = append(all, p)
		if slices.ContainsFunc(sts, domain.Released) {
			released++
		}
	}
	sort.Strings(all)
	if released < 8 || 3*released > len(all) {
		t.Fatalf("%d of %d plugins released; the test wants many more unreleased", released, len(all))
	}

	list := func(token string, limit, offset int) []api.Plugin {
		t.Helper()
		resp, b := e.do("GET", fmt.Sprintf("/api/v1/plugins?limit=%d&offset=%d", limit, offset), token, nil)
		var l api.PluginList
		if resp.StatusCode != 200 || json.Unmarshal(b, &l) != nil {
			t.Fatalf("listing: %d %s", resp.StatusCode, b)
		}
		if l.Limit != limit || l.Offset != offset {
			t.Fatalf("listing answered limit %d offset %d, asked %d %d", l.Limit, l.Offset, limit, offset)
		}
		return l.Plugins
	}
	for _, who := range []string{"", "host", "publisher-other", "publisher", "reviewer"} {
		token := e.tokens[who]
		// What the caller may read, one plugin at a time.
		var want []string
		latest := map[string]string{}
		for _, p := range all {
			resp, b := e.do("GET", "/api/v1/plugins/"+p, token, nil)
			switch resp.StatusCode {
			case 200:
				var d api.PluginDetail
				if err := json.Unmarshal(b, &d); err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
				latest[p] = d.Plugin.LatestVersion
			case 404:
			default:
				t.Fatalf("%s opening %s: %d %s", orNone(who), p, resp.StatusCode, b)
			}
		}
		if who == "" || who == "host" {
			// The read rule itself: a released version, whatever the rest.
			for _, p := range all {
				if slices.Contains(want, p) != slices.ContainsFunc(states[p], domain.Released) {
					t.Fatalf("%s opens %s (%v): %v", orNone(who), p, states[p], slices.Contains(want, p))
				}
			}
			if latest["zeta/mixed"] != "1.0.0" {
				t.Errorf("%s reads zeta/mixed at %q, want 1.0.0", orNone(who), latest["zeta/mixed"])
			}
		}
		for _, limit := range []int{1, 3, 4, 500} {
			var got []string
			for offset := 0; ; offset += limit {
				page := list(token, limit, offset)
				for _, p := range page {
					got = append(got, p.ID)
					if p.LatestVersion != latest[p.ID] {
						t.Errorf("%s lists %s at %q; it opens at %q", orNone(who), p.ID, p.LatestVersion, latest[p.ID])
					}
				}
				if len(page) < limit {
					if rest := list(token, limit, offset+limit); len(rest) != 0 {
						t.Fatalf("%s, limit %d: the page at %d has %d plugins, yet more follow: %v", orNone(who), limit, offset, len(page), rest)
					}
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, limit %d: the pages list %v\nwant %v (each once, in order)", orNone(who), limit, got, want)
			}
		}
	}
}
