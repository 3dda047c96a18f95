package sandbox

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/manifest"
)

func TestParseRetention(t *testing.T) {
	start := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero for none
		err  string
	}{
		{in: "P30D", want: start.AddDate(0, 0, 30)},
		{in: "P1Y6M", want: start.AddDate(1, 6, 0)},
		{in: "P2W", want: start.AddDate(0, 0, 14)},
		{in: "PT12H", want: start.Add(12 * time.Hour)},
		{in: "P1DT1H1M1S", want: start.AddDate(0, 0, 1).Add(time.Hour + time.Minute + time.Second)},
		{in: "none"},
		{in: "P", err: "has no field"},
		{in: "30D", err: "does not start with P"},
		{in: "PT", err: "a T with no hours"},
		{in: "P1DT", err: "a T with no hours"},
		{in: "P1D1Y", err: "out of order"},
		{in: "P1H", err: "out of order"},
		{in: "PD", err: "where a number should be"},
		{in: "PXD", err: "where a number should be"},
		{in: "P12", err: "has no unit"},
		{in: "P1234567890D", err: "longer than 9 digits"},
		// Nine digits of hours overflow a time.Duration; after folds them into days.
		{in: "PT999999999H", want: start.AddDate(0, 0, 41666666).Add(15 * time.Hour)},
		{in: "P1DT2H3H", err: "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseRetention(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.IsZero() {
				if !r.none {
					t.Fatalf("%q is not none", tt.in)
				}
				return
			}
			if got := r.after(start); !got.Equal(tt.want) {
				t.Fatalf("after = %s, want %s", got, tt.want)
			}
		})
	}
}

func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"P30D", "none", "P1Y2M3W4DT5H6M7S", "PT", "P999999999Y999999999M999999999D", "PT999999999H999999999M999999999S"} {
		f.Add(s)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRetention(s)
		if err != nil || r.none {
			return
		}
		if r.after(start).Before(start) {
			t.Fatalf("%q ends before it starts", s)
		}
	})
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// untaggedKV is a host's KV that cannot keep tags.
type untaggedKV struct{ KV }

func TestKVValuesAreTaggedAndExpireOnRetention(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	var env *testEnv
	load := func(t *testing.T, kv KV, retention string) *Plugin {
		env = newEnv(t, func(c *Config) { c.KV = kv; c.Now = clock.Now })
		// caps imports every capability, so it is granted all of them.
		m := testManifest("acme/keeper", []string{"kv"}, "kv:read", "kv:write", "net:https://example.com",
			"fs:read:/tpl", "secret:TOKEN", "data:read:contacts", "data:write:notes")
		m.Data = &manifest.DataHandling{Categories: []string{"contacts", "email"}, Purpose: "remembers contacts", Retention: retention}
		return env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "caps"), Mounts: map[string]string{"/tpl": t.TempDir()}})
	}
	call := func(t *testing.T, p *Plugin, value string) (string, error) {
		res, err := p.Call(context.Background(), "kv", []byte(`{"key":"k","value":"`+value+`"}`))
		return string(res.Output), err
	}

	t.Run("expires", func(t *testing.T) {
		kv := &MemoryKV{Now: clock.Now}
		p := load(t, kv, "P30D")
		if out, err := call(t, p, "v1"); err != nil || out != `{"before":"","found":false}` {
			t.Fatalf("first: %s %v", out, err)
		}
		tag, ok := kv.Tag("acme/keeper", "k")
		if !ok || strings.Join(tag.Categories, ",") != "contacts,email" || !tag.Expires.Equal(clock.Now().AddDate(0, 0, 30)) {
			t.Fatalf("tag = %+v %v, want the manifest's categories, expiring in 30 days", tag, ok)
		}
		clock.advance(29 * 24 * time.Hour)
		if out, err := call(t, p, "v2"); err != nil || out != `{"before":"v1","found":true}` {
			t.Fatalf("within the retention: %s %v", out, err)
		}
		// v2 was stored on day 29 and lives until day 59.
		clock.advance(31 * 24 * time.Hour)
		if out, err := call(t, p, "v3"); err != nil || out != `{"before":"","found":false}` {
			t.Fatalf("after the retention the plugin still read its value: %s %v", out, err)
		}
		clock.advance(31 * 24 * time.Hour)
		if n := kv.Expire(); n != 1 {
			t.Fatalf("Expire deleted %d values, want 1", n)
		}
		if len(kv.Snapshot("acme/keeper")) != 0 {
			t.Fatal("an expired value is still in the store")
		}
	})
	t.Run("none refuses storing", func(t *testing.T) {
		kv := &MemoryKV{Now: clock.Now}
		_, err := call(t, load(t, kv, "none"), "v")
		if err == nil || len(kv.Snapshot("acme/keeper")) != 0 {
			t.Fatalf("err = %v, store %v: want the value refused", err, kv.Snapshot("acme/keeper"))
		}
		if !strings.Contains(env.logText(), `declares data retention \"none\"`) {
			t.Fatalf("the host's log does not say why:\n%s", env.logText())
		}
	})
	t.Run("a store that cannot expire is refused", func(t *testing.T) {
		kv := NewMemoryKV()
		_, err := call(t, load(t, untaggedKV{kv}, "P30D"), "v")
		if err == nil || len(kv.Snapshot("acme/keeper")) != 0 || !strings.Contains(env.logText(), "cannot expire values") {
			t.Fatalf("err = %v, store %v: want the value refused, and the log to say why", err, kv.Snapshot("acme/keeper"))
		}
	})
}
