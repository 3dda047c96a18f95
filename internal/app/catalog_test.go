package app_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

func bytesReader(s string) io.Reader { return bytes.NewReader([]byte(s)) }

func TestPlugin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		caller   domain.Principal
		id       string
		kind     app.Kind
		versions int
		latest   string
	}{
		{"anyone sees the released versions", anonymous, "acme/tool", ok, 1, "1.0.0"},
		{"its publisher sees them all", alice, "acme/tool", ok, 2, ""},
		{"a reviewer sees them all", rita, "acme/tool", ok, 2, ""},
		{"a plugin with no released version is hidden", anonymous, "acme/solo", app.KindNotFound, 0, ""},
		{"from other publishers too", mallory, "acme/solo", app.KindNotFound, 0, ""},
		{"but not from its own", scoped, "acme/solo", ok, 1, ""},
		{"a plugin that does not exist", rita, "acme/none", app.KindNotFound, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, vs, err := f.app.Plugin(ctx, tt.caller, tt.id)
			if kindOf(err) != tt.kind {
				t.Fatalf("got %v, want kind %d", err, tt.kind)
			}
			if len(vs) != tt.versions {
				t.Errorf("%d versions, want %d", len(vs), tt.versions)
			}
			if tt.latest != "" && p.LatestVersion != tt.latest {
				t.Errorf("latest %q, want %q", p.LatestVersion, tt.latest)
			}
		})
	}
	// A hidden plugin answers as one that does not exist.
	_, _, hidden := f.app.Plugin(ctx, anonymous, "acme/solo")
	_, _, missing := f.app.Plugin(ctx, anonymous, "acme/none")
	_, _, hm := app.Classify(hidden)
	_, _, mm := app.Classify(missing)
	if hm != "no plugin acme/solo" || mm != "no plugin acme/none" {
		t.Errorf("hidden %q, missing %q", hm, mm)
	}
}

func TestPlugins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		want   []string
	}{
		{"anyone", anonymous, []string{"acme/tool"}},
		{"a publisher", alice, []string{"acme/solo", "acme/tool"}},
		{"another publisher", mallory, []string{"acme/tool", "other/thing"}},
		{"a reviewer", rita, []string{"acme/solo", "acme/tool", "other/thing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := f.app.Plugins(ctx, tt.caller, app.PluginSearch{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.ID)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.app.Catalog(ctx, anonymous, app.CatalogSearch{States: []lifecycle.State{lifecycle.InReview}, Limit: 10}); kindOf(err) != app.KindInvalid {
		t.Fatalf("anyone searched versions in review: %v", err)
	}
	es, err := f.app.Catalog(ctx, anonymous, app.CatalogSearch{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Plugin.ID != "acme/tool" {
		t.Fatalf("anyone's catalog: %+v", es)
	}
	es, err = f.app.Catalog(ctx, rita, app.CatalogSearch{States: []lifecycle.State{lifecycle.InReview}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Plugin.ID != "acme/solo" {
		t.Fatalf("a reviewer's catalog in review: %+v", es)
	}
}

func TestVersionDetails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v, err := f.app.Version(ctx, rita, app.VersionRef{ID: inReview}, app.ReadRecord)
	if err != nil {
		t.Fatal(err)
	}
	// What is read off a version is refused to a caller who may not read
	// it, however it got hold of it.
	if _, err := f.app.Checks(ctx, anonymous, v); kindOf(err) != app.KindNotFound {
		t.Errorf("checks: %v", err)
	}
	if _, err := f.app.Verdict(ctx, mallory, v); kindOf(err) != app.KindNotFound {
		t.Errorf("verdict: %v", err)
	}
	if _, err := f.app.Revalidation(ctx, host, v); kindOf(err) != app.KindNotFound {
		t.Errorf("revalidation: %v", err)
	}
	checks, err := f.app.Checks(ctx, alice, v)
	if err != nil || len(checks) != 0 {
		t.Errorf("a version that failed its one analyzer passed %v (%v)", checks, err)
	}
	if vd, err := f.app.Verdict(ctx, alice, v); err != nil || vd != nil {
		t.Errorf("a version without a verdict: %+v, %v", vd, err)
	}
}
