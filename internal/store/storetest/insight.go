package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/riverqueue/river"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// insightTests are the suite's tests of the insight records.
var insightTests = []suiteTest{
	{"InsightActivityAndStages", testInsightActivity},
	{"InsightQueue", testInsightQueue},
	{"InsightHotspots", testInsightHotspots},
	{"InsightAuditSearch", testInsightAuditSearch},
	{"InsightCatalog", testInsightCatalog},
	{"InsightExpiringCertificates", testInsightExpiring},
	{"InsightHostErrorRates", testInsightErrorRates},
}

// hours is base plus h hours; base is a Sunday (2026-11-22 04:00 UTC), so
// hours 0..19 fall in the week of Monday 16 November and 20.. in the next.
func hours(h float64) time.Time { return base.Add(time.Duration(h * float64(time.Hour))) }

// insightVersion creates a version at created with the given permissions.
func insightVersion(t *testing.T, s store.Store, id, plugin, ver string, created time.Time, perms ...string) {
	t.Helper()
	v := newVersion(id, plugin, ver, id)
	v.CreatedAt, v.UpdatedAt = created, created
	if perms == nil {
		perms = []string{}
	}
	permJSON, _ := json.Marshal(perms)
	v.Manifest = []byte(fmt.Sprintf(`{"id":%q,"version":%q,"name":"Display of %s","description":"About %s","permissions":%s}`, plugin, ver, plugin, plugin, permJSON))
	if _, created, err := s.CreateVersion(context.Background(), v, []audit.Event{{Time: created, Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil || !created {
		t.Fatalf("creating %s: %v", id, err)
	}
}

// walk moves a version through states, the i-th step at times[i].
func walk(t *testing.T, s store.Store, id string, steps []lifecycle.State, times []time.Time) {
	t.Helper()
	for i := 1; i < len(steps); i++ {
		ev := audit.Event{Time: times[i-1], Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}
		if err := s.Transition(context.Background(), id, steps[i-1], steps[i], "test", ev); err != nil {
			t.Fatalf("%s: %s → %s: %v", id, steps[i-1], steps[i], err)
		}
	}
}

var toReview = []lifecycle.State{lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.InReview}

// insightFixture: acme/a 1.0.0 (sent back after 4h of review), acme/a
// 1.1.0 (certified after 2h of review, 22h after 1.0.0 was sent back),
// beta/b 1.0.0 (in review, overdue).
func insightFixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	insightVersion(t, s, "sub_a1", "acme/a", "1.0.0", hours(0), "net:https://api.example.com", "kv:read")
	insightVersion(t, s, "sub_a2", "acme/a", "1.1.0", hours(21), "kv:read")
	insightVersion(t, s, "sub_b1", "beta/b", "1.0.0", hours(22), "net:https://api.example.com", "secret:TOKEN")
	walk(t, s, "sub_a1", append(toReview, lifecycle.ChangesRequested), []time.Time{hours(0.5), hours(0.8), hours(1), hours(5)})
	walk(t, s, "sub_a2", append(toReview, lifecycle.Certified), []time.Time{hours(21.2), hours(21.5), hours(22), hours(24)})
	walk(t, s, "sub_b1", toReview, []time.Time{hours(22.5), hours(22.8), hours(23)})
	for i, vd := range []domain.Verdict{
		{VersionID: "sub_a1", Outcome: "in_review", Tier: "medium", Weight: 20, CreatedAt: hours(0.9)},
		{VersionID: "sub_a2", Outcome: "in_review", Tier: "low", Weight: 4, CreatedAt: hours(21.9)},
		{VersionID: "sub_b1", Outcome: "in_review", Tier: "high", Weight: 60, CreatedAt: hours(22.9)},
	} {
		vd.PolicyDigest, vd.Body = "sha256:p", []byte(`{}`)
		if _, err := s.SaveVerdict(ctx, vd, event(audit.TriageVerdict, "submission:"+vd.VersionID, 30+i)); err != nil {
			t.Fatal(err)
		}
	}
}

func testInsightActivity(t *testing.T, s store.Store) {
	ctx := context.Background()
	insightFixture(t, s)
	week1 := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	week2 := week1.AddDate(0, 0, 7)
	if got := domain.WeekStart(hours(0)); !got.Equal(week1) {
		t.Fatalf("WeekStart(%s) = %s, want %s", hours(0).UTC(), got, week1)
	}
	acts, err := s.WeeklyActivity(ctx, week1, week2.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || !acts[0].Week.Equal(week1) || !acts[1].Week.Equal(week2) {
		t.Fatalf("weeks = %+v, want two weeks from %s", acts, week1)
	}
	if acts[0].Submissions != 1 || acts[0].InReview != 1 || acts[1].Submissions != 2 || acts[1].InReview != 2 {
		t.Errorf("activity = %+v", acts)
	}
	// A window that ends before the second week sees only the first.
	if acts, _ := s.WeeklyActivity(ctx, week1, week2); len(acts) != 1 {
		t.Errorf("window [week1, week2) = %+v", acts)
	}

	rev, err := s.StageTimes(ctx, domain.StageReview, week1, week2.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(rev) != 2 || rev[0].Count != 1 || rev[0].Max != 4*time.Hour || rev[1].Count != 1 || rev[1].Mean() != 2*time.Hour {
		t.Fatalf("review times = %+v; want 4h in the first week, 2h in the second", rev)
	}
	rem, err := s.StageTimes(ctx, domain.StageRemediation, week1, week2.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(rem) != 1 || !rem[0].Week.Equal(week2) || rem[0].Count != 1 || rem[0].Total != 19*time.Hour {
		t.Fatalf("remediation times = %+v; want one of 19h (sent back at 5h, fixed at 24h)", rem)
	}
	if _, err := s.StageTimes(ctx, "lunch", week1, week2); err == nil {
		t.Error("an unknown stage was accepted")
	}

	counts, err := s.StateCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[lifecycle.State]int{lifecycle.ChangesRequested: 1, lifecycle.Certified: 1, lifecycle.InReview: 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("state counts = %v, want %v", counts, want)
	}
}

func testInsightQueue(t *testing.T, s store.Store) {
	ctx := context.Background()
	empty, err := s.QueueStats(ctx, hours(0))
	if err != nil || empty.Open != 0 || !empty.OldestCreated.IsZero() {
		t.Fatalf("empty queue = %+v, %v", empty, err)
	}
	insightFixture(t, s)
	for _, it := range []domain.ReviewItem{
		{VersionID: "sub_b1", PluginID: "beta/b", Tier: "high", Weight: 60, ApprovalsRequired: 2, Deadline: hours(30), CreatedAt: hours(23)},
	} {
		if err := s.OpenReview(ctx, it, event(audit.ReviewOpen, "submission:"+it.VersionID, 40)); err != nil {
			t.Fatal(err)
		}
	}
	insightVersion(t, s, "sub_c1", "gamma/c", "1.0.0", hours(23.5))
	walk(t, s, "sub_c1", toReview, []time.Time{hours(23.6), hours(23.7), hours(23.8)})
	if err := s.OpenReview(ctx, domain.ReviewItem{VersionID: "sub_c1", PluginID: "gamma/c", Tier: "low", ApprovalsRequired: 1, Deadline: hours(100), CreatedAt: hours(23.8)}, event(audit.ReviewOpen, "submission:sub_c1", 41)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimReview(ctx, "sub_c1", "rita", hours(24), hours(26), event(audit.ReviewClaim, "submission:sub_c1", 42)); err != nil {
		t.Fatal(err)
	}
	vetq, err := s.JobQueue(store.QueueConfig{Name: "insight", Workers: []store.Worker{store.Work[vetArgs](&vetWorker{})}, Now: func() time.Time { return hours(24) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vetq.Insert(ctx, vetArgs{Key: "sub_c1"}, nil); err != nil {
		t.Fatal(err)
	}
	q, err := s.QueueStats(ctx, hours(31))
	if err != nil {
		t.Fatal(err)
	}
	if q.Open != 2 || q.Overdue != 1 || q.Claimed != 0 || !q.OldestCreated.Equal(stored(hours(23))) || q.VetQueued != 1 || q.OldestVetJob.Sub(hours(24)).Abs() >= time.Millisecond {
		t.Errorf("queue at 31h = %+v; want 2 open, 1 overdue, none claimed (the claim ran out), oldest at 23h, 1 vet job queued at 24h (River keeps milliseconds)", q)
	}
	if q, _ := s.QueueStats(ctx, hours(25)); q.Claimed != 1 || q.Overdue != 0 {
		t.Errorf("queue at 25h = %+v; want 1 claimed, none overdue", q)
	}
	if _, err := s.EscalateOverdue(ctx, hours(31)); err != nil {
		t.Fatal(err)
	}
	// A missed deadline still counts once the item is decided.
	walk(t, s, "sub_b1", []lifecycle.State{lifecycle.InReview, lifecycle.Rejected}, []time.Time{hours(32)})
	q, err = s.QueueStats(ctx, hours(33))
	if err != nil || q.Open != 1 || q.Escalated != 0 || q.MissedDeadlines != 1 {
		t.Errorf("queue after the overdue item was decided = %+v, %v; want 1 open, 1 missed deadline", q, err)
	}
}

func testInsightHotspots(t *testing.T, s store.Store) {
	ctx := context.Background()
	insightFixture(t, s)
	walk(t, s, "sub_b1", []lifecycle.State{lifecycle.InReview, lifecycle.Rejected}, []time.Time{hours(30)})
	results := `[{"analyzer":"secrets","status":"failed","findings":[
		{"ruleId":"secrets/aws","severity":"critical","fingerprint":"f1"},
		{"ruleId":"secrets/aws","severity":"high","fingerprint":"f2"},
		{"ruleId":"secrets/generic","severity":"high","fingerprint":"f3","suppressed":{"by":"rita","reason":"test key"}},
		{"ruleId":"secrets/hint","severity":"low","fingerprint":"f4"}]},
		{"analyzer":"licenses","status":"passed","findings":null}]`
	// An older run of sub_b1 with other findings does not count: only the
	// newest run of each version does.
	if _, err := s.SaveVetRun(ctx, domain.VetRun{VersionID: "sub_b1", Results: []byte(`[{"analyzer":"x","findings":[{"ruleId":"old/rule","severity":"high"}]}]`), CreatedAt: hours(22.6)}, event(audit.SubmissionVet, "submission:sub_b1", 50)); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"sub_b1", "sub_a1"} {
		if _, err := s.SaveVetRun(ctx, domain.VetRun{VersionID: id, Results: []byte(results), Blocked: true, CreatedAt: hours(22.7)}, event(audit.SubmissionVet, "submission:"+id, 51+i)); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := s.Hotspots(ctx, domain.HotspotQuery{By: domain.ByRule, Since: hours(-1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Key != "secrets/aws" || rules[0].Findings != 4 || rules[0].Versions != 2 {
		t.Fatalf("rule hotspots = %+v; want secrets/aws alone (suppressed, low and superseded findings do not count) with 4 findings in 2 versions", rules)
	}
	perms, err := s.Hotspots(ctx, domain.HotspotQuery{By: domain.ByPermission, Since: hours(-1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) != 3 || perms[0].Key != "net:https://api.example.com" || perms[0].Versions != 2 || perms[0].Rejected != 1 || perms[0].MeanWeight != 40 {
		t.Fatalf("permission hotspots = %+v; want the origin first (2 versions, 1 rejected, mean weight 40)", perms)
	}
	pubs, err := s.Hotspots(ctx, domain.HotspotQuery{By: domain.ByPublisher, Since: hours(-1), Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(pubs) != 1 || pubs[0].Key != "beta" || pubs[0].Rejected != 1 {
		t.Fatalf("publisher hotspots (limit 1) = %+v; want beta, with its rejection", pubs)
	}
	// The window: versions received before Since are not counted.
	if pubs, _ := s.Hotspots(ctx, domain.HotspotQuery{By: domain.ByPublisher, Since: hours(21.5)}); len(pubs) != 1 || pubs[0].Key != "beta" {
		t.Errorf("publisher hotspots since 21.5h = %+v", pubs)
	}
	if _, err := s.Hotspots(ctx, domain.HotspotQuery{By: "colour"}); err == nil {
		t.Error("an unknown grouping was accepted")
	}
}

func testInsightAuditSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	insightFixture(t, s)
	all, err := s.SearchAudit(ctx, domain.AuditFilter{Limit: store.MaxInsightRows})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 10 || all[0].Seq < all[len(all)-1].Seq {
		t.Fatalf("search returned %d events, want newest first", len(all))
	}
	trans, err := s.SearchAudit(ctx, domain.AuditFilter{Action: "submission.", Subject: "submission:sub_a1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(trans) != 5 { // created, then 4 transitions
		t.Fatalf("sub_a1's submission.* events = %d, want 5", len(trans))
	}
	for _, e := range trans {
		if e.Subject != "submission:sub_a1" {
			t.Fatalf("subject filter leaked %s", e.Subject)
		}
	}
	// The wildcard characters of LIKE match literally.
	if got, _ := s.SearchAudit(ctx, domain.AuditFilter{Subject: "submission%:"}); len(got) != 0 {
		t.Errorf("a %% in the subject matched %d events", len(got))
	}
	page, _ := s.SearchAudit(ctx, domain.AuditFilter{Actor: "system", Limit: 2})
	if len(page) != 2 {
		t.Fatalf("limit 2 gave %d", len(page))
	}
	next, _ := s.SearchAudit(ctx, domain.AuditFilter{Actor: "system", Limit: 2, BeforeSeq: page[1].Seq})
	if len(next) != 2 || next[0].Seq >= page[1].Seq {
		t.Errorf("the next page %+v does not continue before seq %d", next, page[1].Seq)
	}
	win, _ := s.SearchAudit(ctx, domain.AuditFilter{Since: hours(21), Until: hours(23), Action: audit.SubmissionTransition})
	for _, e := range win {
		if e.Time.Before(stored(hours(21))) || !e.Time.Before(stored(hours(23))) {
			t.Errorf("event at %s outside the window", e.Time)
		}
	}
	if len(win) != 5 { // sub_a2's three, sub_b1's first two
		t.Errorf("window has %d transitions, want 5", len(win))
	}
}

func testInsightCatalog(t *testing.T, s store.Store) {
	ctx := context.Background()
	insightFixture(t, s)
	public := []lifecycle.State{lifecycle.Certified, lifecycle.Suspended}
	es, err := s.CatalogEntries(ctx, domain.CatalogQuery{States: public})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Plugin.ID != "acme/a" || es[0].Version.Version != "1.1.0" || es[0].Tier != "low" || es[0].Weight != 4 {
		t.Fatalf("public catalog = %+v; want acme/a at 1.1.0 (tier low) alone", es)
	}
	everything, err := s.CatalogEntries(ctx, domain.CatalogQuery{States: lifecycle.States})
	if err != nil || len(everything) != 2 {
		t.Fatalf("full catalog = %+v, %v", everything, err)
	}
	// The newest version in the states asked for is shown.
	if v := everything[0].Version; everything[0].Plugin.ID != "acme/a" || v.ID != "sub_a2" || len(v.Files) != 1 || len(v.Manifest) == 0 {
		t.Errorf("acme/a shows %+v", v)
	}
	if es, _ := s.CatalogEntries(ctx, domain.CatalogQuery{States: lifecycle.States, Tier: "high"}); len(es) != 1 || es[0].Plugin.ID != "beta/b" {
		t.Errorf("tier high = %+v", es)
	}
	if es, _ := s.CatalogEntries(ctx, domain.CatalogQuery{States: lifecycle.States, Search: "BETA"}); len(es) != 1 || es[0].Plugin.ID != "beta/b" {
		t.Errorf("search BETA = %+v", es)
	}
	if es, _ := s.CatalogEntries(ctx, domain.CatalogQuery{States: lifecycle.States, Limit: 1, Offset: 1}); len(es) != 1 || es[0].Plugin.ID != "beta/b" {
		t.Errorf("page 2 of 1 = %+v", es)
	}
	if _, err := s.CatalogEntries(ctx, domain.CatalogQuery{}); err == nil {
		t.Error("a catalog query without states was accepted")
	}
}

// certify moves an in-review version to certified with a certificate
// expiring at exp.
func certifyAt(t *testing.T, s store.Store, id string, exp time.Time) {
	t.Helper()
	_, err := s.ApplyTrustChange(context.Background(), store.TrustChange{
		VersionID: id, From: lifecycle.InReview, To: lifecycle.Certified, Reason: "approved",
		Certificate: &domain.CertificateRecord{Kind: audit.CertificateIssued, Envelope: []byte(`{}`), KeyID: "mk", IssuedAt: hours(30), ExpiresAt: exp},
		Entries:     [][]byte{[]byte(`{"kind":"certificate.issued"}`)},
		Audit:       []audit.Event{{Time: hours(30), Actor: "bob", Action: audit.CertificateIssued, Subject: "submission:" + id}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testInsightExpiring(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, id := range []string{"sub_x1", "sub_x2", "sub_x3"} {
		insightVersion(t, s, id, "acme/"+id, "1.0.0", hours(float64(i)))
		walk(t, s, id, toReview, []time.Time{hours(1), hours(2), hours(3)})
	}
	certifyAt(t, s, "sub_x1", hours(200))
	certifyAt(t, s, "sub_x2", hours(100))
	certifyAt(t, s, "sub_x3", hours(900))
	// A renewal replaces the expiry that counts: the newest certificate's.
	_, err := s.ApplyTrustChange(ctx, store.TrustChange{
		VersionID:   "sub_x2",
		Certificate: &domain.CertificateRecord{Kind: audit.CertificateRenewed, Envelope: []byte(`{}`), KeyID: "mk", IssuedAt: hours(90), ExpiresAt: hours(800)},
		Entries:     [][]byte{[]byte(`{"kind":"certificate.renewed"}`)},
		Audit:       []audit.Event{{Time: hours(90), Actor: "system", Action: audit.CertificateRenewed, Subject: "submission:sub_x2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ExpiringCertificates(ctx, hours(850), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].VersionID != "sub_x1" || !got[0].ExpiresAt.Equal(stored(hours(200))) || got[1].VersionID != "sub_x2" || got[0].PluginID != "acme/sub_x1" {
		t.Fatalf("expiring before 850h = %+v; want sub_x1 (200h) then sub_x2 (renewed to 800h)", got)
	}
	// Suspended versions are not "certified and expiring".
	walk(t, s, "sub_x1", []lifecycle.State{lifecycle.Certified, lifecycle.Suspended}, []time.Time{hours(40)})
	if got, _ := s.ExpiringCertificates(ctx, hours(850), 1); len(got) != 1 || got[0].VersionID != "sub_x2" {
		t.Errorf("after suspending sub_x1, limit 1 = %+v", got)
	}
}

func testInsightErrorRates(t *testing.T, s store.Store) {
	ctx := context.Background()
	insightVersion(t, s, "sub_h1", "acme/h", "1.0.0", hours(0))
	insightVersion(t, s, "sub_h2", "acme/h", "1.1.0", hours(0))
	reports := []domain.HealthReport{
		{VersionID: "sub_h1", Host: "host-a", Calls: 100, Errors: map[string]int64{"timeout": 3, "trap": 2}, Denials: 1, ReceivedAt: hours(10)},
		{VersionID: "sub_h1", Host: "host-b", Calls: 100, Errors: map[string]int64{"memory": 5}, BreakerTrips: 1, ReceivedAt: hours(11)},
		{VersionID: "sub_h2", Host: "host-a", Calls: 1000, Errors: map[string]int64{"timeout": 1}, ReceivedAt: hours(12)},
		{VersionID: "sub_h2", Host: "host-a", Calls: 50, Errors: map[string]int64{"timeout": 50}, ReceivedAt: hours(1)}, // before the window
	}
	for i := range reports {
		reports[i].WindowStart, reports[i].WindowEnd = reports[i].ReceivedAt.Add(-time.Hour), reports[i].ReceivedAt
	}
	if err := s.SaveHealthReports(ctx, reports, []audit.Event{{Time: hours(12), Actor: "host-a", Action: audit.HealthAlert, Subject: "submission:sub_h1"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.HostErrorRates(ctx, hours(5), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("error rates = %+v", got)
	}
	h1 := got[0]
	if h1.VersionID != "sub_h1" || h1.Calls != 200 || h1.Errors != 10 || h1.Hosts != 2 || h1.Denials != 1 || h1.BreakerTrips != 1 || h1.Rate() != 0.05 || h1.Version != "1.0.0" {
		t.Errorf("sub_h1 = %+v; want 10 errors in 200 calls from 2 hosts, first", h1)
	}
	if h2 := got[1]; h2.VersionID != "sub_h2" || h2.Calls != 1000 || h2.Errors != 1 {
		t.Errorf("sub_h2 = %+v; the report before the window must not count", h2)
	}
}

// vetArgs is a job of the pipeline's vet kind, for the backlog figures.
type vetArgs struct {
	Key string `json:"key"`
}

func (vetArgs) Kind() string { return "vet" }

type vetWorker struct{ river.WorkerDefaults[vetArgs] }

func (*vetWorker) Work(context.Context, *river.Job[vetArgs]) error { return nil }
