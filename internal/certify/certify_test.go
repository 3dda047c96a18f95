package certify_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

const origin = "test.example/log"

// harness is a certifier on a fresh SQLite store and log, with a clock
// tests move and one publisher key registered on namespace acme.
type harness struct {
	t         *testing.T
	dir       string
	st        store.Store
	lg        tlog.Storage
	svc       *certify.Service
	signer    *trust.FileSigner
	logSigner *trust.FileSigner
	publisher *trust.FileSigner
	mu        sync.Mutex
	now       time.Time
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

func newHarness(t testing.TB) *harness {
	ctx := context.Background()
	dir := t.(interface{ TempDir() string }).TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{dir: dir, st: st, now: time.Now().UTC().Truncate(time.Second)}
	if tt, ok := t.(*testing.T); ok {
		h.t = tt
	}
	if h.signer, err = trust.GenerateKey(trust.Ed25519); err != nil {
		t.Fatal(err)
	}
	if h.logSigner, err = trust.GenerateKey(trust.Ed25519); err != nil {
		t.Fatal(err)
	}
	if h.publisher, err = trust.GenerateKey(trust.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	h.openLog(t)
	h.svc = h.service(t, h.signer, nil)
	if err := st.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: h.now}, audit.Event{Actor: "alice", Action: audit.NamespaceClaim, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	pem, _ := h.publisher.PublicKey().MarshalPEM()
	k := domain.PublisherKey{ID: h.publisher.KeyID(), Namespace: "acme", Algorithm: string(h.publisher.Algorithm()), PEM: pem, AddedBy: "alice", AddedAt: h.now}
	entry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: h.now, Subject: "acme", Detail: k.ID})
	if err := st.AddPublisherKey(ctx, k, entry, audit.Event{Actor: "alice", Action: audit.PublisherKeyAdded, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) openLog(testing.TB) {
	h.lg = tlog.DirStorage(filepath.Join(h.dir, "log"))
}

// checkpoint returns the log's tree as the store records it.
func (h *harness) checkpoint(t testing.TB) tlog.Checkpoint {
	t.Helper()
	st, err := h.st.LogState(context.Background())
	if err != nil || st.Size < 0 {
		t.Fatalf("the log's state: %+v, %v", st, err)
	}
	return tlog.Checkpoint{Origin: origin, Size: uint64(st.Size), Hash: tlog.Hash(st.Root)}
}

func (h *harness) service(t testing.TB, signer trust.Signer, kr *trust.Keyring) *certify.Service {
	svc, err := certify.New(context.Background(), certify.Config{Store: h.st, Signer: signer, Keyring: kr, LogSigner: h.logSigner, LogOrigin: origin, LogStorage: h.lg, Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// pkg builds a real package for id@version.
func pkg(t testing.TB, id, version string) []byte {
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Test","description":"A test plugin.","owners":[{"name":"Test","email":"t@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read","net:https://api.example.com"]}`, id, version)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// inReview records a signed version of acme/NAME in review and returns its
// package bytes.
func (h *harness) inReview(t testing.TB, id, name, version string, sign bool) []byte {
	ctx := context.Background()
	b := pkg(t, "acme/"+name, version)
	p, err := pkgfile.Read(bytes.NewReader(b), pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	v := domain.Version{ID: id, PluginID: "acme/" + name, Version: version, Digest: p.Digest, Size: p.Size, Manifest: p.Manifest(), Submitter: "alice", State: lifecycle.Received, Reason: "received", CreatedAt: h.clock()}
	for _, f := range p.Files {
		v.Files = append(v.Files, domain.File{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
	}
	if _, _, err := h.st.CreateVersion(ctx, v, []audit.Event{{Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]lifecycle.State{{lifecycle.Received, lifecycle.Vetting}, {lifecycle.Vetting, lifecycle.Triage}, {lifecycle.Triage, lifecycle.InReview}} {
		if err := h.st.Transition(ctx, id, s[0], s[1], "test", audit.Event{Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if sign {
		env, err := trust.SignPackageAt(ctx, h.publisher, p.Digest, "acme/"+name, version, h.clock())
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := trust.MarshalEnvelope(env)
		if err := h.st.PutSignature(ctx, domain.Signature{VersionID: id, KeyID: h.publisher.KeyID(), Envelope: raw, CreatedAt: h.clock()}, audit.Event{Actor: "alice", Action: audit.SubmissionSignature, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func decision() certify.Decision {
	return certify.Decision{Granted: []string{"kv:read"}, Tier: "low", PolicyDigest: "sha256:policy", Reviewers: []string{"bob"}, Lifetime: 90 * 24 * time.Hour, From: lifecycle.InReview}
}

// host is what a host keeps: the trust root it fetched and its own state.
type host struct {
	root  *verify.TrustRoot
	state string
}

func (h *harness) host(t testing.TB, svc *certify.Service) host {
	raw, err := json.Marshal(svc.TrustRoot())
	if err != nil {
		t.Fatal(err)
	}
	root, err := verify.ParseTrustRoot(raw)
	if err != nil {
		t.Fatalf("the served trust root does not parse on a host: %v", err)
	}
	return host{root: root, state: t.(interface{ TempDir() string }).TempDir()}
}

// verifyOffline runs a host's verification from the files alone.
func (h *harness) verifyOffline(t testing.TB, svc *certify.Service, hs host, versionID string, pkgBytes []byte) (*verify.Result, error) {
	ctx := context.Background()
	b, err := svc.Bundle(ctx, versionID)
	if err != nil {
		t.Fatalf("Bundle: %v", err)
	}
	// Through the bytes, as a host receives it.
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if b, err = verify.ParseBundle(raw); err != nil {
		t.Fatalf("the served bundle does not parse: %v", err)
	}
	revs, err := svc.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env, err := trust.ParseEnvelope(revs)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Verify(ctx, pkgBytes, b, verify.Options{
		MarketplaceKeys: hs.root.MarketplaceKeys, LogVerifier: hs.root.LogVerifier, StateDir: hs.state,
		Prover:      tlog.TileProver{Fetch: tlog.StorageFetcher(h.lg)},
		Revocations: env, RevocationMaxAge: hs.root.RevocationMaxAge,
		Policy: verify.Policy{Allow: []string{"kv:*"}}, Now: h.clock,
	})
}

func TestCertifyBundleVerifiesOffline(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.inReview(t, "sub1", "hello", "1.0.0", true)
	cert, err := h.svc.Certify(ctx, "sub1", "bob", decision())
	if err != nil {
		t.Fatal(err)
	}
	if !cert.ExpiresAt.Equal(cert.IssuedAt.Add(90*24*time.Hour)) || cert.RiskTier != "low" || len(cert.Reviewers) != 1 {
		t.Errorf("certificate = %+v", cert)
	}
	if v, _ := h.st.GetVersion(ctx, "sub1"); v.State != lifecycle.Certified {
		t.Errorf("after Certify the version is %s", v.State)
	}
	if got, err := h.svc.LatestCertificate(ctx, "sub1"); err != nil || got.Digest != cert.Digest {
		t.Errorf("LatestCertificate = %+v, %v", got, err)
	}
	h.advance(time.Minute)
	res, err := h.verifyOffline(t, h.svc, h.host(t, h.svc), "sub1", b)
	if err != nil {
		t.Fatalf("a certified package does not verify: %v", err)
	}
	if res.PluginID != "acme/hello" || res.PublisherKeyID != h.publisher.KeyID() || res.MarketplaceKeyID != h.signer.KeyID() {
		t.Errorf("verification result = %+v", res)
	}
	// Both the certificate and the publisher key are in the log.
	if size := h.checkpoint(t).Size; size < 2 {
		t.Errorf("log has %d entries; want the key and the certificate", size)
	}
	// The audit trail names the certificate.
	var actions []string
	h.st.ScanAudit(ctx, domain.AuditQuery{Subject: "submission:sub1"}, func(e audit.Event) error {
		actions = append(actions, e.Action)
		return nil
	})
	if actions[len(actions)-1] != audit.CertificateIssued {
		t.Errorf("audit trail ends with %v; want certificate.issued", actions)
	}
}

func TestCertifyRefusesUnsignedVersion(t *testing.T) {
	h := newHarness(t)
	h.inReview(t, "sub1", "hello", "1.0.0", false)
	_, err := h.svc.Certify(context.Background(), "sub1", "bob", decision())
	if !errors.Is(err, certify.ErrUnsigned) {
		t.Fatalf("Certify of an unsigned version: %v, want ErrUnsigned", err)
	}
	if v, _ := h.st.GetVersion(context.Background(), "sub1"); v.State != lifecycle.InReview {
		t.Errorf("a refused certification moved the version to %s", v.State)
	}
}

func TestRevokeRefusedByHost(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.inReview(t, "sub1", "hello", "1.0.0", true)
	if _, err := h.svc.Certify(ctx, "sub1", "bob", decision()); err != nil {
		t.Fatal(err)
	}
	hs := h.host(t, h.svc)
	h.advance(time.Minute)
	if _, err := h.verifyOffline(t, h.svc, hs, "sub1", b); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if err := h.svc.Suspend(ctx, "sub1", "steward", "", time.Time{}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a suspension without a reason: %v, want domain.ErrInvalid", err)
	}
	if err := h.svc.Suspend(ctx, "sub1", "steward", "CVE-2026-1 in a dependency", h.clock().Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	if err := h.svc.Revoke(ctx, "sub1", "steward", "exfiltrates tokens"); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.st.GetVersion(ctx, "sub1"); v.State != lifecycle.Revoked {
		t.Errorf("after Revoke: %s", v.State)
	}
	if err := h.svc.Revoke(ctx, "sub1", "steward", "again"); !errors.Is(err, certify.ErrState) {
		t.Errorf("revoking twice: %v, want ErrState", err)
	}
	h.advance(time.Minute)
	_, err := h.verifyOffline(t, h.svc, hs, "sub1", b)
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckRevoked {
		t.Fatalf("a revoked package: %v, want a %s failure", err, verify.CheckRevoked)
	}
	// The list is numbered and names the reason.
	raw, _ := h.svc.Revocations(ctx)
	env, _ := trust.ParseEnvelope(raw)
	list, err := trust.VerifyRevocationList(env, hs.root.MarketplaceKeys, trust.RevocationCheck{Now: h.clock(), MaxAge: time.Hour})
	if err != nil || list.Number < 2 {
		t.Fatalf("revocation list = %+v, %v; want number 2 or more", list, err)
	}
	v, _ := h.st.GetVersion(ctx, "sub1")
	if r, ok := list.Revoked(v.Digest); !ok || r.Reason != "exfiltrates tokens" {
		t.Errorf("the list's entry for the revoked digest = %+v, %v", r, ok)
	}
}

func TestRevocationListRefreshedBeforeNextUpdate(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.svc.Revocations(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := h.st.LatestRevocationList(ctx)
	if ok, err := h.svc.RefreshRevocations(ctx); err != nil || ok {
		t.Fatalf("a fresh list was re-signed: %v, %v", ok, err)
	}
	h.advance(h.svc.RevocationMaxAge()/2 + time.Second)
	if ok, err := h.svc.RefreshRevocations(ctx); err != nil || !ok {
		t.Fatalf("a half-aged list was not re-signed: %v, %v", ok, err)
	}
	second, _ := h.st.LatestRevocationList(ctx)
	if second.Number != first.Number+1 || !second.IssuedAt.After(first.IssuedAt) {
		t.Errorf("re-signed list %d issued %s after list %d issued %s", second.Number, second.IssuedAt, first.Number, first.IssuedAt)
	}
	// Each publication is logged.
	if _, err := h.svc.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	cp := h.checkpoint(t)
	es, err := tlog.TileProver{Fetch: tlog.StorageFetcher(h.lg)}.Entries(ctx, 0, cp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if ev, err := trust.ParseEvent(e); err == nil && ev.Kind == trust.EventRevocationList {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d revocation-list.published entries in the log, want 2", n)
	}
}

func TestKeyRotationKeepsOldCertificateVerifying(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.inReview(t, "sub1", "hello", "1.0.0", true)
	if _, err := h.svc.Certify(ctx, "sub1", "bob", decision()); err != nil {
		t.Fatal(err)
	}
	// Rotate: the old key's window closes now, a new key signs from now on.
	h.advance(time.Hour)
	oldPub := h.signer.PublicKey()
	next, err := trust.GenerateKey(trust.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := trust.NewKeyring(trust.Key{PublicKey: oldPub})
	if err := kr.Retire(oldPub.ID, h.clock()); err != nil {
		t.Fatal(err)
	}
	if err := kr.Add(trust.Key{PublicKey: next.PublicKey(), NotBefore: h.clock()}); err != nil {
		t.Fatal(err)
	}
	rotated := h.service(t, next, kr)
	h.advance(time.Minute)
	b2 := h.inReview(t, "sub2", "other", "1.0.0", true)
	if _, err := rotated.Certify(ctx, "sub2", "bob", decision()); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	// A host with the new trust root verifies the certificate signed
	// before the rotation and the one signed after.
	hs := h.host(t, rotated)
	if _, err := h.verifyOffline(t, rotated, hs, "sub1", b); err != nil {
		t.Errorf("a certificate signed before the rotation: %v", err)
	}
	res, err := h.verifyOffline(t, rotated, hs, "sub2", b2)
	if err != nil {
		t.Fatalf("a certificate signed after the rotation: %v", err)
	}
	if res.MarketplaceKeyID != next.KeyID() {
		t.Errorf("the new certificate is signed by %s, want the new key %s", res.MarketplaceKeyID, next.KeyID())
	}
	// The retired key can no longer certify anything.
	if _, err := certify.New(ctx, certify.Config{Store: h.st, Signer: h.signer, Keyring: kr, LogSigner: h.logSigner, LogOrigin: origin, LogStorage: h.lg, Now: h.clock}); err == nil {
		t.Error("a service was built on a retired marketplace key")
	}
}

// TestPublishAfterCrashWritesTheSameTree simulates an integrator that
// died after writing tiles and a checkpoint but before recording the tree:
// the next integration writes the same checkpoint, byte for byte, and no
// entry twice.
func TestPublishAfterCrashWritesTheSameTree(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.svc.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	base := h.checkpoint(t)
	var entries [][]byte
	for i := range 3 {
		e, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventNamespaceOwner, Time: h.clock(), Subject: "acme", Detail: fmt.Sprint("owner ", i)})
		entries = append(entries, e)
	}
	if _, err := h.st.ApplyTrustChange(ctx, store.TrustChange{Entries: entries, Audit: []audit.Event{{Actor: "alice", Action: audit.TrustEvent, Subject: "namespace:acme"}}}); err != nil {
		t.Fatal(err)
	}
	// The crashed integrator: sequenced, then wrote the files, then died.
	if n, err := h.st.SequenceTrustEvents(ctx, 0); err != nil || n != 3 {
		t.Fatalf("sequenced %d, %v", n, err)
	}
	ns, _ := tlog.NewNoteSigner(origin, h.logSigner)
	crashed, _ := tlog.NewIntegrator(h.lg, ns)
	cpCrashed, noteCrashed, err := crashed.Integrate(ctx, base, entries)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.checkpoint(t); got != base {
		t.Fatalf("the store moved on to %+v", got)
	}
	n, err := h.svc.Publish(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Publish after the crash = %d, %v; want the 3 sequenced events", n, err)
	}
	if got := h.checkpoint(t); got != cpCrashed {
		t.Fatalf("the log is at %+v after the crash, want %+v", got, cpCrashed)
	}
	st, _ := h.st.LogState(ctx)
	if !bytes.Equal(st.Checkpoint, noteCrashed) {
		t.Errorf("a second checkpoint of size %d differs from the first:\n%s\n%s", cpCrashed.Size, noteCrashed, st.Checkpoint)
	}
	es, err := tlog.TileProver{Fetch: tlog.StorageFetcher(h.lg)}.Entries(ctx, 0, cpCrashed)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		if seen[string(e)] {
			t.Errorf("entry logged twice: %s", e)
		}
		seen[string(e)] = true
	}
}

// TestLegacyLogTailIsRecorded: a log written before entries were
// sequenced in the database appended first and recorded after. Opening it
// records a tail the store still calls pending, without appending it
// again, and refuses a tail that does not match.
func TestLegacyLogTailIsRecorded(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	// legacy makes a store with three queued events and an old log
	// holding tail(entries).
	legacy := func(t *testing.T, tail func([][]byte) [][]byte) (store.Store, tlog.Storage, [][]byte) {
		dir := t.TempDir()
		st, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		var entries [][]byte
		for i := range 3 {
			e, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventNamespaceOwner, Time: h.clock(), Subject: "acme", Detail: fmt.Sprint("owner ", i)})
			entries = append(entries, e)
		}
		if _, err := st.ApplyTrustChange(ctx, store.TrustChange{Entries: entries, Audit: []audit.Event{{Actor: "alice", Action: audit.TrustEvent, Subject: "namespace:acme"}}}); err != nil {
			t.Fatal(err)
		}
		ns, _ := tlog.NewNoteSigner(origin, h.logSigner)
		lg, err := tlog.Open(filepath.Join(dir, "log"), tlog.Options{Origin: origin, Signer: ns})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lg.AppendBatch(ctx, tail(entries)); err != nil {
			t.Fatal(err)
		}
		lg.Close()
		return st, tlog.DirStorage(filepath.Join(dir, "log")), entries
	}
	open := func(st store.Store, ls tlog.Storage) (*certify.Service, error) {
		return certify.New(ctx, certify.Config{Store: st, Signer: h.signer, LogSigner: h.logSigner, LogOrigin: origin, LogStorage: ls, Now: h.clock})
	}

	st, ls, entries := legacy(t, func(e [][]byte) [][]byte { return e[:2] })
	svc, err := open(st, ls)
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := st.LastLoggedIndex(ctx); last != 1 {
		t.Errorf("after opening, the last recorded index is %d, want 1 (the two entries already in the log)", last)
	}
	if n, err := svc.Publish(ctx); err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v; want the one event the old log lacked", n, err)
	}
	state, _ := st.LogState(ctx)
	cp := tlog.Checkpoint{Origin: origin, Size: uint64(state.Size), Hash: tlog.Hash(state.Root)}
	es, err := tlog.TileProver{Fetch: tlog.StorageFetcher(ls)}.Entries(ctx, 0, cp)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("the log holds %d entries, want 3: an event was appended twice or lost", len(es))
	}
	for i := range es {
		if !bytes.Equal(es[i], entries[i]) {
			t.Errorf("entry %d = %s, want %s", i, es[i], entries[i])
		}
	}

	// A tail that does not match the pending events is refused.
	st, ls, _ = legacy(t, func([][]byte) [][]byte { return [][]byte{[]byte(`{"kind":"forged"}`)} })
	if _, err := open(st, ls); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("a log whose tail differs from the outbox was opened: %v", err)
	}
}

// BenchmarkPublish measures log appends per second through the outbox:
// events queued in store transactions, appended by the publisher in
// batches (group commit), their indexes recorded.
func BenchmarkPublish(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	const perChange = 64
	b.ResetTimer()
	total := 0
	for total < b.N {
		n := min(perChange, b.N-total)
		entries := make([][]byte, n)
		for i := range entries {
			entries[i], _ = trust.MarshalEvent(trust.Event{Kind: trust.EventPolicyApplied, Time: h.now, Subject: fmt.Sprintf("sha256:%064d", total+i)})
		}
		if _, err := h.st.ApplyTrustChange(ctx, store.TrustChange{Entries: entries, Audit: []audit.Event{{Actor: "bench", Action: audit.TrustEvent, Subject: "log:bench"}}}); err != nil {
			b.Fatal(err)
		}
		total += n
		if total%1024 == 0 || total == b.N {
			if _, err := h.svc.Publish(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// TestChecksAndProvenanceStatement: the certificate lists the analyzers
// that passed, "reviewed", and "reproducible" for a module the marketplace
// rebuilt byte for byte, for which it also signs its own provenance
// statement.
func TestChecksAndProvenanceStatement(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.inReview(t, "sub1", "hello", "1.0.0", true)
	v, _ := h.st.GetVersion(ctx, "sub1")
	module := ""
	for _, f := range v.Files {
		if f.Path == "plugin.wasm" {
			module = "sha256:" + f.SHA256
		}
	}
	var d provenance.Detail
	d.Rebuild = provenance.RebuildDetail{Attempted: true, Reproducible: true, GoVersion: "go1.26.0", Module: "plugin.wasm", ModuleDigest: module, RebuiltDigest: module}
	detail, _ := json.Marshal(d)
	results, _ := json.Marshal([]vet.Result{
		{Analyzer: "secrets", Status: vet.Passed, Databases: map[string]string{}},
		{Analyzer: "licenses", Status: vet.Failed},
		{Analyzer: "dependencies", Status: vet.Passed, Databases: map[string]string{"osv": "2026-11-20"}},
		{Analyzer: "provenance", Status: vet.Passed, Detail: detail},
	})
	if _, err := h.st.SaveVetRun(ctx, domain.VetRun{VersionID: "sub1", Results: results, Summary: "ok", CreatedAt: h.clock()}, audit.Event{Actor: "system", Action: audit.SubmissionVet, Subject: "submission:sub1"}); err != nil {
		t.Fatal(err)
	}
	cert, err := h.svc.Certify(ctx, "sub1", "bob", decision())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(cert.Checks, ","), "dependencies,reproducible,reviewed,secrets"; got != want {
		t.Errorf("checks = %s, want %s", got, want)
	}
	if cert.VulnDBVersion != "osv@2026-11-20" {
		t.Errorf("vulnerability database = %q", cert.VulnDBVersion)
	}
	raw, err := h.svc.ProvenanceStatement(ctx, "sub1")
	if err != nil {
		t.Fatal(err)
	}
	env, err := trust.ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := trust.NewKeyring(trust.Key{PublicKey: h.signer.PublicKey()})
	payload, _, err := trust.OpenEnvelope(env, trust.PayloadTypeInToto, kr)
	if err != nil {
		t.Fatalf("the provenance statement is not signed by the marketplace key: %v", err)
	}
	var st trust.Statement
	if err := json.Unmarshal(payload, &st); err != nil || !strings.Contains(st.PredicateType, "slsa.dev/provenance") {
		t.Errorf("statement = %s (%v)", payload, err)
	}
	if d, _ := st.SubjectDigest(); d != module {
		t.Errorf("the statement's subject is %s, want the module %s", d, module)
	}
}

// TestRenew: a passing revalidation renews a certified version's
// certificate (same grants, a fresh window of the same length), and brings
// a suspended one back to certified; the renewed bundle verifies.
func TestRenew(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.inReview(t, "sub1", "hello", "1.0.0", true)
	first, err := h.svc.Certify(ctx, "sub1", "bob", decision())
	if err != nil {
		t.Fatal(err)
	}
	h.advance(30 * 24 * time.Hour)
	renewed, err := h.svc.Renew(ctx, "sub1", "system", "revalidation passed")
	if err != nil {
		t.Fatal(err)
	}
	if !renewed.IssuedAt.After(first.IssuedAt) || renewed.ExpiresAt.Sub(renewed.IssuedAt) != first.ExpiresAt.Sub(first.IssuedAt) || strings.Join(renewed.Permissions, ",") != "kv:read" || len(renewed.Reviewers) != 1 {
		t.Errorf("renewed certificate = %+v, first %+v", renewed, first)
	}
	if err := h.svc.Suspend(ctx, "sub1", "steward", "new advisory", h.clock().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	if _, err := h.svc.Renew(ctx, "sub1", "system", "fixed advisory withdrawn"); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.st.GetVersion(ctx, "sub1"); v.State != lifecycle.Certified {
		t.Errorf("a renewed suspended version is %s, want certified", v.State)
	}
	h.advance(time.Minute)
	res, err := h.verifyOffline(t, h.svc, h.host(t, h.svc), "sub1", b)
	if err != nil {
		t.Fatalf("the renewed certificate does not verify: %v", err)
	}
	if !res.Certificate.IssuedAt.After(first.IssuedAt) {
		t.Errorf("the bundle carries the first certificate, not the renewed one")
	}
	// Only certified or suspended versions are renewed.
	h.inReview(t, "sub2", "other", "1.0.0", true)
	if _, err := h.svc.Renew(ctx, "sub2", "system", ""); !errors.Is(err, certify.ErrState) {
		t.Errorf("renewing a version in review: %v, want ErrState", err)
	}
}

// TestRestoredDatabaseNeverForksTheLog: a database restored from a backup
// older than the bucket's log has lost trust events the log holds. The
// log's next entries must not take their indexes (two different trees of
// one size, a fork every host would catch): the lost entries are adopted
// at their indexes, audited, and the log grows on from the storage's tree.
func TestRestoredDatabaseNeverForksTheLog(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	event := func(svc *certify.Service, i int) {
		t.Helper()
		if err := svc.LogEvent(ctx, trust.Event{Kind: trust.EventPolicyApplied, Subject: fmt.Sprintf("sha256:%064d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	event(h.svc, 1)
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := h.st.(interface{ DB() *sql.DB }).DB().ExecContext(ctx, `VACUUM INTO ?`, backup); err != nil {
		t.Fatal(err)
	}
	event(h.svc, 2)
	event(h.svc, 3)
	before := h.checkpoint(t)

	restored, err := sqlite.Open(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restored.Close() })
	svc, err := certify.New(ctx, certify.Config{Store: restored, Signer: h.signer, LogSigner: h.logSigner, LogOrigin: origin, LogStorage: h.lg, Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	event(svc, 4)
	st, err := restored.LogState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := tlog.Checkpoint{Origin: origin, Size: uint64(st.Size), Hash: tlog.Hash(st.Root)}
	if after.Size != before.Size+1 {
		t.Fatalf("after the restore the log holds %d entries, want the %d it had and the new one", after.Size, before.Size)
	}
	prover := tlog.TileProver{Fetch: tlog.StorageFetcher(h.lg)}
	p, err := prover.ConsistencyProof(ctx, before.Size, after)
	if err != nil || tlog.VerifyConsistency(before, after, p) != nil {
		t.Fatalf("the log forked: the tree after the restore does not extend the one before: %v", err)
	}
	var adopted int
	err = restored.ScanAudit(ctx, domain.AuditQuery{}, func(e audit.Event) error {
		if e.Action == audit.TrustEvent && e.Subject == "log:adopted" {
			adopted++
		}
		return nil
	})
	if err != nil || adopted != 1 {
		t.Errorf("%d log:adopted audit events, want 1 (%v)", adopted, err)
	}
}
