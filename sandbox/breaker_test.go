package sandbox

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/manifest"
)

func TestBreakerWindow(t *testing.T) {
	now := time.Unix(10000, 0)
	var changes []BreakerState
	b := newBreaker(BreakerConfig{Window: 10 * time.Second, Buckets: 10, MinCalls: 4, FailureRate: 0.5, Cooldown: 5 * time.Second},
		func() time.Time { return now }, func(s BreakerState) { changes = append(changes, s) })

	// Below the minimum number of calls, failures do not open it.
	for range 3 {
		ok, _ := b.allow()
		if !ok {
			t.Fatal("closed breaker refused a call")
		}
		b.done(false, outcomeFailure)
	}
	if b.State() != BreakerClosed {
		t.Fatal("opened before MinCalls")
	}
	// Old failures slide out of the window.
	now = now.Add(11 * time.Second)
	for range 3 {
		b.done(false, outcomeSuccess)
	}
	b.done(false, outcomeFailure)
	if b.State() != BreakerClosed {
		t.Fatal("1 failure in 4 opened the breaker: the old failures did not slide out")
	}
	b.done(false, outcomeFailure)
	b.done(false, outcomeFailure) // 3 of 6
	if b.State() != BreakerOpen {
		t.Fatalf("state = %s after 3 failures in 6, want open", b.State())
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("open breaker allowed a call")
	}
	now = now.Add(5 * time.Second)
	ok, probe := b.allow()
	if !ok || !probe || b.State() != BreakerHalfOpen {
		t.Fatalf("after the cool-down: ok %v probe %v state %s", ok, probe, b.State())
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("a second call ran while the probe was in flight")
	}
	b.done(true, outcomeFailure)
	if b.State() != BreakerOpen {
		t.Fatal("a failed probe did not reopen the breaker")
	}
	now = now.Add(5 * time.Second)
	_, probe = b.allow()
	b.done(probe, outcomeNeutral) // a throttled probe decides nothing
	_, probe = b.allow()
	if !probe {
		t.Fatal("the probe slot was not released by a neutral outcome")
	}
	b.done(true, outcomeSuccess)
	if b.State() != BreakerClosed {
		t.Fatal("a successful probe did not close the breaker")
	}
	want := []BreakerState{BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen, BreakerClosed}
	if len(changes) != len(want) {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("changes = %v, want %v", changes, want)
		}
	}
}

func TestBreakerOpensOnFailingPlugin(t *testing.T) {
	now := time.Unix(10000, 0)
	env := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Breaker = BreakerConfig{MinCalls: 3, FailureRate: 0.5, Cooldown: time.Minute}
	})
	m := testManifest("evil/panic", []string{"run"})
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/panic")})
	for range 3 {
		_, err := p.Call(context.Background(), "run", nil)
		wantKind(t, err, KindTrap)
	}
	if p.BreakerState() != BreakerOpen {
		t.Fatalf("breaker = %s after 3 traps, want open", p.BreakerState())
	}
	_, err := p.Call(context.Background(), "run", nil)
	wantKind(t, err, KindBreakerOpen)
	labels := map[string]string{"plugin": m.ID, "version": m.Version}
	if got := env.metric(t, "gatehouse_plugin_breaker_state", labels); got != float64(BreakerOpen) {
		t.Errorf("breaker metric = %v, want %d", got, BreakerOpen)
	}
	if got := env.calls(t, p, string(KindBreakerOpen)); got != 1 {
		t.Errorf("breaker_open calls = %v, want 1", got)
	}
	now = now.Add(time.Minute)
	_, err = p.Call(context.Background(), "run", nil) // the probe fails again
	wantKind(t, err, KindTrap)
	if p.BreakerState() != BreakerOpen {
		t.Fatalf("breaker = %s after a failed probe, want open", p.BreakerState())
	}
	// Plugin errors do not count against a plugin.
	env2 := newEnv(t, func(c *Config) { c.Breaker = BreakerConfig{MinCalls: 2} })
	q := env2.load(t, LoadRequest{Manifest: testManifest("acme/echo", []string{"fail"}), Module: buildPlugin(t, "echo")})
	for range 5 {
		q.Call(context.Background(), "fail", []byte(`{"message":"x"}`))
	}
	if q.BreakerState() != BreakerClosed {
		t.Errorf("plugin errors opened the breaker")
	}
}

func TestLimitsCapManifest(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.MaxMemoryBytes = 32 << 20
		c.MaxTimeout = time.Second
		c.MaxOutputBytes = 1000
	})
	m := testManifest("acme/greedy", nil)
	m.Limits = &manifest.Limits{MemoryMiB: 4096, TimeoutMillis: 3600000, OutputBytes: 1 << 30, HostCalls: 5}
	l := env.rt.limitsFor(m)
	if l.MemoryBytes != 32<<20 || l.Timeout != time.Second || l.OutputBytes != 1000 || l.HostCalls != 5 {
		t.Errorf("limits = %+v; the manifest may ask for less, never more than the ceiling", l)
	}
}
