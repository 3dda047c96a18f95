package sandbox

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// loadInitmode loads the initmode test plugin (see its comment) with the
// key-value store telling its initialisation what to do ("" for nothing
// special).
func loadInitmode(t *testing.T, mode string, limits *manifest.Limits, mutate func(*Config)) (*testEnv, *Plugin) {
	t.Helper()
	kv := NewMemoryKV()
	m := testManifest("acme/initmode", []string{"mode"}, "kv:read")
	m.Limits = limits
	if mode != "" {
		if err := kv.Set(context.Background(), m.ID, "init", []byte(mode)); err != nil {
			t.Fatal(err)
		}
	}
	env := newEnv(t, func(c *Config) {
		c.KV = kv
		if mutate != nil {
			mutate(c)
		}
	})
	return env, env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "initmode")})
}

func (e *testEnv) allCalls(t *testing.T, p *Plugin) float64 {
	t.Helper()
	return e.metric(t, "gatehouse_plugin_calls_total", map[string]string{"plugin": p.ref.ID, "version": p.ref.Version})
}

// TestWarmThenCall: Warm initialises an instance into the pool, and the
// next call runs on it without initialising again.
func TestWarmThenCall(t *testing.T) {
	env, p := loadInitmode(t, "", nil, nil)
	if p.pool == nil {
		t.Fatal("a Go plugin should be pooled")
	}
	ctx := context.Background()
	res, err := p.Warm(ctx)
	if err != nil {
		t.Fatalf("Warm: %v", err)
	}
	// What the initialisation did is Warm's to report.
	if len(res.HostCalls) != 1 || res.HostCalls[0].Function != "kv_get" || res.HostCalls[0].Target != "init" || res.HostCalls[0].Status != hostapi.StatusNotFound {
		t.Errorf("Warm's host calls = %+v, want the initialisation's kv_get of init", res.HostCalls)
	}
	if len(res.Logs) != 1 || res.Logs[0].Message != "initialising" {
		t.Errorf("Warm's logs = %+v, want the initialisation's line", res.Logs)
	}
	if res.MemoryBytes == 0 {
		t.Error("Warm reported no memory")
	}
	if p.pool.snap.Load() == nil {
		t.Error("Warm took no snapshot")
	}
	inst := pooled(t, p)
	if inst.cur != nil {
		t.Error("the warmed instance still points at Warm's state")
	}
	p.pool.free <- inst

	// A second Warm finds the pool warm and does nothing.
	if res, err := p.Warm(ctx); err != nil || res.Duration != 0 || len(p.pool.free) != 1 {
		t.Fatalf("second Warm: %v, duration %v, %d idle instances; want a no-op", err, res.Duration, len(p.pool.free))
	}
	if got := env.allCalls(t, p); got != 0 {
		t.Errorf("calls metric after Warm = %v, want 0 (Warm is not a call)", got)
	}

	res, err = p.Call(ctx, "mode", []byte("{}"))
	if err != nil {
		t.Fatalf("Call after Warm: %v", err)
	}
	if string(res.Output) != `{"mode":""}` {
		t.Errorf("output = %s", res.Output)
	}
	// The call did not initialise: the initialisation's host call and
	// log line are not its own.
	if len(res.HostCalls) != 0 || len(res.Logs) != 0 {
		t.Errorf("the call after Warm reports host calls %+v and logs %+v; it should not have initialised", res.HostCalls, res.Logs)
	}
	if again := pooled(t, p); again != inst {
		t.Error("the call did not run on the warmed instance")
	} else {
		p.pool.free <- again
	}
	if got := env.calls(t, p, ResultOK); got != 1 {
		t.Errorf("ok calls metric = %v, want 1", got)
	}
	if !strings.Contains(env.logText(), "plugin warmed") {
		t.Error("Warm logged nothing")
	}
}

// TestWarmFailures: an initialisation that breaks a limit or crashes
// under Warm fails with the kind a call would get, and a message that
// says it happened while initialising; nothing is pooled, nothing counts
// as a call, and a warning is logged.
func TestWarmFailures(t *testing.T) {
	cases := []struct {
		mode   string
		limits *manifest.Limits
		kind   ErrorKind
		want   []string
	}{
		// The limit is of CPU time (see warm), so a busy machine does not
		// stop the initialisation before its kv_get; it is generous all
		// the same, since a race-enabled host spends tens of milliseconds
		// setting the instance up on the initialisation's thread.
		{"spin", &manifest.Limits{TimeoutMillis: 1000}, KindTimeout, []string{"the plugin's initialisation ran longer than its 1s limit"}},
		{"panic", nil, KindTrap, []string{"while initialising", "initmode refuses to start"}},
		{"grow", &manifest.Limits{MemoryMiB: 16, TimeoutMillis: unreachableMillis}, KindOutOfMemory, []string{"more than its 16 MiB of memory while initialising"}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			env, p := loadInitmode(t, tc.mode, tc.limits, roomy)
			res, err := p.Warm(context.Background())
			ce := wantKind(t, err, tc.kind)
			for _, w := range tc.want {
				if !strings.Contains(ce.Msg, w) {
					t.Errorf("message %q does not say %q", ce.Msg, w)
				}
			}
			if ce.Plugin != p.ref.ID || ce.Export != "" {
				t.Errorf("error names plugin %q, export %q", ce.Plugin, ce.Export)
			}
			// The host calls the initialisation made before failing are
			// reported.
			if len(res.HostCalls) == 0 || res.HostCalls[0].Function != "kv_get" {
				t.Errorf("host calls = %+v, want the initialisation's kv_get", res.HostCalls)
			}
			if len(p.pool.free) != 0 {
				t.Error("a failed initialisation left an instance in the pool")
			}
			if got := env.allCalls(t, p); got != 0 {
				t.Errorf("calls metric = %v, want 0", got)
			}
			if log := env.logText(); !strings.Contains(log, "level=WARN msg=\"plugin initialisation failed\"") || !strings.Contains(log, "kind="+string(tc.kind)) {
				t.Errorf("no warning logged for the failed initialisation:\n%s", log)
			}
		})
	}
	// A call still initialises under its own limit when Warm could not.
	_, p := loadInitmode(t, "spin", &manifest.Limits{TimeoutMillis: 100}, nil)
	_, err := p.Call(context.Background(), "mode", []byte("{}"))
	if ce := wantKind(t, err, KindTimeout); !strings.Contains(ce.Msg, "the call ran longer") {
		t.Errorf("call error = %v", ce)
	}
}

// TestWarmCanceled: Warm stops the initialisation when its context ends.
func TestWarmCanceled(t *testing.T) {
	_, p := loadInitmode(t, "spin", &manifest.Limits{TimeoutMillis: 10000}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Warm(ctx)
	if ce := wantKind(t, err, KindCanceled); !strings.Contains(ce.Msg, "initialisation") {
		t.Errorf("message %q does not mention the initialisation", ce.Msg)
	}
}

// simdModule is a hand-written module exporting run, whose code uses an
// instruction the reset rewrite does not know, so its instances are never
// pooled.
func simdModule() []byte {
	mod := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	mod = append(mod, section(1, functype(nil, []byte{0x7f}))...)
	mod = append(mod, section(3, []byte{0x00})...)
	mod = append(mod, section(7, append(append(wasmName("run"), 0x00), 0x00))...)
	body := []byte{0x00, 0xfd, 0x0c} // no locals; v128.const
	body = append(body, make([]byte, 16)...)
	body = append(body, 0x1a, 0x41, 0x00, 0x0b) // drop; i32.const 0; end
	return append(mod, section(10, append(uleb(uint32(len(body))), body...))...)
}

func TestWarmUnpooledAndClosed(t *testing.T) {
	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{Manifest: testManifest("acme/simd", []string{"run"}), Module: simdModule()})
	if p.pool != nil {
		t.Fatal("the SIMD module was pooled; the test needs one that is not")
	}
	if res, err := p.Warm(context.Background()); err != nil || res.Duration != 0 {
		t.Fatalf("Warm of an unpooled plugin = %v, %v; want a no-op", res, err)
	}
	if _, err := p.Call(context.Background(), "run", nil); err != nil {
		t.Fatal(err)
	}

	_, q := loadInitmode(t, "", nil, nil)
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Warm(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Warm of a closed plugin = %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Warm(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Warm of a closed unpooled plugin = %v, want ErrClosed", err)
	}
}

// TestWarmConcurrentWithCalls: Warm on a fresh plugin races its first
// calls (run with -race); every call succeeds and none is throttled for
// Warm's sake, and the pool never holds more instances than its size.
func TestWarmConcurrentWithCalls(t *testing.T) {
	const conc = 2
	env, _ := loadInitmode(t, "", nil, func(c *Config) { c.MaxConcurrent = conc })
	for round := range 2 {
		m := testManifest("acme/initmode", []string{"mode"}, "kv:read")
		m.Version = "1.0." + string(rune('0'+round))
		p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "initmode")})
		var wg sync.WaitGroup
		errs := make(chan error, 4*conc)
		for range conc {
			wg.Go(func() {
				if _, err := p.Warm(context.Background()); err != nil {
					errs <- err
				}
			})
			wg.Go(func() {
				for range 2 {
					res, err := p.Call(context.Background(), "mode", []byte("{}"))
					if err == nil && string(res.Output) != `{"mode":""}` {
						err = errors.New("output " + string(res.Output))
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		if n := len(p.pool.free); n == 0 || n > conc {
			t.Errorf("round %d: %d idle instances, want 1 to %d", round, n, conc)
		}
		// Close races a last Warm: it either finishes first or finds the
		// plugin closed.
		var cwg sync.WaitGroup
		cwg.Go(func() {
			if _, err := p.Warm(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("Warm racing Close: %v", err)
			}
		})
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		cwg.Wait()
		if _, err := p.Warm(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Warm after Close = %v, want ErrClosed", err)
		}
	}
}
