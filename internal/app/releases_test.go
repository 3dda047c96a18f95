package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/trust"
)

// releaseWorld is an application on a real SQLite store with the trust
// layer, the default policy and a clock the test moves.
type releaseWorld struct {
	app   *App
	st    store.Store
	tr    *certifytest.Trust
	now   *time.Time
	t     *testing.T
	count int
}

func newReleaseWorld(t *testing.T) *releaseWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tr := certifytest.New(t, st, clock)
	engine, err := policy.Compile(ctx, policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"pia"}, CreatedAt: now},
		audit.Event{Time: now, Actor: "pia", Action: audit.NamespaceClaim, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	a := New(Config{Store: st, Trust: tr.Service, Now: clock, Policy: func() *policy.Engine { return engine }})
	return &releaseWorld{app: a, st: st, tr: tr, now: &now, t: t}
}

func (w *releaseWorld) advance(d time.Duration) { *w.now = w.now.Add(d) }

// certify creates a certified version and releases it into dev, as
// certification does.
func (w *releaseWorld) certify(pluginID, ver string) domain.Version {
	w.t.Helper()
	ctx := context.Background()
	w.count++
	id := fmt.Sprintf("v%d", w.count)
	v := domain.Version{ID: id, PluginID: pluginID, Version: ver, Digest: fmt.Sprintf("sha256:%064x", w.count), Size: 1, Manifest: []byte(`{}`),
		Submitter: "pia", State: lifecycle.Received, Reason: "received", CreatedAt: *w.now, UpdatedAt: *w.now}
	if _, _, err := w.st.CreateVersion(ctx, v, []audit.Event{{Time: *w.now, Actor: "pia", Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil {
		w.t.Fatal(err)
	}
	from := lifecycle.Received
	for _, to := range []lifecycle.State{lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved} {
		if err := w.st.Transition(ctx, id, from, to, "test", audit.Event{Time: *w.now, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}); err != nil {
			w.t.Fatal(err)
		}
		from = to
	}
	if _, err := w.st.ApplyTrustChange(ctx, store.TrustChange{VersionID: id, From: lifecycle.AutoApproved, To: lifecycle.Certified, Reason: "certified",
		ReleaseInto: "dev", ReleaseActor: "system",
		Audit: []audit.Event{{Time: *w.now, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}}}); err != nil {
		w.t.Fatal(err)
	}
	v.State = lifecycle.Certified
	return v
}

// report stores health reports of hosts in env about a version.
func (w *releaseWorld) report(v domain.Version, env string, hosts []string, calls, errs int64) {
	w.t.Helper()
	for _, h := range hosts {
		r := domain.HealthReport{VersionID: v.ID, Host: h, Environment: env, WindowStart: w.now.Add(-time.Minute), WindowEnd: *w.now, Calls: calls,
			Errors: map[string]int64{"trap": errs}, ReceivedAt: *w.now}
		if err := w.st.SaveHealthReports(context.Background(), []domain.HealthReport{r}, nil); err != nil {
			w.t.Fatal(err)
		}
	}
}

// feed returns env's current status feed, verified.
func (w *releaseWorld) feed(env string) *trust.StatusFeed {
	w.t.Helper()
	b, err := w.app.StatusFeed(context.Background(), env)
	if err != nil {
		w.t.Fatal(err)
	}
	e, err := trust.ParseEnvelope(b)
	if err != nil {
		w.t.Fatal(err)
	}
	ring, _ := trust.NewKeyring(trust.Key{PublicKey: w.tr.Signer.PublicKey()})
	f, err := trust.VerifyStatusFeed(e, ring, trust.FeedCheck{Now: *w.now, MaxAge: time.Hour, Environment: env})
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

// TestPromotionFollowsThePolicy walks a version from dev to prod: dev only
// after certification, staging refused until the soak holds, production
// refused without a steward's approval for a high tier, then at 50%.
func TestPromotionFollowsThePolicy(t *testing.T) {
	w := newReleaseWorld(t)
	ctx := context.Background()
	v1 := w.certify("acme/hello", "1.0.0")
	if f := w.feed("dev"); len(f.Plugins) != 1 || f.Plugins[0].Version != "1.0.0" {
		t.Fatalf("dev feed after certification: %+v", f.Plugins)
	}
	if f := w.feed("staging"); len(f.Plugins) != 0 {
		t.Fatalf("staging runs %+v before any promotion", f.Plugins)
	}
	_, err := w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.0.0", To: "staging"})
	wantKind(t, err, KindConflict, "promotion_refused")
	for _, rule := range []string{"soak-time", "soak-hosts", "soak-calls"} {
		if !strings.Contains(err.Error(), rule) {
			t.Errorf("refusal %q does not name rule %s", err, rule)
		}
	}
	_, err = w.app.PromoteRelease(ctx, otto, PromoteRequest{Ref: "acme/hello@1.0.0", To: "staging"})
	wantKind(t, err, KindForbidden, "")
	_, err = w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.0.0", To: "dev"})
	wantKind(t, err, KindConflict, "promotion_refused")
	_, err = w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.0.0", To: "moon"})
	wantKind(t, err, KindInvalid, "")

	w.advance(2 * time.Hour)
	w.report(v1, "dev", []string{"dev-1"}, 200, 0)
	w.report(v1, "staging", []string{"stg-1", "stg-2"}, 5000, 0) // another environment's reports do not count for dev
	if _, err := w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.0.0", To: "staging", Reason: "soaked"}); err != nil {
		t.Fatal(err)
	}
	if f := w.feed("staging"); len(f.Plugins) != 1 || f.Plugins[0].Version != "1.0.0" {
		t.Fatalf("staging feed after promotion: %+v", f.Plugins)
	}
	if got := lastAction(t, w.st); got != audit.StatusFeedPublished {
		t.Errorf("last audit action %s", got)
	}

	w.advance(25 * time.Hour)
	_, err = w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.0.0", To: "prod"})
	wantKind(t, err, KindConflict, "promotion_refused")
	if !strings.Contains(err.Error(), "steward-approval") {
		t.Errorf("refusal %q does not ask for a steward's approval", err)
	}
	wantKind(t, w.app.ApproveRelease(ctx, pia, "acme/hello@1.0.0", "prod", ""), KindForbidden, "")
	wantKind(t, w.app.ApproveRelease(ctx, steward, "acme/hello@1.0.0", "prod", "looked at it"), ok, "")
	if _, err := w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.0.0", To: "prod"}); err != nil {
		t.Fatal(err)
	}

	// 1.1.0 goes the same way, then into production at 50%.
	v2 := w.certify("acme/hello", "1.1.0")
	w.advance(2 * time.Hour)
	w.report(v2, "dev", []string{"dev-1"}, 200, 0)
	if _, err := w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.1.0", To: "staging"}); err != nil {
		t.Fatal(err)
	}
	w.advance(25 * time.Hour)
	w.report(v2, "staging", []string{"stg-1", "stg-2"}, 600, 1)
	wantKind(t, w.app.ApproveRelease(ctx, steward, "acme/hello@1.1.0", "prod", ""), ok, "")
	rel, err := w.app.PromoteRelease(ctx, pia, PromoteRequest{Ref: "acme/hello@1.1.0", To: "prod", Rollout: 50})
	if err != nil {
		t.Fatal(err)
	}
	// The answer names the version the hosts outside the rollout keep (the
	// CLI prints it); it once carried only the previous version's id.
	if rel.Rollout != 50 || rel.PreviousID != v1.ID || rel.Previous != "1.0.0" || rel.PreviousDigest == "" || rel.Digest == "" {
		t.Fatalf("prod release %+v; want 1.1.0 at 50%% over 1.0.0", rel)
	}
	f := w.feed("prod")
	in, out := 0, 0
	for i := range 200 {
		host := fmt.Sprintf("prod-%d", i)
		ver, _, _ := f.VersionFor("acme/hello", host)
		if want := map[bool]string{true: "1.1.0", false: "1.0.0"}[trust.InRollout(host, "acme/hello", 50)]; ver != want {
			t.Fatalf("%s runs %s; its bucket says %s", host, ver, want)
		}
		if ver == "1.1.0" {
			in++
		} else {
			out++
		}
	}
	if in == 0 || out == 0 {
		t.Fatalf("50%% put %d hosts in and %d out", in, out)
	}
	hist, err := w.app.Releases(ctx, auditor, "acme/hello", 0)
	if err != nil || len(hist.Releases) != 3 || len(hist.History) != 6 {
		t.Fatalf("Releases = %d releases, %d history lines, %v", len(hist.Releases), len(hist.History), err)
	}
	// Every change is in the log (sequenced, whether or not integrated
	// yet) and in the audit trail.
	evs, err := w.st.SequencedTrustEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := w.st.PendingTrustEvents(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[trust.EventKind]int{}
	for _, p := range append(evs, pending...) {
		if e, err := trust.ParseEvent(p.Entry); err == nil {
			kinds[e.Kind]++
		}
	}
	actions := map[string]int{}
	if err := w.st.ScanAudit(ctx, domain.AuditQuery{}, func(e audit.Event) error { actions[e.Action]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if kinds[trust.EventReleaseChanged] < 4 || kinds[trust.EventStatusFeed] < 4 || actions[audit.ReleaseChanged] < 4 || actions[audit.ReleaseApproved] != 2 {
		t.Errorf("log entries %v, audit actions %v; want every promotion, approval and feed", kinds, actions)
	}
}

// TestRolloutControls grows, pauses, resumes and aborts a rollout, halts
// one on three failing hosts (not on one), and rolls a release back.
func TestRolloutControls(t *testing.T) {
	w := newReleaseWorld(t)
	ctx := context.Background()
	v1 := w.certify("acme/hello", "1.0.0")
	v2 := w.certify("acme/hello", "1.1.0")
	cur, err := w.st.GetRelease(ctx, "acme/hello", "dev")
	if err != nil || cur.VersionID != v2.ID || cur.PreviousID != v1.ID {
		t.Fatalf("dev release %+v, %v; want 1.1.0 over 1.0.0", cur, err)
	}
	// Make dev a staged rollout of 1.1.0 by rolling back and promoting
	// nothing: roll back to 1.0.0, then the admin's route is promotion,
	// which dev refuses; so stage it with the store as certification would
	// at 100% and test the controls from 10%.
	cur.Rollout = 10
	if err := w.st.ApplyRelease(ctx, store.ReleaseChange{Release: cur, Expect: cur, Record: domain.ReleaseRecord{Action: domain.ReleasePromoted, Actor: "t"},
		Audit: []audit.Event{{Time: *w.now, Actor: "t", Action: audit.ReleaseChanged, Subject: "plugin:acme/hello"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.app.ChangeRollout(ctx, pia, "acme/hello", "dev", RolloutGrow, 5, "")
	wantKind(t, err, KindInvalid, "")
	if _, err := w.app.ChangeRollout(ctx, pia, "acme/hello", "dev", RolloutGrow, 30, "looks fine"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.ChangeRollout(ctx, pia, "acme/hello", "dev", RolloutPause, 0, ""); err != nil {
		t.Fatal(err)
	}
	if f := w.feed("dev"); f.Plugins[0].Status != "paused" || f.Plugins[0].Rollout != 30 {
		t.Fatalf("paused rollout in the feed: %+v", f.Plugins[0])
	}
	if _, err := w.app.ChangeRollout(ctx, pia, "acme/hello", "dev", RolloutResume, 0, ""); err != nil {
		t.Fatal(err)
	}

	w.report(v2, "dev", []string{"dev-1"}, 100, 50)
	if err := w.app.checkRollout(ctx, "acme/hello", "dev"); err != nil {
		t.Fatal(err)
	}
	if r, _ := w.st.GetRelease(ctx, "acme/hello", "dev"); r.Status != domain.RolloutActive {
		t.Fatalf("one failing host halted the rollout: %+v", r)
	}
	w.report(v2, "dev", []string{"dev-2", "dev-3"}, 100, 50)
	if err := w.app.checkRollout(ctx, "acme/hello", "dev"); err != nil {
		t.Fatal(err)
	}
	r, _ := w.st.GetRelease(ctx, "acme/hello", "dev")
	if r.Status != domain.RolloutHalted {
		t.Fatalf("three failing hosts did not halt the rollout: %+v", r)
	}
	_, err = w.app.ChangeRollout(ctx, pia, "acme/hello", "dev", RolloutGrow, 50, "")
	wantKind(t, err, KindConflict, "rollout_halted")
	if _, err := w.app.ChangeRollout(ctx, steward, "acme/hello", "dev", RolloutAbort, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	if f := w.feed("dev"); f.Plugins[0].Version != "1.0.0" || f.Plugins[0].Rollout != 100 {
		t.Fatalf("after the abort: %+v", f.Plugins[0])
	}

	// Rollback: 1.0.0 has no previous; after a new certification, dev
	// rolls back to 1.0.0 and forward again.
	_, err = w.app.RollbackRelease(ctx, pia, "acme/hello", "dev", "")
	wantKind(t, err, KindConflict, "no_previous_release")
	w.certify("acme/hello", "1.2.0")
	if _, err := w.app.RollbackRelease(ctx, pia, "acme/hello", "dev", "1.2.0 breaks exports"); err != nil {
		t.Fatal(err)
	}
	if f := w.feed("dev"); f.Plugins[0].Version != "1.0.0" {
		t.Fatalf("after the rollback dev runs %s", f.Plugins[0].Version)
	}
	_, err = w.app.RollbackRelease(ctx, otto, "acme/hello", "dev", "")
	wantKind(t, err, KindForbidden, "")
}

// TestFeedCarriesSuspensionsRevocationsAndKills: a suspension changes the
// feed at the next request (a new sequence), the kill switch reaches
// every environment, and a feed is re-signed only when something changed
// or it is past half its life.
func TestFeedCarriesSuspensionsRevocationsAndKills(t *testing.T) {
	w := newReleaseWorld(t)
	ctx := context.Background()
	v1 := w.certify("acme/hello", "1.0.0")
	first := w.feed("prod")
	if again := w.feed("prod"); again.Sequence != first.Sequence {
		t.Fatalf("an unchanged feed was re-signed (%d → %d)", first.Sequence, again.Sequence)
	}
	if err := w.tr.Service.Suspend(ctx, v1.ID, "stella", "CVE-2026-1234 in a dependency", time.Time{}); err != nil {
		t.Fatal(err)
	}
	f := w.feed("prod")
	s, found := f.Suspension(v1.Digest)
	if f.Sequence <= first.Sequence || !found || !strings.Contains(s.Reason, "CVE-2026-1234") {
		t.Fatalf("feed %d after the suspension: %+v", f.Sequence, f.Suspended)
	}
	w.advance(31 * time.Minute)
	if again := w.feed("prod"); again.Sequence != f.Sequence+1 {
		t.Fatalf("a feed past half its life was not re-signed (%d → %d)", f.Sequence, again.Sequence)
	}
	wantKind(t, w.app.KillPlugin(ctx, pia, "acme/hello", "x"), KindForbidden, "")
	wantKind(t, w.app.KillPlugin(ctx, steward, "acme/hello", " "), KindInvalid, "")
	wantKind(t, w.app.KillPlugin(ctx, steward, "acme/nope", "x"), KindNotFound, "")
	wantKind(t, w.app.KillPlugin(ctx, steward, "acme/hello", "exfiltrates contacts"), ok, "")
	for _, env := range domain.DefaultEnvironments {
		if k, found := w.feed(env).Kill("acme/hello"); !found || k.Reason != "exfiltrates contacts" {
			t.Errorf("%s feed does not carry the kill", env)
		}
	}
	if err := w.tr.Service.Revoke(ctx, v1.ID, "stella", "malware"); err != nil {
		t.Fatal(err)
	}
	if _, found := w.feed("dev").Revocation(v1.Digest); !found {
		t.Error("the revocation is not in the feed")
	}
	_, err := w.app.StatusFeed(ctx, "moon")
	wantKind(t, err, KindNotFound, "")
}

// TestHostTokensCarryAnEnvironment: a host token enrolls into a declared
// environment (the first by default); other roles take none.
func TestHostTokensCarryAnEnvironment(t *testing.T) {
	w := newReleaseWorld(t)
	ctx := context.Background()
	tok, _, err := w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "edge-1", Role: "host"})
	if err != nil || tok.Environment != "dev" {
		t.Fatalf("default environment: %q, %v", tok.Environment, err)
	}
	tok, secret, err := w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "edge-2", Role: "host", Environment: "prod"})
	if err != nil || tok.Environment != "prod" {
		t.Fatalf("prod host: %q, %v", tok.Environment, err)
	}
	p, err := w.app.Authenticate(ctx, secret)
	if err != nil || p.Environment != "prod" {
		t.Fatalf("principal %+v, %v", p, err)
	}
	_, _, err = w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "edge-3", Role: "host", Environment: "moon"})
	wantKind(t, err, KindInvalid, "invalid_token_request")
	if err == nil || !strings.Contains(err.Error(), "dev, staging, prod") {
		t.Errorf("error %v does not list the environments", err)
	}
	_, _, err = w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "pub", Role: "publisher", Environment: "prod"})
	wantKind(t, err, KindInvalid, "invalid_token_request")
	if !errors.Is(domain.Environments{"dev", "dev"}.Validate(), domain.ErrInvalid) {
		t.Error("duplicate environments accepted")
	}
}
