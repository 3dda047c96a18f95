package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/server"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// notifyEnv is a server with webhooks and incidents on a fresh store.
type notifyEnv struct {
	t      *testing.T
	url    string
	st     store.Store
	hooks  *webhook.Service
	tokens map[string]string
}

func newNotifyEnv(t *testing.T) *notifyEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, _ := webhook.NewSealer(bytes.Repeat([]byte{9}, webhook.KeySize))
	hooks, err := webhook.New(webhook.Config{Store: st, Sealer: sealer, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	incs, err := incident.New(incident.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{App: app.New(app.Config{Store: st, Webhooks: hooks, Incidents: incs})}))
	t.Cleanup(srv.Close)
	e := &notifyEnv{t: t, url: srv.URL, st: st, hooks: hooks, tokens: map[string]string{}}
	for key, spec := range map[string][3]string{
		"alice":   {"alice", "publisher", "acme"},
		"mallory": {"mallory", "publisher", "other"},
		"bob":     {"bob", "publisher", ""},
		"sam":     {"sam", "steward", ""},
		"ada":     {"ada", "auditor", ""},
	} {
		tok, secret, err := server.NewToken(time.Now(), api.TokenRequest{Subject: spec[0], Role: spec[1], Namespace: spec[2]})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tok, server.TokenEvent(tok, "test", time.Now())); err != nil {
			t.Fatal(err)
		}
		e.tokens[key] = secret
	}
	return e
}

func (e *notifyEnv) call(who, method, path string, body any, out any) int {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+"/api/v1"+path, r)
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		e.t.Logf("%s %s as %s: %d %s", method, path, who, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func TestWebhookRoutesKeepSubscribersApart(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "thanks") }))
	defer rcv.Close()
	sub := func(ns string) map[string]any {
		return map[string]any{"url": rcv.URL + "/hook", "events": []string{"submission.*"}, "namespace": ns}
	}
	var none api.Webhook
	if code := e.call("bob", "POST", "/webhooks", sub(""), &none); code != http.StatusUnprocessableEntity {
		t.Fatalf("an unscoped publisher subscribing to everything: %d, want 422", code)
	}
	if code := e.call("alice", "POST", "/webhooks", sub("other"), &none); code != http.StatusForbidden {
		t.Fatalf("a publisher subscribing to another namespace: %d, want 403", code)
	}
	if code := e.call("alice", "POST", "/webhooks", map[string]any{"url": rcv.URL, "events": []string{"sub*"}, "namespace": "acme"}, &none); code != http.StatusUnprocessableEntity {
		t.Fatalf("a malformed filter: %d, want 422", code)
	}
	var mine api.Webhook
	if code := e.call("alice", "POST", "/webhooks", sub("acme"), &mine); code != http.StatusCreated || !strings.HasPrefix(mine.Secret, "whsec_") {
		t.Fatalf("subscribing: %d %+v", code, mine)
	}
	var scoped api.Webhook
	if code := e.call("alice", "POST", "/webhooks", map[string]any{"url": rcv.URL, "events": []string{"version.*"}}, &scoped); code != http.StatusCreated || scoped.Namespace != "acme" {
		t.Fatalf("a namespace-scoped publisher subscribing without naming it: %d %+v, want acme", code, scoped)
	}
	if code := e.call("alice", "DELETE", "/webhooks/"+scoped.ID, nil, nil); code != 200 {
		t.Fatal(code)
	}
	var all api.Webhook
	if code := e.call("sam", "POST", "/webhooks", map[string]any{"url": rcv.URL, "events": []string{"*"}}, &all); code != http.StatusCreated {
		t.Fatalf("a steward subscribing to everything: %d", code)
	}

	var list struct{ Webhooks []api.Webhook }
	e.call("alice", "GET", "/webhooks", nil, &list)
	if len(list.Webhooks) != 2 || list.Webhooks[0].ID != mine.ID || list.Webhooks[0].Secret != "" {
		t.Fatalf("alice's list = %+v (the secret must never be listed)", list.Webhooks)
	}
	e.call("mallory", "GET", "/webhooks", nil, &list)
	if len(list.Webhooks) != 0 {
		t.Fatalf("mallory sees %+v", list.Webhooks)
	}
	e.call("sam", "GET", "/webhooks", nil, &list)
	if len(list.Webhooks) != 3 {
		t.Fatalf("the steward sees %d subscriptions, want 3", len(list.Webhooks))
	}
	raw, _ := json.Marshal(list)
	if bytes.Contains(raw, []byte(mine.Secret[6:])) {
		t.Fatal("a listing contains a secret")
	}

	// An event about acme reaches alice's receiver; its log is hers.
	ctx := context.Background()
	if err := e.st.AppendAudit(ctx, audit.Event{Time: time.Now(), Actor: "alice", Action: audit.SubmissionCreate, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hooks.Fanout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hooks.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	var ds struct{ Deliveries []api.Delivery }
	e.call("alice", "GET", "/deliveries", nil, &ds)
	if len(ds.Deliveries) != 1 || ds.Deliveries[0].Webhook != mine.ID || ds.Deliveries[0].State != domain.DeliveryDelivered {
		t.Fatalf("alice's deliveries = %+v", ds.Deliveries)
	}
	id := ds.Deliveries[0].ID
	var d api.Delivery
	if code := e.call("alice", "GET", fmt.Sprintf("/deliveries/%d", id), nil, &d); code != 200 || len(d.Attempt) != 1 || d.Attempt[0].StatusCode != 200 || d.Attempt[0].Response != "thanks" {
		t.Fatalf("delivery detail: %d %+v", code, d)
	}
	e.call("mallory", "GET", "/deliveries", nil, &ds)
	if len(ds.Deliveries) != 0 {
		t.Fatalf("mallory sees deliveries: %+v", ds.Deliveries)
	}
	if code := e.call("mallory", "GET", fmt.Sprintf("/deliveries/%d", id), nil, nil); code != http.StatusNotFound {
		t.Fatalf("mallory reading alice's delivery: %d, want 404", code)
	}
	if code := e.call("mallory", "POST", fmt.Sprintf("/deliveries/%d/replay", id), nil, nil); code != http.StatusNotFound {
		t.Fatalf("mallory replaying alice's delivery: %d, want 404", code)
	}
	if code := e.call("mallory", "DELETE", "/webhooks/"+mine.ID, nil, nil); code != http.StatusNotFound {
		t.Fatalf("mallory disabling alice's webhook: %d, want 404", code)
	}
	if code := e.call("alice", "POST", fmt.Sprintf("/deliveries/%d/replay", id), nil, &d); code != 200 || d.State != domain.DeliveryPending {
		t.Fatalf("alice replaying her delivery: %d %+v", code, d)
	}
	var off api.Webhook
	if code := e.call("alice", "DELETE", "/webhooks/"+mine.ID, nil, &off); code != 200 || off.DisabledAt.IsZero() {
		t.Fatalf("disabling: %d %+v", code, off)
	}
}

func TestIncidentRoutes(t *testing.T) {
	e := newNotifyEnv(t)
	var inc api.Incident
	if code := e.call("sam", "POST", "/incidents", map[string]any{"title": "Leaky plugin", "severity": "critical"}, &inc); code != http.StatusCreated || inc.ID == "" || inc.State != domain.IncidentOpen {
		t.Fatalf("open: %d %+v", code, inc)
	}
	if code := e.call("sam", "POST", "/incidents", map[string]any{"title": "x", "versions": []string{"acme/none@1.0.0"}}, nil); code != http.StatusNotFound {
		t.Fatalf("naming an unknown version: %d, want 404", code)
	}
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/rule", map[string]any{"kind": "content", "pattern": "("}, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("a rule that does not compile: %d, want 422", code)
	}
	var res api.IncidentActionResult
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/rule", map[string]any{"kind": "import", "pattern": "env/exfiltrate", "description": "known dropper"}, &res); code != 200 || res.Rule == nil || res.Rule.Kind != "import" {
		t.Fatalf("adding a rule: %d %+v", code, res)
	}
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/note", map[string]any{"note": "host reports came in at 09:12"}, nil); code != 200 {
		t.Fatalf("note: %d", code)
	}
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/contain", map[string]any{}, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("containing without a certifier or versions: %d, want 422", code)
	}
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/close", map[string]any{}, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("closing without a post-mortem: %d, want 422", code)
	}
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/close", map[string]any{"postmortem": "False alarm; the rule stays."}, &res); code != 200 || res.Incident.State != domain.IncidentClosed {
		t.Fatalf("close: %d %+v", code, res)
	}
	if code := e.call("sam", "POST", "/incidents/"+inc.ID+"/note", map[string]any{"note": "late"}, nil); code != http.StatusConflict {
		t.Fatalf("a note on a closed incident: %d, want 409", code)
	}
	var d api.IncidentDetail
	if code := e.call("ada", "GET", "/incidents/"+inc.ID, nil, &d); code != 200 || len(d.Timeline) < 4 || len(d.Rules) != 1 || d.Incident.Postmortem == "" {
		t.Fatalf("an auditor reading the incident: %d %+v", code, d)
	}
	var rules struct{ Rules []api.HuntRule }
	e.call("ada", "GET", "/hunt/rules", nil, &rules)
	if len(rules.Rules) != 1 || rules.Rules[0].Incident != inc.ID {
		t.Fatalf("rules = %+v", rules)
	}
	if code := e.call("sam", "DELETE", "/hunt/rules/"+rules.Rules[0].ID, nil, nil); code != 200 {
		t.Fatalf("disabling a rule: %d", code)
	}
	active, _ := e.st.ListHuntRules(context.Background(), true)
	if len(active) != 0 {
		t.Fatalf("active rules after disabling: %+v", active)
	}
}
