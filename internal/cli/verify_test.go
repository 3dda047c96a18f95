package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// gh runs the command line and returns its exit code and output.
func gh(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
	return code, out.String()
}

func wantExit(t *testing.T, code int, out string, wantCode int, wantText ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("exit %d, want %d:\n%s", code, wantCode, out)
	}
	for _, w := range wantText {
		if !strings.Contains(out, w) {
			t.Fatalf("output does not say %q:\n%s", w, out)
		}
	}
}

func TestInstallVerifyRefusals(t *testing.T) {
	m := installtest.New(t, time.Now().Add(-time.Hour))
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.2.0", Permissions: []string{"kv:read"}})
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.0.0", Dependencies: map[string]string{"acme/base": "^1.0.0"}})
	dir := t.TempDir()
	code, out := gh(t, "--server", m.URL(), "install", "acme/app@^1", "--dir", dir)
	wantExit(t, code, out, 0, "installed acme/app@1.0.0", "installed acme/base@1.2.0", "trusting "+m.URL()+" on first use")
	pkg := filepath.Join(dir, install.PackageFileName("acme/base", "1.2.0"))

	code, out = gh(t, "verify", pkg)
	wantExit(t, code, out, 0, "verified acme/base@1.2.0", "log-consistency", "not checked: no --policy")

	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"allow":["net:*"]}`), 0o644)
	code, out = gh(t, "verify", pkg, "--policy", policy)
	wantExit(t, code, out, 2, "FAIL  host-policy", `granted "kv:read"`)

	t.Run("one flipped byte", func(t *testing.T) {
		data, _ := os.ReadFile(pkg)
		data[len(data)/2] ^= 1
		bad := filepath.Join(t.TempDir(), filepath.Base(pkg))
		os.WriteFile(bad, data, 0o644)
		f := install.Beside(pkg)
		code, out := gh(t, "verify", bad, "--bundle", f.Bundle, "--trust-root", f.TrustRoot, "--revocations", f.Revocations, "--state", f.StateDir)
		wantExit(t, code, out, 2, "the digest check failed", "FAIL  digest")
	})

	t.Run("a checkpoint older than the last one seen", func(t *testing.T) {
		old, _ := os.ReadFile(install.Beside(pkg).Bundle)
		m.Publish(installtest.Plugin{ID: "acme/more", Version: "1.0.0"})
		code, out := gh(t, "--server", m.URL(), "install", "acme/more", "--dir", dir)
		wantExit(t, code, out, 0, "installed acme/more@1.0.0")
		// The bundle beside base is now older than the state's checkpoint.
		stale := filepath.Join(t.TempDir(), "stale.bundle.json")
		os.WriteFile(stale, old, 0o644)
		code, out = gh(t, "verify", pkg, "--bundle", stale)
		wantExit(t, code, out, 2, "the log-consistency check failed", "older than the last one seen", "ok    log-inclusion")
	})

	t.Run("a newer checkpoint needs a proof", func(t *testing.T) {
		m.Publish(installtest.Plugin{ID: "acme/later", Version: "1.0.0"})
		m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.2.1"})
		fresh := freshBundle(t, m, "acme/base", "1.2.0")
		code, out := gh(t, "verify", pkg, "--bundle", fresh)
		wantExit(t, code, out, 2, "log-consistency", "no consistency proof source")
		code, out = gh(t, "verify", pkg, "--bundle", fresh, "--log", m.URL()+"/log")
		wantExit(t, code, out, 0, "verified acme/base@1.2.0")
	})

	t.Run("a revoked digest", func(t *testing.T) {
		m.Revoke(findVersion(t, m, "acme/base", "1.2.0"), "a backdoor was found")
		revs, _ := trust.MarshalEnvelope(m.Revocations())
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "revocations.json"), revs, 0o644)
		code, out := gh(t, "verify", pkg, "--revocations", filepath.Join(d, "revocations.json"), "--bundle", freshBundle(t, m, "acme/base", "1.2.0"), "--log", m.URL()+"/log")
		wantExit(t, code, out, 2, "the revocation check failed", "a backdoor was found")
		// Install refuses it too, and says why.
		code, out = gh(t, "--server", m.URL(), "install", "acme/base@1.2.0", "--dir", t.TempDir())
		wantExit(t, code, out, 1, "no certified version of acme/base satisfies 1.2.0")
	})

	t.Run("a revocation list past its next update", func(t *testing.T) {
		m.SetNow(time.Now().Add(-30 * time.Hour))
		m.PublishRevocations()
		revs, _ := trust.MarshalEnvelope(m.Revocations())
		p := filepath.Join(t.TempDir(), "revocations.json")
		os.WriteFile(p, revs, 0o644)
		code, out := gh(t, "verify", filepath.Join(dir, install.PackageFileName("acme/more", "1.0.0")), "--revocations", p, "--bundle", freshBundle(t, m, "acme/more", "1.0.0"), "--log", m.URL()+"/log")
		wantExit(t, code, out, 2, "the revocation-list check failed", "stale")
	})

	t.Run("no bundle", func(t *testing.T) {
		bare := filepath.Join(t.TempDir(), "x.gpkg")
		data, _ := os.ReadFile(pkg)
		os.WriteFile(bare, data, 0o644)
		code, out := gh(t, "verify", bare)
		wantExit(t, code, out, 2, "the setup check failed", "certificate bundle")
		// The sandbox refuses it before loading anything.
		code, out = gh(t, "run", bare, "--call", "run")
		wantExit(t, code, out, 2, "refusing to run", "the setup check failed", "--insecure-skip-verify")
	})
}

func findVersion(t *testing.T, m *installtest.Market, id, version string) *installtest.Version {
	t.Helper()
	for _, v := range m.Versions(id) {
		if v.Version == version {
			return v
		}
	}
	t.Fatalf("no %s@%s", id, version)
	return nil
}

// freshBundle writes a version's bundle against the log's current
// checkpoint, as the marketplace serves it now.
func freshBundle(t *testing.T, m *installtest.Market, id, version string) string {
	t.Helper()
	data, err := m.FreshBundle(findVersion(t, m, id, version)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fresh.bundle.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogVerify(t *testing.T) {
	m := installtest.New(t, time.Now())
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	d := t.TempDir()
	rootFile := filepath.Join(d, "trust-root.json")
	os.WriteFile(rootFile, m.TrustRootJSON(), 0o644)
	_, signed := m.Log.Checkpoint()
	since := filepath.Join(d, "checkpoint")
	os.WriteFile(since, signed, 0o644)
	for i := range 300 { // across a tile boundary
		if _, err := m.Log.Append(context.Background(), []byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
	}
	code, out := gh(t, "--server", m.URL(), "log", "verify", "--since", since, "--trust-root", rootFile)
	wantExit(t, code, out, 0, "grew from 1 to 301 entries", "301\n")
	code, out = gh(t, "--server", m.URL(), "log", "verify", "--since", since, "--update")
	wantExit(t, code, out, 0)
	if now, _ := os.ReadFile(since); !bytes.Contains(now, []byte("\n301\n")) {
		t.Fatalf("--update wrote %q", now)
	}

	// A fork: another tree under the same key. One larger than the real
	// log reads as a rollback, one smaller fails the consistency proof.
	for _, c := range []struct {
		entries int
		says    string
	}{{400, "rollback"}, {5, "fork"}, {301, "fork"}} {
		fork, err := tlog.Open(t.TempDir(), tlog.Options{Origin: installtest.Origin, Signer: m.LogSigner})
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.entries {
			fork.Append(context.Background(), []byte{'f', byte(i), byte(i >> 8)})
		}
		_, forked := fork.Checkpoint()
		fork.Close()
		os.WriteFile(since, forked, 0o644)
		code, out = gh(t, "--server", m.URL(), "log", "verify", "--since", since, "--trust-root", rootFile)
		wantExit(t, code, out, 2, "log verify: "+c.says)
	}

	// A checkpoint signed by another key.
	other := installtest.New(t, time.Now())
	_, foreign := other.Log.Checkpoint()
	os.WriteFile(since, foreign, 0o644)
	code, out = gh(t, "--server", m.URL(), "log", "verify", "--since", since, "--trust-root", rootFile)
	wantExit(t, code, out, 2, "the saved checkpoint")
}

// TestAISWAPolicyAllowsExactlyWhatItLists: an AI-SWA policy file (seed
// 003: {"plugins": {ID: {"permissions": [...]}}}) given to verify and
// install loads exactly the plugins it lists, each with only the
// permissions listed for it.
func TestAISWAPolicyAllowsExactlyWhatItLists(t *testing.T) {
	m := installtest.New(t, time.Now().Add(-time.Hour))
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.2.0", Permissions: []string{"kv:read"}})
	m.Publish(installtest.Plugin{ID: "acme/other", Version: "1.0.0", Permissions: []string{"kv:read"}})
	dir := t.TempDir()
	for _, id := range []string{"acme/base", "acme/other"} {
		code, out := gh(t, "--server", m.URL(), "install", id, "--dir", dir)
		wantExit(t, code, out, 0, "installed "+id)
	}
	base := filepath.Join(dir, install.PackageFileName("acme/base", "1.2.0"))
	other := filepath.Join(dir, install.PackageFileName("acme/other", "1.0.0"))
	for _, tc := range []struct {
		name, policy, pkg string
		ok                bool
		says              string
	}{
		{"listed with its permission", `{"plugins": {"acme/base": {"permissions": ["kv:read"]}}}`, base, true, "verified acme/base@1.2.0"},
		{"listed with a matching prefix", `{"plugins": {"acme/base": {"permissions": ["kv:*"]}}}`, base, true, "verified acme/base@1.2.0"},
		{"not listed", `{"plugins": {"acme/base": {"permissions": ["kv:read"]}}}`, other, false, "acme/other is not one of them"},
		{"listed without the permission", `{"plugins": {"acme/other": {"permissions": ["net:https://api.example.com"]}}}`, other, false, `does not list for acme/other`},
		{"listed, with no permissions", `{"plugins": {"acme/other": {"permissions": []}}}`, other, false, `granted "kv:read"`},
		{"nothing listed", `{"plugins": {}}`, base, false, "acme/base is not one of them"},
		{"both forms: the allow list also decides", `{"allow": ["net:*"], "plugins": {"acme/base": {"permissions": ["kv:read"]}}}`, base, false, "allow list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := filepath.Join(t.TempDir(), "policy.json")
			os.WriteFile(policy, []byte(tc.policy), 0o644)
			code, out := gh(t, "verify", tc.pkg, "--policy", policy)
			if tc.ok {
				wantExit(t, code, out, 0, tc.says, "ok    host-policy")
			} else {
				wantExit(t, code, out, 2, "FAIL  host-policy", tc.says)
			}
		})
	}
	t.Run("install", func(t *testing.T) {
		policy := filepath.Join(t.TempDir(), "policy.json")
		os.WriteFile(policy, []byte(`{"plugins": {"acme/base": {"permissions": ["kv:read"]}}}`), 0o644)
		code, out := gh(t, "--server", m.URL(), "install", "acme/base", "--dir", t.TempDir(), "--policy", policy)
		wantExit(t, code, out, 0, "installed acme/base@1.2.0")
		code, out = gh(t, "--server", m.URL(), "install", "acme/other", "--dir", t.TempDir(), "--policy", policy)
		if code == 0 || !strings.Contains(out, "acme/other is not one of them") {
			t.Fatalf("install of an unlisted plugin: exit %d\n%s", code, out)
		}
	})
}
