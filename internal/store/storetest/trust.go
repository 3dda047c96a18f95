package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// trustTests are the suite's tests of the trust records.
var trustTests = []suiteTest{
	{"PublisherKeys", testPublisherKeys},
	{"Signatures", testSignatures},
	{"KeyCompromise", testKeyCompromise},
	{"NamespaceTransfer", testNamespaceTransfer},
	{"NamespaceVersions", testNamespaceVersions},
	{"TrustChangeAtomic", testTrustChangeAtomic},
	{"TrustOutbox", testTrustOutbox},
	{"RevocationLists", testRevocationLists},
	{"SBOMs", testSBOMs},
}

func testPublisherKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := domain.PublisherKey{ID: "k1", Namespace: "acme", Algorithm: "ed25519", PEM: []byte("PEM1"), AddedBy: "alice", AddedAt: at(1)}
	if err := s.AddPublisherKey(ctx, k, []byte(`{"kind":"publisher-key.added"}`), event(audit.PublisherKeyAdded, "namespace:acme", 1)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("key for a missing namespace: %v, want ErrNotFound", err)
	}
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: at(0)}, event(audit.NamespaceClaim, "namespace:acme", 0)); err != nil {
		t.Fatal(err)
	}
	if req, err := s.SignaturesRequired(ctx, "acme"); err != nil || !req {
		t.Errorf("a new namespace requires signatures = %v, %v; want true (the default)", req, err)
	}
	if err := s.AddPublisherKey(ctx, k, []byte(`{"kind":"publisher-key.added"}`), event(audit.PublisherKeyAdded, "namespace:acme", 1)); err != nil {
		t.Fatal(err)
	}
	k2 := k
	k2.ID, k2.PEM, k2.AddedAt = "k2", []byte("PEM2"), at(2)
	if err := s.AddPublisherKey(ctx, k2, []byte(`{"kind":"publisher-key.added","n":2}`), event(audit.PublisherKeyAdded, "namespace:acme", 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPublisherKey(ctx, k, []byte(`{"x":1}`), event(audit.PublisherKeyAdded, "namespace:acme", 3)); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("adding a key twice: %v, want ErrConflict", err)
	}
	if err := s.RetirePublisherKey(ctx, "acme", "k1", at(5), "bob", []byte(`{"kind":"publisher-key.removed"}`), event(audit.PublisherKeyRemoved, "namespace:acme", 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.RetirePublisherKey(ctx, "acme", "k1", at(6), "bob", []byte(`{"x":2}`), event(audit.PublisherKeyRemoved, "namespace:acme", 6)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("retiring a retired key: %v, want ErrNotFound", err)
	}
	keys, err := s.ListPublisherKeys(ctx, "acme")
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListPublisherKeys = %d keys, %v; want 2", len(keys), err)
	}
	if keys[0].ID != "k1" || !keys[0].RetiredAt.Equal(stored(at(5))) || keys[0].RetiredBy != "bob" || !bytes.Equal(keys[0].PEM, []byte("PEM1")) {
		t.Errorf("retired key = %+v", keys[0])
	}
	if keys[1].ID != "k2" || !keys[1].RetiredAt.IsZero() || !keys[1].AddedAt.Equal(stored(at(2))) {
		t.Errorf("current key = %+v", keys[1])
	}
	if got, err := s.PublisherKey(ctx, "acme", "k2"); err != nil || got.ID != "k2" {
		t.Errorf("PublisherKey(k2) = %+v, %v", got, err)
	}
	if _, err := s.PublisherKey(ctx, "other", "k2"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a key of another namespace: %v, want ErrNotFound", err)
	}
	if err := s.SetSignaturesRequired(ctx, "acme", false, event(audit.NamespaceSignatureRequirement, "namespace:acme", 7)); err != nil {
		t.Fatal(err)
	}
	if req, _ := s.SignaturesRequired(ctx, "acme"); req {
		t.Error("the requirement stayed on after it was switched off")
	}
	if err := s.SetSignaturesRequired(ctx, "nope", false, event(audit.NamespaceSignatureRequirement, "namespace:nope", 7)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("switching a missing namespace: %v, want ErrNotFound", err)
	}
	// Every change is audited and each key change queued for the log.
	if n := len(trail(t, s, "namespace:acme")); n != 1+2+1+1 {
		t.Errorf("%d audit events for namespace:acme, want 5", n)
	}
	if pending, _ := s.PendingTrustEvents(ctx, 10); len(pending) != 3 {
		t.Errorf("%d trust events queued, want 3 (two added, one removed)", len(pending))
	}
}

func testSignatures(t *testing.T, s store.Store) {
	ctx := context.Background()
	sig := domain.Signature{VersionID: "sub1", KeyID: "k1", Envelope: []byte(`{"payload":"x"}`), CreatedAt: at(1)}
	if err := s.PutSignature(ctx, sig, event(audit.SubmissionSignature, "submission:sub1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSignature(ctx, sig, event(audit.SubmissionSignature, "submission:sub1", 2)); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("a second signature: %v, want ErrConflict", err)
	}
	got, err := s.GetSignature(ctx, "sub1")
	if err != nil || got.KeyID != "k1" || !bytes.Equal(got.Envelope, sig.Envelope) || !got.CreatedAt.Equal(stored(at(1))) {
		t.Errorf("GetSignature = %+v, %v", got, err)
	}
	if _, err := s.GetSignature(ctx, "sub2"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a version without a signature: %v, want ErrNotFound", err)
	}
}

// testKeyCompromise: a stolen key is marked with who, when and why, a
// current one retired at the same time, a retired one keeps its window;
// a second report is a conflict and changes nothing.
func testKeyCompromise(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: at(0)}, event(audit.NamespaceClaim, "namespace:acme", 0)); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"cur", "old"} {
		k := domain.PublisherKey{ID: id, Namespace: "acme", Algorithm: "ed25519", PEM: []byte("PEM" + id), AddedBy: "alice", AddedAt: at(1 + i)}
		if err := s.AddPublisherKey(ctx, k, []byte(`{"kind":"publisher-key.added"}`), event(audit.PublisherKeyAdded, "namespace:acme", 1+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RetirePublisherKey(ctx, "acme", "old", at(3), "alice", []byte(`{"kind":"publisher-key.removed"}`), event(audit.PublisherKeyRemoved, "namespace:acme", 3)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cur", "old"} {
		if err := s.CompromisePublisherKey(ctx, "acme", id, at(5), "stella", "leaked in a gist", []byte(`{"kind":"publisher-key.compromised"}`), event(audit.PublisherKeyCompromised, "namespace:acme", 5)); err != nil {
			t.Fatalf("compromising %s: %v", id, err)
		}
	}
	if err := s.CompromisePublisherKey(ctx, "acme", "cur", at(6), "bob", "again", []byte(`{"x":1}`), event(audit.PublisherKeyCompromised, "namespace:acme", 6)); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("a second report: %v, want ErrConflict", err)
	}
	if err := s.CompromisePublisherKey(ctx, "acme", "nokey", at(6), "bob", "x", []byte(`{"x":1}`), event(audit.PublisherKeyCompromised, "namespace:acme", 6)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("an unknown key: %v, want ErrNotFound", err)
	}
	if err := s.CompromisePublisherKey(ctx, "acme", "cur", at(6), "bob", "", []byte(`{"x":1}`), event(audit.PublisherKeyCompromised, "namespace:acme", 6)); err == nil {
		t.Error("a report without a reason was stored")
	}
	cur, err := s.PublisherKey(ctx, "acme", "cur")
	if err != nil || !cur.Compromised() || !cur.CompromisedAt.Equal(stored(at(5))) || cur.CompromisedBy != "stella" || cur.CompromisedReason != "leaked in a gist" ||
		!cur.RetiredAt.Equal(stored(at(5))) || cur.RetiredBy != "stella" {
		t.Errorf("compromised current key = %+v, %v; want compromised and retired at 5 by stella", cur, err)
	}
	old, err := s.PublisherKey(ctx, "acme", "old")
	if err != nil || !old.Compromised() || !old.RetiredAt.Equal(stored(at(3))) || old.RetiredBy != "alice" {
		t.Errorf("compromised retired key = %+v, %v; want its retirement at 3 by alice kept", old, err)
	}
	if n := len(trail(t, s, "namespace:acme")); n != 1+2+1+2 {
		t.Errorf("%d events on namespace:acme, want 6 (the refused reports record none)", n)
	}
	if pending, _ := s.PendingTrustEvents(ctx, 10); len(pending) != 2+1+2 {
		t.Errorf("%d pending trust events, want 5", len(pending))
	}
}

// testNamespaceTransfer: the owners are replaced with the trust event and
// the audit event in one transaction.
func testNamespaceTransfer(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice", "bob"}, CreatedAt: at(0)}, event(audit.NamespaceClaim, "namespace:acme", 0)); err != nil {
		t.Fatal(err)
	}
	// Tokens scoped to acme: the former owner's and a robot's lose it, the
	// new owner's and another namespace's keep theirs.
	for _, tok := range []domain.Token{
		{ID: "t-alice", Subject: "alice", Role: domain.RolePublisher, Namespace: "acme"},
		{ID: "t-ci", Subject: "ci-robot", Role: domain.RolePublisher, Namespace: "acme"},
		{ID: "t-nina", Subject: "nina", Role: domain.RolePublisher, Namespace: "acme"},
		{ID: "t-other", Subject: "alice", Role: domain.RolePublisher, Namespace: "other"},
		{ID: "t-admin", Subject: "alice", Role: domain.RoleAdmin},
	} {
		tok.Hash, tok.CreatedAt, tok.ExpiresAt = hashOf(tok.ID), at(1), at(1000)
		if err := s.CreateToken(ctx, tok, event(audit.TokenCreate, "token:"+tok.ID, 1)); err != nil {
			t.Fatal(err)
		}
	}
	ev := event(audit.NamespaceOwnerTransfer, "namespace:acme", 2)
	ev.Data = []byte(`{"to":["nina"]}`)
	if err := s.TransferNamespace(ctx, "acme", []string{"nina"}, at(2), []byte(`{"kind":"namespace.owner-changed"}`), ev); err != nil {
		t.Fatal(err)
	}
	toks, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		want := tok.ID == "t-alice" || tok.ID == "t-ci"
		if got := !tok.RevokedAt.IsZero(); got != want {
			t.Errorf("token %s revoked = %v after the transfer, want %v", tok.ID, got, want)
		}
	}
	ns, err := s.GetNamespace(ctx, "acme")
	if err != nil || len(ns.Owners) != 1 || ns.Owners[0] != "nina" || !ns.CreatedAt.Equal(stored(at(0))) {
		t.Errorf("after the transfer: %+v, %v; want owned by nina alone", ns, err)
	}
	if err := s.TransferNamespace(ctx, "nope", []string{"nina"}, at(3), []byte(`{"x":1}`), event(audit.NamespaceOwnerTransfer, "namespace:nope", 3)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("transferring a missing namespace: %v, want ErrNotFound", err)
	}
	if err := s.TransferNamespace(ctx, "acme", nil, at(3), []byte(`{"x":1}`), event(audit.NamespaceOwnerTransfer, "namespace:acme", 3)); err == nil {
		t.Error("a transfer to nobody was stored")
	}
	tr := trail(t, s, "namespace:acme")
	if len(tr) != 2 || tr[1].Action != audit.NamespaceOwnerTransfer {
		t.Fatalf("trail = %+v, want the claim and one transfer", tr)
	}
	var data struct {
		To            []string `json:"to"`
		RevokedTokens []string `json:"revokedTokens"`
	}
	if err := json.Unmarshal(tr[1].Data, &data); err != nil || len(data.To) != 1 || strings.Join(data.RevokedTokens, ",") != "t-alice,t-ci" {
		t.Errorf("transfer event data = %s (%v); want the caller's fields and revokedTokens [t-alice t-ci]", tr[1].Data, err)
	}
	if pending, _ := s.PendingTrustEvents(ctx, 10); len(pending) != 1 {
		t.Errorf("%d pending trust events, want 1", len(pending))
	}
}

// testNamespaceVersions: a namespace's versions in the given states, with
// their signatures, and none of another namespace's.
func testNamespaceVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, v := range []struct {
		id, plugin string
		state      lifecycle.State
		key        string
	}{
		{"v1", "acme/a", lifecycle.Certified, "k1"},
		{"v2", "acme/b", lifecycle.Certified, ""},
		{"v3", "acme/a", lifecycle.Suspended, "k1"},
		{"v4", "acmex/a", lifecycle.Certified, "k1"},
	} {
		nv := newVersion(v.id, v.plugin, "1.0."+v.id[1:], v.id)
		nv.State = v.state
		create(t, s, nv)
		if v.key != "" {
			if err := s.PutSignature(ctx, domain.Signature{VersionID: v.id, KeyID: v.key, Envelope: []byte(`{"env":"` + v.id + `"}`), CreatedAt: at(11)}, event(audit.SubmissionSignature, "submission:"+v.id, 11)); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.NamespaceVersions(ctx, "acme", []lifecycle.State{lifecycle.Certified})
	if err != nil || len(got) != 2 {
		t.Fatalf("NamespaceVersions = %+v, %v; want v1 and v2", got, err)
	}
	if got[0].VersionID != "v1" || got[0].PluginID != "acme/a" || got[0].State != lifecycle.Certified || got[0].Digest != digestOf("v1") ||
		got[0].Signature.KeyID != "k1" || string(got[0].Signature.Envelope) != `{"env":"v1"}` || got[0].Signature.VersionID != "v1" {
		t.Errorf("signed version = %+v", got[0])
	}
	if got[1].VersionID != "v2" || got[1].Signature.KeyID != "" || len(got[1].Signature.Envelope) != 0 {
		t.Errorf("unsigned version = %+v", got[1])
	}
	both, err := s.NamespaceVersions(ctx, "acme", []lifecycle.State{lifecycle.Certified, lifecycle.Suspended})
	if err != nil || len(both) != 3 {
		t.Errorf("certified and suspended = %d, %v; want 3", len(both), err)
	}
	if none, err := s.NamespaceVersions(ctx, "nobody", []lifecycle.State{lifecycle.Certified}); err != nil || len(none) != 0 {
		t.Errorf("a namespace without versions = %+v, %v", none, err)
	}
}

func certified(t *testing.T, s store.Store, id string) domain.Version {
	t.Helper()
	v := inReview(t, s, id, "acme/"+id, "1.0.0")
	return v
}

func testTrustChangeAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	certified(t, s, "sub1")
	change := store.TrustChange{
		VersionID: "sub1", From: lifecycle.InReview, To: lifecycle.Certified, Reason: "approved by bob",
		Certificate: &domain.CertificateRecord{Kind: audit.CertificateIssued, Envelope: []byte(`{"cert":1}`), KeyID: "mk", IssuedAt: at(20), ExpiresAt: at(1000)},
		Entries:     [][]byte{[]byte(`{"kind":"certificate.issued"}`)},
		Provenance:  []byte(`{"slsa":1}`),
		Audit: []audit.Event{
			event(audit.SubmissionTransition, "submission:sub1", 20),
			event(audit.CertificateIssued, "submission:sub1", 20),
		},
	}
	seqs, err := s.ApplyTrustChange(ctx, change)
	if err != nil || len(seqs) != 1 {
		t.Fatalf("ApplyTrustChange = %v, %v", seqs, err)
	}
	v, _ := s.GetVersion(ctx, "sub1")
	if v.State != lifecycle.Certified || v.Reason != "approved by bob" {
		t.Errorf("after certification: %s (%s)", v.State, v.Reason)
	}
	if it, _ := s.GetReview(ctx, "sub1"); it.Open {
		t.Error("certification left the review item open")
	}
	c, err := s.LatestCertificate(ctx, "sub1")
	if err != nil || c.Seq != 1 || c.EventSeq != seqs[0] || !bytes.Equal(c.Envelope, []byte(`{"cert":1}`)) || !c.ExpiresAt.Equal(stored(at(1000))) {
		t.Errorf("LatestCertificate = %+v, %v", c, err)
	}
	if p, err := s.ProvenanceStatement(ctx, "sub1"); err != nil || string(p) != `{"slsa":1}` {
		t.Errorf("ProvenanceStatement = %s, %v", p, err)
	}
	if _, err := s.ProvenanceStatement(ctx, "sub2"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("no provenance statement: %v, want ErrNotFound", err)
	}
	evs := trail(t, s, "submission:sub1")
	last := evs[len(evs)-2]
	if last.Action != audit.SubmissionTransition || last.OldState != "in_review" || last.NewState != "certified" {
		t.Errorf("the transition's audit event = %+v", last)
	}

	// A change whose expected state no longer holds writes nothing: no
	// certificate, no queued event, no audit event.
	before := len(trail(t, s, ""))
	change.Certificate.Envelope = []byte(`{"cert":2}`)
	if _, err := s.ApplyTrustChange(ctx, change); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("a stale change: %v, want ErrStateChanged", err)
	}
	if c, _ := s.LatestCertificate(ctx, "sub1"); c.Seq != 1 {
		t.Errorf("a failed change stored certificate %d", c.Seq)
	}
	if pending, _ := s.PendingTrustEvents(ctx, 10); len(pending) != 1 {
		t.Errorf("a failed change queued a trust event: %d pending", len(pending))
	}
	if after := len(trail(t, s, "")); after != before {
		t.Errorf("a failed change wrote %d audit events", after-before)
	}
	// An illegal transition is refused before anything is written.
	if _, err := s.ApplyTrustChange(ctx, store.TrustChange{VersionID: "sub1", From: lifecycle.Certified, To: lifecycle.InReview, Audit: change.Audit}); err == nil {
		t.Error("certified -> in_review was accepted")
	}
	if _, err := s.LatestCertificate(ctx, "sub2"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("no certificate: %v, want ErrNotFound", err)
	}
}

// testSBOMs: a version's SBOMs are kept with the certificate that lists
// them, once; a different document of a format it has already fails the
// whole change (the certificate listing it is not stored), and a renewal
// bringing the same document changes nothing.
func testSBOMs(t *testing.T, s store.Store) {
	ctx := context.Background()
	certified(t, s, "sb1")
	sbom := func(format, doc string) domain.SBOM {
		sum := sha256.Sum256([]byte(doc))
		return domain.SBOM{VersionID: "sb1", Format: format, Digest: "sha256:" + hex.EncodeToString(sum[:]), Document: []byte(doc)}
	}
	if got, err := s.SBOMs(ctx, "sb1"); err != nil || len(got) != 0 {
		t.Fatalf("SBOMs before any = %+v, %v; want none", got, err)
	}
	cdx, spdx := sbom("cyclonedx", `{"bomFormat":"CycloneDX"}`), sbom("spdx", `{"spdxVersion":"SPDX-2.3"}`)
	change := store.TrustChange{
		VersionID: "sb1", From: lifecycle.InReview, To: lifecycle.Certified, Reason: "approved",
		Certificate: &domain.CertificateRecord{Kind: audit.CertificateIssued, Envelope: []byte(`{"cert":1}`), KeyID: "mk", IssuedAt: at(20), ExpiresAt: at(1000)},
		Entries:     [][]byte{[]byte(`{"kind":"certificate.issued"}`)},
		SBOMs:       []domain.SBOM{spdx, cdx},
		Audit:       []audit.Event{event(audit.SubmissionTransition, "submission:sb1", 20), event(audit.CertificateIssued, "submission:sb1", 20)},
	}
	if _, err := s.ApplyTrustChange(ctx, change); err != nil {
		t.Fatal(err)
	}
	got, err := s.SBOMs(ctx, "sb1")
	if err != nil || len(got) != 2 || got[0].Format != "cyclonedx" || got[0].Digest != cdx.Digest || !bytes.Equal(got[1].Document, spdx.Document) || got[1].VersionID != "sb1" || got[1].CreatedAt.IsZero() {
		t.Fatalf("SBOMs = %+v, %v", got, err)
	}
	renewal := store.TrustChange{
		VersionID:   "sb1",
		Certificate: &domain.CertificateRecord{Kind: audit.CertificateRenewed, Envelope: []byte(`{"cert":2}`), KeyID: "mk", IssuedAt: at(30), ExpiresAt: at(1000)},
		Entries:     [][]byte{[]byte(`{"kind":"certificate.renewed"}`)},
		SBOMs:       []domain.SBOM{cdx},
		Audit:       []audit.Event{event(audit.CertificateRenewed, "submission:sb1", 30)},
	}
	if _, err := s.ApplyTrustChange(ctx, renewal); err != nil {
		t.Fatalf("a renewal with the same document: %v", err)
	}
	// Another process made another document meanwhile: nothing is stored.
	renewal.Certificate.Envelope = []byte(`{"cert":3}`)
	renewal.SBOMs = []domain.SBOM{sbom("cyclonedx", `{"bomFormat":"CycloneDX","other":1}`)}
	if _, err := s.ApplyTrustChange(ctx, renewal); !errors.Is(err, domain.ErrStateChanged) {
		t.Fatalf("another document of a kept format: %v, want ErrStateChanged", err)
	}
	if c, _ := s.LatestCertificate(ctx, "sb1"); c.Seq != 2 {
		t.Errorf("the refused change stored certificate %d", c.Seq)
	}
	// A document that does not match its digest, or of another version,
	// is refused.
	bad := sbom("spdx", `{}`)
	bad.Document = []byte(`{"x":1}`)
	renewal.SBOMs = []domain.SBOM{bad}
	if _, err := s.ApplyTrustChange(ctx, renewal); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("a document not matching its digest: %v", err)
	}
	other := sbom("spdx", `{}`)
	other.VersionID = "sb2"
	renewal.SBOMs = []domain.SBOM{other}
	if _, err := s.ApplyTrustChange(ctx, renewal); err == nil {
		t.Error("another version's SBOM was kept")
	}
	if got, _ := s.SBOMs(ctx, "sb1"); len(got) != 2 || got[0].Digest != cdx.Digest {
		t.Errorf("after the refusals: %+v", got)
	}
}

func testTrustOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	if last, err := s.LastLoggedIndex(ctx); err != nil || last != -1 {
		t.Fatalf("LastLoggedIndex of an empty outbox = %d, %v; want -1", last, err)
	}
	var all []int64
	for i := range 5 {
		seqs, err := s.ApplyTrustChange(ctx, store.TrustChange{
			Entries: [][]byte{[]byte(fmt.Sprintf(`{"n":%d}`, i))},
			Audit:   []audit.Event{event(audit.TrustEvent, "log:test", i)},
		})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, seqs...)
	}
	pending, err := s.PendingTrustEvents(ctx, 3)
	if err != nil || len(pending) != 3 || pending[0].Seq != all[0] || string(pending[2].Entry) != `{"n":2}` || pending[0].LogIndex != -1 {
		t.Fatalf("PendingTrustEvents(3) = %+v, %v", pending, err)
	}
	if err := s.MarkTrustEventsLogged(ctx, all[:2], 1); !errors.Is(err, domain.ErrStateChanged) {
		t.Errorf("indexes that skip one: %v, want ErrStateChanged", err)
	}
	if err := s.MarkTrustEventsLogged(ctx, all[:2], 0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkTrustEventsLogged(ctx, all[1:3], 2); !errors.Is(err, domain.ErrStateChanged) {
		t.Errorf("recording a logged event again: %v, want ErrStateChanged", err)
	}
	if last, _ := s.LastLoggedIndex(ctx); last != 1 {
		t.Errorf("LastLoggedIndex = %d, want 1", last)
	}
	e, err := s.TrustEvent(ctx, all[1])
	if err != nil || e.LogIndex != 1 || string(e.Entry) != `{"n":1}` {
		t.Errorf("TrustEvent = %+v, %v", e, err)
	}
	pending, _ = s.PendingTrustEvents(ctx, 0)
	if len(pending) != 3 || pending[0].Seq != all[2] {
		t.Errorf("pending after marking two = %+v", pending)
	}
	if _, err := s.ApplyTrustChange(ctx, store.TrustChange{Entries: [][]byte{make([]byte, 1<<16)}, Audit: []audit.Event{event(audit.TrustEvent, "log:test", 9)}}); err == nil {
		t.Error("an entry over 65535 bytes was queued; the log cannot hold it")
	}
}

func testRevocationLists(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.LatestRevocationList(ctx); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("no list yet: %v, want ErrNotFound", err)
	}
	v := certified(t, s, "sub1")
	if _, err := s.ApplyTrustChange(ctx, store.TrustChange{VersionID: "sub1", From: lifecycle.InReview, To: lifecycle.Certified, Audit: []audit.Event{event(audit.SubmissionTransition, "submission:sub1", 20)}}); err != nil {
		t.Fatal(err)
	}
	list := func(n int64) *domain.RevocationListRecord {
		return &domain.RevocationListRecord{Number: n, Envelope: []byte(fmt.Sprintf(`{"list":%d}`, n)), IssuedAt: at(30), NextUpdate: at(90)}
	}
	if _, err := s.ApplyTrustChange(ctx, store.TrustChange{RevocationList: list(2), Entries: [][]byte{[]byte(`{}`)}, Audit: []audit.Event{event(audit.RevocationListPublished, "revocation-list", 30)}}); !errors.Is(err, domain.ErrStateChanged) {
		t.Errorf("list 2 before list 1: %v, want ErrStateChanged", err)
	}
	if _, err := s.ApplyTrustChange(ctx, store.TrustChange{RevocationList: list(1), Entries: [][]byte{[]byte(`{}`)}, Audit: []audit.Event{event(audit.RevocationListPublished, "revocation-list", 30)}}); err != nil {
		t.Fatal(err)
	}
	rev := &domain.Revocation{VersionID: "sub1", Digest: v.Digest, Reason: "malware", Time: at(40)}
	if _, err := s.ApplyTrustChange(ctx, store.TrustChange{
		VersionID: "sub1", From: lifecycle.Certified, To: lifecycle.Revoked, Reason: "revoked: malware",
		Revocation: rev, RevocationList: list(2), Entries: [][]byte{[]byte(`{"kind":"version.revoked"}`), []byte(`{"kind":"revocation-list.published"}`)},
		Audit: []audit.Event{event(audit.SubmissionTransition, "submission:sub1", 40), event(audit.VersionRevoked, "submission:sub1", 40)},
	}); err != nil {
		t.Fatal(err)
	}
	l, err := s.LatestRevocationList(ctx)
	if err != nil || l.Number != 2 || string(l.Envelope) != `{"list":2}` || !l.NextUpdate.Equal(stored(at(90))) {
		t.Errorf("LatestRevocationList = %+v, %v", l, err)
	}
	revs, err := s.ListRevocations(ctx)
	if err != nil || len(revs) != 1 || revs[0].Digest != v.Digest || revs[0].Reason != "malware" || !revs[0].Time.Equal(stored(at(40))) {
		t.Errorf("ListRevocations = %+v, %v", revs, err)
	}
	if v, _ := s.GetVersion(ctx, "sub1"); v.State != lifecycle.Revoked {
		t.Errorf("after revocation: %s", v.State)
	}
	mustVerify(t, s, int64(len(trail(t, s, ""))))
}
