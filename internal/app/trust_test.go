package app

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// received stores a version of acme/tool that has just arrived.
func (w *world) received(t *testing.T, version string) domain.Version {
	t.Helper()
	v := domain.Version{ID: "v-" + version, PluginID: "acme/tool", Version: version, Digest: "sha256:" + version,
		Manifest: []byte(`{"manifestVersion":1,"name":"acme/tool","version":"` + version + `"}`), Submitter: "pia", State: lifecycle.Received, CreatedAt: w.now, UpdatedAt: w.now}
	v, _, err := w.st.CreateVersion(context.Background(), v, []audit.Event{{Time: w.now, Actor: "pia", Action: audit.SubmissionCreate, Subject: "submission:" + v.ID}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSuspendAndRevoke(t *testing.T) {
	w := newWorld(t)
	v := w.received(t, "1.0.0")
	for _, tc := range []struct {
		name   string
		app    *App
		caller domain.Principal
		id     string
		reason string
		kind   Kind
		code   string
	}{
		{"publisher", w.app, pia, v.ID, "leaks keys", KindForbidden, "forbidden"},
		{"reviewer", w.app, reviewer, v.ID, "leaks keys", KindForbidden, "forbidden"},
		{"no such version", w.app, steward, "nope", "leaks keys", KindNotFound, "not_found"},
		{"not certified", w.app, steward, v.ID, "leaks keys", KindConflict, "wrong_state"},
		{"without the trust layer", w.bare, steward, v.ID, "leaks keys", KindUnavailable, "trust_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.app.Suspend(context.Background(), tc.caller, tc.id, tc.reason, w.now.Add(7*24*time.Hour))
			wantKind(t, err, tc.kind, tc.code)
			_, err = tc.app.Revoke(context.Background(), tc.caller, tc.id, tc.reason)
			wantKind(t, err, tc.kind, tc.code)
		})
	}
}

// TestCertificateReads: what a certificate made public is read by anyone
// once released; before, only the namespace and the overseers know the
// version exists.
func TestCertificateReads(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	unreleased := domain.Version{ID: "v-x", PluginID: "acme/tool", Version: "0.1.0", State: lifecycle.InReview}
	revoked := domain.Version{ID: "v-y", PluginID: "acme/tool", Version: "0.2.0", State: lifecycle.Revoked}
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		v      domain.Version
		kind   Kind
		code   string
	}{
		{"owner reads an unreleased version", pia, unreleased, KindNotFound, "no_certificate"},
		{"overseer reads an unreleased version", auditor, unreleased, KindNotFound, "no_certificate"},
		{"another publisher does not", otto, unreleased, KindNotFound, "not_found"},
		{"anyone reads a revoked one", otto, revoked, KindNotFound, "no_certificate"},
		{"a host reads no certificate", host, revoked, KindForbidden, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.app.Certificate(ctx, tc.caller, tc.v)
			wantKind(t, err, tc.kind, tc.code)
		})
	}
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		v      domain.Version
		code   string
	}{
		{"anonymous, unreleased", anonymous, unreleased, "not_found"},
		{"anonymous, revoked", anonymous, revoked, "no_provenance"},
		{"owner, unreleased", pia, unreleased, "no_provenance"},
	} {
		t.Run("provenance "+tc.name, func(t *testing.T) {
			_, err := w.app.Provenance(ctx, tc.caller, tc.v)
			wantKind(t, err, KindNotFound, tc.code)
		})
	}
	if _, err := w.bare.Bundle(ctx, anonymous, revoked); err == nil {
		t.Error("Bundle without the trust layer succeeded")
	}
}

func TestBadge(t *testing.T) {
	w := newWorld(t)
	w.received(t, "1.0.0")
	// A plugin whose versions never held a certificate shows none, as one
	// that does not exist does.
	for _, plugin := range []string{"acme/tool", "acme/nothing"} {
		st, err := w.app.Badge(context.Background(), plugin)
		if err != nil || st.State != "none" {
			t.Errorf("Badge(%s) = %+v, %v; want state none", plugin, st, err)
		}
	}
}
