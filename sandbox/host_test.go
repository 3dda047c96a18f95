package sandbox

import (
	"context"
	"errors"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
)

func TestHostSwapRollbackUnload(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	env := newEnv(t, func(c *Config) {
		c.Data = func(ctx context.Context, p PluginRef, req hostapi.DataRequest, _ bool) ([]byte, error) {
			if req.Op == "block" {
				entered <- struct{}{}
				<-release
			}
			return []byte(p.Version), nil
		}
	})
	mount := t.TempDir()
	req := func(version string) LoadRequest {
		m := testManifest("acme/caps", []string{"data"}, "kv:read", "kv:write", "net:https://example.com", "fs:read:/data", "secret:TOKEN", "data:read:d", "data:write:d")
		m.Version = version
		return LoadRequest{Manifest: m, Module: buildPlugin(t, "caps"), Mounts: map[string]string{"/data": mount}}
	}
	h := NewHost(env.rt)
	defer h.Close(context.Background())
	ctx := context.Background()
	v1, err := h.Load(ctx, req("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Load(ctx, req("1.0.1")); err == nil {
		t.Fatal("a second Load of the same id succeeded")
	}

	// A call in flight on 1.0.0 while the host swaps to 1.1.0.
	type outcome struct {
		out string
		err error
	}
	inflight := make(chan outcome)
	go func() {
		res, err := h.Call(ctx, "acme/caps", "data", []byte(`{"req":{"scope":"d","op":"block"}}`))
		inflight <- outcome{string(res.Output), err}
	}()
	<-entered
	v2, err := h.Swap(ctx, req("1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Call(ctx, "acme/caps", "data", []byte(`{"req":{"scope":"d"}}`))
	if err != nil || string(res.Output) != `{"content":"1.1.0"}` {
		t.Fatalf("call after the swap: %s %v", res.Output, err)
	}
	// The old version is retired but not closed while its call runs.
	if _, err := v1.Call(ctx, "data", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("a new call reached the retired version: %v", err)
	}
	close(release)
	o := <-inflight
	if o.err != nil || o.out != `{"content":"1.0.0"}` {
		t.Fatalf("the call in flight did not finish on the old version: %s %v", o.out, o.err)
	}
	if err := v1.Close(ctx); err != nil {
		t.Fatalf("the old version did not close after its call drained: %v", err)
	}

	// Rollback goes back to 1.0.0, and rolling back again returns to 1.1.0.
	back, err := h.Rollback(ctx, "acme/caps")
	if err != nil || back.Ref().Version != "1.0.0" {
		t.Fatalf("rollback: %v %v", back, err)
	}
	res, err = h.Call(ctx, "acme/caps", "data", []byte(`{"req":{"scope":"d"}}`))
	if err != nil || string(res.Output) != `{"content":"1.0.0"}` {
		t.Fatalf("call after rollback: %s %v", res.Output, err)
	}
	if err := v2.Close(ctx); err != nil {
		t.Fatalf("the rolled-back version did not close: %v", err)
	}
	if fwd, err := h.Rollback(ctx, "acme/caps"); err != nil || fwd.Ref().Version != "1.1.0" {
		t.Fatalf("second rollback: %v %v", fwd, err)
	}

	// A failed swap keeps the current version.
	bad := req("2.0.0")
	bad.Module = []byte("not wasm")
	if _, err := h.Swap(ctx, bad); KindOf(err) != KindLoadFailed {
		t.Fatalf("bad swap: %v", err)
	}
	if p, _ := h.Plugin("acme/caps"); p.Ref().Version != "1.1.0" {
		t.Fatalf("after a failed swap the current version is %s", p.Ref().Version)
	}

	if err := h.Unload("acme/caps"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "acme/caps", "data", nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("call after unload: %v", err)
	}
	if got := env.metric(t, "gatehouse_plugin_loads_total", map[string]string{"plugin": "acme/caps", "result": "ok"}); got != 4 {
		t.Errorf("successful loads = %v, want 4", got)
	}
}
