package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/webhook"
	"gatehouse.dev/gatehouse/trust"
)

// The re-checks of issue 19 item 7: a namespace transfer, a retired key
// and a stolen key, each against certified versions of acme with real
// publisher signatures.

// noVetter stands in for intake: these tests queue revalidations and
// read the queue; they run none.
type noVetter struct{}

func (noVetter) Revet(context.Context, string, string, string) (intake.Revetted, error) {
	return intake.Revetted{}, nil
}

// withRevalidation gives the world's application a revalidation
// scheduler on its store.
func (w *world) withRevalidation(t *testing.T) *revalidate.Scheduler {
	t.Helper()
	sched, err := revalidate.New(revalidate.Config{Store: w.st, Vetter: noVetter{}, Certifier: w.trust.Service,
		Policy: func() *policy.Engine { return nil }, Now: func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	w.app.cfg.Revalidate = sched
	return sched
}

// certified stores a certified version of plugin acme/NAME whose publisher
// envelope carries a signature by each of keys (none: unsigned), all over
// the same statement, signed a day before the world's now.
func (w *world) certified(t *testing.T, name, version string, keys ...*trust.FileSigner) domain.Version {
	t.Helper()
	ctx := context.Background()
	id := "v-" + name + "-" + version
	digest := "sha256:" + strings.Repeat("0", 56) + strings.Repeat("a", 8)
	digest = digest[:len(digest)-len(id)%8] + strings.Repeat("b", len(id)%8)
	pluginID := "acme/" + name
	v := domain.Version{ID: id, PluginID: pluginID, Version: version, Digest: digest,
		Manifest: []byte(`{"manifestVersion":1,"name":"` + pluginID + `","version":"` + version + `"}`), Submitter: "pia", State: lifecycle.Certified, CreatedAt: w.now, UpdatedAt: w.now}
	v, _, err := w.st.CreateVersion(ctx, v, []audit.Event{{Time: w.now, Actor: "pia", Action: audit.SubmissionCreate, Subject: "submission:" + id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		return v
	}
	env, err := trust.SignPackageAt(ctx, keys[0], digest, pluginID, version, w.now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[1:] {
		more, err := trust.SignPackageAt(ctx, k, digest, pluginID, version, w.now.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if more.Payload != env.Payload {
			t.Fatal("the two signatures are over different statements")
		}
		env.Signatures = append(env.Signatures, more.Signatures...)
	}
	b, err := trust.MarshalEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.PutSignature(ctx, domain.Signature{VersionID: id, KeyID: keys[0].KeyID(), Envelope: b, CreatedAt: w.now},
		audit.Event{Time: w.now, Actor: "pia", Action: audit.SubmissionSignature, Subject: "submission:" + id}); err != nil {
		t.Fatal(err)
	}
	return v
}

// queued maps each queued revalidation's version to its trigger.
func queued(t *testing.T, sched *revalidate.Scheduler) map[string]string {
	t.Helper()
	rows, err := sched.PendingJobs(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		var a struct {
			Version string `json:"version"`
			Trigger string `json:"trigger"`
		}
		if err := json.Unmarshal(r.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		out[a.Version] = a.Trigger
	}
	return out
}

func (w *world) state(t *testing.T, id string) domain.Version {
	t.Helper()
	v, err := w.st.GetVersion(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// trustKinds counts the trust events queued or logged, by kind.
func (w *world) trustKinds(t *testing.T) map[trust.EventKind]int {
	t.Helper()
	ctx := context.Background()
	out := map[trust.EventKind]int{}
	for seq := int64(1); ; seq++ {
		te, err := w.st.TrustEvent(ctx, seq)
		if err != nil {
			return out
		}
		e, err := trust.ParseEvent(te.Entry)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Kind]++
	}
}

func ids(vs []domain.SignedVersion) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.VersionID)
	}
	return out
}

func TestNamespaceTransferQueuesRecheckAndNotifies(t *testing.T) {
	w := newWorld(t)
	sched := w.withRevalidation(t)
	ctx := context.Background()
	key := certifytest.PublisherKey(t, w.st, "acme", "pia")
	signed := w.certified(t, "tool", "1.0.0", key)
	unsigned := w.certified(t, "other", "1.0.0")
	w.received(t, "2.0.0") // not certified: not re-checked
	// The old owner's namespace webhook and a steward's hear the transfer.
	mine, _, err := w.app.Subscribe(ctx, pia, webhook.Subscription{URL: "http://127.0.0.1:9/a", Events: []string{"namespace.*"}, Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		caller      domain.Principal
		ns, to, why string
		kind        Kind
	}{
		{"the owner may not give it away alone", pia, "acme", "nina", "selling", KindForbidden},
		{"a steward may not", steward, "acme", "nina", "takeover", KindForbidden},
		{"a reason is required", admin, "acme", "nina", " ", KindInvalid},
		{"a new owner is required", admin, "acme", "", "handover", KindInvalid},
		{"no such namespace", admin, "nobody", "nina", "handover", KindNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.app.TransferNamespace(ctx, tc.caller, tc.ns, tc.to, tc.why)
			wantKind(t, err, tc.kind, "")
		})
	}
	rc, err := w.app.TransferNamespace(ctx, admin, "acme", "nina", "pia left the company; nina maintains acme now")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(rc.Queued); len(got) != 2 || got[0] != unsigned.ID || got[1] != signed.ID {
		t.Errorf("queued %v, want %s and %s", got, unsigned.ID, signed.ID)
	}
	q := queued(t, sched)
	if len(q) != 2 || q[signed.ID] != "owner-change" || q[unsigned.ID] != "owner-change" {
		t.Errorf("revalidation queue = %v, want both certified versions for owner-change", q)
	}
	ns, err := w.st.GetNamespace(ctx, "acme")
	if err != nil || len(ns.Owners) != 1 || ns.Owners[0] != "nina" {
		t.Fatalf("owners = %v, %v; want [nina]", ns.Owners, err)
	}
	if got := lastAction(t, w.st); got != audit.NamespaceOwnerTransfer {
		t.Errorf("last action = %q", got)
	}
	if n := w.trustKinds(t)[trust.EventNamespaceOwner]; n != 1 {
		t.Errorf("%d namespace.owner-changed log entries, want 1", n)
	}
	// The new owner now manages the namespace, and subscribes to it.
	theirs, _, err := w.app.Subscribe(ctx, domain.Principal{TokenID: "t-nina", Subject: "nina", Role: domain.RolePublisher},
		webhook.Subscription{URL: "http://127.0.0.1:9/n", Events: []string{"namespace.*"}, Namespace: "acme"})
	if err != nil {
		t.Fatalf("the new owner cannot subscribe to the namespace: %v", err)
	}
	if _, err := w.app.cfg.Webhooks.Fanout(ctx); err != nil {
		t.Fatal(err)
	}
	for _, h := range []domain.Webhook{mine, theirs} {
		ds, err := w.st.ListDeliveries(ctx, domain.DeliveryQuery{WebhookID: h.ID})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range ds {
			found = found || d.EventType == audit.NamespaceOwnerTransfer
		}
		if !found {
			t.Errorf("webhook %s (%s) got no %s delivery: %v", h.ID, h.Owner, audit.NamespaceOwnerTransfer, ds)
		}
	}
	// The new owner may retire the old owner's key; the old owner no
	// longer may.
	if _, err := w.app.RetirePublisherKey(ctx, pia, "acme", key.KeyID()); err == nil {
		t.Error("the former owner still manages the namespace's keys")
	}
}

func TestCompromisedKeySuspendsVersionsSignedOnlyByIt(t *testing.T) {
	w := newWorld(t)
	sched := w.withRevalidation(t)
	ctx := context.Background()
	stolen := certifytest.PublisherKey(t, w.st, "acme", "pia")
	other := certifytest.PublisherKey(t, w.st, "acme", "pia")
	onlyStolen := w.certified(t, "tool", "1.0.0", stolen)
	onlyOther := w.certified(t, "tool", "1.1.0", other)
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		id     string
		why    string
		kind   Kind
	}{
		{"another publisher", otto, stolen.KeyID(), "leaked", KindForbidden},
		{"a reviewer", reviewer, stolen.KeyID(), "leaked", KindForbidden},
		{"no reason", pia, stolen.KeyID(), "", KindInvalid},
		{"no such key", pia, "nokey", "leaked", KindNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.app.CompromisePublisherKey(ctx, tc.caller, "acme", tc.id, tc.why)
			wantKind(t, err, tc.kind, "")
		})
	}
	rc, err := w.app.CompromisePublisherKey(ctx, pia, "acme", stolen.KeyID(), "the CI runner's disk image was published")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(rc.Suspended); len(got) != 1 || got[0] != onlyStolen.ID {
		t.Errorf("suspended %v, want [%s]", got, onlyStolen.ID)
	}
	if len(rc.Queued) != 0 {
		t.Errorf("queued %v, want none", ids(rc.Queued))
	}
	v := w.state(t, onlyStolen.ID)
	if v.State != lifecycle.Suspended || !strings.Contains(v.Reason, "reported compromised") || !strings.Contains(v.Reason, "disk image") {
		t.Errorf("%s is %s (%q), want suspended naming the compromised key and the reason", v.ID, v.State, v.Reason)
	}
	if v := w.state(t, onlyOther.ID); v.State != lifecycle.Certified {
		t.Errorf("a version signed by another key is %s", v.State)
	}
	if q := queued(t, sched); len(q) != 0 {
		t.Errorf("revalidation queue = %v, want empty", q)
	}
	k, err := w.st.PublisherKey(ctx, "acme", stolen.KeyID())
	if err != nil || !k.Compromised() || k.RetiredAt.IsZero() || k.CompromisedBy != "pia" {
		t.Errorf("key = %+v, %v; want compromised and retired by pia", k, err)
	}
	kinds := w.trustKinds(t)
	if kinds[trust.EventPublisherKeyCompromised] != 1 || kinds[trust.EventVersionSuspended] != 1 {
		t.Errorf("log entries %v, want one publisher-key.compromised and one version.suspended", kinds)
	}
	// Reporting again (a steward, say, after an interrupted run) adds no
	// second event and finds nothing left to suspend.
	again, err := w.app.CompromisePublisherKey(ctx, steward, "acme", stolen.KeyID(), "confirmed")
	if err != nil || !again.AlreadyReported || len(again.Suspended) != 0 {
		t.Errorf("second report = %+v, %v; want already reported, nothing suspended", again, err)
	}
	if n := w.trustKinds(t)[trust.EventPublisherKeyCompromised]; n != 1 {
		t.Errorf("%d publisher-key.compromised entries after a second report, want 1", n)
	}
}

func TestVersionAlsoSignedByAnotherKeyIsOnlyRechecked(t *testing.T) {
	w := newWorld(t)
	sched := w.withRevalidation(t)
	ctx := context.Background()
	stolen := certifytest.PublisherKey(t, w.st, "acme", "pia")
	other := certifytest.PublisherKey(t, w.st, "acme", "pia")
	both := w.certified(t, "tool", "1.0.0", stolen, other)
	// The stored key is the other one, the stolen one second in the
	// envelope: it is found all the same.
	bothOtherFirst := w.certified(t, "tool", "1.1.0", other, stolen)
	rc, err := w.app.CompromisePublisherKey(ctx, steward, "acme", stolen.KeyID(), "found in a public gist")
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Suspended) != 0 {
		t.Errorf("suspended %v, want none", ids(rc.Suspended))
	}
	if got := ids(rc.Queued); len(got) != 2 {
		t.Errorf("queued %v, want both versions", got)
	}
	for _, v := range []domain.Version{both, bothOtherFirst} {
		if got := w.state(t, v.ID); got.State != lifecycle.Certified {
			t.Errorf("%s is %s, want still certified", v.ID, got.State)
		}
	}
	q := queued(t, sched)
	if q[both.ID] != "key-compromised" || q[bothOtherFirst.ID] != "key-compromised" {
		t.Errorf("revalidation queue = %v, want both for key-compromised", q)
	}
}

func TestRetiredKeyQueuesRecheck(t *testing.T) {
	w := newWorld(t)
	sched := w.withRevalidation(t)
	ctx := context.Background()
	old := certifytest.PublisherKey(t, w.st, "acme", "pia")
	current := certifytest.PublisherKey(t, w.st, "acme", "pia")
	byOld := w.certified(t, "tool", "1.0.0", old)
	w.certified(t, "tool", "1.1.0", current)
	rc, err := w.app.RetirePublisherKey(ctx, pia, "acme", old.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(rc.Queued); len(got) != 1 || got[0] != byOld.ID {
		t.Errorf("queued %v, want [%s]", got, byOld.ID)
	}
	if q := queued(t, sched); len(q) != 1 || q[byOld.ID] != "key-removed" {
		t.Errorf("revalidation queue = %v, want only %s for key-removed", q, byOld.ID)
	}
	// A retired key's past signatures stay valid: nothing is suspended.
	if v := w.state(t, byOld.ID); v.State != lifecycle.Certified {
		t.Errorf("%s is %s, want certified", byOld.ID, v.State)
	}
}

// TestTransferRevokesFormerOwnersScopedTokens: a token scoped to a
// namespace acts in it whoever owns it, so a transfer revokes the scoped
// tokens of everyone but the new owners: the former owner's scoped token
// no longer authenticates, the new owner's still does.
func TestTransferRevokesFormerOwnersScopedTokens(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	certifytest.PublisherKey(t, w.st, "acme", "pia")
	_, piaSecret, err := w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "pia", Role: "publisher", Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	_, ninaSecret, err := w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "nina", Role: "publisher", Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Authenticate(ctx, piaSecret); err != nil {
		t.Fatalf("before the transfer the owner's scoped token is refused: %v", err)
	}
	if _, err := w.app.TransferNamespace(ctx, admin, "acme", "nina", "pia left the company"); err != nil {
		t.Fatal(err)
	}
	if p, err := w.app.Authenticate(ctx, piaSecret); err == nil {
		t.Errorf("the former owner's token scoped to acme still authenticates as %+v after the transfer", p)
	}
	if _, err := w.app.Authenticate(ctx, ninaSecret); err != nil {
		t.Errorf("the new owner's scoped token stopped working: %v", err)
	}
}
