package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// wantKind fails unless err is a *CallError of kind.
func wantKind(t *testing.T, err error, kind ErrorKind) *CallError {
	t.Helper()
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *CallError of kind %s", err, err, kind)
	}
	if ce.Kind != kind {
		t.Fatalf("error kind = %s (%v), want %s", ce.Kind, ce, kind)
	}
	return ce
}

// stillServes checks that the runtime still loads and runs a well-behaved
// plugin after a hostile one did its worst.
func (e *testEnv) stillServes(t *testing.T) {
	t.Helper()
	m := testManifest("acme/echo-after", []string{"echo"})
	m.Version = fmt.Sprintf("1.0.%d", time.Now().UnixNano()%1e6)
	p := e.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "echo")})
	res, err := p.Call(context.Background(), "echo", []byte(`{"message":"still here"}`))
	if err != nil {
		t.Fatalf("a normal call after the hostile one failed: %v", err)
	}
	if string(res.Output) != `{"message":"still here"}` {
		t.Fatalf("a normal call after the hostile one returned %s", res.Output)
	}
}

// unreachableMillis is a time limit no slowness reaches. The tests of the
// other limits (memory, output) use it with roomy, so that a busy machine
// cannot turn the breach they expect into a timeout: the breach comes
// first at any speed.
const unreachableMillis = 10 * 60 * 1000

// roomy lets a call run up to unreachableMillis.
func roomy(c *Config) { c.MaxTimeout = unreachableMillis * time.Millisecond }

func hostile(t *testing.T, env *testEnv, name string, exports []string, limits *manifest.Limits, perms ...string) *Plugin {
	t.Helper()
	m := testManifest("evil/"+name, exports, perms...)
	m.Limits = limits
	return env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/"+name)})
}

func TestHostileInfiniteLoop(t *testing.T) {
	env := newEnv(t, nil)
	p := hostile(t, env, "loop", []string{"run", "sleep", "hostloop"}, &manifest.Limits{TimeoutMillis: 200})
	_, err := p.Call(context.Background(), "run", nil)
	wantKind(t, err, KindTimeout)
	// A loop that does nothing but call host functions is stopped too.
	_, err = p.Call(context.Background(), "hostloop", nil)
	wantKind(t, err, KindTimeout)
	// Asleep in the host, the guest is woken and stopped at the deadline
	// too (else this call would take an hour).
	_, err = p.Call(context.Background(), "sleep", nil)
	wantKind(t, err, KindTimeout)
	if got := env.calls(t, p, string(KindTimeout)); got != 3 {
		t.Errorf("timeout calls metric = %v, want 3", got)
	}
	// The same plugin can be called again: a timed-out instance is thrown
	// away and the next call gets another.
	_, err = p.Call(context.Background(), "run", nil)
	wantKind(t, err, KindTimeout)
	env.stillServes(t)
}

func TestHostileUnboundedMemory(t *testing.T) {
	env := newEnv(t, roomy)
	p := hostile(t, env, "memory", []string{"run"}, &manifest.Limits{MemoryMiB: 32, TimeoutMillis: unreachableMillis})
	res, err := p.Call(context.Background(), "run", nil)
	wantKind(t, err, KindOutOfMemory)
	if res.MemoryBytes > 32<<20 {
		t.Errorf("memory reached %d bytes, over the 32 MiB cap", res.MemoryBytes)
	}
	if got := env.calls(t, p, string(KindOutOfMemory)); got != 1 {
		t.Errorf("out_of_memory calls metric = %v, want 1", got)
	}
	env.stillServes(t)
}

func TestHostileDeepRecursion(t *testing.T) {
	env := newEnv(t, roomy)
	p := hostile(t, env, "recursion", []string{"run"}, &manifest.Limits{MemoryMiB: 32, TimeoutMillis: unreachableMillis})
	_, err := p.Call(context.Background(), "run", nil)
	// Go keeps its goroutine stacks in linear memory, so a runaway
	// recursion ends when the stack can no longer grow inside the cap.
	wantKind(t, err, KindOutOfMemory)
	if got := env.calls(t, p, string(KindOutOfMemory)); got != 1 {
		t.Errorf("out_of_memory calls metric = %v, want 1", got)
	}
	env.stillServes(t)
}

func TestHostileOutputFlood(t *testing.T) {
	env := newEnv(t, roomy)
	p := hostile(t, env, "flood", []string{"stdout", "output"}, &manifest.Limits{OutputBytes: 64 << 10, TimeoutMillis: unreachableMillis})
	res, err := p.Call(context.Background(), "stdout", nil)
	wantKind(t, err, KindOutputTooLarge)
	if len(res.Stdout) > 64<<10 {
		t.Errorf("captured %d bytes of stdout, over the 64 KiB limit", len(res.Stdout))
	}
	res, err = p.Call(context.Background(), "output", nil)
	wantKind(t, err, KindOutputTooLarge)
	if res.Output != nil {
		t.Errorf("an oversized output was returned (%d bytes)", len(res.Output))
	}
	if got := env.calls(t, p, string(KindOutputTooLarge)); got != 2 {
		t.Errorf("output_too_large calls metric = %v, want 2", got)
	}
	env.stillServes(t)
}

func TestHostileUngrantedHostFunction(t *testing.T) {
	env := newEnv(t, nil)
	m := testManifest("evil/ungranted", []string{"run"}, "kv:read", "kv:write")
	req := LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/ungranted"), Grants: []manifest.Permission{{Kind: "kv:read"}}}
	_, err := env.rt.Load(context.Background(), req)
	ce := wantKind(t, err, KindLoadFailed)
	if !strings.Contains(ce.Msg, "kv_set") || !strings.Contains(ce.Msg, "kv:write") {
		t.Errorf("load error does not name the function and the permission: %v", ce)
	}
	if got := env.metric(t, "gatehouse_plugin_loads_total", map[string]string{"plugin": m.ID, "result": "failed"}); got != 1 {
		t.Errorf("failed loads metric = %v, want 1", got)
	}
	// Granting what the manifest does not ask for is refused too.
	m2 := testManifest("evil/ungranted", []string{"run"}, "kv:read")
	_, err = env.rt.Load(context.Background(), LoadRequest{Manifest: m2, Module: req.Module, Grants: []manifest.Permission{{Kind: "kv:read"}, {Kind: "kv:write"}}})
	ce = wantKind(t, err, KindLoadFailed)
	if !strings.Contains(ce.Msg, "kv:write") {
		t.Errorf("load error does not name the extra grant: %v", ce)
	}
	// With the permission granted it loads and runs.
	p := env.load(t, LoadRequest{Manifest: m, Module: req.Module})
	if _, err := p.Call(context.Background(), "run", nil); err != nil {
		t.Fatal(err)
	}
	env.stillServes(t)
}

func TestHostileNetwork(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		fmt.Fprint(w, "other")
	}))
	defer other.Close()
	var grantedHits atomic.Int32
	granted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grantedHits.Add(1)
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "hello")
		case "/leave":
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
		case "/metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/self":
			http.Redirect(w, r, "/ok", http.StatusFound)
		}
	}))
	defer granted.Close()
	port := granted.URL[strings.LastIndex(granted.URL, ":")+1:]

	env := newEnv(t, nil)
	// The granted origin names 127.0.0.1 literally, which is what lets it
	// through the address check.
	p := hostile(t, env, "network", []string{"fetch"}, nil, "net:"+granted.URL)
	call := func(url string) (Result, error) {
		in, _ := json.Marshal(map[string]string{"URL": url})
		return p.Call(context.Background(), "fetch", in)
	}

	res, err := call(granted.URL + "/self")
	if err != nil {
		t.Fatalf("fetch from the granted origin (with a redirect inside it): %v", err)
	}
	if !strings.Contains(string(res.Output), "hello") {
		t.Fatalf("output = %s", res.Output)
	}

	denied := []struct{ name, url string }{
		{"ungranted origin", "https://example.com/"},
		{"another loopback port", other.URL + "/"},
		{"metadata address", "http://169.254.169.254/latest/meta-data/"},
		{"redirect to another origin", granted.URL + "/leave"},
		{"redirect to the metadata address", granted.URL + "/metadata"},
	}
	for i, tc := range denied {
		before := grantedHits.Load()
		res, err := call(tc.url)
		ce := wantKind(t, err, KindDenied)
		if len(res.HostCalls) != 1 || res.HostCalls[0].Status != hostapi.StatusDenied {
			t.Errorf("%s: host calls = %+v, want one denied http_fetch", tc.name, res.HostCalls)
		}
		if got := env.metric(t, "gatehouse_plugin_denials_total", map[string]string{"plugin": p.ref.ID, "function": "http_fetch"}); got != float64(i+1) {
			t.Errorf("%s: denials metric = %v, want %d (%v)", tc.name, got, i+1, ce)
		}
		if grantedHits.Load() > before+1 {
			t.Errorf("%s: the granted server was asked more than once", tc.name)
		}
	}
	if otherHits.Load() != 0 {
		t.Errorf("the ungranted server was reached %d times", otherHits.Load())
	}
	if got := env.calls(t, p, string(KindDenied)); got != float64(len(denied)) {
		t.Errorf("denied calls metric = %v, want %d", got, len(denied))
	}
	if _, err := call(granted.URL + "/ok"); err != nil {
		t.Fatalf("a granted fetch after the denials failed: %v", err)
	}

	// A granted host name never unlocks a private address, only a literal
	// does: localhost resolves to loopback and is refused when dialled,
	// which is also what stops DNS rebinding.
	m := testManifest("evil/network-name", []string{"fetch"}, "net:http://localhost:"+port)
	byName := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/network")})
	before := grantedHits.Load()
	in, _ := json.Marshal(map[string]string{"URL": "http://localhost:" + port + "/ok"})
	_, err = byName.Call(context.Background(), "fetch", in)
	wantKind(t, err, KindDenied)
	if grantedHits.Load() != before {
		t.Errorf("the request by name reached the loopback server")
	}
	if got := env.metric(t, "gatehouse_plugin_denials_total", map[string]string{"plugin": m.ID, "function": "http_fetch"}); got != 1 {
		t.Errorf("denials metric for the name = %v, want 1", got)
	}
	env.stillServes(t)
}

func TestHostileMountEscape(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello"), 0o644)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../etc", filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, nil)
	m := testManifest("evil/escape", []string{"hostread", "wasiread"}, "fs:read:/data")
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/escape"), Mounts: map[string]string{"/data": dir}})
	call := func(export, path string) (Result, error) {
		in, _ := json.Marshal(map[string]string{"path": path})
		return p.Call(context.Background(), export, in)
	}
	for _, export := range []string{"hostread", "wasiread"} {
		res, err := call(export, "/data/hello.txt")
		if err != nil || string(res.Output) != `{"content":"hello"}` {
			t.Fatalf("%s of a file in the mount: %s, %v", export, res.Output, err)
		}
	}
	escapes := []string{"../../etc/passwd", "/data/../../etc/passwd", "/data/passwd", "/data/etc/passwd", "/etc/passwd"}
	for i, path := range escapes {
		res, err := call("hostread", path)
		wantKind(t, err, KindDenied)
		if strings.Contains(string(res.Output), "root:") {
			t.Fatalf("fs_read %s leaked /etc/passwd", path)
		}
		if got := env.metric(t, "gatehouse_plugin_denials_total", map[string]string{"plugin": m.ID, "function": "fs_read"}); got != float64(i+1) {
			t.Errorf("fs_read %s: denials metric = %v, want %d", path, got, i+1)
		}
	}
	// Through WASI the guest's own os package gets an error; no host
	// function was refused, so the call ends as the plugin's error.
	for i, path := range escapes {
		res, err := call("wasiread", path)
		ce := wantKind(t, err, KindPluginError)
		if strings.Contains(string(res.Output), "root:") || strings.Contains(ce.Msg, "root:") {
			t.Fatalf("WASI read of %s leaked /etc/passwd", path)
		}
		if got := env.calls(t, p, string(KindPluginError)); got != float64(i+1) {
			t.Errorf("plugin_error calls metric = %v, want %d", got, i+1)
		}
	}
	env.stillServes(t)
}

func TestHostileWriteToMount(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("keep"), 0o644)
	env := newEnv(t, nil)
	m := testManifest("evil/write", []string{"run", "remove"}, "fs:read:/data")
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/write"), Mounts: map[string]string{"/data": dir}})
	_, err := p.Call(context.Background(), "run", []byte(`{"Path":"/data/new.txt"}`))
	wantKind(t, err, KindPluginError)
	_, err = p.Call(context.Background(), "run", []byte(`{"Path":"/data/keep.txt"}`))
	wantKind(t, err, KindPluginError)
	_, err = p.Call(context.Background(), "remove", []byte(`{"Path":"/data/keep.txt"}`))
	wantKind(t, err, KindPluginError)
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plugin created a file in its read-only mount")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "keep.txt")); err != nil || string(b) != "keep" {
		t.Errorf("the plugin changed or removed a file in its read-only mount: %q, %v", b, err)
	}
	if got := env.calls(t, p, string(KindPluginError)); got != 3 {
		t.Errorf("plugin_error calls metric = %v, want 3", got)
	}
	env.stillServes(t)
}

func TestHostilePanic(t *testing.T) {
	env := newEnv(t, nil)
	p := hostile(t, env, "panic", []string{"run"}, nil)
	_, err := p.Call(context.Background(), "run", nil)
	ce := wantKind(t, err, KindTrap)
	if !strings.Contains(ce.Msg, "nil map") {
		t.Errorf("trap message does not carry the panic: %v", ce)
	}
	if got := env.calls(t, p, string(KindTrap)); got != 1 {
		t.Errorf("trap calls metric = %v, want 1", got)
	}
	env.stillServes(t)
}

// TestHostileConcurrencyFlood makes 1,000 concurrent calls against a limit
// of 8. To make the count exact rather than timing-dependent, the first 8
// calls park inside the host's data callback until the other 992 have all
// been refused.
func TestHostileConcurrencyFlood(t *testing.T) {
	entered := make(chan struct{}, 8)
	release := make(chan struct{})
	env := newEnv(t, func(c *Config) {
		c.MaxConcurrent = 8
		c.Data = func(ctx context.Context, _ PluginRef, _ hostapi.DataRequest, _ bool) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return []byte("done"), nil
		}
	})
	m := testManifest("evil/flood", []string{"data"}, "kv:read", "kv:write", "net:https://example.com", "fs:read:/data", "secret:TOKEN", "data:read:slow", "data:write:slow")
	m.Limits = &manifest.Limits{TimeoutMillis: 30000}
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "caps"), Mounts: map[string]string{"/data": t.TempDir()}})

	input := []byte(`{"req":{"scope":"slow"}}`)
	var wg sync.WaitGroup
	var ok, throttled, other atomic.Int32
	call := func() {
		defer wg.Done()
		_, err := p.Call(context.Background(), "data", input)
		switch KindOf(err) {
		case "":
			if err != nil {
				other.Add(1)
				t.Error(err)
				return
			}
			ok.Add(1)
		case KindThrottled:
			throttled.Add(1)
		default:
			other.Add(1)
			t.Error(err)
		}
	}
	wg.Add(8)
	for range 8 {
		go call()
	}
	for range 8 {
		<-entered
	}
	var flood sync.WaitGroup
	flood.Add(992)
	wg.Add(992)
	for range 992 {
		go func() {
			defer flood.Done()
			call()
		}()
	}
	flood.Wait()
	close(release)
	wg.Wait()

	if ok.Load() != 8 || throttled.Load() != 992 || other.Load() != 0 {
		t.Fatalf("ok %d, throttled %d, other %d; want 8, 992, 0", ok.Load(), throttled.Load(), other.Load())
	}
	if got := env.calls(t, p, string(KindThrottled)); got != 992 {
		t.Errorf("throttled calls metric = %v, want 992", got)
	}
	if got := env.metric(t, "gatehouse_plugin_throttles_total", map[string]string{"plugin": m.ID, "reason": ThrottleConcurrency}); got != 992 {
		t.Errorf("concurrency throttles metric = %v, want 992", got)
	}
	// The breaker does not count throttles: the plugin never ran.
	if s := p.BreakerState(); s != BreakerClosed {
		t.Errorf("breaker = %s after throttling, want closed", s)
	}
	env.stillServes(t)
}
