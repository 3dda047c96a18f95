package sandbox

import (
	"context"
	"errors"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/trust"
)

// TestRunningHostObeysTheStatusFeed: a running host follows its
// environment's feed without a restart: a release rollback swaps the
// running version back, a version that fails to load leaves the plugin
// running what it ran, and a kill stops the plugin (new calls are
// refused).
func TestRunningHostObeysTheStatusFeed(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Data = func(ctx context.Context, p PluginRef, req hostapi.DataRequest, _ bool) ([]byte, error) {
			return []byte(p.Version), nil
		}
	})
	req := func(id, version string) LoadRequest {
		m := testManifest(id, []string{"data"}, "kv:read", "kv:write", "net:https://example.com", "fs:read:/data", "secret:TOKEN", "data:read:d", "data:write:d")
		m.Version = version
		return LoadRequest{Manifest: m, Module: buildPlugin(t, "caps"), Mounts: map[string]string{"/data": t.TempDir()}}
	}
	h := NewHost(env.rt)
	defer h.Close(context.Background())
	ctx := context.Background()
	for _, id := range []string{"acme/caps", "acme/other"} {
		if _, err := h.Load(ctx, req(id, "1.1.0")); err != nil {
			t.Fatal(err)
		}
	}
	version := func(id string) string {
		t.Helper()
		res, err := h.Call(ctx, id, "data", []byte(`{"req":{"scope":"d"}}`))
		if err != nil {
			return "error: " + err.Error()
		}
		return string(res.Output)
	}
	var loads []string
	load := func(ctx context.Context, id, v string) (LoadRequest, error) {
		loads = append(loads, id+"@"+v)
		if id == "acme/other" {
			return LoadRequest{}, errors.New("the package of this version does not verify")
		}
		return req(id, v), nil
	}

	// A rollback in prod: the feed names 1.0.0 for both.
	feed := &trust.StatusFeed{Environment: "prod", Sequence: 7, Plugins: []trust.FeedRelease{
		{Plugin: "acme/caps", Version: "1.0.0", Rollout: 100, Status: "active"},
		{Plugin: "acme/other", Version: "1.0.0", Rollout: 100, Status: "active"},
	}}
	got := h.Obey(ctx, feed, "edge-1", load)
	if len(got) != 2 || got[0].Plugin != "acme/caps" || got[0].Err != nil || got[0].To != "1.0.0" || got[1].Err == nil {
		t.Fatalf("Obey = %+v; want acme/caps moved and acme/other's failure reported", got)
	}
	if v := version("acme/caps"); v != `{"content":"1.0.0"}` {
		t.Errorf("acme/caps runs %s after the rollback, want 1.0.0", v)
	}
	if v := version("acme/other"); v != `{"content":"1.1.0"}` {
		t.Errorf("acme/other runs %s after its load failed, want still 1.1.0", v)
	}
	// Nothing to do when the host runs what the feed says.
	loads = nil
	if got := h.Obey(ctx, &trust.StatusFeed{Environment: "prod", Sequence: 8, Plugins: feed.Plugins[:1]}, "edge-1", load); len(got) != 0 || len(loads) != 0 {
		t.Errorf("Obey on an obeyed feed = %+v, loads %v; want nothing", got, loads)
	}

	// A kill stops the plugin.
	kill := &trust.StatusFeed{Environment: "prod", Sequence: 9, Killed: []trust.FeedKill{{Plugin: "acme/caps", Reason: "exfiltrates contacts"}}}
	if got := h.Obey(ctx, kill, "edge-1", load); len(got) != 1 || got[0].To != "" || got[0].Err != nil {
		t.Fatalf("Obey of a kill = %+v", got)
	}
	if _, err := h.Call(ctx, "acme/caps", "data", []byte(`{"req":{"scope":"d"}}`)); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("a call to a killed plugin: %v, want ErrNotLoaded", err)
	}
	if v := version("acme/other"); v != `{"content":"1.1.0"}` {
		t.Errorf("the kill of acme/caps touched acme/other: %s", v)
	}
}
