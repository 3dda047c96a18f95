package install_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/install/installtest"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// TestSyncFollowsTheEnvironment: sync keeps the environment's feed and
// moves the pinned plugin to the version the feed gives the host (back
// through the lock history, recorded there); an older feed replayed is
// refused; a suspension in the feed makes verify refuse the version with
// ErrSuspended, offline.
func TestSyncFollowsTheEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := installtest.New(t, t0)
	dir, old, cur := installThenUpdate(t, m, installtest.Plugin{ID: "acme/a", Version: "1.0.0"})
	src, err := install.NewHTTP(m.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	check := hostCheck()
	opts := install.SyncOptions{Source: src, Dir: dir, Environment: "prod", Host: "prod-1", Check: check, By: "sync", Marketplace: m.URL()}
	feed := func(seq uint64, f trust.StatusFeed) []byte {
		f.Environment, f.Sequence, f.IssuedAt, f.NextUpdate = "prod", seq, now.Add(-time.Minute), now.Add(time.Hour)
		return m.SignStatusFeed(f)
	}

	// The environment was rolled back to 1.0.0: the host follows.
	back := feed(2, trust.StatusFeed{Plugins: []trust.FeedRelease{{Plugin: "acme/a", Version: "1.0.0", Digest: old.Digest, Rollout: 100, Status: "active"}}})
	m.ServeStatusFeed("prod", back)
	res, err := install.Sync(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Err != nil || res.Changes[0].To != "1.0.0" || res.Changes[0].How != "rolled back" {
		t.Fatalf("changes %+v", res.Changes)
	}
	if got := pin(t, dir, "acme/a"); got.Version != "1.0.0" {
		t.Fatalf("the lock pins %s after the sync", got.Version)
	}
	if got := story(readHistory(t, dir), "acme/a"); got != "install 1.0.0, update 1.1.0<-1.0.0, rollback 1.0.0<-1.1.0" {
		t.Fatalf("history: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, install.StatusFile)); err != nil {
		t.Fatalf("the feed is not kept: %v", err)
	}

	// An older feed replayed is refused, and the folder keeps the newer.
	m.ServeStatusFeed("prod", feed(1, trust.StatusFeed{Plugins: []trust.FeedRelease{{Plugin: "acme/a", Version: "1.1.0", Digest: cur.Digest, Rollout: 100, Status: "active"}}}))
	if _, err := install.Sync(ctx, opts); !errors.Is(err, trust.ErrFeedRollback) {
		t.Fatalf("an older feed: %v; want ErrFeedRollback", err)
	}
	if got := pin(t, dir, "acme/a"); got.Version != "1.0.0" {
		t.Fatalf("the replayed feed moved the lock to %s", got.Version)
	}

	// A suspension reaches the host and verify refuses offline.
	m.ServeStatusFeed("prod", feed(3, trust.StatusFeed{
		Plugins:   []trust.FeedRelease{{Plugin: "acme/a", Version: "1.0.0", Digest: old.Digest, Rollout: 100, Status: "active"}},
		Suspended: []trust.FeedVersion{{Plugin: "acme/a", Version: "1.0.0", Digest: old.Digest, Reason: "CVE-2026-9 under review"}},
	}))
	if _, err := install.Sync(ctx, opts); err != nil {
		t.Fatal(err)
	}
	m.Server.Close()
	_, _, err = install.VerifyFile(ctx, install.Beside(filepath.Join(dir, install.PackageFileName("acme/a", "1.0.0"))), check)
	var ve *verify.Error
	if !errors.Is(err, verify.ErrSuspended) || !errors.As(err, &ve) || ve.Check != verify.CheckStatus {
		t.Fatalf("verify of a suspended version: %v; want ErrSuspended", err)
	}
}
