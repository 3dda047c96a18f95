package app_test

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

func TestQueue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.app.Queue(ctx, alice, app.Page{}); kindOf(err) != app.KindForbidden {
		t.Fatalf("a publisher read the queue: %v", err)
	}
	if _, err := f.app.QueueStats(ctx, host); kindOf(err) != app.KindForbidden {
		t.Fatalf("a host read the queue's numbers: %v", err)
	}
	q, err := f.app.Queue(ctx, rita, app.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].Version.ID != inReview || q[0].Version.Version != "1.0.0" || len(q[0].Approvals) != 0 {
		t.Fatalf("queue: %+v", q)
	}
}

func TestReview(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		id     string
		kind   app.Kind
	}{
		{"a reviewer", rita, inReview, ok},
		{"a publisher may not", alice, inReview, app.KindForbidden},
		{"a version never sent to review", rita, received, app.KindNotFound},
		{"a version that does not exist", rita, "sub-none", app.KindNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rv, err := f.app.Review(ctx, tt.caller, tt.id)
			if kindOf(err) != tt.kind {
				t.Fatalf("got %v, want kind %d", err, tt.kind)
			}
			if err != nil {
				return
			}
			if rv.Item.Tier != "medium" || rv.Vetting == nil || len(rv.Thread) != 1 {
				t.Errorf("review: %+v", rv)
			}
			// acme/solo's first version: nothing to compare with.
			if rv.Previous != nil || rv.CodeDiff != nil {
				t.Errorf("a first version compared with %+v", rv.Previous)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		d      app.Decision
		kind   app.Kind
		state  lifecycle.State // the version's state afterwards
	}{
		{"a reviewer claims", rita, app.Decision{Action: "claim"}, ok, lifecycle.InReview},
		{"a reviewer requests changes", rita, app.Decision{Action: "request-changes", Message: "declare the import"}, ok, lifecycle.ChangesRequested},
		{"a reviewer rejects", rita, app.Decision{Action: "reject", Code: "security", Message: "exfiltrates"}, ok, lifecycle.Rejected},
		{"with a known reason code", rita, app.Decision{Action: "reject", Code: "dislike", Message: "no"}, app.KindInvalid, lifecycle.InReview},
		{"nobody reviews a namespace they publish in", owen, app.Decision{Action: "claim"}, app.KindForbidden, lifecycle.InReview},
		{"not even a steward", sam, app.Decision{Action: "request-changes", Message: "x"}, app.KindForbidden, lifecycle.InReview},
		{"a publisher may not review", alice, app.Decision{Action: "claim"}, app.KindForbidden, lifecycle.InReview},
		{"an action that does not exist", rita, app.Decision{Action: "bless"}, app.KindNotFound, lifecycle.InReview},
		{"a grant beyond the manifest", rita, app.Decision{Action: "approve", Granted: []string{"fs:read:/etc"}}, app.KindInvalid, lifecycle.InReview},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			got, err := f.app.Decide(ctx, tt.caller, inReview, tt.d)
			if kindOf(err) != tt.kind {
				t.Fatalf("got %v, want kind %d", err, tt.kind)
			}
			if err == nil && tt.d.Action == "claim" && !got.ClaimUntil.After(f.now) {
				t.Errorf("claimed until %v", got.ClaimUntil)
			}
			v, err := f.st.GetVersion(ctx, inReview)
			if err != nil {
				t.Fatal(err)
			}
			if v.State != tt.state {
				t.Errorf("state %s, want %s", v.State, tt.state)
			}
		})
	}
}

func TestDecideAgainstAClaim(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.app.Decide(ctx, rita, inReview, app.Decision{Action: "claim"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.app.Decide(ctx, stella, inReview, app.Decision{Action: "reject", Code: "security", Message: "no"})
	if kindOf(err) != app.KindForbidden {
		t.Fatalf("decided while another reviewer holds the claim: %v", err)
	}
}

func TestThread(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		id     string
		msg    string
		kind   app.Kind
	}{
		{"the publisher answers", alice, inReview, "it is declared", ok},
		{"a reviewer asks", rita, inReview, "where?", ok},
		{"not in another namespace's thread", mallory, inReview, "hi", app.KindNotFound},
		{"not anonymously", anonymous, inReview, "hi", app.KindNotFound},
		{"not an empty message", alice, inReview, "  ", app.KindInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.app.Comment(ctx, tt.caller, tt.id, tt.msg)
			if kindOf(err) != tt.kind {
				t.Fatalf("got %v, want kind %d", err, tt.kind)
			}
		})
	}
}

func TestAppeal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.app.Appeal(ctx, alice, inReview, "please"); kindOf(err) != app.KindConflict {
		t.Fatalf("appealed a version in review: %v", err)
	}
	if _, err := f.app.Decide(ctx, rita, inReview, app.Decision{Action: "reject", Code: "security", Message: "exfiltrates"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		msg    string
		kind   app.Kind
	}{
		{"a reviewer does not appeal", rita, "on their behalf", app.KindForbidden},
		{"another publisher may not", mallory, "unfair", app.KindNotFound},
		{"with the author's case", alice, "", app.KindInvalid},
		{"the publisher appeals", alice, "the origin is our own API", ok},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.app.Appeal(ctx, tt.caller, inReview, tt.msg); kindOf(err) != tt.kind {
				t.Fatalf("got %v, want kind %d", err, tt.kind)
			}
		})
	}
	v, err := f.st.GetVersion(ctx, inReview)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lifecycle.InReview {
		t.Fatalf("an appealed version is %s", v.State)
	}
}
