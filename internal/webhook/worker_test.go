package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// clock is a test clock that only moves when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// receiver is a real HTTP server on loopback that keeps what it got.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []received
	srv    *httptest.Server
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		st := r.status
		r.mu.Unlock()
		w.WriteHeader(st)
		io.WriteString(w, "receiver says "+http.StatusText(st))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setStatus(s int) { r.mu.Lock(); r.status = s; r.mu.Unlock() }
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type env struct {
	st  store.Store
	svc *webhook.Service
	clk *clock
}

func newEnv(t *testing.T, maxAttempts int) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := webhook.NewSealer(bytes.Repeat([]byte{1}, webhook.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	svc, err := webhook.New(webhook.Config{
		Store: st, Sealer: sealer, AllowPrivate: true, // the receiver is on loopback
		Backoff: webhook.Backoff{Base: time.Minute, Max: time.Hour}, MaxAttempts: maxAttempts,
		Now: clk.Now, Jitter: func() float64 { return 0.5 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, svc: svc, clk: clk}
}

// suspend records a version and moves it to suspended, as the certifier
// would, so the trail holds a version.suspended event for acme/hello.
func (e *env) suspend(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	now := e.clk.Now()
	v := domain.Version{ID: id, PluginID: "acme/hello", Version: "1.0." + id[len("sub_"):], Digest: "sha256:" + id, Size: 1, Manifest: []byte(`{}`),
		Submitter: "alice", State: lifecycle.Certified, Reason: "test", CreatedAt: now, UpdatedAt: now}
	if _, _, err := e.st.CreateVersion(ctx, v, []audit.Event{{Time: now, Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Transition(ctx, id, lifecycle.Certified, lifecycle.Suspended, "advisory GO-2026-0001",
		audit.Event{Time: now, Actor: "system", Action: audit.VersionSuspended, Subject: "submission:" + id}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) pass(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	if _, err := e.svc.Fanout(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.DeliverDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSignedDeliveryToLoopbackReceiver: a subscriber's receiver gets the
// event it subscribed to, and nothing else, signed so that Verify accepts
// it with the secret shown at subscription.
func TestSignedDeliveryToLoopbackReceiver(t *testing.T) {
	e := newEnv(t, 5)
	rcv := newReceiver(t, http.StatusNoContent)
	ctx := context.Background()
	w, secret, err := e.svc.Subscribe(ctx, "alice", webhook.Subscription{URL: rcv.srv.URL + "/hooks", Events: []string{"version.*"}, Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	other := newReceiver(t, http.StatusOK)
	if _, _, err := e.svc.Subscribe(ctx, "mallory", webhook.Subscription{URL: other.srv.URL, Events: []string{"*"}, Namespace: "other"}); err != nil {
		t.Fatal(err)
	}
	e.suspend(t, "sub_1")
	e.pass(t)

	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1 (version.suspended only)", len(got))
	}
	if err := webhook.Verify(secret, got[0].header, got[0].body, e.clk.Now(), 0); err != nil {
		t.Fatalf("the delivered event does not verify with the subscription's secret: %v", err)
	}
	if err := webhook.Verify(secret, got[0].header, append(got[0].body, ' '), e.clk.Now(), 0); err == nil {
		t.Fatal("a changed body verifies")
	}
	var p webhook.Payload
	if err := json.Unmarshal(got[0].body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != audit.VersionSuspended || p.Data.Subject != "submission:sub_1" || p.Data.NewState != "suspended" || p.Data.Hash == "" {
		t.Fatalf("payload = %+v", p)
	}
	if len(other.requests()) != 0 {
		t.Fatalf("a subscriber scoped to another namespace got %d events of acme", len(other.requests()))
	}
	ds, _ := e.st.ListDeliveries(ctx, domain.DeliveryQuery{WebhookID: w.ID})
	if len(ds) != 1 || ds[0].State != domain.DeliveryDelivered || ds[0].LastStatus != http.StatusNoContent {
		t.Fatalf("delivery log = %+v", ds)
	}
	as, _ := e.st.ListAttempts(ctx, ds[0].ID)
	if len(as) != 1 || as[0].StatusCode != 204 || as[0].Latency <= 0 {
		t.Fatalf("attempts = %+v", as)
	}
	// A second pass delivers nothing again.
	e.pass(t)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("after a second pass the receiver has %d requests", n)
	}
}

// TestRetriesDeadLetterReplay: a failing receiver is retried on the
// backoff schedule, dead-lettered after the last attempt, and a replay
// after it recovers delivers the same message.
func TestRetriesDeadLetterReplay(t *testing.T) {
	const maxAttempts = 4
	e := newEnv(t, maxAttempts)
	rcv := newReceiver(t, http.StatusServiceUnavailable)
	ctx := context.Background()
	w, secret, err := e.svc.Subscribe(ctx, "sam", webhook.Subscription{URL: rcv.srv.URL, Events: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	e.suspend(t, "sub_1")
	if _, err := e.svc.Fanout(ctx); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		before := len(rcv.requests())
		e.pass(t)
		if len(rcv.requests()) == before {
			t.Fatalf("attempt %d was not made when due", attempt)
		}
		ds, _ := e.st.ListDeliveries(ctx, domain.DeliveryQuery{WebhookID: w.ID, State: domain.DeliveryPending})
		if attempt == maxAttempts {
			if len(ds) != 0 {
				t.Fatalf("after the last attempt %d deliveries are still pending", len(ds))
			}
			break
		}
		if len(ds) == 0 {
			t.Fatalf("after attempt %d nothing is pending", attempt)
		}
		wait := ds[0].NextAttempt.Sub(e.clk.Now())
		waits = append(waits, wait)
		// Not before its time.
		e.clk.Advance(wait - time.Second)
		n := len(rcv.requests())
		e.pass(t)
		if len(rcv.requests()) != n {
			t.Fatalf("attempt %d came before its backoff ran out", attempt+1)
		}
		e.clk.Advance(time.Second)
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Fatalf("backoff does not grow: %v", waits)
		}
	}
	all := rcv.requests()
	// Every retry carries the same message id, so receivers can drop
	// duplicates, and a fresh signature over its own timestamp.
	perMessage := map[string]int{}
	for _, r := range all {
		perMessage[r.header.Get(webhook.HeaderID)]++
	}
	for id, n := range perMessage {
		if n != maxAttempts {
			t.Fatalf("message %s was sent %d times, want %d under one id: %v", id, n, maxAttempts, perMessage)
		}
	}
	dead, _ := e.st.ListDeliveries(ctx, domain.DeliveryQuery{State: domain.DeliveryDead})
	// webhook.create (the subscription's own), submission.create and
	// version.suspended all failed.
	if len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dead))
	}
	var deadSuspended *domain.WebhookDelivery
	for i := range dead {
		if dead[i].EventType == audit.VersionSuspended {
			deadSuspended = &dead[i]
		}
	}
	if deadSuspended == nil || deadSuspended.Attempts != maxAttempts || deadSuspended.LastStatus != 503 {
		t.Fatalf("dead letters = %+v", dead)
	}
	as, _ := e.st.ListAttempts(ctx, deadSuspended.ID)
	if len(as) != maxAttempts || string(as[0].Response) != "receiver says Service Unavailable" {
		t.Fatalf("attempt log = %+v", as)
	}
	var deadEvents int
	e.st.ScanAudit(ctx, domain.AuditQuery{Subject: "webhook:" + w.ID}, func(ev audit.Event) error {
		if ev.Action == audit.WebhookDeliveryDead {
			deadEvents++
		}
		return nil
	})
	if deadEvents != len(dead) {
		t.Fatalf("%d dead letters but %d audit events", len(dead), deadEvents)
	}
	// The dead-letter events are not themselves delivered.
	e.pass(t)
	for _, d := range func() []domain.WebhookDelivery { ds, _ := e.st.ListDeliveries(ctx, domain.DeliveryQuery{}); return ds }() {
		if d.EventType == audit.WebhookDeliveryDead {
			t.Fatal("a dead-letter event was queued for delivery")
		}
	}

	// Nothing more happens however long we wait…
	n := len(rcv.requests())
	e.clk.Advance(24 * time.Hour)
	e.pass(t)
	if len(rcv.requests()) != n {
		t.Fatal("a dead letter was retried without a replay")
	}
	// …until the receiver is fixed and the dead letters are replayed.
	rcv.setStatus(http.StatusOK)
	if err := e.svc.Replay(ctx, "sam", deadSuspended.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Replay(ctx, "sam", deadSuspended.ID); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("replaying a pending delivery: %v, want ErrConflict", err)
	}
	e.pass(t)
	last := rcv.requests()[len(rcv.requests())-1]
	if err := webhook.Verify(secret, last.header, last.body, e.clk.Now(), 0); err != nil {
		t.Fatalf("the replayed delivery does not verify: %v", err)
	}
	if perMessage[last.header.Get(webhook.HeaderID)] == 0 {
		t.Fatal("a replay has another message id")
	}
	got, _ := e.st.GetDelivery(ctx, deadSuspended.ID)
	if got.State != domain.DeliveryDelivered {
		t.Fatalf("after the replay the delivery is %s", got.State)
	}
	as, _ = e.st.ListAttempts(ctx, got.ID)
	if len(as) != maxAttempts+1 || as[maxAttempts].StatusCode != 200 {
		t.Fatalf("the log lost the earlier attempts or lacks the replay: %+v", as)
	}
	n, err = e.svc.ReplayDead(ctx, "sam", w.ID)
	if err != nil || n != len(dead)-1 {
		t.Fatalf("ReplayDead = %d, %v; want the %d remaining dead letters", n, err, len(dead)-1)
	}
}

// TestPrivateTargetsRefused: without the explicit setting, a subscription
// to loopback is refused, and so is a delivery whose name resolves there.
func TestPrivateTargetsRefused(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := webhook.NewSealer(bytes.Repeat([]byte{1}, webhook.KeySize))
	svc, _ := webhook.New(webhook.Config{Store: st, Sealer: sealer})
	rcv := newReceiver(t, 200)
	if _, _, err := svc.Subscribe(context.Background(), "sam", webhook.Subscription{URL: rcv.srv.URL, Events: []string{"*"}}); !errors.Is(err, webhook.ErrPrivateTarget) {
		t.Fatalf("subscribing to %s: %v, want ErrPrivateTarget", rcv.srv.URL, err)
	}
	// The dialer checks the address it connects to, whatever the URL
	// said, so a name resolving to loopback is refused the same way.
	resp, err := webhook.NewClient(webhook.ClientOptions{}).Get(rcv.srv.URL)
	if err == nil || !errors.Is(err, webhook.ErrPrivateTarget) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("the guarded client dialled loopback: %v", err)
	}
	if len(rcv.requests()) != 0 {
		t.Fatal("the loopback receiver was reached")
	}
}

// TestGoneDisablesSubscription: a receiver answering 410 Gone wants no
// more, so the subscription is disabled (audited) after one attempt.
func TestGoneDisablesSubscription(t *testing.T) {
	e := newEnv(t, 5)
	rcv := newReceiver(t, http.StatusGone)
	ctx := context.Background()
	w, _, err := e.svc.Subscribe(ctx, "sam", webhook.Subscription{URL: rcv.srv.URL, Events: []string{"version.*"}})
	if err != nil {
		t.Fatal(err)
	}
	e.suspend(t, "sub_1")
	e.pass(t)
	got, err := e.st.GetWebhook(ctx, w.ID)
	if err != nil || got.DisabledAt.IsZero() || !strings.Contains(got.DisabledReason, "410") {
		t.Fatalf("after a 410 the subscription is %+v, %v", got, err)
	}
	ds, _ := e.st.ListDeliveries(ctx, domain.DeliveryQuery{WebhookID: w.ID})
	if len(ds) != 1 || ds[0].State != domain.DeliveryDead || ds[0].Attempts != 1 {
		t.Fatalf("deliveries = %+v", ds)
	}
	e.suspend(t, "sub_2")
	e.clk.Advance(time.Hour)
	e.pass(t)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("a disabled subscription got %d requests", n)
	}
	if _, err := e.svc.ReplayDead(ctx, "sam", w.ID); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("replaying to a disabled subscription: %v, want ErrConflict", err)
	}
}
