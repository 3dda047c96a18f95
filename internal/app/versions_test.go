package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// The callers of the tests. Namespace acme is owned by alice (a
// publisher), owen (a reviewer) and sam (a steward); namespace other by
// mallory.
var (
	anonymous = domain.Principal{}
	alice     = domain.Principal{Subject: "alice", Role: domain.RolePublisher}
	scoped    = domain.Principal{Subject: "bob", Role: domain.RolePublisher, Namespace: "acme"}
	mallory   = domain.Principal{Subject: "mallory", Role: domain.RolePublisher}
	rita      = domain.Principal{Subject: "rita", Role: domain.RoleReviewer}
	owen      = domain.Principal{Subject: "owen", Role: domain.RoleReviewer}
	sam       = domain.Principal{Subject: "sam", Role: domain.RoleSteward}
	stella    = domain.Principal{Subject: "stella", Role: domain.RoleSteward}
	host      = domain.Principal{Subject: "host-1", Role: domain.RoleHost}
)

// The fixture's versions: acme/tool 1.0.0 certified, 0.9.0 revoked;
// acme/solo 1.0.0 in review (submitted by alice, vetted with one finding,
// with a comment in its thread); other/thing 1.0.0 received.
const (
	certified = "sub-cert"
	revoked   = "sub-revoked"
	inReview  = "sub-review"
	received  = "sub-other"
	finding   = "fp-1"
)

type fixture struct {
	app *app.App
	st  store.Store
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	in := intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil)
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv.Now = clock
	f := &fixture{app: app.New(app.Config{Store: st, Blobs: blobs, Intake: in, Review: rv, Pipeline: pipeline.New(pipeline.Config{Store: st, Vetting: in, Certifying: rv}), Now: clock}), st: st, now: now}

	ev := func(action, subject string) audit.Event {
		return audit.Event{Time: now, Actor: "test", Action: action, Subject: subject}
	}
	for _, ns := range []domain.Namespace{{Name: "acme", Owners: []string{"alice", "owen", "sam"}, CreatedAt: now}, {Name: "other", Owners: []string{"mallory"}, CreatedAt: now}} {
		if err := st.CreateNamespace(ctx, ns, ev(audit.NamespaceClaim, "namespace:"+ns.Name)); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(id, plugin, ver string, path ...lifecycle.State) {
		t.Helper()
		v := domain.Version{ID: id, PluginID: plugin, Version: ver, Digest: "sha256:" + fakeDigest(id), Size: 10,
			Manifest:  []byte(`{"id":"` + plugin + `","version":"` + ver + `","name":"` + plugin + `","permissions":["net:fetch:https://api.example.com"]}`),
			Submitter: "alice", State: lifecycle.Received, Reason: "package received", CreatedAt: now, UpdatedAt: now}
		if _, _, err := st.CreateVersion(ctx, v, []audit.Event{ev(audit.SubmissionCreate, "submission:"+id)}); err != nil {
			t.Fatal(err)
		}
		from := lifecycle.Received
		for _, to := range path {
			if err := st.Transition(ctx, id, from, to, "test", ev(audit.SubmissionTransition, "submission:"+id)); err != nil {
				t.Fatalf("%s: %s → %s: %v", id, from, to, err)
			}
			from = to
		}
	}
	toCertified := []lifecycle.State{lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved, lifecycle.Certified}
	mk(certified, "acme/tool", "1.0.0", toCertified...)
	mk(revoked, "acme/tool", "0.9.0", append(toCertified, lifecycle.Revoked)...)
	mk(inReview, "acme/solo", "1.0.0", lifecycle.Vetting, lifecycle.Triage, lifecycle.InReview)
	mk(received, "other/thing", "1.0.0")

	results, _ := json.Marshal([]vet.Result{{Analyzer: "capabilities", Status: vet.Failed, Findings: []vet.Finding{{
		Analyzer: "capabilities", RuleID: "capabilities/undeclared-import", Message: "imports an undeclared function",
		Location: vet.Location{File: "plugin.wasm"}, Fingerprint: finding}}}})
	if _, err := st.SaveVetRun(ctx, domain.VetRun{VersionID: inReview, Summary: "1 finding", Results: results, CreatedAt: now}, ev(audit.SubmissionVet, "submission:"+inReview)); err != nil {
		t.Fatal(err)
	}
	item := domain.ReviewItem{VersionID: inReview, PluginID: "acme/solo", Tier: "medium", Weight: 10, ApprovalsRequired: 1, Deadline: now.Add(48 * time.Hour), CreatedAt: now}
	if err := st.OpenReview(ctx, item, ev(audit.ReviewOpen, "submission:"+inReview)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMessage(ctx, domain.Message{PluginID: "acme/solo", VersionID: inReview, Author: "rita", Kind: "comment", Body: "why this import?", CreatedAt: now}, ev(audit.ReviewMessage, "submission:"+inReview)); err != nil {
		t.Fatal(err)
	}
	return f
}

func fakeDigest(id string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 64)
	for i := range b {
		b[i] = hex[(int(id[i%len(id)])+i)%16]
	}
	return string(b)
}

// kindOf is the kind of err, or -1 for nil.
func kindOf(err error) app.Kind {
	if err == nil {
		return -1
	}
	k, _, _ := app.Classify(err)
	return k
}

// codeOf is the problem code of err ("" for nil).
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	_, code, _ := app.Classify(err)
	return code
}

const ok app.Kind = -1

func TestVersionReading(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cert, err := f.st.GetVersion(ctx, certified)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		caller domain.Principal
		ref    app.VersionRef
		rule   app.Reading
		want   app.Kind
	}{
		{"anyone reads a released version", anonymous, app.VersionRef{Plugin: "acme/tool", Version: "1.0.0"}, app.ReadReleased, ok},
		{"anyone reads a released package by digest", anonymous, app.VersionRef{Digest: cert.Digest}, app.ReadReleased, ok},
		{"nobody outside reads an unreleased version", anonymous, app.VersionRef{ID: inReview}, app.ReadReleased, app.KindNotFound},
		{"another namespace's publisher does not", mallory, app.VersionRef{ID: inReview}, app.ReadReleased, app.KindNotFound},
		{"a host does not", host, app.VersionRef{ID: inReview}, app.ReadReleased, app.KindNotFound},
		{"the namespace's owner does", alice, app.VersionRef{ID: inReview}, app.ReadReleased, ok},
		{"a token scoped to the namespace does", scoped, app.VersionRef{ID: inReview}, app.ReadRecord, ok},
		{"a reviewer reads every record", rita, app.VersionRef{ID: received}, app.ReadRecord, ok},
		{"a released version's record is not public", anonymous, app.VersionRef{ID: certified}, app.ReadRecord, app.KindNotFound},
		{"a revoked version is not released", anonymous, app.VersionRef{ID: revoked}, app.ReadReleased, app.KindNotFound},
		{"but what its certificate published stays public", anonymous, app.VersionRef{ID: revoked}, app.ReadPublished, ok},
		{"a version that does not exist", rita, app.VersionRef{ID: "sub-none"}, app.ReadRecord, app.KindNotFound},
		{"a version named by nothing", rita, app.VersionRef{}, app.ReadRecord, app.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.app.Version(ctx, tt.caller, tt.ref, tt.rule)
			if got := kindOf(err); got != tt.want {
				t.Fatalf("got kind %d (%v), want %d", got, err, tt.want)
			}
		})
	}
	// A version one may not read answers as one that does not exist.
	_, hidden := f.app.Version(ctx, mallory, app.VersionRef{ID: inReview}, app.ReadRecord)
	_, missing := f.app.Version(ctx, mallory, app.VersionRef{ID: "sub-none"}, app.ReadRecord)
	if _, _, m := app.Classify(hidden); m != "no submission "+inReview {
		t.Errorf("hidden version: %q", m)
	}
	if _, _, m := app.Classify(missing); m != "no submission sub-none" {
		t.Errorf("missing version: %q", m)
	}
}

func TestSubmission(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		want   app.Kind
	}{
		{"its publisher", alice, ok},
		{"a reviewer", rita, ok},
		{"another publisher", mallory, app.KindNotFound},
		{"anyone", anonymous, app.KindNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sr, err := f.app.Submission(ctx, tt.caller, inReview)
			if got := kindOf(err); got != tt.want {
				t.Fatalf("got kind %d (%v), want %d", got, err, tt.want)
			}
			if err != nil {
				return
			}
			if sr.Vetting == nil || len(sr.Vetting.Results) != 1 {
				t.Errorf("vetting: %+v", sr.Vetting)
			}
			if sr.Review == nil || sr.Review.Tier != "medium" {
				t.Errorf("review: %+v", sr.Review)
			}
			if len(sr.Thread) != 1 || sr.Thread[0].Body != "why this import?" {
				t.Errorf("thread: %+v", sr.Thread)
			}
			if len(sr.History) < 4 {
				t.Errorf("history has %d events, want its creation and three transitions", len(sr.History))
			}
		})
	}
}

func TestSubmissions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := func(vs []domain.Version) map[string]bool {
		m := map[string]bool{}
		for _, v := range vs {
			m[v.ID] = true
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		q      app.SubmissionQuery
		want   []string
		kind   app.Kind
	}{
		{"the overseers list all", rita, app.SubmissionQuery{}, []string{certified, revoked, inReview, received}, ok},
		{"by state", rita, app.SubmissionQuery{State: lifecycle.InReview}, []string{inReview}, ok},
		{"an owner its namespaces'", alice, app.SubmissionQuery{}, []string{certified, revoked, inReview}, ok},
		{"a scoped token its namespace's", scoped, app.SubmissionQuery{State: lifecycle.Certified}, []string{certified}, ok},
		{"another publisher its own", mallory, app.SubmissionQuery{}, []string{received}, ok},
		{"a host none", host, app.SubmissionQuery{}, nil, ok},
		{"an unknown state", rita, app.SubmissionQuery{State: "lost"}, nil, app.KindInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := f.app.Submissions(ctx, tt.caller, tt.q)
			if got := kindOf(err); got != tt.kind {
				t.Fatalf("got kind %d (%v), want %d", got, err, tt.kind)
			}
			got := ids(vs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for _, id := range tt.want {
				if !got[id] {
					t.Errorf("missing %s in %v", id, got)
				}
			}
		})
	}
}

func TestSuppressFinding(t *testing.T) {
	for _, tt := range []struct {
		name         string
		caller       domain.Principal
		id, fp, why  string
		kind         app.Kind
		code         string
		suppressions int
	}{
		{"a reviewer clears a finding", rita, inReview, finding, "the import is declared under another name", ok, "", 1},
		{"with a reason", rita, inReview, finding, "  ", app.KindInvalid, "reason_required", 0},
		{"not of a namespace it publishes in", owen, inReview, finding, "mine is fine", app.KindForbidden, "separation_of_duties", 0},
		{"a steward may, even there", sam, inReview, finding, "checked with the vendor", ok, "", 1},
		{"a publisher may not", alice, inReview, finding, "trust me", app.KindForbidden, "forbidden", 0},
		{"a finding the run does not have", rita, inReview, "fp-none", "no such", app.KindNotFound, "not_found", 0},
		{"a version that was not vetted", rita, received, finding, "no run", app.KindNotFound, "not_found", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			err := f.app.SuppressFinding(ctx, tt.caller, tt.id, tt.fp, tt.why)
			if kindOf(err) != tt.kind || codeOf(err) != tt.code {
				t.Fatalf("got %v (kind %d, code %q), want kind %d code %q", err, kindOf(err), codeOf(err), tt.kind, tt.code)
			}
			sups, err := f.st.ListSuppressions(ctx, "acme/solo")
			if err != nil {
				t.Fatal(err)
			}
			if len(sups) != tt.suppressions {
				t.Fatalf("%d suppressions, want %d", len(sups), tt.suppressions)
			}
			if tt.suppressions == 0 {
				return
			}
			// The decision shows on the version's findings from now on.
			vt, err := f.app.Findings(ctx, rita, inReview)
			if err != nil {
				t.Fatal(err)
			}
			if s := vt.Results[0].Findings[0].Suppressed; s == nil || s.By != tt.caller.Subject {
				t.Errorf("finding not shown suppressed: %+v", s)
			}
		})
	}
}

func TestConfirmFinding(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.app.ConfirmFinding(ctx, alice, inReview, finding, "it is real"); kindOf(err) != app.KindForbidden {
		t.Fatalf("a publisher confirmed a finding: %v", err)
	}
	if err := f.app.ConfirmFinding(ctx, rita, inReview, "fp-none", "?"); kindOf(err) != app.KindNotFound {
		t.Fatalf("confirmed a finding that does not exist: %v", err)
	}
	if err := f.app.ConfirmFinding(ctx, rita, inReview, finding, "it is real"); err != nil {
		t.Fatal(err)
	}
	ms, err := f.st.ListMessages(ctx, "acme/solo")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[1].Author != "rita" {
		t.Fatalf("the confirmation is not in the thread: %+v", ms)
	}
}

func TestFindings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.app.Findings(ctx, rita, received); codeOf(err) != "not_vetted" {
		t.Fatalf("a version not vetted: %v", err)
	}
	if _, err := f.app.Findings(ctx, mallory, inReview); kindOf(err) != app.KindNotFound {
		t.Fatalf("another namespace's findings: %v", err)
	}
	vt, err := f.app.Findings(ctx, alice, inReview)
	if err != nil {
		t.Fatal(err)
	}
	if len(vt.Results) != 1 || vt.Results[0].Findings[0].Fingerprint != finding {
		t.Fatalf("results: %+v", vt.Results)
	}
}

func TestRevet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.app.Revet(ctx, alice, inReview); kindOf(err) != app.KindForbidden {
		t.Fatalf("a publisher asked for a new run: %v", err)
	}
	if _, err := f.app.Revet(ctx, rita, "sub-none"); kindOf(err) != app.KindNotFound {
		t.Fatalf("a version that does not exist: %v", err)
	}
	for i, want := range []bool{true, false} {
		queued, err := f.app.Revet(ctx, rita, inReview)
		if err != nil || queued != want {
			t.Fatalf("request %d: queued %v, %v; want %v", i, queued, err, want)
		}
	}
}

func TestSubmitRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, _, err := f.app.Submit(ctx, alice, bytesReader("not a package"), nil)
	if kindOf(err) != app.KindInvalid || codeOf(err) != "invalid_package" {
		t.Fatalf("got %v (%q)", err, codeOf(err))
	}
	var ae *app.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%T is not an application error", err)
	}
	var ie *intake.Error
	if !errors.As(err, &ie) {
		t.Fatalf("the intake's refusal is not kept as the cause")
	}
}
