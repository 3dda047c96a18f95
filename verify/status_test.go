package verify

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// TestConcurrentVerificationsKeepTheNewestState guards the host's state
// folder against two verifications at once: each reads the state, checks
// and writes it back, and without the folder's lock the one writing last
// put back the older feed sequence the other had moved past, so the older
// feed could be replayed afterwards. Here many feeds are observed at once;
// the newest must be what the folder remembers.
func TestConcurrentVerificationsKeepTheNewestState(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	now := t0.Add(24 * time.Hour)
	state := t.TempDir()
	const n = 24
	feeds := make([]*dsse.Envelope, n+1)
	for i := 1; i <= n; i++ {
		feeds[i] = w.statusFeed(t, "prod", uint64(i), now.Add(-time.Minute), trust.StatusFeed{})
	}
	for round := range 5 {
		dir := filepath.Join(state, strconv.Itoa(round))
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			wg.Go(func() {
				o := w.options(dir, now)
				o.StatusMaxAge, o.Environment = time.Hour, "prod"
				// An older feed than one already seen is refused; that is
				// the point, not a failure.
				if _, err := ObserveStatusFeed(feeds[i], o); err != nil && !errors.Is(err, trust.ErrFeedRollback) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		st, err := loadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.StatusSequences["prod"]; got != n {
			t.Fatalf("round %d: the state folder remembers feed %d after feeds 1..%d were observed; feed %d..%d could be replayed", round, got, n, got+1, n-1)
		}
	}
}
