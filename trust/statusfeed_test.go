package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testFeed(seq uint64) StatusFeed {
	other := "sha256:" + strings.Repeat("b", 64)
	return StatusFeed{
		Environment: "prod", Sequence: seq, IssuedAt: t0, NextUpdate: t0.Add(time.Hour),
		Plugins:   []FeedRelease{{Plugin: "acme/hello", Version: "1.1.0", Digest: digest, Rollout: 50, Status: "active", Previous: "1.0.0", PreviousDigest: other}},
		Suspended: []FeedVersion{{Plugin: "acme/other", Version: "2.0.0", Digest: other, Reason: "CVE-2025-1 under review"}},
		Killed:    []FeedKill{{Plugin: "acme/bad", Reason: "exfiltrates data", Time: t0}},
	}
}

func TestStatusFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := GenerateKey(Ed25519)
	ring, _ := NewKeyring(Key{PublicKey: m.PublicKey()})
	f, err := NewStatusFeed(testFeed(7))
	if err != nil {
		t.Fatal(err)
	}
	env, err := SignStatusFeed(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyStatusFeed(env, ring, FeedCheck{Now: t0.Add(time.Minute), MaxAge: time.Hour, Environment: "prod", LastSequence: 7})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := got.Suspension("sha256:" + strings.Repeat("b", 64)); !ok || s.Reason == "" {
		t.Error("suspended digest not found")
	}
	if _, ok := got.Kill("acme/bad"); !ok {
		t.Error("killed plugin not found")
	}
	for name, c := range map[string]struct {
		check FeedCheck
		want  error
	}{
		"older than the last accepted": {FeedCheck{Now: t0, MaxAge: time.Hour, LastSequence: 8}, ErrFeedRollback},
		"past next update":             {FeedCheck{Now: t0.Add(2 * time.Hour), MaxAge: 24 * time.Hour}, ErrStaleFeed},
		"older than the maximum age":   {FeedCheck{Now: t0.Add(30 * time.Minute), MaxAge: 10 * time.Minute}, ErrStaleFeed},
		"another environment":          {FeedCheck{Now: t0, MaxAge: time.Hour, Environment: "dev"}, ErrWrongEnvironment},
		"issued in the future":         {FeedCheck{Now: t0.Add(-time.Hour), MaxAge: time.Hour}, ErrMalformed},
	} {
		if _, err := VerifyStatusFeed(env, ring, c.check); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	if _, err := VerifyStatusFeed(env, ring, FeedCheck{Now: t0}); err == nil {
		t.Error("a check without a maximum age passed (must fail closed)")
	}
	other, _ := GenerateKey(Ed25519)
	forged, _ := SignStatusFeed(ctx, other, f)
	if _, err := VerifyStatusFeed(forged, ring, FeedCheck{Now: t0, MaxAge: time.Hour}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a feed signed by another key: got %v", err)
	}
}

func TestStatusFeedRefusals(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*StatusFeed){
		"sequence zero":               func(f *StatusFeed) { f.Sequence = 0 },
		"bad environment":             func(f *StatusFeed) { f.Environment = "Prod!" },
		"next update before issue":    func(f *StatusFeed) { f.NextUpdate = f.IssuedAt },
		"rollout over 100":            func(f *StatusFeed) { f.Plugins[0].Rollout = 101 },
		"partial without previous":    func(f *StatusFeed) { f.Plugins[0].Previous, f.Plugins[0].PreviousDigest = "", "" },
		"unknown status":              func(f *StatusFeed) { f.Plugins[0].Status = "running" },
		"malformed digest":            func(f *StatusFeed) { f.Suspended[0].Digest = "sha256:xyz" },
		"reason with escape sequence": func(f *StatusFeed) { f.Suspended[0].Reason = "ok\x1b[31m" },
		"empty kill reason":           func(f *StatusFeed) { f.Killed[0].Reason = "" },
		"path in plugin id":           func(f *StatusFeed) { f.Plugins[0].Plugin = "../etc" },
	} {
		f := testFeed(1)
		change(&f)
		if _, err := NewStatusFeed(f); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	f, _ := NewStatusFeed(testFeed(1))
	b, _ := json.Marshal(f)
	for name, payload := range map[string]string{
		"unknown field":   strings.Replace(string(b), `"sequence"`, `"extra":1,"sequence"`, 1),
		"trailing data":   string(b) + "{}",
		"missing list":    strings.Replace(string(b), `"killed":`, `"ignored":`, 1),
		"duplicate entry": strings.Replace(string(b), `"suspended":[`, `"suspended":[{"plugin":"acme/other","version":"2.0.0","digest":"sha256:`+strings.Repeat("b", 64)+`","reason":"x"},`, 1),
	} {
		if _, err := ParseStatusFeed([]byte(payload)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	if _, err := ParseStatusFeed(make([]byte, MaxFeedBytes+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversize feed: %v", err)
	}
}

// TestRolloutBucketsAreStable holds the rollout rule: a host in at 10% is
// in at 50% and 100%, about the percentage of hosts is in, and the bucket
// of known ids never changes (hosts and the marketplace agree on it across
// releases).
func TestRolloutBucketsAreStable(t *testing.T) {
	t.Parallel()
	in := map[int]int{}
	for i := range 2000 {
		host := fmt.Sprintf("host-%d", i)
		was := false
		for _, p := range []int{0, 10, 50, 100} {
			now := InRollout(host, "acme/hello", p)
			if was && !now {
				t.Fatalf("%s left the rollout when it grew to %d%%", host, p)
			}
			if now {
				in[p]++
			}
			was = now
		}
	}
	if in[0] != 0 || in[100] != 2000 || in[10] < 150 || in[10] > 250 || in[50] < 900 || in[50] > 1100 {
		t.Errorf("hosts in by percentage: %v", in)
	}
	if got := RolloutBucket("host-1", "acme/hello"); got != RolloutBucket("host-1", "acme/hello") || got < 0 || got > 9999 {
		t.Errorf("bucket %d", got)
	}
}

// FuzzParseStatusFeed feeds payloads from outside through the strict
// parser: none may panic, and whatever parses is valid and survives a
// round trip.
func FuzzParseStatusFeed(f *testing.F) {
	feed, _ := NewStatusFeed(testFeed(3))
	b, _ := json.Marshal(feed)
	f.Add(b)
	f.Add([]byte(`{"environment":"dev","sequence":1,"issuedAt":"2025-01-01T00:00:00Z","nextUpdate":"2025-01-02T00:00:00Z","plugins":[],"suspended":[],"revoked":[],"killed":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		feed, err := ParseStatusFeed(b)
		if err != nil {
			return
		}
		if err := feed.Validate(); err != nil {
			t.Fatalf("a parsed feed is invalid: %v", err)
		}
		again, err := json.Marshal(feed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseStatusFeed(again); err != nil {
			t.Fatalf("a parsed feed does not parse again: %v", err)
		}
	})
}
