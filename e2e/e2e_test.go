package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/internal/cli"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/verify"
)

// gatehouse runs the command line in-process with the given environment.
type gatehouse struct {
	t   *testing.T
	env map[string]string
}

func (g gatehouse) with(k, v string) gatehouse {
	env := map[string]string{}
	for key, val := range g.env {
		env[key] = val
	}
	env[k] = v
	return gatehouse{t: g.t, env: env}
}

func (g gatehouse) run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return g.env[k] }})
	return code, stdout.String(), stderr.String()
}

func (g gatehouse) must(args ...string) string {
	g.t.Helper()
	code, out, errOut := g.run(args...)
	if code != 0 {
		g.t.Fatalf("gatehouse %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// refused runs a command that must exit 2 and say each of want.
func (g gatehouse) refused(want []string, args ...string) {
	g.t.Helper()
	code, out, errOut := g.run(args...)
	all := out + errOut
	if code != 2 {
		g.t.Fatalf("gatehouse %s: exit %d, want 2\n%s", strings.Join(args, " "), code, all)
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			g.t.Fatalf("gatehouse %s does not say %q:\n%s", strings.Join(args, " "), w, all)
		}
	}
}

// startMarketplace opens a marketplace in a temp data folder and serves it
// on a loopback port until the test ends; opts change its configuration
// (a provenance policy, webhooks to loopback receivers).
func startMarketplace(t *testing.T, opts ...func(*marketplace.Config)) (base, adminToken string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	data := t.TempDir()
	cfg := marketplace.Config{Data: data, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if raceEnabled {
		// Compiling modules for the behaviour scenarios is several times
		// slower under the race detector; a timeout would block a version.
		cfg.BehaviourTimeout = 8 * time.Minute
	}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := marketplace.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	if adminToken, err = marketplace.ReadAdminToken(data); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
		m.Close()
	})
	return "http://" + ln.Addr().String(), adminToken
}

// cast is a running marketplace and the people the tests play, each
// with a token of their own, through the real CLI.
type cast struct {
	base                                           string
	admin, publisher, reviewer, reviewer2, steward gatehouse
}

// startCast starts a marketplace and makes a token for each role: a
// publisher of acme, two reviewers (a high tier needs two) and a steward.
func startCast(t *testing.T, opts ...func(*marketplace.Config)) cast {
	t.Helper()
	base, adminToken := startMarketplace(t, opts...)
	c := cast{base: base, admin: gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": base, "GATEHOUSE_TOKEN": adminToken}}}
	c.publisher = c.admin.with("GATEHOUSE_TOKEN", c.token("publisher", "dev@acme.example.com", "--namespace", "acme"))
	c.reviewer = c.admin.with("GATEHOUSE_TOKEN", c.token("reviewer", "rev@gatehouse.example"))
	c.reviewer2 = c.admin.with("GATEHOUSE_TOKEN", c.token("reviewer", "rev2@gatehouse.example"))
	c.steward = c.admin.with("GATEHOUSE_TOKEN", c.token("steward", "steward@gatehouse.example"))
	return c
}

// token makes a token for subject with role, as the admin; the secret is
// all token create prints on standard output.
func (c cast) token(role, subject string, extra ...string) string {
	return strings.TrimSpace(c.admin.must(append([]string{"token", "create", "--role", role, "--subject", subject}, extra...)...))
}

// copyDir copies an example plugin's folder, as its author would have it.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == "plugin.wasm" {
			return nil // built below, from source
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var subID = regexp.MustCompile(`sub_[a-z0-9]+`)

// TestSignSubmitApproveInstallRun takes the templater example from its
// publisher's key to a sandboxed run on a host, through the real
// marketplace, and then shows the host refusing what it must refuse.
func TestSignSubmitApproveInstallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly plugin and runs the whole marketplace")
	}
	ctx := context.Background()
	c := startCast(t)
	base, publisher, reviewer, reviewer2, steward := c.base, c.publisher, c.reviewer, c.reviewer2, c.steward
	host := gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": base}} // no token

	// The publisher makes a key and registers it on the namespace.
	work := t.TempDir()
	key := filepath.Join(work, "acme.key")
	publisher.must("keys", "generate", "-o", key)
	publisher.must("namespace", "key", "add", "acme", key+".pub")

	// Build, pack and sign the example, then submit it.
	src := filepath.Join("..", "examples", "plugins", "templater")
	dir := filepath.Join(work, "templater")
	copyDir(t, src, dir)
	if _, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(work, "templater.gpkg")
	publisher.must("plugin", "pack", dir, "-o", pkg)
	publisher.must("plugin", "sign", pkg, "--key", key)
	id := subID.FindString(publisher.must("plugin", "submit", pkg))
	if id == "" {
		t.Fatal("submit printed no submission id")
	}
	// A generous wait: the templater's vetting (source analysis, a full
	// rebuild, the scenarios) takes well under a minute alone, but this
	// package shares the cores with the rest of the suite under -race.
	status := publisher.must("plugin", "status", id, "--wait", "--timeout", "8m")
	if !strings.Contains(status, "in_review") {
		t.Fatalf("after vetting:\n%s", status)
	}

	// Nothing is installable before a reviewer approves.
	code, out, errOut := host.run("install", "acme/templater@^1", "--dir", filepath.Join(work, "early"))
	if code == 0 || !strings.Contains(errOut, "acme/templater") {
		t.Fatalf("installed before approval (exit %d):\n%s%s", code, out, errOut)
	}

	// The publisher cannot approve their own plugin (separation of duties);
	// reviewers do, two when the tier asks for it.
	if code, _, _ := publisher.run("review", "approve", id); code == 0 {
		t.Fatal("the publisher approved their own submission")
	}
	reviewer.must("review", "approve", id, "-m", "templates are confined to the mount")
	if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
		reviewer2.must("review", "approve", id)
	}
	if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
		t.Fatalf("after approval:\n%s", s)
	}

	// The host installs it, with no token, and verifies the files alone.
	plugins := filepath.Join(t.TempDir(), "plugins")
	out = host.must("install", "acme/templater@^1", "--dir", plugins)
	if !strings.Contains(out, "installed acme/templater@1.0.0") {
		t.Fatalf("install:\n%s", out)
	}
	installed := filepath.Join(plugins, install.PackageFileName("acme/templater", "1.0.0"))
	policy := filepath.Join(work, "policy.json")
	os.WriteFile(policy, []byte(`{"allow": ["fs:read:/templates"]}`), 0o644)
	out = (gatehouse{t: t}).must("verify", installed, "--policy", policy)
	for _, w := range []string{"verified acme/templater@1.0.0", "publisher-signature", "log-inclusion", "host-policy"} {
		if !strings.Contains(out, w) {
			t.Fatalf("verify does not report %q:\n%s", w, out)
		}
	}

	// ... and runs it in the sandbox.
	input := `{"template": "welcome.txt", "data": {"name": "Ada", "team": "Platform", "tasks": ["Read the handbook"]}}`
	out = (gatehouse{t: t}).must("run", installed, "--policy", policy, "--call", "render", "--input", input, "--mount", "templates="+filepath.Join(src, "templates"))
	var rendered struct{ Text string }
	if err := json.Unmarshal([]byte(out), &rendered); err != nil {
		t.Fatalf("run output %q: %v", out, err)
	}
	if want := "Hello Ada,\n\nWelcome to Platform! Your first tasks:\n- Read the handbook\n"; !strings.HasPrefix(rendered.Text, want) {
		t.Fatalf("rendered %q, want it to start with %q", rendered.Text, want)
	}

	// A second install with the lock file installs exactly the pinned bytes.
	before, _ := os.ReadFile(installed)
	out = host.must("install", "acme/templater@^1", "--dir", plugins)
	if after, _ := os.ReadFile(installed); !strings.Contains(out, "pinned") || !bytes.Equal(before, after) {
		t.Fatalf("the second install did not keep the pinned bytes:\n%s", out)
	}

	// The refusals, each with its own reason.
	offline := gatehouse{t: t}
	files := install.Beside(installed)
	flags := func(extra ...string) []string {
		return append([]string{"--bundle", files.Bundle, "--trust-root", files.TrustRoot, "--revocations", files.Revocations, "--state", files.StateDir}, extra...)
	}
	t.Run("one flipped byte", func(t *testing.T) {
		bad := bytes.Clone(before)
		bad[len(bad)/3] ^= 0x01
		p := filepath.Join(t.TempDir(), "flipped.gpkg")
		os.WriteFile(p, bad, 0o644)
		offline.refused([]string{"the digest check failed"}, append([]string{"verify", p}, flags()...)...)
		offline.refused([]string{"refusing to run", "digest"}, append([]string{"run", p, "--call", "render"}, flags()...)...)
	})
	t.Run("a revocation list past its maximum age", func(t *testing.T) {
		offline.refused([]string{"the revocation-list check failed", "stale"}, "verify", installed, "--max-age", "1ms")
	})
	t.Run("a checkpoint older than the last one seen", func(t *testing.T) {
		// The log moves on (a second publisher key is logged), the host
		// verifies a fresh bundle with a consistency proof from the log's
		// tiles, and the bundle from install time is then refused.
		key2 := filepath.Join(t.TempDir(), "second.key")
		publisher.must("keys", "generate", "-o", key2)
		publisher.must("namespace", "key", "add", "acme", key2+".pub")
		fresh := filepath.Join(t.TempDir(), "fresh.bundle.json")
		fetchTo(t, base+"/api/v1/plugins/acme/templater/versions/1.0.0/bundle", fresh)
		offline.refused([]string{"the log-consistency check failed", "no consistency proof source"}, "verify", installed, "--bundle", fresh)
		offline.must("verify", installed, "--bundle", fresh, "--log", base+"/log")
		offline.refused([]string{"the log-consistency check failed", "older than the last one seen"}, "verify", installed)
		// A monitor sees the same log grow consistently.
		since := filepath.Join(t.TempDir(), "checkpoint")
		os.WriteFile(since, []byte(bundleCheckpoint(t, files.Bundle)), 0o644)
		if _, _, errOut := host.run("log", "verify", "--since", since, "--trust-root", files.TrustRoot); !strings.Contains(errOut, "consistent") {
			t.Fatalf("log verify: %s", errOut)
		}
	})
	t.Run("a revoked digest", func(t *testing.T) {
		steward.must("certificate", "revoke", id, "--reason", "e2e: a backdoor was found")
		revs := filepath.Join(t.TempDir(), "revocations.json")
		fetchTo(t, base+"/api/v1/revocations", revs)
		fresh := filepath.Join(t.TempDir(), "fresh.bundle.json")
		fetchTo(t, base+"/api/v1/plugins/acme/templater/versions/1.0.0/bundle", fresh)
		offline.refused([]string{"the revocation check failed", "a backdoor was found"}, "verify", installed, "--revocations", revs, "--bundle", fresh, "--log", base+"/log")
		offline.refused([]string{"refusing to run", "revocation"}, "run", installed, "--revocations", revs, "--bundle", fresh, "--log", base+"/log", "--call", "render")
		// Installing it again is refused too.
		if code, out, errOut := host.run("install", "acme/templater@^1", "--dir", t.TempDir()); code == 0 {
			t.Fatalf("a revoked version installed:\n%s%s", out, errOut)
		}
	})
}

// fetchTo saves what a public URL answers.
func fetchTo(t *testing.T, url, path string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s %v", url, resp.Status, data, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bundleCheckpoint returns the signed checkpoint a bundle file proves
// against.
func bundleCheckpoint(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verify.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return b.Log.Checkpoint
}
