package vaultsecrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/vaulttest"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
)

const rootToken = "hvs.root-token-for-tests"

// vaultEnv is a fake Vault (internal/vaulttest: NOT a real Vault) and
// the service its dynamic credentials sign in to.
type vaultEnv struct {
	fv      *vaulttest.Server
	vault   *httptest.Server
	service *httptest.Server
}

func newVaultEnv(t *testing.T) *vaultEnv {
	t.Helper()
	e := &vaultEnv{fv: vaulttest.New(rootToken)}
	e.fv.PutKV("secret", "acme/leased", map[string]any{"api_key": "kv-value-0123456789", "n": 7})
	e.vault = httptest.NewServer(e.fv)
	t.Cleanup(e.vault.Close)
	// The service accepts a credential only while Vault's lease on it is
	// live, as a database does once Vault drops the user it made.
	e.service = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !e.fv.CredentialLive(cred) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(e.service.Close)
	return e
}

func (e *vaultEnv) provider(t *testing.T, mutate func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		Address: e.vault.URL,
		Token:   rootToken,
		Secrets: map[string]Source{
			"DB":      {Engine: EngineDynamic, Path: "database/creds/app", Field: "password"},
			"DB_JSON": {Engine: EngineDynamic, Path: "database/creds/app"},
			"API_KEY": {Engine: EngineKV, Path: "{plugin}", Field: "api_key"},
			"COUNT":   {Engine: EngineKV, Path: "{plugin}", Field: "n"},
			"GONE":    {Engine: EngineKV, Path: "nowhere", Field: "x"},
		},
		Now: e.fv.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var ref = sandbox.PluginRef{ID: "acme/leased", Version: "1.0.0"}

func TestProviderReadsKVAndDynamicSecrets(t *testing.T) {
	e := newVaultEnv(t)
	p := e.provider(t, nil)
	ctx := context.Background()
	if err := p.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	tests := []struct {
		name      string
		want      string // exact value, or "" to check the form below
		lease     bool
		notFound  bool
		jsonValue bool
	}{
		{name: "API_KEY", want: "kv-value-0123456789"},
		{name: "COUNT", want: "7"},
		{name: "DB", lease: true},
		{name: "DB_JSON", lease: true, jsonValue: true},
		{name: "GONE", notFound: true},
		{name: "UNCONFIGURED", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := p.Secret(ctx, ref, tt.name)
			if tt.notFound {
				if !errors.Is(err, sandbox.ErrNotFound) {
					t.Fatalf("err = %v, want not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(s.Value) != tt.want {
				t.Errorf("value = %q, want %q", s.Value, tt.want)
			}
			if tt.jsonValue {
				var m map[string]string
				if json.Unmarshal(s.Value, &m) != nil || m["username"] == "" || m["password"] == "" {
					t.Errorf("value %q is not the credentials as JSON", s.Value)
				}
			}
			if got := s.Lease.ID != ""; got != tt.lease {
				t.Errorf("lease id %q, want a lease: %v", s.Lease.ID, tt.lease)
			}
			if tt.lease && (s.Lease.TTL != time.Hour || !s.Lease.Renewable || !s.Lease.IssuedAt.Equal(e.fv.Now())) {
				t.Errorf("lease = %+v, want a renewable hour from now", s.Lease)
			}
			if !tt.lease && (s.Lease.TTL != 0 || !s.Lease.Live(e.fv.Now().Add(1000*time.Hour))) {
				t.Errorf("a KV secret's lease %+v must never end", s.Lease)
			}
		})
	}
}

func TestProviderRenewsUpToMaxTTLAndRevokes(t *testing.T) {
	e := newVaultEnv(t)
	p := e.provider(t, nil)
	ctx := context.Background()
	s, err := p.Secret(ctx, ref, "DB")
	if err != nil {
		t.Fatal(err)
	}
	e.fv.Advance(50 * time.Minute)
	l, err := p.Renew(ctx, s.Lease, time.Hour)
	if err != nil || l.TTL != time.Hour || !l.Expires().Equal(e.fv.Now().Add(time.Hour)) {
		t.Fatalf("renew: %+v %v", l, err)
	}
	e.fv.Advance(50 * time.Minute)
	if l, err = p.Renew(ctx, l, time.Hour); err != nil {
		t.Fatal(err)
	}
	e.fv.Advance(50 * time.Minute) // 2h30 after issue; the role's max TTL is 3h
	l, err = p.Renew(ctx, l, time.Hour)
	if err != nil || l.TTL != 30*time.Minute {
		t.Fatalf("renew near the max TTL: %+v %v, want 30m left", l, err)
	}
	if err := p.Revoke(ctx, l); err != nil {
		t.Fatal(err)
	}
	if e.fv.CredentialLive(string(s.Value)) {
		t.Fatal("the credential still works after its lease was revoked")
	}
	if _, err := p.Renew(ctx, l, time.Hour); err == nil {
		t.Fatal("a revoked lease was renewed")
	}
}

func TestAppRoleLoginAndRelogin(t *testing.T) {
	e := newVaultEnv(t)
	e.fv.SetAppRole("role-1", "secret-id-1")
	p := e.provider(t, func(c *Config) {
		c.Token = ""
		c.AppRole = &AppRole{RoleID: "role-1", SecretID: "secret-id-1"}
	})
	ctx := context.Background()
	if err := p.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := p.Secret(ctx, ref, "API_KEY"); err != nil {
		t.Fatal(err)
	}
	if e.fv.Logins() != 1 {
		t.Fatalf("logins = %d, want 1", e.fv.Logins())
	}
	// The login token lives 20 minutes; past it, the provider logs in again.
	e.fv.Advance(25 * time.Minute)
	if _, err := p.Secret(ctx, ref, "API_KEY"); err != nil {
		t.Fatal(err)
	}
	if e.fv.Logins() != 2 {
		t.Fatalf("logins = %d, want a second login after the token expired", e.fv.Logins())
	}

	bad := e.provider(t, func(c *Config) {
		c.Token = ""
		c.AppRole = &AppRole{RoleID: "role-1", SecretID: "wrong-secret-id"}
	})
	err := bad.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "AppRole login") {
		t.Fatalf("bad AppRole credentials: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-id") {
		t.Fatalf("the error shows the secret id: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{Token: "t"}, "no address"},
		{"no auth", Config{Address: "http://x"}, "exactly one"},
		{"both auths", Config{Address: "http://x", Token: "t", AppRole: &AppRole{RoleID: "r", SecretID: "s"}}, "exactly one"},
		{"approle half", Config{Address: "http://x", AppRole: &AppRole{RoleID: "r"}}, "role id and a secret id"},
		{"bad name", Config{Address: "http://x", Token: "t", Secrets: map[string]Source{"db": {Engine: EngineDynamic, Path: "a/b"}}}, "not valid"},
		{"bad engine", Config{Address: "http://x", Token: "t", Secrets: map[string]Source{"DB": {Engine: "ldap", Path: "a/b"}}}, "engine"},
		{"kv no field", Config{Address: "http://x", Token: "t", Secrets: map[string]Source{"DB": {Engine: EngineKV, Path: "a"}}}, "field"},
		{"dotdot", Config{Address: "http://x", Token: "t", Secrets: map[string]Source{"DB": {Engine: EngineDynamic, Path: "a/../sys/x"}}}, "relative Vault path"},
		{"sys path", Config{Address: "http://x", Token: "t", Secrets: map[string]Source{"DB": {Engine: EngineDynamic, Path: "sys/leases/lookup"}}}, "Vault's own API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// ---- In a running plugin ----------------------------------------------

var (
	buildOnce sync.Once
	wasm      []byte
	buildErr  error
)

// leasedPlugin builds ./testdata/leased as a wasip1 reactor, once.
func leasedPlugin(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vaultsecrets-test-")
		if err != nil {
			buildErr = err
			return
		}
		out := filepath.Join(dir, "leased.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./testdata/leased")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the test plugin: %v\n%s", err, msg)
			return
		}
		wasm, buildErr = os.ReadFile(out)
		os.RemoveAll(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return wasm
}

type runEnv struct {
	*vaultEnv
	p   *sandbox.Plugin
	log *bytes.Buffer
}

func newRun(t *testing.T, lifetime sandbox.SecretLifetime) *runEnv {
	t.Helper()
	e := newVaultEnv(t)
	var logBuf bytes.Buffer
	rt, err := sandbox.NewRuntime(sandbox.Config{
		Secrets: e.provider(t, nil),
		Now:     e.fv.Now,
		Logger:  slog.New(slog.NewTextHandler(&syncWriter{w: &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	m := &manifest.Manifest{
		ManifestVersion: 1, ID: ref.ID, Version: ref.Version, Name: "leased", License: "MIT",
		Runtime:     manifest.Runtime{Module: "plugin.wasm", Exports: []string{"use", "reuse", "leak"}, HostAPI: "^1.0.0"},
		Permissions: []string{"secret:DB", "net:" + e.service.URL},
	}
	p, err := rt.Load(context.Background(), sandbox.LoadRequest{
		Manifest: m, Module: leasedPlugin(t), SecretLifetime: lifetime,
		// The plugin keeps what it was given between calls, so the tests
		// can show that a kept secret stops working.
		Isolation: sandbox.IsolationPlugin,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return &runEnv{vaultEnv: e, p: p, log: &logBuf}
}

// call runs export and returns the status the service answered.
func (r *runEnv) call(t *testing.T, export string) int {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"name": "DB", "url": r.service.URL + "/login"})
	res, err := r.p.Call(context.Background(), export, in)
	if err != nil {
		t.Fatalf("%s: %v", export, err)
	}
	var out struct{ Status int }
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatalf("%s output %q: %v", export, res.Output, err)
	}
	return out.Status
}

// TestPluginLeaseEndsAndIsRenewedAndRevoked is the proof: a
// leased secret is unusable after its lease ends and after revocation,
// inside a running plugin that kept it.
func TestPluginLeaseEndsAndIsRenewedAndRevoked(t *testing.T) {
	r := newRun(t, sandbox.SecretsPerPlugin)
	step := func(what, export string, want int) {
		t.Helper()
		if got := r.call(t, export); got != want {
			t.Fatalf("%s: the service answered %d, want %d", what, got, want)
		}
	}
	step("first use", "use", 200)
	step("reusing the kept secret within its lease", "reuse", 200)
	if r.fv.Reads() != 1 {
		t.Fatalf("Vault issued %d credentials, want 1 shared by the plugin's calls", r.fv.Reads())
	}

	// The lease ends: the value the plugin kept no longer works, and the
	// host hands out a new one rather than the ended one.
	r.fv.Advance(61 * time.Minute)
	step("reusing the kept secret after its lease ended", "reuse", 401)
	step("asking again after the lease ended", "use", 200)
	if r.fv.Reads() != 2 {
		t.Fatalf("Vault issued %d credentials, want a second after the first lease ended", r.fv.Reads())
	}

	// Two thirds into the lease the host renews it instead of replacing
	// it, so the kept value outlives its first hour.
	r.fv.Advance(45 * time.Minute)
	step("asking past two thirds of the lease", "use", 200)
	if r.fv.Reads() != 2 {
		t.Fatalf("Vault issued %d credentials, want the lease renewed, not replaced", r.fv.Reads())
	}
	r.fv.Advance(30 * time.Minute) // 75 minutes after issue
	step("reusing the renewed secret past its first hour", "reuse", 200)

	// Revocation: the kept value stops working at once.
	if err := r.p.RevokeSecrets(context.Background()); err != nil {
		t.Fatal(err)
	}
	step("reusing the kept secret after revocation", "reuse", 401)
	step("asking again after revocation", "use", 200)
	if r.fv.Reads() != 3 {
		t.Fatalf("Vault issued %d credentials, want a third after revocation", r.fv.Reads())
	}

	// Closing the plugin revokes what it holds.
	r.p.Close(context.Background())
	for _, id := range r.fv.LiveLeases() {
		t.Errorf("lease %s is still live after the plugin closed", id)
	}
}

func TestPerCallLeaseIsRevokedWhenTheCallReturns(t *testing.T) {
	r := newRun(t, sandbox.SecretsPerCall)
	if got := r.call(t, "use"); got != 200 {
		t.Fatalf("use: %d", got)
	}
	// The plugin kept the value in its memory, but the call it was leased
	// for is over.
	if got := r.call(t, "reuse"); got != 401 {
		t.Fatalf("reusing a per-call secret in a later call: the service answered %d, want 401", got)
	}
	if got := r.call(t, "use"); got != 200 {
		t.Fatalf("use again: %d", got)
	}
	if r.fv.Reads() != 2 {
		t.Fatalf("Vault issued %d credentials, want one per call", r.fv.Reads())
	}
}

// TestSecretValueNeverInLogsOrErrors: a plugin that writes its secret to
// every output the host records gets it redacted from all of them, and
// the provider's errors never carry a value either.
func TestSecretValueNeverInLogsOrErrors(t *testing.T) {
	r := newRun(t, sandbox.SecretsPerPlugin)
	in, _ := json.Marshal(map[string]string{"name": "DB", "url": r.service.URL + "/x"})
	res, err := r.p.Call(context.Background(), "leak", in)
	if err == nil {
		t.Fatal("leak succeeded; it reports an error")
	}
	var secret string
	for _, c := range r.fv.Credentials() {
		secret = c
	}
	if secret == "" {
		t.Fatal("no credential was issued")
	}
	hostCalls, _ := json.Marshal(res.HostCalls)
	logs, _ := json.Marshal(res.Logs)
	places := map[string]string{
		"the call's error":     err.Error(),
		"the host's log":       r.log.String(),
		"the plugin's log":     string(logs),
		"stdout":               string(res.Stdout),
		"stderr":               string(res.Stderr),
		"the host-call record": string(hostCalls),
	}
	for where, text := range places {
		if strings.Contains(text, secret) {
			t.Errorf("the secret appears in %s: %s", where, text)
		}
		if where != "the host's log" && where != "the host-call record" && !strings.Contains(text, "[redacted]") {
			t.Errorf("%s does not show the redaction: %s", where, text)
		}
	}

	// A Secret printed or logged by mistake shows no value.
	s := sandbox.Secret{Value: []byte(secret), Lease: sandbox.Lease{ID: "database/creds/app/x", TTL: time.Hour}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("oops", "secret", s)
	j, _ := json.Marshal(s)
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %x %q", s, s, s, s, s, s), buf.String(), string(j)} {
		if strings.Contains(text, secret) || strings.Contains(text, fmt.Sprintf("%x", secret)) {
			t.Errorf("a Secret shows its value: %s", text)
		}
	}

	// Vault's refusal of a renewal names the lease, not the value.
	p := r.provider(t, nil)
	got, err := p.Secret(context.Background(), ref, "DB")
	if err != nil {
		t.Fatal(err)
	}
	r.fv.Advance(2 * time.Hour)
	_, err = p.Renew(context.Background(), got.Lease, time.Hour)
	if err == nil || strings.Contains(err.Error(), string(got.Value)) {
		t.Fatalf("renewing an ended lease: %v", err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
