package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

func inReview(t *testing.T, s store.Store, id, plugin, version string) domain.Version {
	t.Helper()
	ctx := context.Background()
	v := create(t, s, newVersion(id, plugin, version, id))
	for _, st := range [][2]lifecycle.State{{lifecycle.Received, lifecycle.Vetting}, {lifecycle.Vetting, lifecycle.Triage}, {lifecycle.Triage, lifecycle.InReview}} {
		if err := s.Transition(ctx, id, st[0], st[1], "test", event(audit.SubmissionTransition, "submission:"+id, 11)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func testReviewQueue(t *testing.T, s store.Store) {
	ctx := context.Background()
	items := []domain.ReviewItem{
		{VersionID: "sub_late", PluginID: "acme/a", Tier: "low", Weight: 5, ApprovalsRequired: 1, Deadline: at(300)},
		{VersionID: "sub_soon_light", PluginID: "acme/b", Tier: "low", Weight: 3, ApprovalsRequired: 1, Deadline: at(100)},
		{VersionID: "sub_soon_heavy", PluginID: "acme/c", Tier: "high", Weight: 40, ApprovalsRequired: 2, Deadline: at(100)},
	}
	for i, it := range items {
		inReview(t, s, it.VersionID, it.PluginID, "1.0.0")
		it.CreatedAt = at(i)
		if err := s.OpenReview(ctx, it, event(audit.ReviewOpen, "submission:"+it.VersionID, 12)); err != nil {
			t.Fatal(err)
		}
	}
	q, err := s.ListReviews(ctx, domain.ReviewQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, it := range q {
		order = append(order, it.VersionID)
	}
	if got, want := fmt.Sprint(order), "[sub_soon_heavy sub_soon_light sub_late]"; got != want {
		t.Fatalf("queue order %s, want %s (deadline, then weight)", got, want)
	}
	page, _ := s.ListReviews(ctx, domain.ReviewQuery{Limit: 1, Offset: 1})
	if len(page) != 1 || page[0].VersionID != "sub_soon_light" {
		t.Fatalf("second page = %+v", page)
	}

	// Claims expire; another reviewer cannot take a live one.
	it, err := s.ClaimReview(ctx, "sub_late", "rita", at(0), at(60), event(audit.ReviewClaim, "submission:sub_late", 13))
	if err != nil || it.ClaimedBy != "rita" || !it.ClaimUntil.Equal(stored(at(60))) {
		t.Fatalf("claim = %+v, %v", it, err)
	}
	if _, err := s.ClaimReview(ctx, "sub_late", "ravi", at(30), at(90), event(audit.ReviewClaim, "submission:sub_late", 14)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("claim over a live claim: %v", err)
	}
	if it, err := s.ClaimReview(ctx, "sub_late", "ravi", at(61), at(120), event(audit.ReviewClaim, "submission:sub_late", 15)); err != nil || it.ClaimedBy != "ravi" {
		t.Fatalf("claim after expiry = %+v, %v", it, err)
	}

	// Approvals are counted per distinct reviewer.
	if n, err := s.AddApproval(ctx, domain.Approval{VersionID: "sub_soon_heavy", Reviewer: "rita", Granted: []string{"kv:read"}}, event(audit.ReviewApprove, "submission:sub_soon_heavy", 16)); err != nil || n != 1 {
		t.Fatalf("first approval = %d, %v", n, err)
	}
	if _, err := s.AddApproval(ctx, domain.Approval{VersionID: "sub_soon_heavy", Reviewer: "rita"}, event(audit.ReviewApprove, "submission:sub_soon_heavy", 17)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("second approval by the same reviewer: %v", err)
	}
	flows := map[string]bool{"contacts>platform": true, "orders>https://shop.example.com": false}
	if n, err := s.AddApproval(ctx, domain.Approval{VersionID: "sub_soon_heavy", Reviewer: "ravi", Flows: flows}, event(audit.ReviewApprove, "submission:sub_soon_heavy", 18)); err != nil || n != 2 {
		t.Fatalf("second approver = %d, %v", n, err)
	}
	as, _ := s.ListApprovals(ctx, "sub_soon_heavy")
	if len(as) != 2 || fmt.Sprint(as[0].Granted) != "[kv:read]" {
		t.Fatalf("approvals = %+v", as)
	}
	// Each reviewer's decision on each flow is kept; an approval that
	// named none refuses none.
	if len(as[0].Flows) != 0 || as[0].Refuses("orders>https://shop.example.com") {
		t.Errorf("the first approval's flows = %v", as[0].Flows)
	}
	if !maps.Equal(as[1].Flows, flows) || !as[1].Refuses("orders>https://shop.example.com") || as[1].Refuses("contacts>platform") {
		t.Errorf("the second approval's flows = %v, want %v", as[1].Flows, flows)
	}

	// Overdue items are escalated once.
	esc, err := s.EscalateOverdue(ctx, at(200))
	if err != nil || len(esc) != 2 {
		t.Fatalf("escalation at 200 = %d items, %v", len(esc), err)
	}
	if again, _ := s.EscalateOverdue(ctx, at(250)); len(again) != 0 {
		t.Fatalf("escalated twice: %+v", again)
	}

	// Leaving review closes the item.
	if err := s.Transition(ctx, "sub_soon_light", lifecycle.InReview, lifecycle.Rejected, "no", event(audit.SubmissionTransition, "submission:sub_soon_light", 19)); err != nil {
		t.Fatal(err)
	}
	if it, _ := s.GetReview(ctx, "sub_soon_light"); it.Open {
		t.Error("the review of a rejected version is still open")
	}
	q, _ = s.ListReviews(ctx, domain.ReviewQuery{})
	if len(q) != 2 {
		t.Errorf("queue has %d items after a decision, want 2", len(q))
	}
	mustVerify(t, s, verify(t, s).Count)
}

func testVerdictsMessagesPolicies(t *testing.T, s store.Store) {
	ctx := context.Background()
	inReview(t, s, "sub_m", "acme/m", "1.0.0")
	for i := 0; i < 2; i++ {
		v, err := s.SaveVerdict(ctx, domain.Verdict{VersionID: "sub_m", PolicyDigest: "sha256:p", Outcome: "in_review", Tier: "low", Weight: i, Body: []byte(`{}`), CreatedAt: at(i)}, event(audit.TriageVerdict, "submission:sub_m", i))
		if err != nil || v.Seq != i+1 {
			t.Fatalf("verdict %d = %+v, %v", i, v, err)
		}
	}
	if v, err := s.LatestVerdict(ctx, "sub_m"); err != nil || v.Seq != 2 || v.Weight != 1 {
		t.Fatalf("latest verdict = %+v, %v", v, err)
	}
	for i, kind := range []string{"changes_requested", "comment"} {
		if _, err := s.AddMessage(ctx, domain.Message{PluginID: "acme/m", VersionID: "sub_m", Author: "rita", Kind: kind, Body: "please drop kv:write", CreatedAt: at(i)}, event(audit.ReviewMessage, "plugin:acme/m", i)); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := s.ListMessages(ctx, "acme/m")
	if err != nil || len(ms) != 2 || ms[0].Kind != "changes_requested" || ms[0].ID >= ms[1].ID {
		t.Fatalf("thread = %+v, %v", ms, err)
	}
	if _, err := s.ActivePolicy(ctx); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("active policy before any: %v", err)
	}
	for i, d := range []string{"sha256:one", "sha256:two"} {
		if err := s.ApplyPolicy(ctx, domain.PolicyRecord{Digest: d, Modules: []byte(`{"p.rego":"package x"}`), AppliedBy: "sam", AppliedAt: at(i)}, event(audit.PolicyApply, "policy:"+d, i)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.ActivePolicy(ctx)
	if err != nil || p.Digest != "sha256:two" {
		t.Fatalf("active = %+v, %v", p, err)
	}
	// Auto-approval switches, by plugin and by namespace.
	if p, n, err := s.AutoApprovalOff(ctx, "acme/m"); err != nil || p || n {
		t.Fatalf("switches before any = %v %v %v", p, n, err)
	}
	if err := s.SetAutoApprovalOff(ctx, "namespace:acme", true, "sam", "new owner", event(audit.AutoApprovalOff, "namespace:acme", 5)); err != nil {
		t.Fatal(err)
	}
	if p, n, _ := s.AutoApprovalOff(ctx, "acme/m"); p || !n {
		t.Fatalf("namespace switch = plugin %v namespace %v", p, n)
	}
	if p, n, _ := s.AutoApprovalOff(ctx, "other/m"); p || n {
		t.Fatal("a namespace switch leaked to another namespace")
	}
	s.SetAutoApprovalOff(ctx, "namespace:acme", false, "sam", "reviewed", event(audit.AutoApprovalOn, "namespace:acme", 6))
	if _, n, _ := s.AutoApprovalOff(ctx, "acme/m"); n {
		t.Fatal("switching back on did not take")
	}
	if err := s.SetAutoApprovalOff(ctx, "acme", true, "sam", "x", event(audit.AutoApprovalOff, "acme", 7)); err == nil {
		t.Fatal("a scope without plugin: or namespace: was accepted")
	}
	all, _ := s.ListPolicies(ctx)
	if len(all) != 2 || all[0].Digest != "sha256:two" || all[1].Active {
		t.Fatalf("history = %+v", all)
	}
}

// BenchQueue fills a store with n versions in review (through raw SQL in
// one transaction: the benchmark is about reading the queue, not about
// writing it) and measures one page of the queue, as a reviewer opens it.
func BenchQueue(b *testing.B, s store.Store, n int) {
	raw, ok := s.(RawDB)
	if !ok {
		b.Skip("the store does not expose its database")
	}
	ctx := context.Background()
	// The namespace and plugin rows, through the store.
	seed := newVersion("seed", "bench/seed", "1.0.0", "seed")
	if _, _, err := s.CreateVersion(ctx, seed, []audit.Event{event(audit.SubmissionCreate, "submission:seed", 1)}); err != nil {
		b.Fatal(err)
	}
	tx, err := raw.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	insV, err := tx.Prepare(raw.Rebind(`INSERT INTO versions (id, plugin_id, version, digest, size, manifest, files, submitter, state, reason, created_at, updated_at) VALUES (?, 'bench/seed', ?, ?, 1, ?, '[]', 'alice', 'in_review', '', 1, 1)`))
	if err != nil {
		b.Fatal(err)
	}
	insR, err := tx.Prepare(raw.Rebind(`INSERT INTO review_items (version_id, plugin_id, tier, weight, approvals_required, deadline, preferred_reviewer, claimed_by, claim_until, escalated_at, is_open, created_at) VALUES (?, 'bench/seed', 'low', ?, 1, ?, '', '', 0, 0, ?, 1)`))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sub_%07d", i)
		if _, err := insV.Exec(id, fmt.Sprintf("2.0.%d", i), fmt.Sprintf("sha256:%064x", i), []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
		// Deadlines spread over a month, weights 0..99.
		if _, err := insR.Exec(id, i%100, int64(1_800_000_000_000_000)+int64(i%43200)*60_000_000, true); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		page, err := s.ListReviews(ctx, domain.ReviewQuery{Limit: 50, Offset: (i % 20) * 50})
		if err != nil || len(page) != 50 {
			b.Fatalf("page: %d items, %v", len(page), err)
		}
	}
}
