package install_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func options(t *testing.T, m *installtest.Market, dir string) install.Options {
	t.Helper()
	src, err := install.NewHTTP(m.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return install.Options{
		Source: src, Marketplace: m.URL(), Dir: dir,
		Policy: verify.Policy{Allow: []string{"kv:*"}},
		Now:    func() time.Time { return t0.Add(time.Hour) },
	}
}

func mustInstall(t *testing.T, req string, opts install.Options) *install.Result {
	t.Helper()
	r, err := install.ParseRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := install.Install(context.Background(), r, opts)
	if err != nil {
		t.Fatalf("install %s: %v", req, err)
	}
	return res
}

func versions(res *install.Result) string {
	var s []string
	for _, p := range res.Plugins {
		s = append(s, p.ID+"@"+p.Version)
	}
	return strings.Join(s, " ")
}

func TestInstallResolvesAndVerifies(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.4.2", Permissions: []string{"kv:read"}})
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "2.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/util", Version: "0.3.0", Dependencies: map[string]string{"acme/base": ">=1.2.0"}})
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.0.0", Dependencies: map[string]string{"acme/base": "^1.0.0", "acme/util": "~0.3"}})
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.1.0", Dependencies: map[string]string{"acme/base": "^1.0.0", "acme/util": "~0.3"}})
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "2.0.0-rc.1"})
	dir := t.TempDir()

	res := mustInstall(t, "acme/app@^1.0", options(t, m, dir))
	// The highest versions that satisfy every range: base 2.0.0 is excluded
	// by app's ^1.0.0 though util would take it; the prerelease is not picked.
	if got, want := versions(res), "acme/app@1.1.0 acme/base@1.4.2 acme/util@0.3.0"; got != want {
		t.Fatalf("installed %s, want %s", got, want)
	}
	if !res.TrustRootFetched {
		t.Error("the first install did not report fetching the trust root")
	}
	for _, name := range []string{"acme__app@1.1.0.gpkg", "acme__app@1.1.0.bundle.json", "acme__base@1.4.2.gpkg", install.TrustRootFile, install.RevocationsFile, install.LockFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
	lock, err := install.ReadLock(filepath.Join(dir, install.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Plugins) != 3 || lock.Marketplace != m.URL() || lock.Plugins[0].ID != "acme/app" || lock.Plugins[0].Digest != res.Plugins[0].Digest {
		t.Fatalf("lock = %+v", lock)
	}

	// The files alone verify, offline.
	pkg, vr, err := install.VerifyFile(context.Background(), install.Beside(filepath.Join(dir, "acme__base@1.4.2.gpkg")), install.Check{
		Policy: verify.Policy{Allow: []string{"kv:read"}}, Now: func() time.Time { return t0.Add(2 * time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if vr.PluginID != "acme/base" || vr.Version != "1.4.2" || len(pkg) == 0 {
		t.Fatalf("result = %+v", vr)
	}

	// A newer base appears; installing again keeps the pinned digests.
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.5.0"})
	res = mustInstall(t, "acme/app@^1.0", options(t, m, dir))
	if got, want := versions(res), "acme/app@1.1.0 acme/base@1.4.2 acme/util@0.3.0"; got != want {
		t.Fatalf("with the lock, installed %s, want %s", got, want)
	}
	for _, p := range res.Plugins {
		if !p.Pinned {
			t.Errorf("%s was not taken from the lock", p.ID)
		}
	}
	if res.TrustRootFetched {
		t.Error("the trust root was fetched again instead of using the pinned one")
	}
	// --update moves on.
	opts := options(t, m, dir)
	opts.Update = true
	res = mustInstall(t, "acme/app@^1.0", opts)
	if got, want := versions(res), "acme/app@1.1.0 acme/base@1.5.0 acme/util@0.3.0"; got != want {
		t.Fatalf("with --update, installed %s, want %s", got, want)
	}
}

func TestInstallBacktracks(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "2.0.0"})
	// util 2 needs base 2, app needs base 1: util falls back to 1.x.
	m.Publish(installtest.Plugin{ID: "acme/util", Version: "1.0.0", Dependencies: map[string]string{"acme/base": "1.x"}})
	m.Publish(installtest.Plugin{ID: "acme/util", Version: "2.0.0", Dependencies: map[string]string{"acme/base": "2.x"}})
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.0.0", Dependencies: map[string]string{"acme/util": "*", "acme/base": "^1"}})
	res := mustInstall(t, "acme/app", options(t, m, t.TempDir()))
	if got, want := versions(res), "acme/app@1.0.0 acme/base@1.0.0 acme/util@1.0.0"; got != want {
		t.Fatalf("installed %s, want %s", got, want)
	}
}

func TestInstallRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0", Dependencies: map[string]string{"acme/base": "^2"}})
	m.Publish(installtest.Plugin{ID: "acme/x", Version: "1.0.0", Dependencies: map[string]string{"acme/y": "*"}})
	m.Publish(installtest.Plugin{ID: "acme/y", Version: "1.0.0", Dependencies: map[string]string{"acme/x": "*"}})
	m.Publish(installtest.Plugin{ID: "acme/net", Version: "1.0.0", Permissions: []string{"net:https://api.example.com"}})
	bad := m.Publish(installtest.Plugin{ID: "acme/bad", Version: "1.0.0"})
	m.Revoke(bad, "malware found")
	bad.State = "certified" // a mirror whose catalog lags behind the revocation list

	cases := []struct {
		req    string
		reason error
		check  verify.Check
		says   string
	}{
		{"acme/a", install.ErrConflict, "", "no certified version of acme/base satisfies ^2"},
		{"acme/x", install.ErrCycle, "", "acme/x@1.0.0 → acme/y@1.0.0 → acme/x"},
		{"acme/base@^3", install.ErrConflict, "", "no certified version"},
		{"acme/net", verify.ErrNotAllowed, verify.CheckPolicy, "net:https://api.example.com"},
		{"acme/bad", verify.ErrRevoked, verify.CheckRevoked, "malware found"},
		{"acme/none", install.ErrNotFound, "", "no plugin acme/none"},
	}
	for _, c := range cases {
		t.Run(c.req, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			req, err := install.ParseRequest(c.req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = install.Install(ctx, req, options(t, m, dir))
			if !errors.Is(err, c.reason) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want %v saying %q", err, c.reason, c.says)
			}
			var ve *verify.Error
			if c.check != "" && (!errors.As(err, &ve) || ve.Check != c.check) {
				t.Fatalf("err = %v, want the %s check to fail", err, c.check)
			}
			// Nothing is written when an install fails. (The state
			// folder may remember the log's checkpoint: that is what the
			// host learnt, not an installed file; and the folder's empty
			// lock file stays, as a lock file must.)
			names, _ := filepath.Glob(filepath.Join(dir, "*"))
			names = slices.DeleteFunc(names, func(n string) bool {
				return filepath.Base(n) == install.StateDir || filepath.Base(n) == verify.FolderLockFile
			})
			if len(names) > 0 {
				t.Errorf("a failed install wrote %v", names)
			}
		})
	}
}

func TestInstallRefusesTamperedDownloads(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	v := m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.0.0"})
	other := m.Publish(installtest.Plugin{ID: "acme/other", Version: "1.0.0"})
	// The marketplace serves another certified package under base's name.
	v.Package, v.Digest = other.Package, other.Digest
	v.Bundle = other.Bundle
	_, err := install.Install(context.Background(), install.Request{ID: "acme/base", Range: "*"}, options(t, m, t.TempDir()))
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckSubject || !errors.Is(err, trust.ErrWrongSubject) {
		t.Fatalf("err = %v, want a certificate-subject failure", err)
	}
}

func TestInstallLimits(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	deps := map[string]string{}
	for _, id := range []string{"acme/d1", "acme/d2", "acme/d3"} {
		m.Publish(installtest.Plugin{ID: id, Version: "1.0.0"})
		deps[id] = "*"
	}
	m.Publish(installtest.Plugin{ID: "acme/app", Version: "1.0.0", Dependencies: deps})
	opts := options(t, m, t.TempDir())
	opts.Limits.MaxPlugins = 3
	_, err := install.Install(context.Background(), install.Request{ID: "acme/app", Range: "*"}, opts)
	if !errors.Is(err, install.ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit for too many plugins", err)
	}
	opts = options(t, m, t.TempDir())
	opts.Limits.MaxDownloadBytes = 600
	_, err = install.Install(context.Background(), install.Request{ID: "acme/app", Range: "*"}, opts)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("err = %v, want a download limit", err)
	}
}

func TestVerifyFileCatchesRollback(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.0.0"})
	dir := t.TempDir()
	mustInstall(t, "acme/base", options(t, m, dir))
	files := install.Beside(filepath.Join(dir, "acme__base@1.0.0.gpkg"))
	old, err := os.ReadFile(files.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	// The log moves on; a fresh install of another plugin advances the
	// folder's state.
	m.Publish(installtest.Plugin{ID: "acme/more", Version: "1.0.0"})
	mustInstall(t, "acme/more", options(t, m, dir))
	// A stale bundle (an older checkpoint than the one seen) is refused.
	if err := os.WriteFile(files.Bundle, old, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = install.VerifyFile(context.Background(), files, install.Check{Policy: verify.Policy{Allow: []string{"*"}}, Now: func() time.Time { return t0.Add(time.Hour) }})
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckConsistency || !errors.Is(err, verify.ErrRollback) {
		t.Fatalf("err = %v, want a rollback", err)
	}
	// The lock pins the digest: a package swapped for another certified
	// one under the same file name is refused.
	lockPath := filepath.Join(dir, install.LockFile)
	lock, err := install.ReadLock(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range lock.Plugins {
		lock.Plugins[i].Digest = "sha256:" + strings.Repeat("0", 64)
	}
	data, err := lock.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = install.VerifyFile(context.Background(), install.Beside(filepath.Join(dir, "acme__more@1.0.0.gpkg")), install.Check{Policy: verify.Policy{Allow: []string{"*"}}, Now: func() time.Time { return t0.Add(time.Hour) }})
	if !errors.As(err, &ve) || ve.Check != verify.CheckDigest {
		t.Fatalf("err = %v, want the lock's digest to be enforced", err)
	}
}

func TestInstallKeepsEarlierPluginsVerifiable(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	a := m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	dir := t.TempDir()
	mustInstall(t, "acme/a", options(t, m, dir))
	// The log moves on and another plugin is installed into the folder:
	// the state now holds a newer checkpoint than a's first bundle.
	m.Publish(installtest.Plugin{ID: "acme/b", Version: "1.0.0"})
	res := mustInstall(t, "acme/b", options(t, m, dir))
	if len(res.Refreshed) != 1 || res.Refreshed[0].ID != "acme/a" {
		t.Fatalf("refreshed %+v, want acme/a", res.Refreshed)
	}
	check := install.Check{Policy: verify.Policy{Allow: []string{"*"}}, Now: func() time.Time { return t0.Add(time.Hour) }}
	if _, _, err := install.VerifyFile(context.Background(), install.Beside(filepath.Join(dir, "acme__a@1.0.0.gpkg")), check); err != nil {
		t.Fatalf("a plugin installed earlier no longer verifies offline: %v", err)
	}
	lock, err := install.ReadLock(filepath.Join(dir, install.LockFile))
	if err != nil || len(lock.Plugins) != 2 {
		t.Fatalf("lock = %+v, %v", lock, err)
	}
	// Once a is revoked, the next install says so and leaves it as it was.
	m.Revoke(a, "compromised")
	m.Publish(installtest.Plugin{ID: "acme/c", Version: "1.0.0"})
	res = mustInstall(t, "acme/c", options(t, m, dir))
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "acme/a@1.0.0") || !strings.Contains(res.Warnings[0], "compromised") {
		t.Fatalf("warnings = %q", res.Warnings)
	}
}

func TestInstallUsesThePinnedTrustRoot(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	// The folder already trusts another marketplace: what this one signed
	// is refused, however it presents its keys now.
	other := installtest.New(t, t0)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, install.TrustRootFile), other.TrustRootJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := install.Install(context.Background(), install.Request{ID: "acme/a", Range: "*"}, options(t, m, dir))
	// The marketplace's current checkpoint, checked before anything is
	// downloaded, is the first thing refused.
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckCheckpoint {
		t.Fatalf("err = %v, want the checkpoint signature refused", err)
	}
	// The same with a trust root given out of band.
	opts := options(t, m, t.TempDir())
	opts.TrustRoot = other.TrustRootJSON()
	_, err = install.Install(context.Background(), install.Request{ID: "acme/a", Range: "*"}, opts)
	if !errors.As(err, &ve) || ve.Check != verify.CheckCheckpoint {
		t.Fatalf("err = %v, want the checkpoint signature refused", err)
	}
}

// TestInstallAllResolvesRequestsTogether: several requests (a manifest's
// declared dependencies) get one set of versions that satisfies them all,
// backtracking across requests, or nothing is installed.
func TestInstallAllResolvesRequestsTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := installtest.New(t, t0)
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "1.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/base", Version: "2.0.0"})
	m.Publish(installtest.Plugin{ID: "acme/util", Version: "1.0.0", Dependencies: map[string]string{"acme/base": "1.x"}})
	m.Publish(installtest.Plugin{ID: "acme/util", Version: "2.0.0", Dependencies: map[string]string{"acme/base": "2.x"}})
	res, err := install.InstallAll(ctx, []install.Request{{ID: "acme/util", Range: "*"}, {ID: "acme/base", Range: "^1"}}, options(t, m, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(res), "acme/base@1.0.0 acme/util@1.0.0"; got != want {
		t.Fatalf("installed %s, want %s", got, want)
	}
	dir := t.TempDir()
	_, err = install.InstallAll(ctx, []install.Request{{ID: "acme/util", Range: "^2"}, {ID: "acme/base", Range: "^1"}}, options(t, m, dir))
	if !errors.Is(err, install.ErrConflict) {
		t.Fatalf("conflicting requests: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, install.LockFile)); !os.IsNotExist(err) {
		t.Errorf("a refused install wrote its lock file: %v", err)
	}
	if _, err := install.InstallAll(ctx, nil, options(t, m, t.TempDir())); err == nil {
		t.Error("an empty request list was accepted")
	}
}

// TestConcurrentInstallsKeepEveryPlugin guards an install folder against
// two commands at once: each reads the lock file, adds its plugin and
// writes it back, and without the folder's lock the one writing last
// dropped the other's plugin from the lock file and the history.
func TestConcurrentInstallsKeepEveryPlugin(t *testing.T) {
	t.Parallel()
	m := installtest.New(t, t0)
	const n = 6
	for i := range n {
		m.Publish(installtest.Plugin{ID: fmt.Sprintf("acme/p%d", i), Version: "1.0.0"})
	}
	dir := t.TempDir()
	mustInstall(t, "acme/p0@^1", options(t, m, dir)) // the trust root is pinned first
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			r := install.Request{ID: fmt.Sprintf("acme/p%d", i), Range: "^1"}
			if _, err := install.Install(context.Background(), r, options(t, m, dir)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lock, err := install.ReadLock(filepath.Join(dir, install.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	h, err := install.ReadHistory(filepath.Join(dir, install.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("acme/p%d", i)
		if !slices.ContainsFunc(lock.Plugins, func(e install.LockEntry) bool { return e.ID == id }) {
			t.Errorf("%s was installed but the lock file lost it: %+v", id, lock.Plugins)
		}
		if len(h.For(id)) == 0 {
			t.Errorf("%s was installed but the history lost it", id)
		}
	}
}
