package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/trust"
)

// statusFeed signs a feed of env with the world's marketplace key.
func (w *world) statusFeed(t *testing.T, env string, seq uint64, issued time.Time, f trust.StatusFeed) *dsse.Envelope {
	t.Helper()
	f.Environment, f.Sequence, f.IssuedAt, f.NextUpdate = env, seq, issued, issued.Add(time.Hour)
	feed, err := trust.NewStatusFeed(f)
	if err != nil {
		t.Fatal(err)
	}
	e, err := trust.SignStatusFeed(context.Background(), w.market, feed)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestStatusFeedIsObeyed: verify refuses a version the environment's feed
// suspends with ErrSuspended and the reason, a killed plugin with
// ErrKilled, a stale feed and an older feed replayed after a newer one
// (fail closed); a feed that names nothing against the version passes.
func TestStatusFeedIsObeyed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	pkg := pack(t, "acme/hello", "1.2.0", 4096)
	now := t0.Add(24 * time.Hour)
	b := w.certify(pkg, "acme/hello", "1.2.0", []string{"kv:read"}, t0, 30*24*time.Hour)
	state := t.TempDir()
	with := func(feed *dsse.Envelope) Options {
		o := w.options(state, now)
		o.Status, o.StatusMaxAge, o.Environment = feed, time.Hour, "prod"
		return o
	}

	clean := w.statusFeed(t, "prod", 1, now.Add(-time.Minute), trust.StatusFeed{})
	if _, err := Verify(ctx, pkg, b, with(clean)); err != nil {
		t.Fatalf("a feed naming nothing: %v", err)
	}
	suspended := w.statusFeed(t, "prod", 2, now.Add(-time.Minute), trust.StatusFeed{Suspended: []trust.FeedVersion{
		{Plugin: "acme/hello", Version: "1.2.0", Digest: digestOf(pkg), Reason: "CVE-2026-1234 in a dependency"}}})
	_, err := Verify(ctx, pkg, b, with(suspended))
	wantCheck(t, err, CheckStatus, ErrSuspended)
	if !strings.Contains(err.Error(), "CVE-2026-1234") {
		t.Errorf("err = %v, want the suspension's reason", err)
	}
	// The older, clean feed replayed now is refused: feed 2 was recorded.
	_, err = Verify(ctx, pkg, b, with(clean))
	wantCheck(t, err, CheckStatusFeed, trust.ErrFeedRollback)

	killed := w.statusFeed(t, "prod", 3, now.Add(-time.Minute), trust.StatusFeed{Killed: []trust.FeedKill{{Plugin: "acme/hello", Reason: "exfiltrates contacts", Time: now}}})
	_, err = Verify(ctx, pkg, b, with(killed))
	wantCheck(t, err, CheckStatus, ErrKilled)

	stale := w.statusFeed(t, "prod", 4, now.Add(-2*time.Hour), trust.StatusFeed{})
	_, err = Verify(ctx, pkg, b, with(stale))
	wantCheck(t, err, CheckStatusFeed, trust.ErrStaleFeed)

	other := w.statusFeed(t, "dev", 9, now, trust.StatusFeed{})
	_, err = Verify(ctx, pkg, b, with(other))
	wantCheck(t, err, CheckStatusFeed, trust.ErrWrongEnvironment)

	o := with(clean)
	o.StatusMaxAge = 0
	if _, err := Verify(ctx, pkg, b, o); err == nil || !errors.As(err, new(*Error)) {
		t.Errorf("a feed without a maximum age: %v; want a refusal (fail closed)", err)
	}
}
