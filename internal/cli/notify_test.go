package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// TestWebhookAndIncidentCommands runs a real marketplace (its background
// delivery worker included) and drives it with the commands a steward
// types: subscribe a receiver, open an incident, add a note and a hunting
// rule, read the delivery log, close. The receiver checks every request
// with the secret `webhook add` printed.
func TestWebhookAndIncidentCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	m, err := marketplace.Open(ctx, marketplace.Config{Data: data, WebhooksAllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := marketplace.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	base := "http://" + ln.Addr().String()
	admin, err := marketplace.ReadAdminToken(data)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := client.New(base, admin)
	steward, err := cl.CreateToken(ctx, api.TokenRequest{Subject: "sam", Role: "steward"})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu   sync.Mutex
		got  []string
		errs []error
	)
	secret := make(chan string, 1)
	var key string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if key == "" {
			key = <-secret
		}
		if err := webhook.Verify(key, r.Header, b, time.Now(), 0); err != nil {
			errs = append(errs, err)
		}
		got = append(got, string(b))
	}))
	defer rcv.Close()

	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		env := Env{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
			return map[string]string{"GATEHOUSE_SERVER": base, "GATEHOUSE_TOKEN": steward.Secret}[k]
		}}
		if code := Main(ctx, args, env); code != 0 {
			t.Fatalf("gatehouse %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}

	out := run("webhook", "add", rcv.URL+"/gatehouse", "--event", "incident.*")
	sec := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(out)
	if sec == "" {
		t.Fatalf("webhook add printed no secret:\n%s", out)
	}
	secret <- sec
	if out := run("webhook", "list"); !strings.Contains(out, rcv.URL) || strings.Contains(out, "whsec_") {
		t.Fatalf("webhook list:\n%s", out)
	}

	out = run("incident", "open", "--title", "Tokens leaving through a telemetry helper", "--severity", "critical")
	id := regexp.MustCompile(`inc_[a-z0-9]+`).FindString(out)
	if id == "" {
		t.Fatalf("incident open printed no id:\n%s", out)
	}
	run("incident", "add", id, "--note", "first host report at 09:12")
	out = run("incident", "add", id, "--rule-kind", "origin", "--rule", "evil-collector.com", "--rule-description", "exfiltration host")
	if !strings.Contains(out, "Searched 0 stored versions: 0 match") {
		t.Fatalf("incident add --rule:\n%s", out)
	}
	out = run("incident", "close", id, "--postmortem", "A helper copied between plugins sent tokens away; a rule now blocks the host.")
	if !strings.Contains(out, "State closed") {
		t.Fatalf("incident close:\n%s", out)
	}
	if out := run("incident", "show", id); !strings.Contains(out, audit.IncidentRuleAdded) || !strings.Contains(out, "evil-collector.com") {
		t.Fatalf("incident show:\n%s", out)
	}

	// The server's own worker delivers the incident's events: opened,
	// note, rule_added, hunted, closed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, err := m.Store.ListDeliveries(ctx, domain.DeliveryQuery{State: domain.DeliveryDelivered})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events delivered in 30s, want 5", len(ds))
		}
		time.Sleep(50 * time.Millisecond)
	}
	out = run("webhook", "deliveries", "--state", "delivered")
	if !strings.Contains(out, audit.IncidentOpened) || !strings.Contains(out, audit.IncidentClosed) {
		t.Fatalf("webhook deliveries:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("deliveries that do not verify: %v", errs)
	}
	// Deliveries run in parallel, so arrival order is not the trail's
	// (receivers order by the event's seq when they care).
	if all := strings.Join(got, "\n"); len(got) != 5 || !strings.Contains(all, `"type":"incident.opened"`) || !strings.Contains(all, `"type":"incident.closed"`) {
		t.Fatalf("received %d events:\n%s", len(got), all)
	}
}
