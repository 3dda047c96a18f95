package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// retentionTests cover the rest of issue 20 item 4: people named in an
// event's reason and data, the installation's settings, the admin
// bootstrap and the purge of health reports and webhooks.
var retentionTests = []suiteTest{
	{"AuditPersonalDataPurged", testAuditPersonalDataPurged},
	{"Settings", testSettings},
	{"BootstrapAdmin", testBootstrapAdmin},
	{"PurgeRecords", testPurgeRecords},
}

// DumpAudit is every column of every audit event as text, the way an
// operator who dumps the table sees it.
func DumpAudit(t *testing.T, raw RawDB) string {
	t.Helper()
	rows, err := raw.DB().QueryContext(context.Background(), `SELECT * FROM audit_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			// Quoted, so that a salt's bytes cannot break the line.
			fmt.Fprintf(&b, "%q\t", fmt.Sprint(v))
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// testAuditPersonalDataPurged: events that name people in their reason
// and data (a token's holder, the hosts and steward of a health quorum,
// a steward's note, a keyless identity, a namespace's owners) keep none
// of them, anywhere in the table, once the purge passed; the chain still
// verifies; what names nobody stays in clear.
func testAuditPersonalDataPurged(t *testing.T, s store.Store) {
	raw, ok := s.(RawDB)
	if !ok {
		t.Skip("the store offers no raw access to dump its table")
	}
	ctx := context.Background()
	people := []string{"alice@example.com", "host-berlin-7", "host-lyon-2", "steward-carol", "dave@example.com", "erin@example.com", "tok-alice"}
	evs := []audit.Event{
		{Actor: "admin-zed", Action: audit.TokenCreate, Subject: "token:tok-alice", Data: []byte(`{"subject":"alice@example.com","role":"publisher","namespace":"acme"}`)},
		{Actor: "host-berlin-7", Action: audit.HealthAlert, Subject: "submission:01J", Reason: "host host-berlin-7 reports acme/x@1.0.0 unhealthy",
			Data: []byte(`{"plugin":"acme/x","host":"host-berlin-7","hosts":1,"requiredHosts":2}`)},
		{Actor: "host-lyon-2", Action: audit.HealthQuorum, Subject: "submission:01J", Reason: "host health quorum: 2 hosts (hosts host-berlin-7, host-lyon-2)",
			Data: []byte(`{"plugin":"acme/x","hosts":["host-berlin-7","host-lyon-2"],"stewards":["steward-carol"],"requiredHosts":2}`)},
		{Actor: "steward-carol", Action: audit.IncidentNote, Subject: "incident:in_1", Reason: "dave@example.com reported the leak", Data: []byte(`{"plugins":["acme/x"]}`)},
		{Actor: "erin@example.com", Action: audit.PublisherKeyAdded, Subject: "namespace:acme", Reason: "keyless identity k1: erin@example.com via https://accounts.example"},
		{Actor: "admin-zed", Action: audit.NamespaceOwnerTransfer, Subject: "namespace:acme", Reason: "at dave@example.com's request",
			Data: []byte(`{"from":["erin@example.com"],"to":["dave@example.com"],"recheck":0,"revokedTokens":["tok-alice"]}`)},
		{Actor: "system", Action: audit.SubmissionVet, Subject: "submission:01J", Reason: "every enforced check passed", Data: []byte(`{"blocked":false,"why":"asked again by dave@example.com"}`)},
		{Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:01J", OldState: "vetting", NewState: "in_review", Reason: "approved by steward-carol"},
		{Actor: "system", Action: audit.SubmissionCreate, Subject: "submission:01K", Reason: "package received; waiting for vetting", Data: []byte(`{"plugin":"acme/y","version":"2.0.0"}`)},
	}
	for i, ev := range evs {
		ev.Time = at(i)
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// A recent event names Alice: within the retention, it keeps her.
	recent := audit.Event{Time: at(100), Actor: "alice@example.com", Action: audit.WebSignin, Subject: "token:tok-alice"}
	if err := s.AppendAudit(ctx, recent); err != nil {
		t.Fatal(err)
	}
	before := DumpAudit(t, raw)
	for _, p := range people {
		if !strings.Contains(before, p) {
			t.Fatalf("the seeded trail does not name %s; the test would prove nothing", p)
		}
	}
	purge := audit.Event{Time: at(200), Actor: "system", Action: audit.AuditPseudonymise, Subject: "audit", Reason: "retention"}
	changed, _, err := s.PseudonymiseAudit(ctx, at(50), 100, purge)
	if err != nil || changed != len(evs) {
		t.Fatalf("PseudonymiseAudit = %d, %v; want %d", changed, err, len(evs))
	}
	mustVerify(t, s, int64(len(evs))+2)
	// Every row but the recent one and the purge's: no name is left.
	all := trail(t, s, "")
	var old strings.Builder
	rows := strings.Split(strings.TrimSuffix(DumpAudit(t, raw), "\n"), "\n")
	if len(rows) != len(all) {
		t.Fatalf("%d rows dumped, %d events", len(rows), len(all))
	}
	for i, e := range all {
		if e.Seq <= int64(len(evs)) {
			old.WriteString(rows[i])
		}
	}
	for _, p := range append(people, "admin-zed") {
		if strings.Contains(old.String(), p) {
			t.Errorf("%s is still in the purged rows of the audit table:\n%s", p, old.String())
		}
	}
	// What names nobody is kept: the submission's reason and data, the
	// incident's subject, the actions.
	kept := all[8]
	if kept.Reason != "package received; waiting for vetting" || !strings.Contains(string(kept.Data), `"acme/y"`) || all[3].Subject != "incident:in_1" || all[0].Action != audit.TokenCreate {
		t.Errorf("a field that names nobody was pseudonymised: %+v, %+v", kept, all[3])
	}
	if all[len(evs)].Actor != "alice@example.com" {
		t.Errorf("the recent event lost its actor: %+v", all[len(evs)])
	}
	// Twice changes nothing.
	if changed, _, err := s.PseudonymiseAudit(ctx, at(50), 100, purge); err != nil || changed != 0 {
		t.Errorf("second purge = %d, %v; want nothing", changed, err)
	}
	mustVerify(t, s, int64(len(evs))+2)
}

func testSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	const name = store.SettingPersonalDataRetention
	if _, _, err := s.Setting(ctx, name); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Setting before any = %v, want ErrNotFound", err)
	}
	ev := func(i int) audit.Event {
		return audit.Event{Time: at(i), Actor: "system", Action: audit.PersonalDataRetentionSet, Subject: "setting:" + name}
	}
	if err := s.SetSetting(ctx, name, "", "400d", at(1), ev(1)); err != nil {
		t.Fatal(err)
	}
	if v, when, err := s.Setting(ctx, name); err != nil || v != "400d" || !when.Equal(stored(at(1))) {
		t.Fatalf("Setting = %q, %s, %v", v, when, err)
	}
	// Another process recorded its own first: the second first write loses.
	if err := s.SetSetting(ctx, name, "", "30d", at(2), ev(2)); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("a second first write = %v, want ErrStateChanged", err)
	}
	if err := s.SetSetting(ctx, name, "90d", "30d", at(2), ev(2)); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("a change from a stale value = %v, want ErrStateChanged", err)
	}
	if err := s.SetSetting(ctx, name, "400d", "30d", at(3), ev(3)); err != nil {
		t.Fatal(err)
	}
	if v, _, err := s.Setting(ctx, name); err != nil || v != "30d" {
		t.Fatalf("Setting after the change = %q, %v", v, err)
	}
	if err := s.SetSetting(ctx, name, "30d", strings.Repeat("x", 2000), at(4), ev(4)); err == nil {
		t.Error("an oversized value was accepted")
	}
	// Each change is recorded; the refused ones are not.
	mustVerify(t, s, 2)
}

// testBootstrapAdmin: the first admin token is made once per database,
// whatever becomes of it: after it is purged, no start makes another.
func testBootstrapAdmin(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := func(id string) domain.Token {
		return domain.Token{ID: id, Subject: "admin", Role: domain.RoleAdmin, Hash: hashOf(id), CreatedAt: at(1), ExpiresAt: at(5)}
	}
	ev := func(id string) audit.Event {
		return audit.Event{Time: at(1), Actor: "system", Action: audit.TokenCreate, Subject: "token:" + id}
	}
	if created, err := s.BootstrapAdmin(ctx, tok("adm-1"), ev("adm-1")); err != nil || !created {
		t.Fatalf("first BootstrapAdmin = %v, %v; want created", created, err)
	}
	if _, _, err := s.Setting(ctx, store.SettingAdminBootstrapped); err != nil {
		t.Fatalf("the bootstrap was not recorded: %v", err)
	}
	if created, err := s.BootstrapAdmin(ctx, tok("adm-2"), ev("adm-2")); err != nil || created {
		t.Fatalf("second BootstrapAdmin = %v, %v; want nothing made", created, err)
	}
	if _, err := s.PurgeTokens(ctx, at(10), 10, audit.Event{Time: at(10), Actor: "system", Action: audit.TokenPurge, Subject: "tokens"}); err != nil {
		t.Fatal(err)
	}
	if toks, err := s.ListTokens(ctx); err != nil || len(toks) != 0 {
		t.Fatalf("tokens after the purge = %+v, %v", toks, err)
	}
	if created, err := s.BootstrapAdmin(ctx, tok("adm-3"), ev("adm-3")); err != nil || created {
		t.Fatalf("BootstrapAdmin after the first admin was purged = %v, %v; want nothing made", created, err)
	}
	if _, err := s.TokenByHash(ctx, hashOf("adm-3")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a refused bootstrap stored its token: %v", err)
	}
	notAdmin := tok("pub-1")
	notAdmin.Role = domain.RolePublisher
	if _, err := s.BootstrapAdmin(ctx, notAdmin, ev("pub-1")); err == nil {
		t.Error("a publisher token was bootstrapped")
	}
	mustVerify(t, s, 2) // the first admin's creation, the purge
}

// testPurgeRecords: health reports and votes, sent or dead deliveries and
// disabled webhooks older than the cut-off go, with their attempts; newer
// ones and live webhooks stay; the purge is an event; twice changes
// nothing.
func testPurgeRecords(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "v1", "acme/one", "1.0.0")
	rep := func(host string, i int) domain.HealthReport {
		return domain.HealthReport{VersionID: "v1", Host: host, WindowStart: at(i), WindowEnd: at(i + 1), Calls: 10, Errors: map[string]int64{"trap": 5}, ReceivedAt: at(i + 1)}
	}
	vote := func(voter string, i int) domain.HealthVote {
		return domain.HealthVote{VersionID: "v1", Voter: voter, Kind: "host", FirstAt: at(i), LastAt: at(i), Reports: 1, Reason: "failing"}
	}
	if err := s.RecordHealthReports(ctx, []domain.HealthReport{rep("host-old", 100), rep("host-new", 5000)},
		[]domain.HealthVote{vote("host-old", 100), vote("host-new", 5000)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"wh_live", "wh_off_old", "wh_off_new"} {
		if err := s.CreateWebhook(ctx, newWebhook(id), event(audit.WebhookCreate, "webhook:"+id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(wh string, seq int64) domain.WebhookDelivery {
		return domain.WebhookDelivery{WebhookID: wh, EventSeq: seq, EventType: audit.SubmissionCreate, MessageID: fmt.Sprintf("msg_%d_%s", seq, wh),
			Payload: []byte(`{"actor":"alice"}`), NextAttempt: at(10), CreatedAt: at(10)}
	}
	if err := s.EnqueueDeliveries(ctx, []domain.WebhookDelivery{mk("wh_live", 1), mk("wh_live", 2), mk("wh_off_old", 1), mk("wh_live", 3)}, 0, 3); err != nil {
		t.Fatal(err)
	}
	ds, err := s.ClaimDeliveries(ctx, at(10), time.Minute, 10)
	if err != nil || len(ds) != 4 {
		t.Fatalf("claim = %d, %v", len(ds), err)
	}
	byKey := map[string]domain.WebhookDelivery{}
	for _, d := range ds {
		byKey[fmt.Sprintf("%s/%d", d.WebhookID, d.EventSeq)] = d
	}
	finish := func(key, state string, i int) {
		d := byKey[key]
		d.Attempts, d.State, d.LastStatus, d.UpdatedAt = 1, state, 200, at(i)
		if err := s.RecordAttempt(ctx, d, domain.WebhookAttempt{DeliveryID: d.ID, N: 1, At: at(i), StatusCode: 200}, nil); err != nil {
			t.Fatal(err)
		}
	}
	finish("wh_live/1", domain.DeliveryDelivered, 100) // old, sent: goes
	finish("wh_live/2", domain.DeliveryDelivered, 5000)
	// wh_live/3 stays pending (old, but not sent yet): kept.
	finish("wh_off_old/1", domain.DeliveryDead, 100) // goes, and with its webhook anyway
	for id, i := range map[string]int{"wh_off_old": 200, "wh_off_new": 5000} {
		if err := s.DisableWebhook(ctx, id, at(i), "by its owner", event(audit.WebhookDisable, "webhook:"+id, i)); err != nil {
			t.Fatal(err)
		}
	}
	purge := audit.Event{Time: at(9000), Actor: "system", Action: audit.RecordsPurge, Subject: "records", Reason: "retention"}
	p, err := s.PurgeRecords(ctx, at(1000), 100, purge)
	if err != nil || p != (store.Purged{HealthReports: 1, HealthVotes: 1, Deliveries: 2, Webhooks: 1}) {
		t.Fatalf("PurgeRecords = %+v, %v; want 1 report, 1 vote, 2 deliveries, 1 webhook", p, err)
	}
	if rs, err := s.ListHealthReports(ctx, "v1", at(0), 10); err != nil || len(rs) != 1 || rs[0].Host != "host-new" {
		t.Errorf("health reports after the purge = %+v, %v", rs, err)
	}
	if vs, err := s.ListHealthVotes(ctx, "v1", at(0), 10); err != nil || len(vs) != 1 || vs[0].Voter != "host-new" {
		t.Errorf("health votes after the purge = %+v, %v", vs, err)
	}
	hooks, err := s.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range hooks {
		ids = append(ids, w.ID)
	}
	if strings.Join(ids, ",") != "wh_live,wh_off_new" && strings.Join(ids, ",") != "wh_off_new,wh_live" {
		t.Errorf("webhooks after the purge = %v; want wh_live and wh_off_new", ids)
	}
	left, err := s.ListDeliveries(ctx, domain.DeliveryQuery{WebhookID: "wh_live"})
	if err != nil || len(left) != 2 {
		t.Errorf("wh_live's deliveries after the purge = %+v, %v; want the recent one and the pending one", left, err)
	}
	evs := trail(t, s, "records")
	if len(evs) != 1 || !strings.Contains(string(evs[0].Data), `"webhooks":1`) {
		t.Errorf("the purge's event = %+v", evs)
	}
	if p, err := s.PurgeRecords(ctx, at(1000), 100, purge); err != nil || p.Total() != 0 {
		t.Errorf("second purge = %+v, %v; want nothing", p, err)
	}
	if _, err := s.PurgeRecords(ctx, at(1000), 0, purge); err == nil {
		t.Error("a limit of 0 was accepted")
	}
}
