package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
)

// installedTwice installs acme/a 1.0.0 with the real command line, then
// updates it to 1.1.0; it returns the folder and 1.0.0 as published.
func installedTwice(t *testing.T, m *installtest.Market) (string, *installtest.Version) {
	t.Helper()
	old := m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	dir := t.TempDir()
	code, out := gh(t, "--server", m.URL(), "install", "acme/a", "--dir", dir, "--reason", "first install")
	wantExit(t, code, out, 0, "installed acme/a@1.0.0")
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.1.0"})
	code, out = gh(t, "--server", m.URL(), "install", "acme/a", "--update", "--dir", dir, "--reason", "CVE-2026-1 fixed")
	wantExit(t, code, out, 0, "installed acme/a@1.1.0", "kept acme/a@1.0.0 for rollback")
	return dir, old
}

// TestRollbackCommand guards `gatehouse rollback` and `install --history`
// as a host operator uses them: offline, the rollback pins 1.0.0 again
// after verifying it, `gatehouse verify` passes on it, the history shows
// install, update and rollback as a table and as JSON, and a rollback
// with nothing earlier is refused with the reason.
func TestRollbackCommand(t *testing.T) {
	m := installtest.New(t, time.Now().Add(-time.Hour))
	dir, old := installedTwice(t, m)
	m.Server.Close() // everything below is offline

	code, out := gh(t, "rollback", "acme/a", "--dir", dir, "--reason", "1.1.0 times out", "--by", "ops")
	wantExit(t, code, out, 0, "rolled back acme/a from 1.1.0 to 1.0.0 ("+old.Digest+")", "verified acme/a@1.0.0", "ok    revocation", "recorded in gatehouse.history: rollback acme/a@1.0.0")
	code, out = gh(t, "verify", filepath.Join(dir, install.PackageFileName("acme/a", "1.0.0")))
	wantExit(t, code, out, 0, "verified acme/a@1.0.0", old.Digest)

	code, out = gh(t, "install", "--history", "--dir", dir)
	wantExit(t, code, out, 0, "ACTION", "install   acme/a  1.0.0", "update    acme/a  1.1.0    1.0.0", "rollback  acme/a  1.0.0    1.1.0", "1.1.0 times out", "ops")
	code, out = gh(t, "install", "--history", "acme/a", "--dir", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("install --history -o json: exit %d\n%s", code, out)
	}
	var h install.History
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("-o json is not the history's JSON: %v\n%s", err, out)
	}
	var actions []string
	for _, r := range h.Records {
		actions = append(actions, string(r.Action)+" "+r.Version)
	}
	if got, want := strings.Join(actions, ", "), "install 1.0.0, update 1.1.0, rollback 1.0.0"; got != want {
		t.Errorf("history records %s, want %s", got, want)
	}

	code, out = gh(t, "rollback", "acme/a", "--dir", dir)
	wantExit(t, code, out, 1, "no earlier version to roll back to", "acme/a@1.0.0 is the first version")
	code, out = gh(t, "install", "--history", "acme/a@1.0.0", "--dir", dir)
	wantExit(t, code, out, 1, "without a version")
	code, out = gh(t, "install", "acme/a", "--dir", dir, "-o", "json")
	wantExit(t, code, out, 1, "-o goes with --history")
}

// TestRollbackCommandRefusesARevokedVersion guards a rollback to a
// version revoked after the host moved past it: `verify --refresh` says
// the kept version would be refused, and `gatehouse rollback` refuses it
// with the revocation's reason (exit 2), leaving the lock as it was.
func TestRollbackCommandRefusesARevokedVersion(t *testing.T) {
	m := installtest.New(t, time.Now().Add(-time.Hour))
	dir, old := installedTwice(t, m)
	m.Revoke(old, "exfiltrates tokens")

	code, out := gh(t, "verify", "--refresh", dir)
	wantExit(t, code, out, 0, "ok    acme/a@1.1.0", "kept  acme/a@1.0.0 for rollback: a rollback to it would be refused", "exfiltrates tokens")
	lock, err := os.ReadFile(filepath.Join(dir, install.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	code, out = gh(t, "rollback", "acme/a", "--dir", dir)
	wantExit(t, code, out, 2, "FAIL  revocation", "exfiltrates tokens", "acme/a was not rolled back: the revocation check failed; gatehouse.lock is unchanged")
	if after, _ := os.ReadFile(filepath.Join(dir, install.LockFile)); string(after) != string(lock) {
		t.Errorf("the refused rollback changed the lock:\n%s", after)
	}
}
