package storetest

import (
	"context"
	"errors"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// releaseTests are the suite's tests of releases (issue 18).
var releaseTests = []suiteTest{
	{"Releases", testReleases},
	{"ReleaseApprovalsKillsFeeds", testReleaseApprovalsKillsFeeds},
	{"HostTokenEnvironment", testHostTokenEnvironment},
}

func testReleases(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "r1", "acme/rel", "1.0.0")
	certifiedVersion(t, s, "r2", "acme/rel", "1.1.0")
	ev := func(i int) []audit.Event { return []audit.Event{event(audit.ReleaseChanged, "plugin:acme/rel", i)} }
	entry := []byte(`{"kind":"release.changed"}`)

	first := domain.Release{PluginID: "acme/rel", Environment: "dev", VersionID: "r1", Rollout: 100, Status: domain.RolloutActive, Since: at(40), UpdatedAt: at(40)}
	if err := s.ApplyRelease(ctx, store.ReleaseChange{Release: first, Record: domain.ReleaseRecord{Action: domain.ReleaseReleased, Actor: "system"}, Entries: [][]byte{entry}, Audit: ev(40)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRelease(ctx, store.ReleaseChange{Release: first, Record: domain.ReleaseRecord{Action: domain.ReleaseReleased}, Audit: ev(41)}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a second first release: %v; want ErrConflict", err)
	}
	got, err := s.GetRelease(ctx, "acme/rel", "dev")
	if err != nil || got.Version != "1.0.0" || got.Digest == "" || got.Rollout != 100 || !got.Since.Equal(stored(at(40))) {
		t.Fatalf("GetRelease = %+v, %v", got, err)
	}
	// A partial rollout of 1.1.0 over 1.0.0, compare-and-set on the row.
	next := domain.Release{PluginID: "acme/rel", Environment: "dev", VersionID: "r2", Rollout: 10, Status: domain.RolloutActive, PreviousID: "r1", Since: at(50), UpdatedAt: at(50)}
	if err := s.ApplyRelease(ctx, store.ReleaseChange{Release: next, Expect: got, Record: domain.ReleaseRecord{Action: domain.ReleasePromoted, Actor: "alice", Reason: "go"}, Audit: ev(50)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRelease(ctx, store.ReleaseChange{Release: next, Expect: got, Record: domain.ReleaseRecord{Action: domain.ReleaseGrown}, Audit: ev(51)}); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("a change against a stale row: %v; want ErrStateChanged", err)
	}
	bad := next
	bad.PreviousID = ""
	if err := s.ApplyRelease(ctx, store.ReleaseChange{Release: bad, Replace: true, Record: domain.ReleaseRecord{Action: domain.ReleaseGrown}, Audit: ev(52)}); err == nil {
		t.Fatal("a partial rollout without a previous version was stored")
	}
	got, _ = s.GetRelease(ctx, "acme/rel", "dev")
	if got.Version != "1.1.0" || got.Previous != "1.0.0" || got.PreviousDigest == "" || got.Rollout != 10 {
		t.Fatalf("after the promotion: %+v", got)
	}
	hist, err := s.ReleaseHistory(ctx, "acme/rel", "dev", 10)
	if err != nil || len(hist) != 2 || hist[0].Action != domain.ReleasePromoted || hist[0].Version != "1.1.0" || hist[0].Reason != "go" || hist[1].Action != domain.ReleaseReleased {
		t.Fatalf("ReleaseHistory = %+v, %v", hist, err)
	}
	if rs, err := s.ListReleases(ctx, "dev", 10); err != nil || len(rs) != 1 {
		t.Fatalf("ListReleases(dev) = %v, %v", rs, err)
	}
	if rs, err := s.ListReleases(ctx, "prod", 10); err != nil || len(rs) != 0 {
		t.Fatalf("ListReleases(prod) = %v, %v", rs, err)
	}
	if rs, err := s.PluginReleases(ctx, "acme/rel"); err != nil || len(rs) != 1 {
		t.Fatalf("PluginReleases = %v, %v", rs, err)
	}
	if n := len(trail(t, s, "plugin:acme/rel")); n != 2 {
		t.Fatalf("%d audit events; want one per change that happened (2)", n)
	}
	if pending, err := s.PendingTrustEvents(ctx, 10); err != nil || len(pending) != 1 {
		t.Fatalf("PendingTrustEvents = %d, %v; want the release's entry", len(pending), err)
	}
}

func testReleaseApprovalsKillsFeeds(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "a1", "acme/app", "1.0.0")
	ap := domain.ReleaseApproval{VersionID: "a1", Environment: "prod", Approver: "steve", At: at(60)}
	for i := range 2 {
		if err := s.ApproveRelease(ctx, ap, event(audit.ReleaseApproved, "submission:a1", 60+i)); err != nil {
			t.Fatal(err)
		}
	}
	if as, err := s.ReleaseApprovals(ctx, "a1", "prod"); err != nil || len(as) != 1 || as[0].Approver != "steve" {
		t.Fatalf("ReleaseApprovals = %v, %v", as, err)
	}
	if n := len(trail(t, s, "submission:a1")); n != 6 { // created, 4 transitions, 1 approval: the repeat records nothing
		t.Fatalf("%d events for a1; want 6", n)
	}

	k := domain.PluginKill{PluginID: "acme/app", Reason: "exfiltrates data", Actor: "steve", At: at(70)}
	if err := s.KillPlugin(ctx, k, []byte(`{"kind":"plugin.killed"}`), event(audit.PluginKilled, "plugin:acme/app", 70)); err != nil {
		t.Fatal(err)
	}
	if err := s.KillPlugin(ctx, k, []byte(`{}`), event(audit.PluginKilled, "plugin:acme/app", 71)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a second kill: %v; want ErrConflict", err)
	}
	if ks, err := s.ListKills(ctx); err != nil || len(ks) != 1 || ks[0].Reason != "exfiltrates data" {
		t.Fatalf("ListKills = %v, %v", ks, err)
	}

	if _, err := s.LatestStatusFeed(ctx, "prod"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("LatestStatusFeed before any: %v", err)
	}
	feed := func(seq int64) domain.StatusFeedRecord {
		return domain.StatusFeedRecord{Environment: "prod", Sequence: seq, Envelope: []byte(`{}`), IssuedAt: at(80), NextUpdate: at(180)}
	}
	for _, seq := range []int64{1, 2} {
		if err := s.SaveStatusFeed(ctx, feed(seq), []byte(`{"kind":"status-feed.published"}`), event(audit.StatusFeedPublished, "status:prod", 80)); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []int64{2, 4} {
		if err := s.SaveStatusFeed(ctx, feed(seq), []byte(`{}`), event(audit.StatusFeedPublished, "status:prod", 81)); !errors.Is(err, domain.ErrStateChanged) {
			t.Fatalf("feed %d after 2: %v; want ErrStateChanged", seq, err)
		}
	}
	if f, err := s.LatestStatusFeed(ctx, "prod"); err != nil || f.Sequence != 2 {
		t.Fatalf("LatestStatusFeed = %d, %v", f.Sequence, err)
	}
	if err := s.SaveStatusFeed(ctx, domain.StatusFeedRecord{Environment: "dev", Sequence: 1, Envelope: []byte(`{}`), IssuedAt: at(80), NextUpdate: at(180)}, []byte(`{}`), event(audit.StatusFeedPublished, "status:dev", 82)); err != nil {
		t.Fatalf("each environment is numbered on its own: %v", err)
	}
}

func testHostTokenEnvironment(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := domain.Token{ID: "h1", Subject: "host-1", Role: domain.RoleHost, Environment: "staging", Hash: hashOf("h1"), CreatedAt: at(1), ExpiresAt: at(1000)}
	if err := s.CreateToken(ctx, tok, event(audit.TokenCreate, "token:h1", 1)); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(ctx, hashOf("h1"))
	if err != nil || got.Environment != "staging" {
		t.Fatalf("TokenByHash = %+v, %v; want environment staging", got, err)
	}
	certifiedVersion(t, s, "e1", "acme/env", "1.0.0")
	rep := domain.HealthReport{VersionID: "e1", Host: "host-1", Environment: "staging", WindowStart: at(10), WindowEnd: at(70), Calls: 10, ReceivedAt: at(70)}
	if err := s.SaveHealthReports(ctx, []domain.HealthReport{rep}, nil); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.ListHealthReports(ctx, "e1", at(0), 10); err != nil || len(rs) != 1 || rs[0].Environment != "staging" {
		t.Fatalf("ListHealthReports = %+v, %v; want the staging report", rs, err)
	}
}
