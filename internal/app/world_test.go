package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// world is an application on a real SQLite store, with the trust layer
// and webhooks, and the callers the access tests use. Namespace acme is
// owned by pia; otto publishes elsewhere.
type world struct {
	app   *App
	bare  *App // the same store without trust, webhooks or incidents
	st    store.Store
	trust *certifytest.Trust
	now   time.Time
}

var (
	anonymous = domain.Principal{}
	admin     = domain.Principal{TokenID: "t-admin", Subject: "ada", Role: domain.RoleAdmin}
	steward   = domain.Principal{TokenID: "t-steward", Subject: "stella", Role: domain.RoleSteward}
	auditor   = domain.Principal{TokenID: "t-auditor", Subject: "audrey", Role: domain.RoleAuditor}
	reviewer  = domain.Principal{TokenID: "t-reviewer", Subject: "rita", Role: domain.RoleReviewer}
	pia       = domain.Principal{TokenID: "t-pia", Subject: "pia", Role: domain.RolePublisher}
	scoped    = domain.Principal{TokenID: "t-scoped", Subject: "ci", Role: domain.RolePublisher, Namespace: "acme"}
	otto      = domain.Principal{TokenID: "t-otto", Subject: "otto", Role: domain.RolePublisher}
	host      = domain.Principal{TokenID: "t-host", Subject: "edge-1", Role: domain.RoleHost}
)

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tr := certifytest.New(t, st, clock)
	sealer, err := webhook.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhook.New(webhook.Config{Store: st, Sealer: sealer, AllowPrivate: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"pia"}, CreatedAt: now},
		audit.Event{Time: now, Actor: "pia", Action: audit.NamespaceClaim, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	return &world{
		app:   New(Config{Store: st, Trust: tr.Service, Webhooks: hooks, Now: clock}),
		bare:  New(Config{Store: st, Now: clock}),
		st:    st,
		trust: tr,
		now:   now,
	}
}

// wantKind fails unless err is an application error of kind k (and of
// code, when code is not empty); KindInternal with nil err means success.
func wantKind(t *testing.T, err error, k Kind, code string) {
	t.Helper()
	if k == KindInternal {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("err = nil, want %s", k.Code())
	}
	gk, gcode, msg := Classify(err)
	if gk != k || (code != "" && gcode != code) {
		t.Fatalf("err = %v (%s, %s), want kind %s code %q", msg, gk.Code(), gcode, k.Code(), code)
	}
}

// ok is the expected outcome of a case that succeeds.
const ok = KindInternal

// lastAction is the newest audit event's action.
func lastAction(t *testing.T, st store.Store) string {
	t.Helper()
	var last audit.Event
	if err := st.ScanAudit(context.Background(), domain.AuditQuery{}, func(e audit.Event) error { last = e; return nil }); err != nil {
		t.Fatal(err)
	}
	return last.Action
}

var errStop = errors.New("stop")
