package sandbox

import (
	"context"
	"errors"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
)

// TestHostQuarantineIsLocalUntilReleased: a host that quarantines a
// version refuses calls, loads and swaps to it on this Host only; another
// Host on the same runtime runs it; a swap to another version and a
// release bring it back.
func TestHostQuarantineIsLocalUntilReleased(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Data = func(_ context.Context, p PluginRef, _ hostapi.DataRequest, _ bool) ([]byte, error) {
			return []byte(p.Version), nil
		}
	})
	mount := t.TempDir()
	req := func(version string) LoadRequest {
		m := testManifest("acme/caps", []string{"data"}, "kv:read", "kv:write", "net:https://example.com", "fs:read:/data", "secret:TOKEN", "data:read:d", "data:write:d")
		m.Version = version
		return LoadRequest{Manifest: m, Module: buildPlugin(t, "caps"), Mounts: map[string]string{"/data": mount}}
	}
	ctx := context.Background()
	h, other := NewHost(env.rt), NewHost(env.rt)
	defer h.Close(ctx)
	defer other.Close(ctx)
	for _, x := range []*Host{h, other} {
		if _, err := x.Load(ctx, req("1.0.0")); err != nil {
			t.Fatal(err)
		}
	}
	call := func(x *Host) error {
		_, err := x.Call(ctx, "acme/caps", "data", []byte(`{"req":{"scope":"d"}}`))
		return err
	}
	if err := h.Quarantine("acme/caps", "1.0.0", "the marketplace said quarantine: 50% traps"); err != nil {
		t.Fatal(err)
	}
	if err := call(h); !errors.Is(err, ErrQuarantined) {
		t.Fatalf("call on the quarantining host: %v; want ErrQuarantined", err)
	}
	if err := call(other); err != nil {
		t.Fatalf("another host was affected by the quarantine: %v", err)
	}
	if _, err := h.Swap(ctx, req("1.0.0")); !errors.Is(err, ErrQuarantined) {
		t.Fatalf("swap to the quarantined version: %v; want ErrQuarantined", err)
	}
	if _, err := h.Swap(ctx, req("1.0.1")); err != nil {
		t.Fatalf("swap to another version: %v", err)
	}
	if err := call(h); err != nil {
		t.Fatalf("call on the fixed version: %v", err)
	}
	if !h.Release("acme/caps", "1.0.0") {
		t.Fatal("Release found no quarantine")
	}
	if _, ok := h.Quarantined("acme/caps", "1.0.0"); ok {
		t.Fatal("the quarantine outlived its release")
	}
	if _, err := h.Rollback(ctx, "acme/caps"); err != nil {
		t.Fatalf("rollback to the released version: %v", err)
	}
	if err := h.Quarantine("", "1.0.0", "x"); err == nil {
		t.Fatal("a quarantine without a plugin id was accepted")
	}
}
