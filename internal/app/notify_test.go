package app

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/webhook"
)

func TestSubscribe(t *testing.T) {
	w := newWorld(t)
	sub := func(ns, plugin string) webhook.Subscription {
		return webhook.Subscription{URL: "http://127.0.0.1:9/hook", Events: []string{"*"}, Namespace: ns, Plugin: plugin}
	}
	for _, tc := range []struct {
		name   string
		app    *App
		caller domain.Principal
		req    webhook.Subscription
		kind   Kind
		code   string
		scope  string // the namespace the subscription ends up with
	}{
		{"owner, for its namespace", w.app, pia, sub("acme", ""), ok, "", "acme"},
		{"owner, for a plugin", w.app, pia, sub("", "acme/tool"), ok, "", "acme"},
		{"scoped token, scope by default", w.app, scoped, sub("", ""), ok, "", "acme"},
		{"steward, everything", w.app, steward, sub("", ""), ok, "", ""},
		{"publisher, no scope", w.app, pia, sub("", ""), KindInvalid, "invalid", ""},
		{"another namespace", w.app, otto, sub("acme", ""), KindForbidden, "forbidden", ""},
		{"another namespace's plugin", w.app, otto, sub("", "acme/tool"), KindForbidden, "forbidden", ""},
		{"auditor", w.app, auditor, sub("acme", ""), KindForbidden, "forbidden", ""},
		{"no URL", w.app, steward, webhook.Subscription{Events: []string{"*"}}, KindInvalid, "invalid", ""},
		{"webhooks not configured", w.bare, steward, sub("", ""), KindUnavailable, "not_configured", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, secret, err := tc.app.Subscribe(context.Background(), tc.caller, tc.req)
			wantKind(t, err, tc.kind, tc.code)
			if err == nil && (secret == "" || h.Owner != tc.caller.Subject || h.Namespace != tc.scope) {
				t.Errorf("subscription = %+v, secret %q", h, secret)
			}
		})
	}
}

// TestWebhookOwnership: a publisher sees and manages its own
// subscriptions only; another's is not found. Stewards manage all.
func TestWebhookOwnership(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mine, _, err := w.app.Subscribe(ctx, pia, webhook.Subscription{URL: "http://127.0.0.1:9/a", Events: []string{"*"}, Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.app.Subscribe(ctx, steward, webhook.Subscription{URL: "http://127.0.0.1:9/b", Events: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caller domain.Principal
		sees   int
	}{{pia, 1}, {otto, 0}, {steward, 2}, {admin, 2}} {
		hs, err := w.app.Webhooks(ctx, tc.caller)
		if err != nil || len(hs) != tc.sees {
			t.Errorf("%s sees %d subscriptions (%v), want %d", tc.caller.Subject, len(hs), err, tc.sees)
		}
		ds, err := w.app.Deliveries(ctx, tc.caller, domain.DeliveryQuery{})
		if err != nil || len(ds) != 0 {
			t.Errorf("%s sees %d deliveries (%v), want none", tc.caller.Subject, len(ds), err)
		}
	}
	_, err = w.app.ReplayDeadLetters(ctx, otto, mine.ID)
	wantKind(t, err, KindNotFound, "not_found")
	_, err = w.app.DisableWebhook(ctx, otto, mine.ID)
	wantKind(t, err, KindNotFound, "not_found")
	_, _, err = w.app.Delivery(ctx, pia, 12345)
	wantKind(t, err, KindNotFound, "not_found")
	if n, err := w.app.ReplayDeadLetters(ctx, pia, mine.ID); err != nil || n != 0 {
		t.Errorf("ReplayDeadLetters = %d, %v", n, err)
	}
	h, err := w.app.DisableWebhook(ctx, pia, mine.ID)
	if err != nil || h.DisabledAt.IsZero() {
		t.Errorf("DisableWebhook = %+v, %v; want disabled", h, err)
	}
}

func TestIncidentAccess(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() error
		kind Kind
		code string
	}{
		{"open without the service", func() error {
			_, err := w.app.OpenIncident(ctx, steward, incident.OpenRequest{Title: "leak", Severity: "high"})
			return err
		}, KindUnavailable, "not_configured"},
		{"list: auditor", func() error {
			_, err := w.app.Incidents(ctx, auditor, "")
			return err
		}, ok, ""},
		{"list: reviewer", func() error {
			_, err := w.app.Incidents(ctx, reviewer, "")
			return err
		}, KindForbidden, "forbidden"},
		{"a note without the service", func() error {
			_, err := w.app.AddIncidentNote(ctx, steward, "inc-1", "looking")
			return err
		}, KindUnavailable, "not_configured"},
		{"hunting rules: auditor", func() error {
			_, err := w.app.HuntRules(ctx, auditor)
			return err
		}, ok, ""},
		{"hunting rules: publisher", func() error {
			_, err := w.app.HuntRules(ctx, pia)
			return err
		}, KindForbidden, "forbidden"},
		{"disable a rule: auditor", func() error {
			return w.app.DisableHuntRule(ctx, auditor, "rule-1")
		}, KindForbidden, "forbidden"},
		{"disable no such rule", func() error {
			return w.app.DisableHuntRule(ctx, steward, "rule-1")
		}, KindNotFound, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, tc.do(), tc.kind, tc.code)
		})
	}
	if got := lastAction(t, w.st); got == audit.HuntRuleDisable {
		t.Errorf("a refused disable was audited")
	}
}
