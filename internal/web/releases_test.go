package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// certify approves v when it waits for a reviewer; either way it must end
// certified (and so released into dev).
func (e *env) certify(v domain.Version) domain.Version {
	e.t.Helper()
	ctx := context.Background()
	if v.State == lifecycle.InReview {
		if _, err := e.m.Review.Approve(ctx, domain.Principal{Subject: "user-reviewer", Role: domain.RoleReviewer}, v.ID, nil, "fine"); err != nil {
			e.t.Fatal(err)
		}
	}
	// A served marketplace's worker certifies an auto-approved version
	// in the background: wait for it.
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := e.m.Store.GetVersion(ctx, v.ID)
		if err == nil && v.State == lifecycle.Certified {
			return v
		}
		if err != nil || !e.served || time.Now().After(deadline) {
			e.t.Fatalf("%s is %s (%v), want certified", v.ID, v.State, err)
		}
		e.m.Pipeline.Wake()
		time.Sleep(20 * time.Millisecond)
	}
}

// stageRollout certifies acme/NAME 1.0.0 then 1.1.0 (each is released
// into dev on certification) and makes dev a staged rollout of 1.1.0 at
// 10% over 1.0.0, as `release promote --rollout 10%` would (promotion is
// the policy's, which wants days of soak; the store stages it at once).
// Hosts report: 1.1.0 fails 10 of 200 calls on two hosts, 1.0.0 none.
func (e *env) stageRollout(name string) (v1, v2 domain.Version) {
	e.t.Helper()
	ctx := context.Background()
	v1 = e.certify(e.submit(pkg(e.t, name, "1.0.0", name+"1", false, "kv:read")))
	v2 = e.certify(e.submit(pkg(e.t, name, "1.1.0", name+"2", false, "kv:read")))
	id := "acme/" + name
	cur, err := e.m.Store.GetRelease(ctx, id, "dev")
	if err != nil || cur.VersionID != v2.ID || cur.PreviousID != v1.ID {
		e.t.Fatalf("dev release %+v (%v); want 1.1.0 over 1.0.0", cur, err)
	}
	next := cur
	next.Rollout, next.UpdatedAt = 10, time.Now().UTC()
	if err := e.m.Store.ApplyRelease(ctx, store.ReleaseChange{Release: next, Expect: cur,
		Record: domain.ReleaseRecord{Action: domain.ReleasePromoted, Actor: "test", Reason: "staged by the test"},
		Audit:  []audit.Event{{Time: time.Now(), Actor: "test", Action: audit.ReleaseChanged, Subject: "plugin:" + id}}}); err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	var reps []domain.HealthReport
	for _, h := range []string{"dev-1", "dev-2"} {
		reps = append(reps, domain.HealthReport{VersionID: v2.ID, Host: h, Environment: "dev", WindowStart: now.Add(-time.Minute), WindowEnd: now,
			Calls: 100, Errors: map[string]int64{"trap": 5}, ReceivedAt: now})
	}
	reps = append(reps, domain.HealthReport{VersionID: v1.ID, Host: "dev-3", Environment: "dev", WindowStart: now.Add(-time.Minute), WindowEnd: now,
		Calls: 300, ReceivedAt: now})
	if err := e.m.Store.SaveHealthReports(ctx, reps, nil); err != nil {
		e.t.Fatal(err)
	}
	return v1, v2
}

func (e *env) release(id, env string) domain.Release {
	e.t.Helper()
	r, err := e.m.Store.GetRelease(context.Background(), id, env)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// TestReleasePagesShowWhatTheAPIShows: the timeline is for anyone signed
// in (as the API's releases route), health for the overseers, the
// rollout controls for stewards and the plugin's own publishers only.
func TestReleasePagesShowWhatTheAPIShows(t *testing.T) {
	e := newEnv(t)
	e.stageRollout("hello")
	const rel, ro = "/plugins/acme/hello/releases", "/plugins/acme/hello/rollout"

	anon := e.browser()
	if p := anon.get(rel); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin?next=") {
		t.Errorf("anonymous releases page: %d to %q, want a redirect to sign in", p.status, p.header.Get("Location"))
	}
	if p := anon.get("/plugins/acme/hello"); p.status != 200 || !strings.Contains(p.body, "Sign in</a> to see which version runs") || strings.Contains(p.body, "Rollout controls") {
		t.Errorf("anonymous plugin page: %d, release note missing or controls shown", p.status)
	}

	aud := e.browser()
	aud.signIn("auditor")
	p := aud.get(rel)
	if p.status != 200 {
		t.Fatalf("auditor releases page: %d %s", p.status, errorText(p.body))
	}
	for _, want := range []string{`id="env-dev"`, ">1.1.0</a>", "<td>10%</td>", "<td>1.0.0</td>", "rollout-status\">active", `id="env-prod"`, "No release yet.",
		"promoted at 10%", "staged by the test", "released at 100%", // the history, newest first
		"<td>5.00%</td>", "<td>0.00%</td>", "(previous)", // health per version
		"Rollout percentage over time", `<polyline class="line s0"`, "Error rate per version and environment", "dev · 1.1.0: 5.00% of 200 calls · 2 hosts"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the auditor's releases page lacks %q", want)
		}
	}
	if hist := p.body[strings.Index(p.body, "<h2>Release history"):]; strings.Index(hist, "promoted at 10%") > strings.Index(hist, "released at 100%") {
		t.Error("the history is not newest first")
	}
	if strings.Contains(p.body, `action="/plugins/acme/hello/rollout"`) || strings.Contains(p.body, "Rollout controls") {
		t.Error("an auditor is offered rollout controls")
	}
	if p := aud.get(ro); p.status != http.StatusForbidden {
		t.Errorf("auditor rollout page: %d, want 403", p.status)
	}

	pub := e.browser()
	pub.signIn("publisher") // owns acme
	p = pub.get(rel)
	if p.status != 200 || !strings.Contains(p.body, `href="/plugins/acme/hello/rollout"`) {
		t.Errorf("the owner's releases page: %d, without the link to the rollout controls", p.status)
	}
	if strings.Contains(p.body, "<td>5.00%</td>") || !strings.Contains(p.body, "shown to reviewers, stewards and auditors") {
		t.Error("a publisher sees host health, which the API keeps for the overseers")
	}
	if p := pub.get(ro); p.status != 200 || !strings.Contains(p.body, `id="pause-dev"`) || !strings.Contains(p.body, `id="abort-dev"`) {
		t.Errorf("the owner's rollout page: %d, without pause and abort", p.status)
	}

	other := e.browser()
	other.signIn("publisher-other")
	p = other.get(rel)
	if p.status != 200 || strings.Contains(p.body, "Rollout controls") {
		t.Errorf("another namespace's publisher: releases page %d, or offered the controls", p.status)
	}
	if p := other.get(ro); p.status != http.StatusForbidden {
		t.Errorf("another namespace's publisher opened the rollout page: %d", p.status)
	}
	tok := other.get("/policy").csrf()
	if tok == "" {
		tok = other.get("/signin").csrf()
	}
	if p := other.post(ro, url.Values{"csrf": {tok}, "environment": {"dev"}, "action": {"pause"}}); p.status != http.StatusForbidden {
		t.Errorf("another namespace's publisher paused: %d %s", p.status, errorText(p.body))
	}
	if r := e.release("acme/hello", "dev"); r.Status != domain.RolloutActive {
		t.Errorf("after a refused pause the rollout is %s", r.Status)
	}

	host := e.browser()
	host.signIn("host")
	if p := host.get(rel); p.status != http.StatusForbidden {
		t.Errorf("a host token opened the releases page: %d", p.status)
	}
}

// TestStewardChangesRolloutThroughForms: forms without the CSRF token are
// refused; a steward pauses (the release is paused, recorded with the
// steward's name), a second pause is refused naming its rule, then
// resumes, grows and aborts.
func TestStewardChangesRolloutThroughForms(t *testing.T) {
	e := newEnv(t)
	e.stageRollout("hello")
	const ro = "/plugins/acme/hello/rollout"
	b := e.browser()
	b.signIn("steward")
	page := b.get(ro)
	if page.status != 200 || !strings.Contains(page.body, `id="pause-dev"`) {
		t.Fatalf("rollout page: %d %s", page.status, errorText(page.body))
	}
	pause := url.Values{"environment": {"dev"}, "action": {"pause"}, "reason": {"error rate up"}}
	if p := b.post(ro, pause); p.status != http.StatusForbidden {
		t.Errorf("a pause without the CSRF token: %d", p.status)
	}
	pause.Set("csrf", "forged")
	if p := b.post(ro, pause); p.status != http.StatusForbidden {
		t.Errorf("a pause with a forged CSRF token: %d", p.status)
	}
	if r := e.release("acme/hello", "dev"); r.Status != domain.RolloutActive {
		t.Fatalf("a refused form changed the rollout: %s", r.Status)
	}

	pause.Set("csrf", page.csrf())
	p := b.post(ro, pause)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != ro+"?done=rollout-pause" {
		t.Fatalf("pause: %d to %q %s", p.status, p.header.Get("Location"), errorText(p.body))
	}
	if r := e.release("acme/hello", "dev"); r.Status != domain.RolloutPaused || r.Rollout != 10 {
		t.Fatalf("after the pause the release is %+v", r)
	}
	after := b.get(ro + "?done=rollout-pause")
	for _, want := range []string{"The rollout is paused", "rollout-status\">paused", "paused at 10%", "by user-steward", "error rate up", `id="resume-dev"`} {
		if !strings.Contains(after.body, want) {
			t.Errorf("after the pause the page lacks %q", want)
		}
	}
	found := false
	if err := e.m.Store.ScanAudit(context.Background(), domain.AuditQuery{Subject: "plugin:acme/hello"}, func(ev audit.Event) error {
		found = found || (ev.Action == audit.ReleaseChanged && ev.Actor == "user-steward" && strings.Contains(ev.Reason, "paused"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("the pause is not in the audit trail as the steward's")
	}

	// A refusal shows its rule on the page, with the application's status.
	p = b.post(ro, pause)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "Refused (<code>not_rolling_out</code>)") || !strings.Contains(p.body, "no active rollout to pause") {
		t.Errorf("a second pause: %d %s", p.status, errorText(p.body))
	}
	grow := url.Values{"csrf": {page.csrf()}, "environment": {"dev"}, "action": {"grow"}, "rollout": {"5"}}
	if p := b.post(ro, grow); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "grow it to a higher percentage") {
		t.Errorf("shrinking the rollout: %d %s", p.status, errorText(p.body))
	}
	for _, f := range []url.Values{
		{"action": {"resume"}},
		{"action": {"grow"}, "rollout": {"50"}},
	} {
		f.Set("csrf", page.csrf())
		f.Set("environment", "dev")
		if p := b.post(ro, f); p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", f.Get("action"), p.status, errorText(p.body))
		}
	}
	if r := e.release("acme/hello", "dev"); r.Status != domain.RolloutActive || r.Rollout != 50 {
		t.Fatalf("after resume and grow: %+v", r)
	}
	if p := b.post(ro, url.Values{"csrf": {page.csrf()}, "environment": {"dev"}, "action": {"abort"}, "reason": {"bad"}}); p.status != http.StatusSeeOther {
		t.Fatalf("abort: %d %s", p.status, errorText(p.body))
	}
	if r := e.release("acme/hello", "dev"); r.Version != "1.0.0" || r.Rollout != 100 {
		t.Fatalf("after the abort: %+v", r)
	}
	if p := b.get(ro); !strings.Contains(p.body, "aborted at 100%") || strings.Contains(p.body, `id="pause-dev"`) {
		t.Error("after the abort the page shows no abort, or still offers a pause")
	}
}
