package marketplace_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
)

// TestRecoverAdminIsAuditedAndShortLived: with every admin token gone,
// the break-glass recovery makes one that authenticates as admin,
// expires within its TTL, and is in the audit chain with the operator
// and the reason; a request without a reason, an operator or a bounded
// TTL is refused before anything is written.
func TestRecoverAdminIsAuditedAndShortLived(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m := open(t, data, "")
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()

	for _, bad := range []marketplace.Recovery{
		{Data: data, Operator: "ops-ann", Reason: "short", TTL: time.Hour},
		{Data: data, Operator: "", Reason: "INC-1234: the last admin token expired", TTL: time.Hour},
		{Data: data, Operator: "ops-ann", Reason: "INC-1234: the last admin token expired", TTL: 30 * 24 * time.Hour},
		{Data: t.TempDir(), Operator: "ops-ann", Reason: "INC-1234: the last admin token expired", TTL: time.Hour},
	} {
		if _, err := marketplace.RecoverAdmin(ctx, bad); err == nil {
			t.Errorf("RecoverAdmin(%+v) was accepted", bad)
		}
	}
	got, err := marketplace.RecoverAdmin(ctx, marketplace.Recovery{Data: data, Operator: "ops-ann", Reason: "INC-1234: the last admin token expired", TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(got.ExpiresAt); d <= 0 || d > 2*time.Hour {
		t.Errorf("the token expires in %s, want within 2h", d)
	}

	m = open(t, data, "")
	defer m.Close()
	// Listing tokens is for admins only.
	req := httptest.NewRequest("GET", "/api/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+got.Secret)
	rec := httptest.NewRecorder()
	m.Server.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("the recovered token listing tokens: %d %s; want 200 (admin)", rec.Code, rec.Body)
	}
	var ev *audit.Event
	err = m.Store.ScanAudit(ctx, domain.AuditQuery{}, func(e audit.Event) error {
		if e.Action == audit.TokenCreate && e.Subject == "token:"+got.TokenID {
			ev = &e
		}
		return nil
	})
	if err != nil || ev == nil {
		t.Fatalf("no token.create event for the recovered token (%v)", err)
	}
	if ev.Actor != "break-glass:ops-ann" || !strings.Contains(ev.Reason, "INC-1234") {
		t.Errorf("the event names %q for %q; want the operator and the reason", ev.Actor, ev.Reason)
	}
	// Every recovery but this one was refused: one admin token was made at
	// the first start and one now.
	toks, err := m.Store.ListTokens(ctx)
	if err != nil || len(toks) != 2 {
		t.Errorf("tokens after the recovery: %d, %v; want 2", len(toks), err)
	}
}
