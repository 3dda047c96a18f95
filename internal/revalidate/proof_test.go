package revalidate_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/internal/webhook"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// clock is the injected time every service of a world reads.
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
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a marketplace without HTTP: the real store, intake, analyzers,
// review, certificates, transparency log and webhooks, all on one clock.
type world struct {
	t       *testing.T
	ctx     context.Context
	clock   *clock
	st      store.Store
	in      *intake.Service
	pipe    *pipeline.Pipeline
	review  *review.Service
	certs   *certify.Service
	vulns   *vulndb.Store
	sched   *revalidate.Scheduler
	hooks   *webhook.Service
	lg      tlog.Storage
	modules map[string][]byte
	// packages are the package files submitted, by version id: what a
	// host downloads and verifies.
	packages map[string][]byte
	key      *trust.FileSigner // alice's publisher key
}

func newWorld(t *testing.T) *world {
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{now: time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	vulns, err := vulndb.OpenStore(filepath.Join(dir, "vulndb"))
	if err != nil {
		t.Fatal(err)
	}
	in := intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil)
	in.Now = clk.Now
	behaviour := analyzers.NewBehaviour()
	if c, ok := behaviour.(interface{ Close(context.Context) error }); ok {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	in.Analyzers = func() []vet.Analyzer {
		return analyzers.Default(analyzers.DefaultOptions{VulnDB: vulns.DB(), Behaviour: behaviour})
	}
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv.Now = clk.Now
	in.Triager = rv
	pipe := pipeline.New(pipeline.Config{Store: st, Vetting: in, Certifying: rv, Now: in.Now})

	keys := filepath.Join(dir, "keys")
	os.MkdirAll(keys, 0o700)
	signer, _, err := trust.LoadOrGenerate(filepath.Join(keys, "m.key"), filepath.Join(keys, "m.pub"), trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	logSigner, _, err := trust.LoadOrGenerate(filepath.Join(keys, "log.key"), filepath.Join(keys, "log.pub"), trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	lg := tlog.DirStorage(filepath.Join(dir, "log"))
	certs, err := certify.New(ctx, certify.Config{Store: st, Signer: signer, LogSigner: logSigner, LogOrigin: "test.gatehouse/log", LogStorage: lg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rv.Certifier = certs

	sched, err := revalidate.New(revalidate.Config{Store: st, Vetter: in, Certifier: certs, Policy: rv.Engine, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.NewSealer(bytes.Repeat([]byte{7}, webhook.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	// The receivers are httptest servers on loopback.
	hooks, err := webhook.New(webhook.Config{Store: st, Sealer: sealer, AllowPrivate: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, clock: clk, st: st, in: in, pipe: pipe, review: rv, certs: certs, vulns: vulns, sched: sched, hooks: hooks, lg: lg,
		modules: map[string][]byte{}, packages: map[string][]byte{}}
	w.registerKey()
	return w
}

// registerKey creates namespace acme, owned by alice, with her publisher
// key, as `gatehouse namespace key add` does.
func (w *world) registerKey() {
	w.t.Helper()
	now := w.clock.Now()
	if err := w.st.CreateNamespace(w.ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: now.Add(-400 * day)},
		audit.Event{Time: now, Actor: "alice", Action: audit.NamespaceClaim, Subject: "namespace:acme"}); err != nil {
		w.t.Fatal(err)
	}
	key, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		w.t.Fatal(err)
	}
	pub := key.PublicKey()
	pemBytes, err := pub.MarshalPEM()
	if err != nil {
		w.t.Fatal(err)
	}
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: now, Subject: "acme", Detail: pub.ID})
	if err != nil {
		w.t.Fatal(err)
	}
	k := domain.PublisherKey{ID: pub.ID, Namespace: "acme", Algorithm: string(pub.Algorithm), PEM: pemBytes, AddedBy: "alice", AddedAt: now}
	if err := w.st.AddPublisherKey(w.ctx, k, entry, audit.Event{Time: now, Actor: "alice", Action: string(trust.EventPublisherKeyAdded), Subject: "namespace:acme", Reason: "key " + pub.ID}); err != nil {
		w.t.Fatal(err)
	}
	w.key = key
}

// module builds testdata/textplugin against the go.mod and go.sum named
// variant ("old" or "fixed").
func (w *world) module(variant string) []byte {
	w.t.Helper()
	if b, ok := w.modules[variant]; ok {
		return b
	}
	dir := w.t.TempDir()
	for src, dst := range map[string]string{"main.go": "main.go", variant + ".mod": "go.mod", variant + ".sum": "go.sum"} {
		b, err := os.ReadFile(filepath.Join("testdata", "textplugin", src))
		if err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	// The go.sum pins golang.org/x/text; on a fresh machine the module is
	// fetched through the Go module proxy, as for the repository itself.
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if msg, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("building the %s test plugin: %v\n%s", variant, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		w.t.Fatal(err)
	}
	w.modules[variant] = b
	return b
}

const mitLicense = `MIT License

Copyright (c) 2027 Acme

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`

var (
	alice = domain.Principal{Subject: "alice", Role: domain.RolePublisher}
	rita  = domain.Principal{Subject: "rita", Role: domain.RoleReviewer}
)

// submit packs the plugin built from variant as acme/lang@version, lets
// vetting and triage run, approves it if it went to review, and returns
// the version.
func (w *world) submit(version, variant string) domain.Version {
	w.t.Helper()
	m := fmt.Sprintf(`{"manifestVersion":1,"id":"acme/lang","version":%q,"name":"Language tags","description":"Parses language tags.","homepage":"https://acme.example.com","owners":[{"name":"Acme","email":"dev@acme.example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":[],"support":{"email":"help@acme.example.com"}}`, version)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{
		{Path: "manifest.json", Data: []byte(m)},
		{Path: "plugin.wasm", Data: w.module(variant)},
		{Path: "LICENSE", Data: []byte(mitLicense)},
		{Path: "README.md", Data: []byte("# Language tags\n\nParses language tags. Documentation: https://docs.acme.example.com/lang\n")},
	}); err != nil {
		w.t.Fatal(err)
	}
	pkg := bytes.Clone(buf.Bytes())
	sum := sha256.Sum256(pkg)
	env, err := trust.SignPackage(w.ctx, w.key, "sha256:"+hex.EncodeToString(sum[:]), "acme/lang", version)
	if err != nil {
		w.t.Fatal(err)
	}
	sig, err := json.Marshal(env)
	if err != nil {
		w.t.Fatal(err)
	}
	v, _, err := w.in.SubmitSigned(w.ctx, alice, &buf, sig)
	if err != nil {
		w.t.Fatalf("submitting %s: %v", version, err)
	}
	w.packages[v.ID] = pkg
	if err := w.pipe.RunPending(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	v = w.version(v.ID)
	if v.State == lifecycle.InReview {
		if _, err := w.review.Approve(w.ctx, rita, v.ID, nil, ""); err != nil {
			w.t.Fatalf("approving %s: %v", version, err)
		}
		v = w.version(v.ID)
	}
	if v.State != lifecycle.Certified {
		w.t.Fatalf("acme/lang@%s is %s (%s); want certified", version, v.State, v.Reason)
	}
	return v
}

func (w *world) version(id string) domain.Version {
	w.t.Helper()
	v, err := w.st.GetVersion(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func (w *world) tick() {
	w.t.Helper()
	if err := w.sched.Tick(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

// importOSV imports a database made of the named testdata/osv records,
// the way `gatehouse vulndb import` does (through the store, then the
// trigger), and returns the versions it queued.
func (w *world) importOSV(records ...string) []revalidate.Affected {
	w.t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range records {
		b, err := os.ReadFile(filepath.Join("testdata", "osv", r+".json"))
		if err != nil {
			w.t.Fatal(err)
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: r + ".json", Method: zip.Deflate, Modified: w.clock.Now()})
		if err != nil {
			w.t.Fatal(err)
		}
		f.Write(b)
	}
	if err := zw.Close(); err != nil {
		w.t.Fatal(err)
	}
	old := w.vulns.DB()
	db, err := w.vulns.Import(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		w.t.Fatal(err)
	}
	affected, err := w.sched.VulnDBImported(w.ctx, "sam", db, old)
	if err != nil {
		w.t.Fatal(err)
	}
	return affected
}

func (w *world) certificate(id string) *trust.Certificate {
	w.t.Helper()
	c, err := w.certs.LatestCertificate(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) events(id, action string) []audit.Event {
	w.t.Helper()
	var out []audit.Event
	if err := w.st.ScanAudit(w.ctx, domain.AuditQuery{Subject: "submission:" + id}, func(e audit.Event) error {
		if e.Action == action {
			out = append(out, e)
		}
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) schedule(id string) domain.Revalidation {
	w.t.Helper()
	r, err := w.st.GetRevalidation(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// delivery is one request a receiver got: the headers and the raw body
// it verifies, and the body decoded.
type delivery struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
}

// receiver is a subscriber's webhook endpoint: a real HTTP server on
// loopback that keeps what it receives and answers 204.
type receiver struct {
	mu  sync.Mutex
	got []delivery
	srv *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d := delivery{header: req.Header.Clone(), body: b}
		if err := json.Unmarshal(b, &d.payload); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// deliveries returns what the receiver got of type typ about a version.
func (r *receiver) deliveries(typ, versionID string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery
	for _, d := range r.got {
		if d.payload.Type == typ && d.payload.Data.Subject == "submission:"+versionID {
			out = append(out, d)
		}
	}
	return out
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.got {
		out = append(out, d.payload.Type)
	}
	return out
}

// deliverHooks runs one pass of the webhook worker: the audit trail is
// fanned out to the subscriptions and every due delivery is sent.
func (w *world) deliverHooks() {
	w.t.Helper()
	if _, err := w.hooks.Fanout(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.hooks.DeliverDue(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

// checkSigned asserts that d carries valid Standard Webhooks headers under
// secret, stamped with the world's clock, and that the same headers do not
// verify a body altered in transit.
func (w *world) checkSigned(secret string, d delivery) {
	w.t.Helper()
	if d.header.Get(webhook.HeaderID) == "" || d.header.Get(webhook.HeaderSignature) == "" {
		w.t.Fatalf("the %s delivery lacks its webhook-id or webhook-signature header: %v", d.payload.Type, d.header)
	}
	if got, want := d.header.Get(webhook.HeaderTimestamp), fmt.Sprint(w.clock.Now().Unix()); got != want {
		w.t.Fatalf("the %s delivery is stamped %s; want the injected clock's %s", d.payload.Type, got, want)
	}
	if err := webhook.Verify(secret, d.header, d.body, w.clock.Now(), 0); err != nil {
		w.t.Fatalf("the %s delivery does not verify under the subscription's secret: %v", d.payload.Type, err)
	}
	tampered := bytes.Replace(d.body, []byte(`"submission:`), []byte(`"submission:x`), 1)
	if bytes.Equal(tampered, d.body) {
		w.t.Fatalf("the %s delivery names no submission to tamper with: %s", d.payload.Type, d.body)
	}
	if err := webhook.Verify(secret, d.header, tampered, w.clock.Now(), 0); !errors.Is(err, webhook.ErrSignature) {
		w.t.Fatalf("a tampered %s body verified (%v); want ErrSignature", d.payload.Type, err)
	}
}

// host is a host platform: the trust root it fetched from the marketplace
// and its own state folder, kept across verifications.
type host struct {
	w     *world
	root  *verify.TrustRoot
	state string
}

func (w *world) host() *host {
	w.t.Helper()
	raw, err := json.Marshal(w.certs.TrustRoot())
	if err != nil {
		w.t.Fatal(err)
	}
	root, err := verify.ParseTrustRoot(raw)
	if err != nil {
		w.t.Fatalf("the trust root does not parse on a host: %v", err)
	}
	return &host{w: w, root: root, state: w.t.TempDir()}
}

// check verifies a version's package offline, from the files a host has:
// the package, its certificate bundle and the current revocation list
// (each through its bytes), with the log's tiles for consistency proofs and
// a host policy that accepts no permission (the plugin asks for none).
func (h *host) check(v domain.Version) (*verify.Result, error) {
	h.w.t.Helper()
	ctx := h.w.ctx
	if _, err := h.w.certs.Publish(ctx); err != nil {
		h.w.t.Fatal(err)
	}
	b, err := h.w.certs.Bundle(ctx, v.ID)
	if err != nil {
		h.w.t.Fatalf("the bundle of %s@%s: %v", v.PluginID, v.Version, err)
	}
	raw, err := b.Marshal()
	if err != nil {
		h.w.t.Fatal(err)
	}
	if b, err = verify.ParseBundle(raw); err != nil {
		h.w.t.Fatalf("the bundle of %s@%s does not parse on a host: %v", v.PluginID, v.Version, err)
	}
	revs, err := h.w.certs.Revocations(ctx)
	if err != nil {
		h.w.t.Fatal(err)
	}
	env, err := trust.ParseEnvelope(revs)
	if err != nil {
		h.w.t.Fatal(err)
	}
	pkg, ok := h.w.packages[v.ID]
	if !ok {
		h.w.t.Fatalf("no package file for %s@%s", v.PluginID, v.Version)
	}
	return verify.Verify(ctx, pkg, b, verify.Options{
		MarketplaceKeys: h.root.MarketplaceKeys, LogVerifier: h.root.LogVerifier, StateDir: h.state,
		Prover:      tlog.TileProver{Fetch: tlog.StorageFetcher(h.w.lg)},
		Revocations: env, RevocationMaxAge: h.root.RevocationMaxAge,
		Now: h.w.clock.Now,
	})
}

const day = 24 * time.Hour

// TestRevalidationProof is issue 7's proof of revalidation: a low-tier
// certificate renews at its cadence; a new advisory for a component the
// plugin's Go build information lists suspends it within one job cycle of
// the import, and the publisher's webhook receiver (a real HTTP server on
// loopback) gets correctly signed events saying so; past the deadline it
// is revoked and a host's offline verification, which accepted it before,
// refuses it; a fixed version serves the plugin again and verifies.
func TestRevalidationProof(t *testing.T) {
	w := newWorld(t)
	// The database the plugin is certified under does not know
	// GO-2022-1059 yet.
	if a := w.importOSV("GO-2020-0001"); len(a) != 0 {
		t.Fatalf("the first import affected %v; nothing was certified yet", a)
	}
	// 0.9.0 is a first version (medium tier, reviewed); 1.0.0, an update
	// of it, is low-tier. Both ship golang.org/x/text v0.3.5.
	v0 := w.submit("0.9.0", "old")
	v1 := w.submit("1.0.0", "old")
	first := w.certificate(v1.ID)

	// A host installs 1.0.0 and verifies it offline: it passes, so the
	// refusal after the revocation below is the revocation's doing.
	hst := w.host()
	if res, err := hst.check(v1); err != nil {
		t.Fatalf("right after certification a host refuses acme/lang@1.0.0: %v", err)
	} else if res.PluginID != "acme/lang" || res.Version != "1.0.0" || res.Digest != v1.Digest {
		t.Fatalf("the host verified %s@%s (%s); want acme/lang@1.0.0 (%s)", res.PluginID, res.Version, res.Digest, v1.Digest)
	}

	// Scheduled at the tier's cadence from certification.
	w.tick()
	r := w.schedule(v1.ID)
	if r.Tier != "low" {
		t.Fatalf("acme/lang@1.0.0 is in the %s tier; the proof needs a low-tier plugin", r.Tier)
	}
	cadence := r.NextAt.Sub(v1.UpdatedAt)
	if cadence != 30*day {
		t.Fatalf("low-tier revalidation is due %s after certification; want the policy's 30 days", cadence)
	}

	// A day before the cadence nothing happens; at the cadence it renews.
	w.clock.Advance(cadence - day)
	w.tick()
	if c := w.certificate(v1.ID); !c.IssuedAt.Equal(first.IssuedAt) {
		t.Fatalf("the certificate was renewed at %s, before its cadence", c.IssuedAt)
	}
	w.clock.Advance(day)
	w.tick()
	renewed := w.certificate(v1.ID)
	if !renewed.IssuedAt.After(first.IssuedAt) || !renewed.ExpiresAt.After(first.ExpiresAt) {
		t.Fatalf("after 30 days the certificate was issued %s, expiring %s; want a new one later than %s", renewed.IssuedAt, renewed.ExpiresAt, first.IssuedAt)
	}
	if len(w.events(v1.ID, string(trust.EventCertificateRenewed))) != 1 || len(w.events(v1.ID, audit.RevalidationPassed)) != 1 {
		t.Fatal("the renewal was not recorded as certificate.renewed and revalidation.passed")
	}
	if r := w.schedule(v1.ID); !r.NextAt.Equal(w.clock.Now().Add(30*day)) || r.LastOutcome != revalidate.Passed {
		t.Fatalf("after renewal the schedule is %+v; want the next revalidation 30 days on", r)
	}

	// The advisory arrives: the import finds the version through the
	// component index, and the next job cycle suspends it.
	w.clock.Advance(3 * day)
	// Before the advisory arrives the publisher subscribes to what would
	// happen to the plugin.
	hook := newReceiver(t)
	subscribed := []string{string(trust.EventVersionSuspended), string(trust.EventVersionRevoked), audit.RevalidationFailed}
	_, secret, err := w.hooks.Subscribe(w.ctx, "alice", webhook.Subscription{URL: hook.srv.URL + "/gatehouse", Events: subscribed, Plugin: "acme/lang"})
	if err != nil {
		t.Fatal(err)
	}
	affected := w.importOSV("GO-2020-0001", "GO-2022-1059")
	if len(affected) != 2 {
		t.Fatalf("the import found %+v; want 0.9.0 and 1.0.0", affected)
	}
	for _, a := range affected {
		if (a.VersionID != v0.ID && a.VersionID != v1.ID) || len(a.Advisories) != 1 || a.Advisories[0] != "GO-2022-1059" ||
			len(a.Components) != 1 || a.Components[0] != "Go/golang.org/x/text@v0.3.5" {
			t.Fatalf("the import found %+v; want acme/lang through golang.org/x/text@v0.3.5 and GO-2022-1059", a)
		}
	}
	w.tick()
	for _, v := range []domain.Version{w.version(v0.ID), w.version(v1.ID)} {
		if v.State != lifecycle.Suspended {
			t.Fatalf("one job cycle after the import acme/lang@%s is %s (%s); want suspended", v.Version, v.State, v.Reason)
		}
	}
	failed := w.events(v1.ID, audit.RevalidationFailed)
	if len(failed) != 1 || !strings.Contains(failed[0].Reason, "GO-2022-1059") || !strings.Contains(string(failed[0].Data), "remediation") {
		t.Fatalf("revalidation.failed events %+v; want one naming GO-2022-1059 and how to fix it", failed)
	}
	r = w.schedule(v1.ID)
	if want := w.clock.Now().Add(30 * day); !r.Deadline.Equal(want) {
		t.Fatalf("the remediation deadline is %s; want the low tier's 30 days, %s", r.Deadline, want)
	}

	// The webhook worker's pass sends the subscriber the suspension,
	// signed under the subscription's secret, saying why and until when.
	w.deliverHooks()
	suspended := hook.deliveries(string(trust.EventVersionSuspended), v1.ID)
	if len(suspended) != 1 {
		t.Fatalf("the receiver got %d version.suspended events about 1.0.0 (all: %v); want 1", len(suspended), hook.types())
	}
	w.checkSigned(secret, suspended[0])
	var deadline struct {
		Deadline time.Time `json:"deadline"`
	}
	if p := suspended[0].payload; !p.Timestamp.Equal(w.clock.Now()) || p.Data.Action != string(trust.EventVersionSuspended) ||
		!strings.Contains(p.Data.Reason, "GO-2022-1059") || json.Unmarshal(p.Data.Data, &deadline) != nil || !deadline.Deadline.Equal(r.Deadline) {
		t.Fatalf("the suspension event %s; want it to name GO-2022-1059 and the deadline %s", suspended[0].body, r.Deadline)
	}
	failedHook := hook.deliveries(audit.RevalidationFailed, v1.ID)
	if len(failedHook) != 1 {
		t.Fatalf("the receiver got %d revalidation.failed events about 1.0.0 (all: %v); want 1", len(failedHook), hook.types())
	}
	w.checkSigned(secret, failedHook[0])
	var why struct {
		Plugin   string               `json:"plugin"`
		Version  string               `json:"version"`
		Deadline time.Time            `json:"deadline"`
		Problems []revalidate.Problem `json:"problems"`
	}
	if err := json.Unmarshal(failedHook[0].payload.Data.Data, &why); err != nil || why.Plugin != "acme/lang" || why.Version != "1.0.0" ||
		!why.Deadline.Equal(r.Deadline) || len(why.Problems) == 0 || !strings.Contains(fmt.Sprint(why.Problems), "GO-2022-1059") || why.Problems[0].Remediation == "" {
		t.Fatalf("the revalidation.failed event %s; want acme/lang@1.0.0, the deadline, and GO-2022-1059 with how to fix it", failedHook[0].body)
	}
	if n := len(hook.deliveries(string(trust.EventVersionSuspended), v0.ID)); n != 1 {
		t.Fatalf("the receiver got %d version.suspended events about 0.9.0; want 1", n)
	}
	for _, typ := range hook.types() {
		if !slices.Contains(subscribed, typ) {
			t.Fatalf("the receiver got a %s event it did not subscribe to", typ)
		}
	}

	// Ticks before the deadline leave it suspended; after it, with no
	// fixed version, it is revoked.
	w.clock.Advance(29 * day)
	w.tick()
	if v := w.version(v1.ID); v.State != lifecycle.Suspended {
		t.Fatalf("a day before the deadline the version is %s; want still suspended", v.State)
	}
	w.clock.Advance(day)
	w.tick()
	if v := w.version(v1.ID); v.State != lifecycle.Revoked {
		t.Fatalf("after the deadline acme/lang@1.0.0 is %s (%s); want revoked", v.State, v.Reason)
	}
	if len(w.events(v1.ID, string(trust.EventVersionRevoked))) != 1 {
		t.Fatal("the revocation was not recorded")
	}

	// The subscriber hears of the revocation, once, and of the suspension
	// no second time.
	w.deliverHooks()
	revoked := hook.deliveries(string(trust.EventVersionRevoked), v1.ID)
	if len(revoked) != 1 {
		t.Fatalf("the receiver got %d version.revoked events about 1.0.0 (all: %v); want 1", len(revoked), hook.types())
	}
	w.checkSigned(secret, revoked[0])
	if p := revoked[0].payload; !strings.Contains(p.Data.Reason, "remediation deadline passed") || !strings.Contains(p.Data.Reason, "GO-2022-1059") {
		t.Fatalf("the revocation event %s; want it to say the deadline passed and why", revoked[0].body)
	}
	if n := len(hook.deliveries(string(trust.EventVersionSuspended), v1.ID)); n != 1 {
		t.Fatalf("the suspension was delivered %d times; want once", n)
	}

	// The host that accepted 1.0.0 refuses it now: its digest is on the
	// signed revocation list.
	_, err = hst.check(w.version(v1.ID))
	var refused *verify.Error
	if !errors.As(err, &refused) || refused.Check != verify.CheckRevoked || !errors.Is(err, verify.ErrRevoked) || !strings.Contains(err.Error(), "acme/lang@1.0.0") {
		t.Fatalf("after the revocation a host's verification of acme/lang@1.0.0 gives %v; want the revocation check to refuse it", err)
	}

	// The fixed version passes vetting with today's database and serves
	// the plugin.
	v2 := w.submit("1.0.1", "fixed")
	w.tick()
	if r := w.schedule(v2.ID); r.NextAt.IsZero() || !r.Deadline.IsZero() {
		t.Fatalf("the fixed version's schedule is %+v; want a plain revalidation schedule", r)
	}
	if v := w.version(v1.ID); v.State != lifecycle.Revoked {
		t.Fatalf("the old version is %s after the fix; want it to stay revoked", v.State)
	}
	serving, err := w.in.PreviousApproved(w.ctx, "acme/lang", "99.0.0")
	if err != nil || serving == nil || serving.ID != v2.ID {
		t.Fatalf("the plugin is served by %+v, %v; want 1.0.1", serving, err)
	}
	// The same host accepts the fixed version.
	if res, err := hst.check(v2); err != nil || res.Version != "1.0.1" {
		t.Fatalf("a host's verification of the fixed acme/lang@1.0.1: %+v, %v; want it accepted", res, err)
	}
}

// TestFixedVersionSupersedesSuspended: a fix certified before the deadline
// leaves the old version suspended, not revoked.
func TestFixedVersionSupersedesSuspended(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	w.submit("0.9.0", "old")
	v1 := w.submit("1.0.0", "old")
	w.tick()
	w.importOSV("GO-2020-0001", "GO-2022-1059")
	w.tick()
	if v := w.version(v1.ID); v.State != lifecycle.Suspended {
		t.Fatalf("acme/lang@1.0.0 is %s; want suspended", v.State)
	}
	w.clock.Advance(2 * day)
	v2 := w.submit("1.0.1", "fixed")
	w.clock.Advance(29 * day)
	w.tick()
	if v := w.version(v1.ID); v.State != lifecycle.Suspended {
		t.Fatalf("with 1.0.1 certified before the deadline, 1.0.0 is %s; want it left suspended", v.State)
	}
	if r := w.schedule(v1.ID); r.LastOutcome != revalidate.Superseded || !strings.Contains(r.LastReason, "1.0.1") {
		t.Fatalf("the old version's schedule is %+v; want superseded by 1.0.1", r)
	}
	if v := w.version(v2.ID); v.State != lifecycle.Certified {
		t.Fatalf("1.0.1 is %s; want certified", v.State)
	}
	// And a steward's re-import of the same database queues nothing new.
	if a := w.importOSV("GO-2020-0001", "GO-2022-1059"); len(a) != 0 {
		t.Fatalf("re-importing the same advisories queued %+v", a)
	}
	if _, err := w.st.GetRevalidation(w.ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetRevalidation(nope) = %v", err)
	}
}

// TestNewKeySendsNextVersionToReview: a publisher key added to a namespace
// (after its first) sends that namespace's next version to people, where
// the same update was auto-approved before.
func TestNewKeySendsNextVersionToReview(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	w.submit("0.9.0", "fixed")
	w.clock.Advance(day)
	v1 := w.submit("1.0.0", "fixed")
	if vd, err := w.st.LatestVerdict(w.ctx, v1.ID); err != nil || vd.Outcome != "auto_approved" {
		t.Fatalf("the update before any key change was %s (%v); want auto_approved", vd.Outcome, err)
	}

	w.clock.Advance(day)
	w.registerKeyAgain()
	w.clock.Advance(day)
	v2 := w.submit("1.0.1", "fixed")
	vd, err := w.st.LatestVerdict(w.ctx, v2.ID)
	if err != nil || vd.Outcome != "in_review" || !strings.Contains(string(vd.Body), "the publisher's signing key changed 1 day(s) ago") {
		t.Fatalf("the update after a new key was %s; want in_review because the key changed: %s", vd.Outcome, vd.Body)
	}
}

// registerKeyAgain adds a second publisher key to namespace acme and
// signs from now on with it.
func (w *world) registerKeyAgain() {
	w.t.Helper()
	now := w.clock.Now()
	key, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		w.t.Fatal(err)
	}
	pub := key.PublicKey()
	pemBytes, _ := pub.MarshalPEM()
	entry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: now, Subject: "acme", Detail: pub.ID})
	k := domain.PublisherKey{ID: pub.ID, Namespace: "acme", Algorithm: string(pub.Algorithm), PEM: pemBytes, AddedBy: "alice", AddedAt: now}
	if err := w.st.AddPublisherKey(w.ctx, k, entry, audit.Event{Time: now, Actor: "alice", Action: string(trust.EventPublisherKeyAdded), Subject: "namespace:acme", Reason: "key " + pub.ID}); err != nil {
		w.t.Fatal(err)
	}
	w.key = key
}

// TestOneHostCannotSuspendAPlugin: one host reports a certified version
// failing above the policy's threshold, again and again. It is told to
// quarantine the version locally, one alert is recorded, and the version
// stays certified everywhere, through revalidation too; the same reports
// from two more distinct hosts (the default quorum of 3) suspend it through
// the one suspension path, with a health.quorum event naming the hosts in
// the same transaction.
func TestOneHostCannotSuspendAPlugin(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	v := w.submit("0.9.0", "fixed")
	w.tick()
	mon := &health.Monitor{Store: w.st, Policy: w.review.Engine, Suspender: w.certs, Now: w.clock.Now}
	report := func(host string, calls, timeouts int64) health.Outcome {
		t.Helper()
		now := w.clock.Now()
		out, err := mon.Receive(w.ctx, host, health.Report{WindowStart: now.Add(-time.Hour), WindowEnd: now,
			Plugins: []health.PluginHealth{{Plugin: "acme/lang", Version: "0.9.0", Calls: calls, Errors: map[string]int64{"timeout": timeouts}}}})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	w.clock.Advance(time.Hour)
	if o := report("host-eu-1", 1000, 10); o.Alert || o.Quarantine {
		t.Fatalf("1%% errors raised an alert or a quarantine: %+v", o)
	}
	w.clock.Advance(time.Hour)
	if o := report("host-eu-1", 1000, 80); !o.Alert || !o.Quarantine || o.Suspended || o.Hosts != 1 || o.RequiredHosts != 3 || !strings.Contains(o.Reasons[0], "8.0% of 1000 calls failed") {
		t.Fatalf("8%% errors: %+v; want an alert and a local quarantine, 1 of 3 hosts, no suspension", o)
	}
	for range 5 {
		w.clock.Advance(time.Hour)
		if o := report("host-eu-1", 1000, 90); o.Alert || o.Suspended || o.Hosts != 1 {
			t.Fatalf("a repeated bad report from the same host: %+v; want no second alert and still 1 host", o)
		}
	}
	now := w.clock.Now()
	if _, err := mon.Receive(w.ctx, "host-eu-1", health.Report{WindowStart: now.Add(-30 * time.Minute), WindowEnd: now,
		Plugins: []health.PluginHealth{{Plugin: "acme/lang", Version: "0.9.0", Calls: 1}}}); !errors.Is(err, health.ErrOverlap) {
		t.Fatalf("a report overlapping the last one: %v; want ErrOverlap", err)
	}
	if n := len(w.events(v.ID, audit.HealthAlert)); n != 1 {
		t.Fatalf("%d health.alert events; want 1", n)
	}
	if got := w.version(v.ID); got.State != lifecycle.Certified {
		t.Fatalf("one host's reports moved the version to %s", got.State)
	}
	// Revalidation no longer turns one host's alert into a suspension.
	if _, err := w.sched.Enqueue(w.ctx, v.ID, "sam", "requested"); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if got := w.version(v.ID); got.State != lifecycle.Certified {
		t.Fatalf("after revalidation one host's reports left the version %s (%s); want certified", got.State, got.Reason)
	}

	// Two more distinct hosts make the quorum.
	w.clock.Advance(time.Hour)
	if o := report("host-us-1", 1000, 80); o.Suspended || o.Hosts != 2 {
		t.Fatalf("second host: %+v; want 2 of 3 hosts, no suspension", o)
	}
	w.clock.Advance(time.Hour)
	if o := report("host-ap-1", 1000, 80); !o.Suspended || o.Hosts != 3 {
		t.Fatalf("third host: %+v; want the quorum and a suspension", o)
	}
	if got := w.version(v.ID); got.State != lifecycle.Suspended || !strings.Contains(got.Reason, "host health quorum") {
		t.Fatalf("after the quorum the version is %s (%s); want suspended by the quorum", got.State, got.Reason)
	}
	q := w.events(v.ID, audit.HealthQuorum)
	if len(q) != 1 || !strings.Contains(string(q[0].Data), `"hosts":["host-ap-1","host-eu-1","host-us-1"]`) {
		t.Fatalf("health.quorum events %+v; want one naming the three hosts", q)
	}
	if n := len(w.events(v.ID, audit.VersionSuspended)); n != 1 {
		t.Fatalf("%d version.suspended events; want 1 (the existing suspension path)", n)
	}
	// The next version's risk counts what hosts saw of this one.
	next := w.submit("1.0.0", "fixed")
	vd, err := w.st.LatestVerdict(w.ctx, next.ID)
	if err != nil || !strings.Contains(string(vd.Body), `"host_error_rate":`) {
		t.Fatalf("the next version's verdict does not carry the hosts' error rate: %s", vd.Body)
	}
}

// TestPolicyChangeAndHostAPI: a proposed policy's dry run lists the
// certified versions it would suspend (from their stored results, without
// running the analyzers), applying it revalidates and suspends them; a new
// host API version flags the versions whose range excludes it.
func TestPolicyChangeAndHostAPI(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	v := w.submit("0.9.0", "fixed")
	w.tick()

	// The proposed policy blocks low findings too; the plugin has one.
	mods := policy.Default().Modules
	cfg := mods["config.rego"]
	stricter := strings.Replace(cfg, `blocking_severities := {"critical", "high"}`, `blocking_severities := {"critical", "high", "medium", "low"}`, 1)
	if stricter == cfg {
		t.Fatal("the default policy's blocking_severities line moved; update the test")
	}
	mods["config.rego"] = stricter
	proposed, err := policy.Compile(w.ctx, policy.New(mods))
	if err != nil {
		t.Fatal(err)
	}
	runs := func() int {
		r, err := w.st.LatestVetRun(w.ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.Run
	}
	before := runs()
	impact, err := w.sched.PolicyImpact(w.ctx, proposed)
	if err != nil {
		t.Fatal(err)
	}
	if len(impact) != 1 || impact[0].VersionID != v.ID || len(impact[0].Problems) == 0 {
		t.Fatalf("the dry run lists %+v; want acme/lang@0.9.0 with its blocking finding", impact)
	}
	if runs() != before {
		t.Fatal("the dry run ran the analyzers")
	}
	if impact, _ := w.sched.PolicyImpact(w.ctx, w.review.Engine()); len(impact) != 0 {
		t.Fatalf("the active policy would suspend %+v", impact)
	}
	w.review.Use(proposed)
	if err := w.sched.PolicyApplied(w.ctx, "sam", proposed.Digest(), impact); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if got := w.version(v.ID); got.State != lifecycle.Suspended {
		t.Fatalf("after the policy was applied the version is %s; want suspended", got.State)
	}
	if runs() != before+1 {
		t.Fatal("applying the policy did not revalidate with a new analyzer run")
	}

	// Back to the default policy: a steward's revalidation restores it.
	def, err := policy.Compile(w.ctx, policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	w.review.Use(def)
	if _, err := w.sched.Enqueue(w.ctx, v.ID, "sam", "policy reverted"); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if got := w.version(v.ID); got.State != lifecycle.Certified {
		t.Fatalf("revalidated under the default policy the version is %s (%s); want certified again", got.State, got.Reason)
	}

	// Host API 2.0.0 is outside the plugin's ^1.0.0.
	flagged, err := w.sched.OfferHostAPI(w.ctx, "2.0.0", "sam")
	if err != nil {
		t.Fatal(err)
	}
	if len(flagged) != 1 || flagged[0].VersionID != v.ID || flagged[0].HostAPI != "^1.0.0" {
		t.Fatalf("host API 2.0.0 flagged %+v; want acme/lang@0.9.0 (^1.0.0)", flagged)
	}
	if evs := w.events(v.ID, audit.HostAPIIncompatible); len(evs) != 1 || !strings.Contains(evs[0].Reason, "excludes 2.0.0") {
		t.Fatalf("hostapi.incompatible events: %+v", evs)
	}
	if flagged, _ := w.sched.OfferHostAPI(w.ctx, "1.4.0", "sam"); len(flagged) != 0 {
		t.Fatalf("host API 1.4.0 flagged %+v; ^1.0.0 includes it", flagged)
	}
	if _, err := w.sched.OfferHostAPI(w.ctx, "2.0", "sam"); err == nil {
		t.Fatal("an offer of a version that is not SemVer was accepted")
	}
}

// TestOthersSuspensionsStand: a version suspended by someone else (an
// incident) is not restored by a revalidation its analyzers pass.
func TestOthersSuspensionsStand(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	v := w.submit("0.9.0", "fixed")
	w.tick()
	if err := w.certs.Suspend(w.ctx, v.ID, "sam", "incident 7: contained", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, err := w.sched.EnqueueAll(w.ctx, "sam", "everything"); err != nil || n != 1 {
		t.Fatalf("EnqueueAll = %d, %v; want the suspended version queued", n, err)
	}
	w.clock.Advance(400 * day)
	w.tick()
	if got := w.version(v.ID); got.State != lifecycle.Suspended {
		t.Fatalf("the incident's suspension became %s (%s)", got.State, got.Reason)
	}
	if jobs, _ := w.sched.PendingJobs(w.ctx, 10); len(jobs) != 0 {
		t.Fatalf("jobs left queued: %+v", jobs)
	}
}

// flakyVetter fails its first calls, as a full disk or a lost database
// connection would.
type flakyVetter struct {
	revalidate.Vetter
	failures int
	calls    int
}

func (f *flakyVetter) Revet(ctx context.Context, id, actor, why string) (intake.Revetted, error) {
	f.calls++
	if f.calls <= f.failures {
		return intake.Revetted{}, errors.New("disk full")
	}
	return f.Vetter.Revet(ctx, id, actor, why)
}

// TestRetryWithBackoff: a failing revalidation is retried after 30 s, then
// 60 s, and is never queued twice for one version meanwhile.
func TestRetryWithBackoff(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	v := w.submit("0.9.0", "fixed")
	flaky := &flakyVetter{Vetter: w.in, failures: 2}
	sched, err := revalidate.New(revalidate.Config{Store: w.st, Vetter: flaky, Certifier: w.certs, Policy: w.review.Engine, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tick := func() {
		t.Helper()
		if err := sched.Tick(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := sched.Enqueue(w.ctx, v.ID, "sam", "now"); !ok || err != nil {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	if ok, _ := sched.Enqueue(w.ctx, v.ID, "sam", "again"); ok {
		t.Fatal("a second revalidation of the same version was queued while the first waits")
	}
	tick()
	w.clock.Advance(29 * time.Second)
	tick()
	if flaky.calls != 1 {
		t.Fatalf("%d attempts within the first backoff; want 1", flaky.calls)
	}
	w.clock.Advance(time.Second)
	tick()
	w.clock.Advance(59 * time.Second)
	tick()
	if flaky.calls != 2 {
		t.Fatalf("%d attempts before the second backoff ran out; want 2", flaky.calls)
	}
	w.clock.Advance(time.Second)
	tick()
	if flaky.calls != 3 || len(w.events(v.ID, audit.RevalidationPassed)) != 1 {
		t.Fatalf("%d attempts, passed events %d; want the third attempt to renew", flaky.calls, len(w.events(v.ID, audit.RevalidationPassed)))
	}
}

// TestPeriodicTickIsWorked guards the cadence in a running marketplace:
// River's periodic tick, inserted by the elected leader, must land in the
// revalidation queue the worker serves (a job naming no queue goes to
// River's "default" queue, which nothing works, and a due revalidation
// would then never run). Nothing here calls Tick or Wake: only River's
// client, started by Work, can run the due revalidation.
func TestPeriodicTickIsWorked(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	v := w.submit("0.9.0", "fixed")
	// Schedule it without running anything, then let its cadence pass.
	if err := w.sched.Tick(w.ctx); err != nil {
		t.Fatal(err)
	}
	r := w.schedule(v.ID)
	w.clock.Advance(r.NextAt.Sub(w.clock.Now()) + time.Hour)
	if n := len(w.events(v.ID, audit.RevalidationPassed)); n != 0 {
		t.Fatalf("%d revalidations before the worker started", n)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.sched.Work(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for len(w.events(v.ID, audit.RevalidationPassed)) == 0 {
		if time.Now().After(deadline) {
			jobs, _ := w.sched.PendingJobs(w.ctx, 10)
			t.Fatalf("the due revalidation did not run within a minute of River's client starting; pending revalidation jobs: %d", len(jobs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// blockingVetter holds the first revalidation in the analyzers until
// released, as a long one would be.
type blockingVetter struct {
	revalidate.Vetter
	started, release chan struct{}
	once             sync.Once
}

func (b *blockingVetter) Revet(ctx context.Context, id, actor, why string) (intake.Revetted, error) {
	b.once.Do(func() {
		close(b.started)
		<-b.release
	})
	return b.Vetter.Revet(ctx, id, actor, why)
}

// TestChangeDuringRunningRevalidationIsRechecked guards a change made
// while the version's revalidation is running (a key removed after the
// running check read the keys): River's unique options count the running
// job, so the change's re-check used to be dropped as a duplicate. It
// must run after the running one, once however many changes arrive.
func TestChangeDuringRunningRevalidationIsRechecked(t *testing.T) {
	w := newWorld(t)
	w.importOSV("GO-2020-0001")
	v := w.submit("0.9.0", "fixed")
	bv := &blockingVetter{Vetter: w.in, started: make(chan struct{}), release: make(chan struct{})}
	sched, err := revalidate.New(revalidate.Config{Store: w.st, Vetter: bv, Certifier: w.certs, Policy: w.review.Engine, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := sched.Enqueue(w.ctx, v.ID, "sam", "scheduled"); !ok || err != nil {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- sched.Tick(w.ctx) }()
	<-bv.started
	// Two changes while it runs: one follow-up is queued for both.
	n, err := sched.EnqueueVersions(w.ctx, []string{v.ID}, "pia", revalidate.TriggerKeyRemoved, "publisher key k2 of namespace acme retired")
	if err != nil || n != 1 {
		t.Fatalf("EnqueueVersions during a running revalidation = %d, %v; want the follow-up queued", n, err)
	}
	if n, err := sched.EnqueueVersions(w.ctx, []string{v.ID}, "pia", revalidate.TriggerOwnerChange, "namespace acme transferred"); err != nil || n != 0 {
		t.Fatalf("a second change queued %d, %v; want it to join the follow-up", n, err)
	}
	close(bv.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	passed := w.events(v.ID, audit.RevalidationPassed)
	if len(passed) != 2 || !strings.Contains(passed[1].Reason, "key-removed") {
		var reasons []string
		for _, e := range passed {
			reasons = append(reasons, e.Reason)
		}
		t.Fatalf("revalidations passed: %q; want the running one, then the key removal's", reasons)
	}
}
