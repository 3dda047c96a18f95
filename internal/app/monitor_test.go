package app

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/health"
)

// TestMonitorAccess: the monitoring operations' roles, and what a
// marketplace without revalidation, health reports or a vulnerability
// database answers.
func TestMonitorAccess(t *testing.T) {
	w := newWorld(t)
	v := w.received(t, "1.0.0")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() error
		kind Kind
		code string
	}{
		{"revalidate without a scheduler", func() error {
			_, err := w.app.Revalidate(ctx, steward, RevalidateRequest{All: true})
			return err
		}, KindUnavailable, "revalidation_disabled"},
		{"list revalidations: auditor", func() error {
			_, err := w.app.ListRevalidations(ctx, auditor, domain.RevalidationQuery{})
			return err
		}, ok, ""},
		{"list revalidations: reviewer", func() error {
			_, err := w.app.ListRevalidations(ctx, reviewer, domain.RevalidationQuery{})
			return err
		}, KindForbidden, "forbidden"},
		{"a schedule not made yet", func() error {
			_, err := w.app.GetRevalidation(ctx, reviewer, "acme/tool@1.0.0")
			return err
		}, KindNotFound, "not_found"},
		{"a schedule: publisher", func() error {
			_, err := w.app.GetRevalidation(ctx, pia, v.ID)
			return err
		}, KindForbidden, "forbidden"},
		{"offer a host API without a scheduler", func() error {
			_, err := w.app.OfferHostAPI(ctx, steward, "1.2.0")
			return err
		}, KindUnavailable, "revalidation_disabled"},
		{"host API versions: publisher", func() error {
			_, err := w.app.ListHostAPIs(ctx, otto)
			return err
		}, ok, ""},
		{"host API versions: host", func() error {
			_, err := w.app.ListHostAPIs(ctx, host)
			return err
		}, KindForbidden, "forbidden"},
		{"health report without a monitor", func() error {
			_, err := w.app.ReportHealth(ctx, host, health.Report{})
			return err
		}, KindUnavailable, "health_disabled"},
		{"health reports by name", func() error {
			_, err := w.app.HealthReports(ctx, steward, "acme/tool@1.0.0", 0)
			return err
		}, ok, ""},
		{"health reports of no version", func() error {
			_, err := w.app.HealthReports(ctx, steward, "acme/tool@9.9.9", 0)
			return err
		}, KindNotFound, "not_found"},
		{"health reports: host", func() error {
			_, err := w.app.HealthReports(ctx, host, v.ID, 0)
			return err
		}, KindForbidden, "forbidden"},
		{"import without a database store", func() error {
			_, err := w.app.ImportVulnDB(ctx, steward, nil, 0)
			return err
		}, KindUnavailable, "no_vulndb"},
		{"database version, none imported", func() error {
			_, err := w.app.VulnDBVersion(reviewer)
			return err
		}, KindNotFound, "no_vulndb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, tc.do(), tc.kind, tc.code)
		})
	}
}

// TestRevalidateRequest: who may ask, and the request's shape, are
// checked before anything else.
func TestRevalidateRequest(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		req    RevalidateRequest
		kind   Kind
		code   string
	}{
		{"a reviewer may not", reviewer, RevalidateRequest{All: true}, KindForbidden, "forbidden"},
		{"neither one nor all", steward, RevalidateRequest{}, KindInvalid, "bad_request"},
		{"both one and all", steward, RevalidateRequest{All: true, Version: "x"}, KindInvalid, "bad_request"},
		{"reviewed needs one version", steward, RevalidateRequest{All: true, Reviewed: true}, KindInvalid, "bad_request"},
		{"well formed, no scheduler", steward, RevalidateRequest{Version: "acme/tool@1.0.0", Reviewed: true}, KindUnavailable, "revalidation_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.app.Revalidate(context.Background(), tc.caller, tc.req)
			wantKind(t, err, tc.kind, tc.code)
		})
	}
}
