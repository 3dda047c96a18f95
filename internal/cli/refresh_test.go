package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
)

// TestVerifyRefresh guards `gatehouse verify --refresh`: it records the
// marketplace's newer revocation list, reports the plugin it revokes, and an
// older list put back afterwards is refused as a replay.
func TestVerifyRefresh(t *testing.T) {
	m := installtest.New(t, time.Now().Add(-time.Hour))
	base := m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.2.0"})
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.0.0"})
	dir := t.TempDir()
	code, out := gh(t, "--server", m.URL(), "install", "acme/base", "--dir", dir)
	wantExit(t, code, out, 0, "installed acme/base@1.2.0")
	code, out = gh(t, "--server", m.URL(), "install", "acme/app", "--dir", dir)
	wantExit(t, code, out, 0, "installed acme/app@1.0.0")
	files := install.Beside(filepath.Join(dir, install.PackageFileName("acme/base", "1.2.0")))
	older, err := os.ReadFile(files.Revocations)
	if err != nil {
		t.Fatal(err)
	}
	m.Revoke(base, "compromised")
	m.Publish(installtest.Plugin{ID: "acme/later", Version: "1.0.0"}) // the log moves on

	// The lock names the marketplace: no --server needed.
	code, out = gh(t, "verify", "--refresh", dir)
	wantExit(t, code, out, 2, "refreshed from "+m.URL(), "revocation list 2", "recorded in", "FAIL  acme/base@1.2.0", "compromised", "ok    acme/app@1.0.0")

	app := filepath.Join(dir, install.PackageFileName("acme/app", "1.0.0"))
	code, out = gh(t, "verify", "--refresh", app)
	wantExit(t, code, out, 0, "refreshed from", "verified acme/app@1.0.0")

	if err := os.WriteFile(files.Revocations, older, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = gh(t, "verify", files.Package)
	wantExit(t, code, out, 2, "FAIL  revocation-list", "revocation list 1 is older than list 2 already seen", "replayed list")
}
