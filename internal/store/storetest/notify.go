package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// notifyTests are the suite's tests of webhooks, incidents and hunting rules.
var notifyTests = []suiteTest{
	{"WebhookSubscriptions", testWebhookSubscriptions},
	{"WebhookDeliveries", testWebhookDeliveries},
	{"Incidents", testIncidents},
	{"HuntRules", testHuntRules},
}

func newWebhook(id string) domain.Webhook {
	return domain.Webhook{ID: id, Owner: "alice", URL: "https://hooks.example.com/" + id, Events: []string{"submission.*", audit.IncidentOpened},
		Namespace: "acme", Secret: []byte("sealed-" + id), CreatedAt: at(1)}
}

func testWebhookSubscriptions(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := newWebhook("wh_1")
	if err := s.CreateWebhook(ctx, w, event(audit.WebhookCreate, "webhook:wh_1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, w, event(audit.WebhookCreate, "webhook:wh_1", 2)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("second CreateWebhook with the same id: %v, want ErrConflict", err)
	}
	got, err := s.GetWebhook(ctx, "wh_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != w.URL || fmt.Sprint(got.Events) != fmt.Sprint(w.Events) || string(got.Secret) != "sealed-wh_1" || got.Namespace != "acme" || !got.CreatedAt.Equal(stored(at(1))) {
		t.Fatalf("GetWebhook = %+v, want %+v", got, w)
	}
	if _, err := s.GetWebhook(ctx, "wh_none"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetWebhook(unknown) = %v, want ErrNotFound", err)
	}
	bad := newWebhook("wh_bad")
	bad.Events = nil
	if err := s.CreateWebhook(ctx, bad, event(audit.WebhookCreate, "webhook:wh_bad", 3)); err == nil {
		t.Fatal("a webhook without event filters was stored")
	}
	if err := s.DisableWebhook(ctx, "wh_1", at(5), "owner asked", event(audit.WebhookDisable, "webhook:wh_1", 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.DisableWebhook(ctx, "wh_1", at(6), "again", event(audit.WebhookDisable, "webhook:wh_1", 6)); err != nil {
		t.Fatalf("disabling a disabled webhook: %v", err)
	}
	list, err := s.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || !list[0].DisabledAt.Equal(stored(at(5))) || list[0].DisabledReason != "owner asked" {
		t.Fatalf("ListWebhooks = %+v, %v", list, err)
	}
	mustVerify(t, s, 2) // create, one disable
}

func testWebhookDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"wh_a", "wh_b"} {
		if err := s.CreateWebhook(ctx, newWebhook(id), event(audit.WebhookCreate, "webhook:"+id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.WebhookCursor(ctx); err != nil || c != 0 {
		t.Fatalf("initial cursor = %d, %v", c, err)
	}
	mk := func(wh string, seq int64) domain.WebhookDelivery {
		return domain.WebhookDelivery{WebhookID: wh, EventSeq: seq, EventType: audit.SubmissionCreate, MessageID: fmt.Sprintf("msg_%d_%s", seq, wh),
			Payload: []byte(`{"type":"submission.create"}`), NextAttempt: at(10), CreatedAt: at(10)}
	}
	if err := s.EnqueueDeliveries(ctx, []domain.WebhookDelivery{mk("wh_a", 1), mk("wh_b", 1), mk("wh_a", 2)}, 0, 2); err != nil {
		t.Fatal(err)
	}
	// A second process that read the old cursor loses the race.
	if err := s.EnqueueDeliveries(ctx, []domain.WebhookDelivery{mk("wh_a", 1)}, 0, 2); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("enqueue from a stale cursor: %v, want ErrStateChanged", err)
	}
	// The same (webhook, event) pair is never delivered twice.
	if err := s.EnqueueDeliveries(ctx, []domain.WebhookDelivery{mk("wh_a", 2)}, 2, 3); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.WebhookCursor(ctx); c != 3 {
		t.Fatalf("cursor = %d, want 3", c)
	}
	all, err := s.ListDeliveries(ctx, domain.DeliveryQuery{})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListDeliveries = %d rows, %v; want 3", len(all), err)
	}

	// Nothing is due before its time; a claim leases what is due.
	if ds, err := s.ClaimDeliveries(ctx, at(9), time.Minute, 10); err != nil || len(ds) != 0 {
		t.Fatalf("claim before due = %d, %v", len(ds), err)
	}
	ds, err := s.ClaimDeliveries(ctx, at(10), time.Minute, 2)
	if err != nil || len(ds) != 2 {
		t.Fatalf("claim = %d, %v; want 2", len(ds), err)
	}
	if again, _ := s.ClaimDeliveries(ctx, at(11), time.Minute, 10); len(again) != 1 {
		t.Fatalf("a second claim got %d deliveries, want only the one not leased", len(again))
	}

	// Record a failure, then a dead letter with its audit event.
	d := ds[0]
	d.Attempts, d.LastStatus, d.LastError, d.NextAttempt = 1, 500, "server error", at(20)
	if err := s.RecordAttempt(ctx, d, domain.WebhookAttempt{DeliveryID: d.ID, N: 1, At: at(10), StatusCode: 500, Latency: 1500 * time.Microsecond, Response: []byte("boom")}, nil); err != nil {
		t.Fatal(err)
	}
	d.Attempts, d.State, d.LastError = 2, domain.DeliveryDead, "gave up"
	dead := event(audit.WebhookDeliveryDead, "webhook:"+d.WebhookID, 20)
	if err := s.RecordAttempt(ctx, d, domain.WebhookAttempt{DeliveryID: d.ID, N: 2, At: at(20), Error: "connection refused"}, &dead); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt(ctx, d, domain.WebhookAttempt{DeliveryID: d.ID, N: 3, At: at(21)}, nil); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("recording on a dead delivery: %v, want ErrStateChanged", err)
	}
	as, err := s.ListAttempts(ctx, d.ID)
	if err != nil || len(as) != 2 || as[0].StatusCode != 500 || as[0].Latency != 1500*time.Microsecond || string(as[0].Response) != "boom" || as[1].Error != "connection refused" {
		t.Fatalf("attempts = %+v, %v", as, err)
	}
	got, err := s.GetDelivery(ctx, d.ID)
	if err != nil || got.State != domain.DeliveryDead || got.Attempts != 2 {
		t.Fatalf("delivery = %+v, %v", got, err)
	}
	if deadList, _ := s.ListDeliveries(ctx, domain.DeliveryQuery{State: domain.DeliveryDead}); len(deadList) != 1 || deadList[0].ID != d.ID {
		t.Fatalf("dead letters = %+v", deadList)
	}

	// Replay brings dead letters back with a fresh budget.
	n, err := s.ReplayDeliveries(ctx, d.WebhookID, nil, at(30), event(audit.WebhookDeliveryReplay, "webhook:"+d.WebhookID, 30))
	if err != nil || n != 1 {
		t.Fatalf("replay = %d, %v; want 1", n, err)
	}
	got, _ = s.GetDelivery(ctx, d.ID)
	if got.State != domain.DeliveryPending || got.Attempts != 0 || !got.NextAttempt.Equal(stored(at(30))) {
		t.Fatalf("replayed delivery = %+v", got)
	}
	if n, err := s.ReplayDeliveries(ctx, d.WebhookID, nil, at(31), event(audit.WebhookDeliveryReplay, "webhook:"+d.WebhookID, 31)); err != nil || n != 0 {
		t.Fatalf("replaying with no dead letters = %d, %v", n, err)
	}
	// Scoped lists.
	if mine, _ := s.ListDeliveries(ctx, domain.DeliveryQuery{Webhooks: []string{"wh_b"}}); len(mine) != 1 || mine[0].WebhookID != "wh_b" {
		t.Fatalf("deliveries of wh_b = %+v", mine)
	}
	if none, _ := s.ListDeliveries(ctx, domain.DeliveryQuery{Webhooks: []string{}}); len(none) != 0 {
		t.Fatalf("deliveries of no webhooks = %+v", none)
	}
	// Disabling kills what is pending and refuses replays.
	if err := s.DisableWebhook(ctx, "wh_a", at(40), "gone", event(audit.WebhookDisable, "webhook:wh_a", 40)); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s.ListDeliveries(ctx, domain.DeliveryQuery{WebhookID: "wh_a", State: domain.DeliveryPending}); len(pend) != 0 {
		t.Fatalf("pending deliveries of a disabled webhook: %+v", pend)
	}
	if _, err := s.ReplayDeliveries(ctx, "wh_a", nil, at(41), event(audit.WebhookDeliveryReplay, "webhook:wh_a", 41)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("replay to a disabled webhook: %v, want ErrConflict", err)
	}
	mustVerify(t, s, 5) // 2 creates, dead letter, replay, disable
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, id := range []string{"sub_1", "sub_2"} {
		create(t, s, newVersion(id, "acme/hello", fmt.Sprintf("1.0.%d", i), id))
	}
	inc := domain.Incident{ID: "inc_1", Title: "Exfiltration in acme/hello", Summary: "reports of data leaving", Severity: "high", State: domain.IncidentOpen, OpenedBy: "sam", OpenedAt: at(20)}
	if err := s.CreateIncident(ctx, inc, event(audit.IncidentOpened, "incident:inc_1", 20)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIncident(ctx, inc, event(audit.IncidentOpened, "incident:inc_1", 20)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("duplicate incident: %v", err)
	}
	n, err := s.AddIncidentVersions(ctx, "inc_1", []domain.IncidentVersion{{VersionID: "sub_1", Source: "named", AddedBy: "sam", AddedAt: at(21)}}, event(audit.IncidentVersionsAdded, "incident:inc_1", 21))
	if err != nil || n != 1 {
		t.Fatalf("AddIncidentVersions = %d, %v", n, err)
	}
	n, err = s.AddIncidentVersions(ctx, "inc_1", []domain.IncidentVersion{
		{VersionID: "sub_1", Source: "hunt:hr_1", AddedBy: "sam", AddedAt: at(22)},
		{VersionID: "sub_2", Source: "hunt:hr_1", AddedBy: "sam", AddedAt: at(22)},
	}, event(audit.IncidentVersionsAdded, "incident:inc_1", 22))
	if err != nil || n != 1 {
		t.Fatalf("adding one new and one named version = %d, %v; want 1", n, err)
	}
	if _, err := s.AddIncidentVersions(ctx, "inc_1", []domain.IncidentVersion{{VersionID: "sub_none", Source: "named", AddedBy: "sam", AddedAt: at(23)}}, event(audit.IncidentVersionsAdded, "incident:inc_1", 23)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("naming an unknown version: %v, want ErrNotFound", err)
	}
	vs, err := s.ListIncidentVersions(ctx, "inc_1")
	if err != nil || len(vs) != 2 || vs[0].VersionID != "sub_1" || vs[0].Source != "named" || vs[1].Source != "hunt:hr_1" {
		t.Fatalf("incident versions = %+v, %v", vs, err)
	}
	inc.State, inc.ContainedAt = domain.IncidentContained, at(30)
	if err := s.UpdateIncident(ctx, inc, event(audit.IncidentContained, "incident:inc_1", 30)); err != nil {
		t.Fatal(err)
	}
	inc.State, inc.ClosedAt, inc.ClosedBy, inc.Postmortem = domain.IncidentClosed, at(40), "sam", "What happened and the new rule."
	if err := s.UpdateIncident(ctx, inc, event(audit.IncidentClosed, "incident:inc_1", 40)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetIncident(ctx, "inc_1")
	if err != nil || got.State != domain.IncidentClosed || !got.ContainedAt.Equal(stored(at(30))) || got.Postmortem != inc.Postmortem || got.Title != inc.Title {
		t.Fatalf("GetIncident = %+v, %v", got, err)
	}
	if open, _ := s.ListIncidents(ctx, domain.IncidentQuery{State: domain.IncidentOpen}); len(open) != 0 {
		t.Fatalf("open incidents = %+v", open)
	}
	if all, _ := s.ListIncidents(ctx, domain.IncidentQuery{}); len(all) != 1 {
		t.Fatalf("incidents = %+v", all)
	}
	if tl := trail(t, s, "incident:inc_1"); len(tl) != 5 {
		t.Fatalf("incident timeline has %d events, want 5", len(tl))
	}
	mustVerify(t, s, 7)
}

func testHuntRules(t *testing.T, s store.Store) {
	ctx := context.Background()
	rules := []domain.HuntRule{
		{ID: "hr_1", IncidentID: "inc_1", Kind: domain.HuntContent, Pattern: `evil\.example`, Description: "exfil host", CreatedBy: "sam", CreatedAt: at(1)},
		{ID: "hr_2", Kind: domain.HuntImport, Pattern: "env/steal", CreatedBy: "sam", CreatedAt: at(2)},
	}
	for _, r := range rules {
		if err := s.CreateHuntRule(ctx, r, event(audit.IncidentRuleAdded, "hunt-rule:"+r.ID, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateHuntRule(ctx, domain.HuntRule{ID: "hr_3", Kind: "astrology", Pattern: "x", CreatedBy: "sam"}, event(audit.IncidentRuleAdded, "hunt-rule:hr_3", 3)); err == nil {
		t.Fatal("a rule of unknown kind was stored")
	}
	if err := s.DisableHuntRule(ctx, "hr_1", at(5), event(audit.HuntRuleDisable, "hunt-rule:hr_1", 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.DisableHuntRule(ctx, "hr_none", at(5), event(audit.HuntRuleDisable, "hunt-rule:hr_none", 5)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("disabling an unknown rule: %v", err)
	}
	active, err := s.ListHuntRules(ctx, true)
	if err != nil || len(active) != 1 || active[0].ID != "hr_2" || active[0].Pattern != "env/steal" {
		t.Fatalf("active rules = %+v, %v", active, err)
	}
	all, _ := s.ListHuntRules(ctx, false)
	if len(all) != 2 || all[0].IncidentID != "inc_1" || !all[0].DisabledAt.Equal(stored(at(5))) {
		t.Fatalf("all rules = %+v", all)
	}
	mustVerify(t, s, 3)
}
