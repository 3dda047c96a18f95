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
	"testing"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

type capsFixture struct {
	env    *testEnv
	p      *Plugin
	server *httptest.Server
	dir    string
	data   []string // data requests seen, "read:scope" or "write:scope"
}

func newCaps(t *testing.T, mutate func(*Config), limits *manifest.Limits) *capsFixture {
	t.Helper()
	f := &capsFixture{dir: t.TempDir()}
	os.WriteFile(filepath.Join(f.dir, "t.txt"), []byte("template"), 0o644)
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(f.server.Close)
	f.env = newEnv(t, func(c *Config) {
		c.Secrets = EnvSecrets{Lookup: func(k string) (string, bool) {
			if k == "GATEHOUSE_SECRET_TOKEN" {
				return "tok-123", true
			}
			return "", false
		}}
		c.Data = func(ctx context.Context, p PluginRef, req hostapi.DataRequest, write bool) ([]byte, error) {
			op := "read"
			if write {
				op = "write"
			}
			f.data = append(f.data, op+":"+req.Scope)
			if req.Op == "missing" {
				return nil, ErrNotFound
			}
			return []byte(`{"plugin":"` + p.ID + `"}`), nil
		}
		if mutate != nil {
			mutate(c)
		}
	})
	m := testManifest("acme/caps", []string{"kv", "fetch", "readfile", "readwasi", "secret", "data"},
		"kv:read", "kv:write", "net:"+f.server.URL, "fs:read:/tpl", "secret:TOKEN", "data:read:contacts", "data:write:notes")
	m.Limits = limits
	f.p = f.env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "caps"), Mounts: map[string]string{"/tpl": f.dir}})
	return f
}

func (f *capsFixture) call(t *testing.T, export string, in any) (string, Result, error) {
	t.Helper()
	b, _ := json.Marshal(in)
	res, err := f.p.Call(context.Background(), export, b)
	return string(res.Output), res, err
}

func TestCapabilities(t *testing.T) {
	f := newCaps(t, nil, nil)

	out, res, err := f.call(t, "kv", map[string]string{"key": "k", "value": "v1"})
	if err != nil || out != `{"before":"","found":false}` {
		t.Fatalf("kv first: %s %v", out, err)
	}
	if len(res.HostCalls) != 2 || res.HostCalls[0] != (HostCall{"kv_get", "k", hostapi.StatusNotFound}) || res.HostCalls[1] != (HostCall{"kv_set", "k", hostapi.StatusOK}) {
		t.Errorf("host calls = %+v", res.HostCalls)
	}
	out, _, err = f.call(t, "kv", map[string]string{"key": "k", "value": "v2"})
	if err != nil || out != `{"before":"v1","found":true}` {
		t.Fatalf("kv second: %s %v", out, err)
	}
	// The store is scoped per plugin id.
	if _, err := f.env.rt.cfg.KV.Get(context.Background(), "other/plugin", "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another plugin sees the key: %v", err)
	}

	out, _, err = f.call(t, "fetch", hostapi.FetchRequest{Method: "POST", URL: f.server.URL + "/x"})
	if err != nil || out != `{"status":200,"body":"POST /x"}` {
		t.Fatalf("fetch: %s %v", out, err)
	}

	for _, export := range []string{"readfile", "readwasi"} {
		out, _, err = f.call(t, export, map[string]string{"path": "/tpl/t.txt"})
		if err != nil || out != `{"content":"template"}` {
			t.Fatalf("%s: %s %v", export, out, err)
		}
	}
	_, res, err = f.call(t, "readfile", map[string]string{"path": "/tpl/none.txt"})
	wantKind(t, err, KindPluginError)
	if res.HostCalls[0].Status != hostapi.StatusNotFound {
		t.Errorf("missing file status = %v", res.HostCalls[0].Status)
	}

	out, _, err = f.call(t, "secret", map[string]string{"name": "TOKEN"})
	if err != nil || out != `{"content":"7 bytes, starts to"}` {
		t.Fatalf("secret: %s %v", out, err)
	}
	_, _, err = f.call(t, "secret", map[string]string{"name": "OTHER"})
	wantKind(t, err, KindDenied)

	out, _, err = f.call(t, "data", map[string]any{"req": map[string]string{"scope": "contacts"}})
	if err != nil || out != `{"content":"{\"plugin\":\"acme/caps\"}"}` {
		t.Fatalf("data read: %s %v", out, err)
	}
	_, _, err = f.call(t, "data", map[string]any{"write": true, "req": map[string]string{"scope": "notes"}})
	if err != nil {
		t.Fatalf("data write: %v", err)
	}
	// Read and write grants are separate.
	_, _, err = f.call(t, "data", map[string]any{"write": true, "req": map[string]string{"scope": "contacts"}})
	wantKind(t, err, KindDenied)
	_, _, err = f.call(t, "data", map[string]any{"req": map[string]string{"scope": "notes"}})
	wantKind(t, err, KindDenied)
	if strings.Join(f.data, ",") != "read:contacts,write:notes" {
		t.Errorf("data callback saw %v; a denied scope must never reach it", f.data)
	}
	if got := f.env.metric(t, "gatehouse_plugin_denials_total", map[string]string{"plugin": "acme/caps", "function": "data_write"}); got != 1 {
		t.Errorf("data_write denials = %v, want 1", got)
	}
	if strings.Contains(f.env.logText(), "tok-123") {
		t.Error("a secret value reached the log")
	}
}

func TestHostCallBudget(t *testing.T) {
	f := newCaps(t, nil, &manifest.Limits{HostCalls: 1})
	_, res, err := f.call(t, "kv", map[string]string{"key": "k", "value": "v"})
	wantKind(t, err, KindThrottled)
	if len(res.HostCalls) != 1 {
		t.Errorf("host calls = %+v, want the one within budget", res.HostCalls)
	}
	if got := f.env.metric(t, "gatehouse_plugin_throttles_total", map[string]string{"plugin": "acme/caps", "reason": ThrottleHostCalls}); got != 1 {
		t.Errorf("host_calls throttles = %v, want 1", got)
	}
	if _, _, err := f.call(t, "secret", map[string]string{"name": "TOKEN"}); err != nil {
		t.Errorf("a call within budget failed: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	env := newEnv(t, func(c *Config) {
		c.RatePerSecond = 2
		c.RateBurst = 2
		c.Now = func() time.Time { return now }
	})
	p := env.load(t, LoadRequest{Manifest: testManifest("acme/rated", []string{"echo"}), Module: buildPlugin(t, "echo")})
	in := []byte(`{"message":"x"}`)
	for i := range 2 {
		if _, err := p.Call(context.Background(), "echo", in); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	_, err := p.Call(context.Background(), "echo", in)
	wantKind(t, err, KindThrottled)
	if got := env.metric(t, "gatehouse_plugin_throttles_total", map[string]string{"plugin": "acme/rated", "reason": ThrottleRate}); got != 1 {
		t.Errorf("rate throttles = %v, want 1", got)
	}
	now = now.Add(500 * time.Millisecond) // one token back
	if _, err := p.Call(context.Background(), "echo", in); err != nil {
		t.Fatalf("call after refill: %v", err)
	}
}

func TestLoadChecks(t *testing.T) {
	env := newEnv(t, nil)
	mod := buildPlugin(t, "echo")
	cases := []struct {
		name string
		edit func(*LoadRequest)
		want string
	}{
		{"host API too new", func(r *LoadRequest) { r.Manifest.Runtime.HostAPI = "^2.0.0" }, "offers 1.0.0"},
		{"no host API range", func(r *LoadRequest) { r.Manifest.Runtime.HostAPI = "" }, "hostApi"},
		{"missing export", func(r *LoadRequest) { r.Manifest.Runtime.Exports = []string{"nope"} }, `"nope"`},
		{"not wasm", func(r *LoadRequest) { r.Module = []byte("MZ not wasm") }, "not valid WebAssembly"},
		{"mount without grant", func(r *LoadRequest) { r.Mounts = map[string]string{"/x": t.TempDir()} }, "fs:read:/x is not granted"},
		{"grant without mount", func(r *LoadRequest) { r.Manifest.Permissions = []string{"fs:read:/x"} }, "no host directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := LoadRequest{Manifest: testManifest("acme/checks", []string{"echo"}), Module: mod}
			tc.edit(&req)
			_, err := env.rt.Load(context.Background(), req)
			ce := wantKind(t, err, KindLoadFailed)
			if !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("error %q does not say %q", ce.Msg, tc.want)
			}
		})
	}
}

func TestPluginErrorAndLogs(t *testing.T) {
	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{Manifest: testManifest("acme/echo", []string{"fail", "log"}), Module: buildPlugin(t, "echo")})
	_, err := p.Call(context.Background(), "fail", []byte(`{"message":"bad input"}`))
	ce := wantKind(t, err, KindPluginError)
	if ce.Msg != "refusing: bad input" {
		t.Errorf("plugin error message = %q", ce.Msg)
	}
	res, err := p.Call(context.Background(), "log", []byte(`{"message":"hello log"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Logs) != 1 || res.Logs[0].Message != "hello log" || string(res.Stdout) != "stdout: hello log\n" {
		t.Errorf("logs %+v, stdout %q", res.Logs, res.Stdout)
	}
	if !strings.Contains(env.logText(), "plugin=acme/echo") || !strings.Contains(env.logText(), "hello log") {
		t.Errorf("the plugin's log line did not reach slog with its id:\n%s", env.logText())
	}
	if _, err := p.Call(context.Background(), "nope", nil); err == nil || KindOf(err) != "" {
		t.Errorf("unknown export: %v", err)
	}
}

func TestCallerCancel(t *testing.T) {
	env := newEnv(t, nil)
	m := testManifest("evil/loop", []string{"run"})
	m.Limits = &manifest.Limits{TimeoutMillis: 20000}
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/loop")})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := p.Call(ctx, "run", nil)
	wantKind(t, err, KindCanceled)
}
