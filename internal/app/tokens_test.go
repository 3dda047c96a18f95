package app

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/domain"
)

func TestCreateToken(t *testing.T) {
	w := newWorld(t)
	valid := api.TokenRequest{Subject: "pia", Role: "publisher", Namespace: "acme", TTL: "24h"}
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		req    api.TokenRequest
		kind   Kind
		code   string
	}{
		{"admin issues", admin, valid, ok, ""},
		{"anonymous", anonymous, valid, KindUnauthenticated, ""},
		{"steward may not", steward, valid, KindForbidden, "forbidden"},
		{"publisher may not", pia, valid, KindForbidden, "forbidden"},
		{"host may not", host, valid, KindForbidden, "forbidden"},
		{"unknown role", admin, api.TokenRequest{Subject: "x", Role: "king"}, KindInvalid, "invalid_token_request"},
		{"no subject", admin, api.TokenRequest{Role: "reviewer"}, KindInvalid, "invalid_token_request"},
		{"scope on a reviewer", admin, api.TokenRequest{Subject: "x", Role: "reviewer", Namespace: "acme"}, KindInvalid, "invalid_token_request"},
		{"lifetime over the maximum", admin, api.TokenRequest{Subject: "x", Role: "reviewer", TTL: "100000h"}, KindInvalid, "invalid_token_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, secret, err := w.app.CreateToken(context.Background(), tc.caller, tc.req)
			wantKind(t, err, tc.kind, tc.code)
			if err != nil {
				return
			}
			if secret == "" || tok.Subject != tc.req.Subject || tok.Namespace != tc.req.Namespace || !tok.ExpiresAt.Equal(w.now.Add(24*time.Hour)) {
				t.Errorf("token = %+v, secret %q", tok, secret)
			}
			if got := lastAction(t, w.st); got != audit.TokenCreate {
				t.Errorf("last audit action = %q, want %q", got, audit.TokenCreate)
			}
		})
	}
}

// TestTokenLifecycle follows one token from issue to revocation through
// the three doors a caller comes in by: the API's bearer check, the web
// sign-in and the web session.
func TestTokenLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tok, secret, err := w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "rita", Role: "reviewer"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.app.Authenticate(ctx, secret)
	if err != nil || p.Subject != "rita" || p.Role != reviewer.Role || p.TokenID != tok.ID {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if _, err := w.app.SignIn(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if got := lastAction(t, w.st); got != audit.WebSignin {
		t.Errorf("after sign-in, last action = %q", got)
	}
	if p, err := w.app.SessionPrincipal(ctx, tok.Hash); err != nil || p.Subject != "rita" {
		t.Fatalf("SessionPrincipal = %+v, %v", p, err)
	}
	_, err = w.app.Authenticate(ctx, auth.Prefix+"not-a-token")
	wantKind(t, err, KindUnauthenticated, "unknown_token")

	ts, err := w.app.ListTokens(ctx, admin)
	if err != nil || len(ts) != 1 {
		t.Fatalf("ListTokens = %d tokens, %v", len(ts), err)
	}
	_, err = w.app.ListTokens(ctx, auditor)
	wantKind(t, err, KindForbidden, "")

	wantKind(t, w.app.RevokeToken(ctx, steward, tok.ID), KindForbidden, "")
	wantKind(t, w.app.RevokeToken(ctx, admin, "no-such-token"), KindNotFound, "not_found")
	wantKind(t, w.app.RevokeToken(ctx, admin, tok.ID), ok, "")
	if got := lastAction(t, w.st); got != audit.TokenRevoke {
		t.Errorf("after revocation, last action = %q", got)
	}

	_, err = w.app.Authenticate(ctx, secret)
	wantKind(t, err, KindUnauthenticated, "token_refused")
	_, err = w.app.SignIn(ctx, secret)
	wantKind(t, err, KindUnauthenticated, "token_refused")
	if got := lastAction(t, w.st); got != audit.WebSigninRefused {
		t.Errorf("after a refused sign-in, last action = %q", got)
	}
	_, err = w.app.SessionPrincipal(ctx, tok.Hash)
	wantKind(t, err, KindUnauthenticated, "")
}
