package storetest

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// monitorTests are the suite's tests of the monitor records.
var monitorTests = []suiteTest{
	{"RevalidationSchedule", testRevalidationSchedule},
	{"ComponentIndex", testComponentIndex},
	{"HostAPIOffers", testHostAPIOffers},
	{"HealthReports", testHealthReports},
	{"HealthVotesCountEachVoterOnce", testHealthVotes},
}

// certifiedVersion creates a version and walks it to certified.
func certifiedVersion(t *testing.T, s store.Store, id, pluginID, ver string) domain.Version {
	t.Helper()
	v := create(t, s, newVersion(id, pluginID, ver, id))
	path := []lifecycle.State{lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved, lifecycle.Certified}
	from := lifecycle.Received
	for i, to := range path {
		if err := s.Transition(context.Background(), id, from, to, "test", event(audit.SubmissionTransition, "submission:"+id, 20+i)); err != nil {
			t.Fatalf("moving %s to %s: %v", id, to, err)
		}
		from = to
	}
	v.State = lifecycle.Certified
	return v
}

func testRevalidationSchedule(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "v1", "acme/one", "1.0.0")
	certifiedVersion(t, s, "v2", "acme/two", "1.0.0")
	create(t, s, newVersion("v3", "acme/three", "1.0.0", "three")) // received: never scheduled
	certified := []lifecycle.State{lifecycle.Certified}

	un, err := s.UnscheduledVersions(ctx, certified, 10)
	if err != nil || len(un) != 2 {
		t.Fatalf("UnscheduledVersions = %d versions, %v; want v1 and v2", len(un), err)
	}
	if _, err := s.GetRevalidation(ctx, "v1"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetRevalidation before scheduling: %v; want ErrNotFound", err)
	}
	r1 := domain.Revalidation{VersionID: "v1", PluginID: "acme/one", Tier: "low", NextAt: at(100), UpdatedAt: at(30)}
	r2 := domain.Revalidation{VersionID: "v2", PluginID: "acme/two", Tier: "high", NextAt: at(500), UpdatedAt: at(30)}
	for _, r := range []domain.Revalidation{r1, r2} {
		if err := s.SaveRevalidation(ctx, r, nil); err != nil {
			t.Fatalf("SaveRevalidation(%s): %v", r.VersionID, err)
		}
	}
	if un, _ := s.UnscheduledVersions(ctx, certified, 10); len(un) != 0 {
		t.Fatalf("UnscheduledVersions after scheduling = %v; want none", un)
	}
	got, err := s.GetRevalidation(ctx, "v1")
	if err != nil || got.Tier != "low" || !got.NextAt.Equal(stored(at(100))) || !got.Deadline.IsZero() || got.NeedsReview {
		t.Fatalf("GetRevalidation(v1) = %+v, %v; want the saved schedule", got, err)
	}

	due, err := s.DueRevalidations(ctx, at(200), 10)
	if err != nil || len(due) != 1 || due[0].VersionID != "v1" {
		t.Fatalf("DueRevalidations(at 200) = %+v, %v; want v1 alone", due, err)
	}

	// A failed revalidation: suspended with a deadline, the event in the
	// same write.
	if err := s.Transition(ctx, "v2", lifecycle.Certified, lifecycle.Suspended, "failed", event(audit.VersionSuspended, "submission:v2", 40)); err != nil {
		t.Fatal(err)
	}
	r2.Deadline, r2.NextAt, r2.LastOutcome, r2.LastReason, r2.NeedsReview, r2.ReviewReason = at(300), at(9000), "failed", "advisory GO-1", true, "host errors"
	n := len(trail(t, s, "submission:v2"))
	if err := s.SaveRevalidation(ctx, r2, []audit.Event{event(audit.RevalidationFailed, "submission:v2", 41)}); err != nil {
		t.Fatal(err)
	}
	if got := len(trail(t, s, "submission:v2")); got != n+1 {
		t.Fatalf("the failed revalidation recorded %d audit events; want 1", got-n)
	}
	suspended := []lifecycle.State{lifecycle.Suspended}
	// Suspended v2's next time (at 9000) never makes it due; its deadline
	// does. Certified v1 is due by its next time.
	if due, _ := s.DueRevalidations(ctx, at(299), 10); len(due) != 1 || due[0].VersionID != "v1" {
		t.Fatalf("before v2's deadline the due schedules are %+v; want v1 alone", due)
	}
	due, err = s.DueRevalidations(ctx, at(300), 10)
	if err != nil || len(due) != 2 || due[1].VersionID != "v2" || !due[1].NeedsReview || due[1].LastReason != "advisory GO-1" || due[1].ReviewReason != "host errors" || !due[1].Deadline.Equal(stored(at(300))) {
		t.Fatalf("DueRevalidations at the deadline = %+v, %v; want v1 and v2 with its reason", due, err)
	}
	// A suspended version without a remediation deadline (suspended by an
	// incident, say) is never due, however old its next time.
	r2.Deadline, r2.NextAt = time.Time{}, at(1)
	if err := s.SaveRevalidation(ctx, r2, nil); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueRevalidations(ctx, at(10000), 10); len(due) != 1 || due[0].VersionID != "v1" {
		t.Fatalf("a suspended version without a deadline is due: %+v", due)
	}

	all, err := s.ListRevalidations(ctx, domain.RevalidationQuery{})
	if err != nil || len(all) != 2 || all[0].VersionID != "v1" {
		t.Fatalf("ListRevalidations = %+v, %v; want v1, v2", all, err)
	}
	page, err := s.ListRevalidations(ctx, domain.RevalidationQuery{States: suspended, AfterVersion: ""})
	if err != nil || len(page) != 1 || page[0].VersionID != "v2" {
		t.Fatalf("ListRevalidations(suspended) = %+v, %v; want v2", page, err)
	}
	if err := s.SaveRevalidation(ctx, domain.Revalidation{VersionID: "nope", PluginID: "x/y", NextAt: at(1)}, nil); err == nil {
		t.Fatal("a schedule for a version that does not exist was saved")
	}
}

func testComponentIndex(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "v1", "acme/one", "1.0.0")
	certifiedVersion(t, s, "v2", "acme/two", "1.0.0")
	create(t, s, newVersion("v3", "acme/three", "1.0.0", "three"))
	text := func(v string) domain.Component {
		return domain.Component{Ecosystem: "Go", Name: "golang.org/x/text", Version: v}
	}
	must := func(id string, cs ...domain.Component) {
		t.Helper()
		if err := s.IndexComponents(ctx, id, cs); err != nil {
			t.Fatalf("IndexComponents(%s): %v", id, err)
		}
	}
	must("v1", text("v0.3.7"), text("v0.3.7"), domain.Component{Ecosystem: "Go", Name: "stdlib", Version: "v1.22.0"})
	must("v2", text("v0.14.0"))
	must("v3", text("v0.3.0"))
	certified := []lifecycle.State{lifecycle.Certified}

	uses, err := s.ComponentUsers(ctx, "Go", []string{"golang.org/x/text"}, certified, 0)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(uses, func(i, j int) bool { return uses[i].VersionID < uses[j].VersionID })
	if len(uses) != 2 || uses[0].VersionID != "v1" || uses[0].Version != "v0.3.7" || uses[1].Version != "v0.14.0" {
		t.Fatalf("ComponentUsers(x/text, certified) = %+v; want v1 at v0.3.7 and v2 at v0.14.0 (v3 is not certified)", uses)
	}
	if uses, _ := s.ComponentUsers(ctx, "npm", []string{"golang.org/x/text"}, certified, 0); len(uses) != 0 {
		t.Fatalf("another ecosystem matched: %+v", uses)
	}
	// Re-indexing replaces: v1 no longer ships x/text.
	must("v1", domain.Component{Ecosystem: "Go", Name: "stdlib", Version: "v1.23.0"})
	uses, _ = s.ComponentUsers(ctx, "Go", []string{"golang.org/x/text", "stdlib"}, certified, 0)
	if len(uses) != 2 {
		t.Fatalf("after re-indexing v1: %+v; want v1's stdlib and v2's x/text", uses)
	}
	if _, err := s.ComponentUsers(ctx, "Go", []string{"golang.org/x/text", "stdlib"}, certified, 1); err == nil {
		t.Fatal("ComponentUsers silently cut a list longer than its limit")
	}
	if err := s.IndexComponents(ctx, "v2", []domain.Component{{Ecosystem: "", Name: "x"}}); err == nil {
		t.Fatal("a component without an ecosystem was indexed")
	}
	if err := s.IndexComponents(ctx, "nope", []domain.Component{text("v1")}); err == nil {
		t.Fatal("components of a version that does not exist were indexed")
	}
}

func testHostAPIOffers(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, v := range []string{"1.0.0", "2.0.0", "2.0.0"} {
		if err := s.OfferHostAPI(ctx, domain.HostAPIOffer{Version: v, By: "ops", OfferedAt: at(i)}, event(audit.HostAPIOffered, "hostapi:"+v, i)); err != nil {
			t.Fatalf("OfferHostAPI(%s): %v", v, err)
		}
	}
	got, err := s.ListHostAPIs(ctx)
	if err != nil || len(got) != 2 || got[0].Version != "2.0.0" || !got[0].OfferedAt.Equal(stored(at(1))) {
		t.Fatalf("ListHostAPIs = %+v, %v; want 2.0.0 (offered once) then 1.0.0", got, err)
	}
	if n := len(trail(t, s, "hostapi:2.0.0")); n != 1 {
		t.Fatalf("offering 2.0.0 twice recorded %d events; want 1", n)
	}
}

func testHealthReports(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "v1", "acme/one", "1.0.0")
	rep := func(i int, calls int64, errs map[string]int64) domain.HealthReport {
		return domain.HealthReport{VersionID: "v1", Host: "host-a", WindowStart: at(i), WindowEnd: at(i + 60), Calls: calls, Errors: errs, Denials: 2, BreakerTrips: 1, ReceivedAt: at(i + 61)}
	}
	if err := s.SaveHealthReports(ctx, []domain.HealthReport{rep(0, 100, nil)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveHealthReports(ctx, []domain.HealthReport{rep(100, 50, map[string]int64{"timeout": 7, "trap": 3})},
		[]audit.Event{event(audit.HealthAlert, "submission:v1", 200)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListHealthReports(ctx, "v1", at(0), 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListHealthReports = %d, %v; want 2", len(got), err)
	}
	if got[0].Calls != 50 || got[0].ErrorCount() != 10 || got[0].Errors["timeout"] != 7 || got[0].Host != "host-a" || !got[0].WindowEnd.Equal(stored(at(160))) {
		t.Fatalf("newest report = %+v; want the second, with its errors by kind", got[0])
	}
	if got, _ := s.ListHealthReports(ctx, "v1", at(100), 10); len(got) != 1 {
		t.Fatalf("reports since at(100) = %d; want 1", len(got))
	}
	if n := len(trail(t, s, "submission:v1")); n == 0 || trail(t, s, "submission:v1")[n-1].Action != audit.HealthAlert {
		t.Fatal("the alert was not recorded with its report")
	}
	bad := rep(0, -1, nil)
	if err := s.SaveHealthReports(ctx, []domain.HealthReport{bad}, nil); err == nil {
		t.Fatal("a report with negative calls was saved")
	}
	unknown := rep(0, 1, nil)
	unknown.VersionID = "nope"
	if err := s.SaveHealthReports(ctx, []domain.HealthReport{unknown}, nil); err == nil {
		t.Fatal("a report for an unknown version was saved")
	}
	many := make([]domain.HealthReport, 1001)
	for i := range many {
		many[i] = rep(i, 1, nil)
	}
	if err := s.SaveHealthReports(ctx, many, nil); err == nil {
		t.Fatal("1001 reports were saved in one call")
	}
}

// testHealthVotes: a voter has one row per version however often it
// votes, its last time only moves forward, and a vote is written with its
// report and audit event or not at all.
func testHealthVotes(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "v1", "acme/one", "1.0.0")
	vote := func(voter, kind string, i int) domain.HealthVote {
		return domain.HealthVote{VersionID: "v1", Voter: voter, Kind: kind, FirstAt: at(i), LastAt: at(i), Reports: 1, Reason: "failing " + voter}
	}
	rep := func(host string, i int) domain.HealthReport {
		return domain.HealthReport{VersionID: "v1", Host: host, WindowStart: at(i), WindowEnd: at(i + 60), Calls: 100, Errors: map[string]int64{"trap": 50}, ReceivedAt: at(i + 61)}
	}
	for i := range 5 {
		if err := s.RecordHealthReports(ctx, []domain.HealthReport{rep("host-a", i*100)}, []domain.HealthVote{vote("host-a", "host", i*100)}, nil); err != nil {
			t.Fatalf("RecordHealthReports(host-a #%d): %v", i, err)
		}
	}
	// An older vote arriving late does not move the last time back.
	if err := s.RecordHealthReports(ctx, nil, []domain.HealthVote{vote("host-a", "host", 50)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordHealthReports(ctx, nil, []domain.HealthVote{vote("alice", "steward", 1000)}, []audit.Event{event(audit.HealthConfirmed, "submission:v1", 1000)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListHealthVotes(ctx, "v1", at(0), 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListHealthVotes = %+v, %v; want one vote of host-a and one of alice", got, err)
	}
	if got[0].Voter != "alice" || got[0].Kind != "steward" || !got[0].LastAt.Equal(stored(at(1000))) {
		t.Fatalf("latest vote = %+v; want alice's confirmation", got[0])
	}
	a := got[1]
	if a.Voter != "host-a" || a.Kind != "host" || a.Reports != 6 || !a.FirstAt.Equal(stored(at(0))) || !a.LastAt.Equal(stored(at(400))) {
		t.Fatalf("host-a's vote = %+v; want one row, 6 reports, first at(0), last at(400)", a)
	}
	if got, _ := s.ListHealthVotes(ctx, "v1", at(500), 10); len(got) != 1 || got[0].Voter != "alice" {
		t.Fatalf("votes since at(500) = %+v; want alice's only", got)
	}
	if reps, _ := s.ListHealthReports(ctx, "v1", at(0), 100); len(reps) != 5 {
		t.Fatalf("%d reports stored with the votes; want 5", len(reps))
	}
	if evs := trail(t, s, "submission:v1"); len(evs) == 0 || evs[len(evs)-1].Action != audit.HealthConfirmed {
		t.Fatal("the confirmation was not audited with its vote")
	}
	bad := []domain.HealthVote{
		{VersionID: "v1", Voter: "", Kind: "host", LastAt: at(1), Reports: 1},
		{VersionID: "v1", Voter: "x", Kind: "mayor", LastAt: at(1), Reports: 1},
		{VersionID: "v1", Voter: "x", Kind: "host", LastAt: at(1), Reports: 0},
	}
	for _, v := range bad {
		if err := s.RecordHealthReports(ctx, nil, []domain.HealthVote{v}, nil); err == nil {
			t.Fatalf("vote %+v was saved", v)
		}
	}
	unknown := vote("host-b", "host", 1)
	unknown.VersionID = "nope"
	if err := s.RecordHealthReports(ctx, nil, []domain.HealthVote{unknown}, nil); err == nil {
		t.Fatal("a vote on an unknown version was saved")
	}
	if err := s.RecordHealthReports(ctx, nil, nil, nil); err == nil {
		t.Fatal("an empty record was accepted")
	}
}
