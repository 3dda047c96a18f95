package install_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// installThenUpdate installs acme/a 1.0.0 into a new folder, publishes
// 1.1.0 and updates to it, as a host does; it returns the folder and the
// two published versions.
func installThenUpdate(t *testing.T, m *installtest.Market, v1 installtest.Plugin) (dir string, old, cur *installtest.Version) {
	t.Helper()
	old = m.Publish(v1)
	dir = t.TempDir()
	opts := options(t, m, dir)
	opts.Reason, opts.By = "first install", "ops"
	mustInstall(t, "acme/a", opts)
	cur = m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.1.0"})
	opts.Update, opts.Reason = true, "CVE-2026-1 fixed"
	mustInstall(t, "acme/a", opts)
	return dir, old, cur
}

func readLock(t *testing.T, dir string) *install.Lock {
	t.Helper()
	l, err := install.ReadLock(filepath.Join(dir, install.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func pin(t *testing.T, dir, id string) install.LockEntry {
	t.Helper()
	for _, e := range readLock(t, dir).Plugins {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("the lock does not pin %s", id)
	return install.LockEntry{}
}

func readHistory(t *testing.T, dir string) *install.History {
	t.Helper()
	h, err := install.ReadHistory(filepath.Join(dir, install.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// story is a history as one line per record: "action version<-previous".
func story(h *install.History, id string) string {
	var s []string
	for _, r := range h.For(id) {
		line := string(r.Action) + " " + r.Version
		if r.Previous != "" {
			line += "<-" + r.Previous
		}
		s = append(s, line)
	}
	return strings.Join(s, ", ")
}

// TestRollbackRestoresThePreviousVersion guards the one-step rollback a
// host runs when an update misbehaves: offline, the lock pins the old
// version with its original digest again, that version verifies as
// `gatehouse verify` checks it, and the history tells install, update and
// rollback with their reasons.
func TestRollbackRestoresThePreviousVersion(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	dir, old, _ := installThenUpdate(t, m, installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	if got := pin(t, dir, "acme/a"); got.Version != "1.1.0" {
		t.Fatalf("after the update the lock pins %s", got.Version)
	}
	m.Server.Close() // rollback needs no network

	res, err := install.Rollback(context.Background(), "acme/a", install.RollbackOptions{
		Dir: dir, Reason: "1.1.0 times out", By: "ops", Check: hostCheck(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.From.Version != "1.1.0" || res.To.Version != "1.0.0" || res.To.Digest != old.Digest || res.To.Result == nil {
		t.Fatalf("rolled back from %s to %s (%s), want 1.1.0 to 1.0.0 (%s)", res.From.Version, res.To.Version, res.To.Digest, old.Digest)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
	if got := pin(t, dir, "acme/a"); got.Version != "1.0.0" || got.Digest != old.Digest || got.Bundle != "acme__a@1.0.0.bundle.json" {
		t.Fatalf("the lock pins %+v, want 1.0.0 with %s", got, old.Digest)
	}
	// The folder verifies as a host loads it, pinned by the lock.
	if _, vr, err := install.VerifyFile(context.Background(), install.Beside(filepath.Join(dir, "acme__a@1.0.0.gpkg")), hostCheck()); err != nil || vr.Version != "1.0.0" {
		t.Fatalf("the rolled-back version does not verify: %v", err)
	}
	h := readHistory(t, dir)
	if got, want := story(h, "acme/a"), "install 1.0.0, update 1.1.0<-1.0.0, rollback 1.0.0<-1.1.0"; got != want {
		t.Fatalf("history: %s, want %s", got, want)
	}
	var reasons []string
	for _, r := range h.Records {
		reasons = append(reasons, r.Reason+" by "+r.By)
		if r.Time.Location() != time.UTC || r.Time.IsZero() {
			t.Errorf("record time %v, want UTC", r.Time)
		}
	}
	if want := []string{"first install by ops", "CVE-2026-1 fixed by ops", "1.1.0 times out by ops"}; !slices.Equal(reasons, want) {
		t.Errorf("reasons %q, want %q", reasons, want)
	}
	// The version rolled back from stays for a rollback forward.
	if _, err := os.Stat(filepath.Join(dir, "acme__a@1.1.0.gpkg")); err != nil {
		t.Errorf("1.1.0 is no longer kept: %v", err)
	}
}

// TestRollbackGoesFurtherBackAndKeepsRecentVersions guards the decisions
// a user sees over several versions: each rollback goes one version
// further back (never forward), --to goes anywhere kept, and the folder
// keeps only the Keep most recently used earlier versions, saying how to
// get an older one back.
func TestRollbackGoesFurtherBackAndKeepsRecentVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := installtest.New(t, t0)
	dir := t.TempDir()
	opts := options(t, m, dir)
	opts.Keep, opts.Update = 2, true
	var res *install.Result
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		m.Publish(installtest.Plugin{ID: "acme/a", Version: v})
		res = mustInstall(t, "acme/a", opts)
	}
	var kept []string
	for _, k := range res.Kept {
		if k.Err != nil {
			t.Errorf("kept %s@%s does not verify: %v", k.ID, k.Version, k.Err)
		}
		kept = append(kept, k.Version)
	}
	if want := []string{"1.2.0", "1.1.0"}; !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	for _, name := range []string{"acme__a@1.0.0.gpkg", "acme__a@1.0.0.bundle.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there with Keep 2 (stat: %v)", name, err)
		}
	}
	roll := func(to string) (*install.RolledBack, error) {
		return install.Rollback(ctx, "acme/a", install.RollbackOptions{Dir: dir, To: to, Keep: 2, Check: hostCheck()})
	}
	for _, want := range []string{"1.2.0", "1.1.0"} {
		r, err := roll("")
		if err != nil {
			t.Fatal(err)
		}
		if r.To.Version != want {
			t.Fatalf("rolled back to %s, want %s", r.To.Version, want)
		}
	}
	_, err := roll("")
	if !errors.Is(err, install.ErrNotKept) || !strings.Contains(err.Error(), "gatehouse install acme/a@1.0.0 --update") {
		t.Fatalf("err = %v, want 1.0.0 not kept, with the install command that brings it back", err)
	}
	r, err := roll("1.3.0")
	if err != nil || r.To.Version != "1.3.0" {
		t.Fatalf("rollback --to 1.3.0: %+v, %v", r, err)
	}
	if got, want := story(readHistory(t, dir), "acme/a"), "install 1.0.0, update 1.1.0<-1.0.0, update 1.2.0<-1.1.0, update 1.3.0<-1.2.0, rollback 1.2.0<-1.3.0, rollback 1.1.0<-1.2.0, rollback 1.3.0<-1.1.0"; got != want {
		t.Errorf("history: %s\nwant %s", got, want)
	}
}

// TestRollbackRefusals guards what a rollback must refuse, each with the
// reason a person can act on, and that a refused rollback changes neither
// the lock nor the history.
func TestRollbackRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		// v1 is acme/a 1.0.0 as published; zero means no permissions.
		v1 installtest.Plugin
		// prepare changes the folder or the marketplace before the rollback.
		prepare func(t *testing.T, m *installtest.Market, dir string, old *installtest.Version)
		opts    install.RollbackOptions
		reason  error
		check   verify.Check
		says    string
	}{
		{
			name: "a version revoked since the update",
			prepare: func(t *testing.T, m *installtest.Market, dir string, old *installtest.Version) {
				m.Revoke(old, "exfiltrates tokens")
				// The host learns of it as it does: a refresh.
				if _, err := install.Refresh(context.Background(), options(t, m, dir).Source, folderFiles(dir), hostCheck()); err != nil {
					t.Fatal(err)
				}
			},
			reason: verify.ErrRevoked, check: verify.CheckRevoked, says: "exfiltrates tokens",
		},
		{
			name: "a kept package altered on disk",
			prepare: func(t *testing.T, m *installtest.Market, dir string, old *installtest.Version) {
				p := filepath.Join(dir, "acme__a@1.0.0.gpkg")
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				data[len(data)/2] ^= 1
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			reason: trust.ErrWrongDigest, check: verify.CheckDigest, says: "damaged or was altered",
		},
		{
			name:   "a certificate expired since",
			opts:   install.RollbackOptions{Check: install.Check{Policy: verify.Policy{Allow: []string{"*"}}, Now: func() time.Time { return t0.Add(91 * 24 * time.Hour) }}},
			check:  verify.CheckValidity,
			says:   "expired",
			reason: trust.ErrExpired,
		},
		{
			name:  "a revocation list past its next update (a host offline too long)",
			opts:  install.RollbackOptions{Check: install.Check{Policy: verify.Policy{Allow: []string{"*"}}, Now: func() time.Time { return t0.Add(30 * time.Hour) }}},
			check: verify.CheckRevocationList, reason: trust.ErrStaleList, says: "fetch a fresh list",
		},
		{
			name:  "a permission the host policy no longer accepts",
			v1:    installtest.Plugin{ID: "acme/a", Version: "1.0.0", Permissions: []string{"kv:write"}},
			opts:  install.RollbackOptions{Check: install.Check{Policy: verify.Policy{Allow: []string{"kv:read"}}, Now: hostCheck().Now}},
			check: verify.CheckPolicy, reason: verify.ErrNotAllowed, says: `"kv:write"`,
		},
		{
			name: "no version before the first",
			prepare: func(t *testing.T, m *installtest.Market, dir string, old *installtest.Version) {
				if _, err := install.Rollback(context.Background(), "acme/a", install.RollbackOptions{Dir: dir, Check: hostCheck()}); err != nil {
					t.Fatal(err)
				}
			},
			reason: install.ErrNoEarlierVersion, says: "acme/a@1.0.0 is the first version of acme/a pinned",
		},
		{
			name:   "a version never pinned",
			opts:   install.RollbackOptions{To: "0.9.0"},
			reason: install.ErrNotInHistory, says: "pinned before: 1.0.0",
		},
		{
			name: "the version already pinned",
			opts: install.RollbackOptions{To: "1.1.0"},
			says: "acme/a@1.1.0 is already pinned",
		},
		{
			name: "a kept package removed by hand",
			prepare: func(t *testing.T, m *installtest.Market, dir string, old *installtest.Version) {
				if err := os.Remove(filepath.Join(dir, "acme__a@1.0.0.gpkg")); err != nil {
					t.Fatal(err)
				}
			},
			reason: install.ErrNotKept, says: "gatehouse install acme/a@1.0.0 --update --dir",
		},
		{
			name: "a pinned plugin that needs the newer version",
			prepare: func(t *testing.T, m *installtest.Market, dir string, old *installtest.Version) {
				m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.0.0", Dependencies: map[string]string{"acme/a": "^1.1.0"}})
				mustInstall(t, "acme/app", options(t, m, dir))
			},
			reason: install.ErrConflict, says: "acme/app@1.0.0, pinned, depends on acme/a ^1.1.0, which 1.0.0 does not satisfy",
		},
		{
			name:   "a reason that would rewrite the terminal",
			opts:   install.RollbackOptions{Reason: "fine\x1b[2K\rall good"},
			says:   "control character U+001B",
			reason: nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := installtest.New(t, t0)
			v1 := c.v1
			if v1.ID == "" {
				v1 = installtest.Plugin{ID: "acme/a", Version: "1.0.0"}
			}
			dir, old, _ := installThenUpdate(t, m, v1)
			if c.prepare != nil {
				c.prepare(t, m, dir, old)
			}
			lockBefore, _ := os.ReadFile(filepath.Join(dir, install.LockFile))
			histBefore, _ := os.ReadFile(filepath.Join(dir, install.HistoryFile))
			opts := c.opts
			opts.Dir = dir
			if opts.Check.Now == nil {
				opts.Check = hostCheck()
			}
			_, err := install.Rollback(ctx, "acme/a", opts)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want a refusal saying %q", err, c.says)
			}
			if c.reason != nil && !errors.Is(err, c.reason) {
				t.Errorf("err = %v, want %v", err, c.reason)
			}
			var ve *verify.Error
			if c.check != "" && (!errors.As(err, &ve) || ve.Check != c.check) {
				t.Errorf("err = %v, want the %s check to fail", err, c.check)
			}
			if lockAfter, _ := os.ReadFile(filepath.Join(dir, install.LockFile)); !bytes.Equal(lockAfter, lockBefore) {
				t.Errorf("a refused rollback changed the lock:\n%s", lockAfter)
			}
			if histAfter, _ := os.ReadFile(filepath.Join(dir, install.HistoryFile)); !bytes.Equal(histAfter, histBefore) {
				t.Errorf("a refused rollback changed the history:\n%s", histAfter)
			}
		})
	}
}

// failOn writes every file but name, which fails as a full disk would.
func failOn(name string) func(string, []byte, fs.FileMode) error {
	return func(path string, data []byte, mode fs.FileMode) error {
		if filepath.Base(path) == name {
			return errors.New("no space left on device")
		}
		return trust.WriteFileAtomic(path, data, mode)
	}
}

// TestFailedLockWriteLeavesTheFolderAsItWas guards the commit point: when
// the lock cannot be written, the rollback fails, says the lock is
// unchanged, and the history and the kept files are as they were.
func TestFailedLockWriteLeavesTheFolderAsItWas(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	dir, _, _ := installThenUpdate(t, m, installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	entries := func() []string {
		names, _ := filepath.Glob(filepath.Join(dir, "*"))
		return names
	}
	lockBefore, _ := os.ReadFile(filepath.Join(dir, install.LockFile))
	histBefore, _ := os.ReadFile(filepath.Join(dir, install.HistoryFile))
	filesBefore := entries()

	_, err := install.RollbackWith(context.Background(), "acme/a", install.RollbackOptions{Dir: dir, Check: hostCheck()}, failOn(install.LockFile))
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("err = %v, want the failed write, saying nothing changed", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, install.LockFile)); !bytes.Equal(after, lockBefore) {
		t.Error("the lock changed")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, install.HistoryFile)); !bytes.Equal(after, histBefore) {
		t.Error("the history changed")
	}
	if after := entries(); !slices.Equal(after, filesBefore) {
		t.Errorf("files changed: %v, were %v", after, filesBefore)
	}
}

// TestCrashBetweenLockAndHistoryIsRecordedLate guards the order lock, then
// history: a crash between the two leaves a history that lags the lock
// (never one that claims a change the lock lacks), the lag is reported,
// and the next rollback records it before its own record.
func TestCrashBetweenLockAndHistoryIsRecordedLate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := installtest.New(t, t0)
	dir, _, _ := installThenUpdate(t, m, installtest.Plugin{ID: "acme/a", Version: "1.0.0"})

	res, err := install.RollbackWith(ctx, "acme/a", install.RollbackOptions{Dir: dir, Check: hostCheck()}, failOn(install.HistoryFile))
	if err != nil {
		t.Fatalf("the lock was written, so the rollback is in effect: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "recorded late") {
		t.Fatalf("warnings = %q, want one saying the rollback will be recorded late", res.Warnings)
	}
	lock := readLock(t, dir)
	h := readHistory(t, dir)
	if got, want := story(h, "acme/a"), "install 1.0.0, update 1.1.0<-1.0.0"; got != want {
		t.Fatalf("history after the crash: %s, want %s", got, want)
	}
	if un := h.Unrecorded(lock); len(un) != 1 || un[0].ID != "acme/a" || un[0].Version != "1.0.0" {
		t.Fatalf("unrecorded = %+v, want acme/a@1.0.0", un)
	}

	if _, err := install.Rollback(ctx, "acme/a", install.RollbackOptions{Dir: dir, To: "1.1.0", Check: hostCheck()}); err != nil {
		t.Fatal(err)
	}
	h = readHistory(t, dir)
	if got, want := story(h, "acme/a"), "install 1.0.0, update 1.1.0<-1.0.0, update 1.0.0<-1.1.0, rollback 1.1.0<-1.0.0"; got != want {
		t.Fatalf("history: %s, want %s", got, want)
	}
	if late := h.Records[2]; !strings.Contains(late.Reason, "recorded late") {
		t.Errorf("the late record says %q", late.Reason)
	}
	if un := h.Unrecorded(readLock(t, dir)); len(un) != 0 {
		t.Errorf("still unrecorded: %+v", un)
	}
}

// TestInstallRecordsAFolderWithoutHistory guards folders installed before
// histories existed: the next install records what the lock already pins
// (marked late) before its own change, and keeps going.
func TestInstallRecordsAFolderWithoutHistory(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	dir := t.TempDir()
	mustInstall(t, "acme/a", options(t, m, dir))
	if err := os.Remove(filepath.Join(dir, install.HistoryFile)); err != nil {
		t.Fatal(err)
	}
	m.Publish(installtest.Plugin{ID: "acme/b", Version: "1.0.0"})
	res := mustInstall(t, "acme/b", options(t, m, dir))
	if len(res.Recorded) != 2 || res.Recorded[0].ID != "acme/a" || !strings.Contains(res.Recorded[0].Reason, "recorded late") || res.Recorded[1].ID != "acme/b" {
		t.Fatalf("recorded %+v", res.Recorded)
	}
	if un := readHistory(t, dir).Unrecorded(readLock(t, dir)); len(un) != 0 {
		t.Errorf("unrecorded after the install: %+v", un)
	}
}

// TestDamagedHistoryDoesNotBlockInstall guards a host's security updates
// against a damaged history: the install goes ahead, the history is left
// for the operator to restore (not overwritten), and rollback refuses,
// naming the file and the fix.
func TestDamagedHistoryDoesNotBlockInstall(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	dir, _, _ := installThenUpdate(t, m, installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	damaged := []byte(`{"historyVersion":1,"records":[{"time":`)
	if err := os.WriteFile(filepath.Join(dir, install.HistoryFile), damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.2.0"})
	opts := options(t, m, dir)
	opts.Update = true
	res := mustInstall(t, "acme/a", opts)
	if got := pin(t, dir, "acme/a"); got.Version != "1.2.0" {
		t.Fatalf("pinned %s, want the update installed", got.Version)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], install.HistoryFile) || !strings.Contains(res.Warnings[0], "restore it from a backup") {
		t.Errorf("warnings = %q", res.Warnings)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, install.HistoryFile)); !bytes.Equal(now, damaged) {
		t.Error("the damaged history was overwritten")
	}
	_, err := install.Rollback(context.Background(), "acme/a", install.RollbackOptions{Dir: dir, Check: hostCheck()})
	if err == nil || !strings.Contains(err.Error(), install.HistoryFile) || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("err = %v, want the damaged history named", err)
	}
}

// TestRefreshKeepsKeptVersionsReadyForRollback guards offline rollback
// after the log moved on: a refresh fetches the kept versions' bundles
// too, so the old version proves inclusion in the checkpoint the state
// now holds.
func TestRefreshKeepsKeptVersionsReadyForRollback(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	dir, _, _ := installThenUpdate(t, m, installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/other", Version: "1.0.0"}) // the log moves on
	res, err := install.Refresh(context.Background(), options(t, m, dir).Source, folderFiles(dir), hostCheck())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kept) != 1 || res.Kept[0].Version != "1.0.0" || res.Kept[0].Err != nil {
		t.Fatalf("kept = %+v, want acme/a@1.0.0 refreshed and verified", res.Kept)
	}
	m.Server.Close()
	if _, err := install.Rollback(context.Background(), "acme/a", install.RollbackOptions{Dir: dir, Check: hostCheck()}); err != nil {
		t.Fatalf("rollback after a refresh: %v", err)
	}
}
