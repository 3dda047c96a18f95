// Package storetest is the conformance suite every store.Store passes. A
// backend's test calls Run with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

// RawDB is what a SQL store offers to tests that tamper with its rows.
// Backends without it skip the tampering tests.
type RawDB interface {
	DB() *sql.DB
	Rebind(query string) string
}

// suiteTest is one test of the suite.
type suiteTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs the whole suite. open must return a new, empty store each time
// and close it when the test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []suiteTest{
		{"Tokens", testTokens},
		{"Namespaces", testNamespaces},
		{"CreateVersion", testCreateVersion},
		{"VersionQueries", testVersionQueries},
		{"Transition", testTransition},
		{"Catalog", testCatalog},
		{"CatalogReader", testCatalogReader},
		{"CatalogGeneration", testCatalogGeneration},
		{"AuditScan", testAuditScan},
		{"AuditPseudonymise", testAuditPseudonymise},
		{"PurgeTokens", testPurgeTokens},
		{"ConcurrentCreateVersion", testConcurrentCreateVersion},
		{"TamperEdit", testTamperEdit},
		{"TamperDelete", testTamperDelete},
		{"TamperReorder", testTamperReorder},
		{"Jobs", testJobs},
		{"JobsClient", testJobsClient},
		{"JobsDueNow", testJobsDueNow},
		{"ConcurrentJobs", testConcurrentJobs},
		{"VetRuns", testVetRuns},
		{"Suppressions", testSuppressions},
		{"ReviewQueue", testReviewQueue},
		{"VerdictsMessagesPolicies", testVerdictsMessagesPolicies},
	}
	tests = append(tests, trustTests...)
	tests = append(tests, monitorTests...)
	tests = append(tests, notifyTests...)
	tests = append(tests, insightTests...)
	tests = append(tests, releaseTests...)
	tests = append(tests, hostAPITests...)
	tests = append(tests, retentionTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// base has nanoseconds and a zone on purpose: stores keep UTC microseconds.
var base = time.Date(2026, 11, 22, 5, 0, 0, 123456789, time.FixedZone("CET", 3600))

func at(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }

// stored is t as every store returns it.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func event(action, subject string, i int) audit.Event {
	return audit.Event{Time: at(i), Actor: "alice", Action: action, Subject: subject, Data: []byte(`{"n": 1}`)}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func digestOf(s string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s)))
}

func newVersion(id, pluginID, ver, content string) domain.Version {
	return domain.Version{
		ID:        id,
		PluginID:  pluginID,
		Version:   ver,
		Digest:    digestOf(content),
		Size:      int64(len(content)),
		Manifest:  []byte(fmt.Sprintf(`{"id":%q,"version":%q,"name":"Display of %s","description":"Plugin %s at version %s"}`, pluginID, ver, pluginID, pluginID, ver)),
		Files:     []domain.File{{Path: "plugin.wasm", Size: 8, SHA256: digestOf(content + "wasm")[7:]}},
		Submitter: "alice",
		State:     lifecycle.Received,
		Reason:    "package received",
		CreatedAt: at(10),
		UpdatedAt: at(10),
	}
}

func create(t *testing.T, s store.Store, v domain.Version) domain.Version {
	t.Helper()
	got, created, err := s.CreateVersion(context.Background(), v, []audit.Event{event(audit.SubmissionCreate, "submission:"+v.ID, 10)})
	if err != nil || !created {
		t.Fatalf("CreateVersion(%s@%s) = created %v, %v; want a new version", v.PluginID, v.Version, created, err)
	}
	return got
}

// trail returns every event for subject ("" for all).
func trail(t *testing.T, s store.Store, subject string) []audit.Event {
	t.Helper()
	var evs []audit.Event
	if err := s.ScanAudit(context.Background(), domain.AuditQuery{Subject: subject}, func(e audit.Event) error {
		evs = append(evs, e)
		return nil
	}); err != nil {
		t.Fatalf("ScanAudit(%q): %v", subject, err)
	}
	return evs
}

func verify(t *testing.T, s store.Store) audit.Report {
	t.Helper()
	rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error {
		return s.ScanAudit(context.Background(), domain.AuditQuery{}, fn)
	})
	if err != nil {
		t.Fatalf("verifying the audit trail: %v", err)
	}
	return rep
}

func mustVerify(t *testing.T, s store.Store, wantCount int64) {
	t.Helper()
	rep := verify(t, s)
	if rep.Break != nil {
		t.Fatalf("honest audit trail does not verify: %v", rep.Break)
	}
	if rep.Count != wantCount {
		t.Fatalf("audit trail has %d events, want %d", rep.Count, wantCount)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := domain.Token{ID: "tok1", Subject: "alice", Role: domain.RolePublisher, Namespace: "acme", Hash: hashOf("secret1"), CreatedAt: at(0), ExpiresAt: at(0).Add(90 * 24 * time.Hour)}
	if err := s.CreateToken(ctx, tok, event(audit.TokenCreate, "token:tok1", 0)); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	tok2 := domain.Token{ID: "tok2", Subject: "bob", Role: domain.RoleAuditor, Hash: hashOf("secret2"), CreatedAt: at(1), ExpiresAt: at(2)}
	if err := s.CreateToken(ctx, tok2, event(audit.TokenCreate, "token:tok2", 1)); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}

	got, err := s.TokenByHash(ctx, hashOf("secret1"))
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	want := tok
	want.CreatedAt, want.ExpiresAt = stored(tok.CreatedAt), stored(tok.ExpiresAt)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TokenByHash = %+v\nwant %+v", got, want)
	}
	if _, err := s.TokenByHash(ctx, hashOf("nobody's secret")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("TokenByHash(unknown) error = %v, want ErrNotFound", err)
	}

	dup := tok2
	dup.ID = "tok3" // same secret as tok2
	if err := s.CreateToken(ctx, dup, event(audit.TokenCreate, "token:tok3", 2)); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CreateToken with an existing secret: error = %v, want ErrConflict", err)
	}
	bad := tok2
	bad.ID, bad.Hash, bad.Role = "tok4", hashOf("x"), "emperor"
	if err := s.CreateToken(ctx, bad, event(audit.TokenCreate, "token:tok4", 2)); err == nil {
		t.Error("CreateToken with an unknown role succeeded")
	}

	list, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if len(list) != 2 || list[0].ID != "tok1" || list[1].ID != "tok2" {
		t.Fatalf("ListTokens = %+v, want tok1 then tok2", list)
	}

	revokeAt := at(5)
	if err := s.RevokeToken(ctx, "tok1", revokeAt, event(audit.TokenRevoke, "token:tok1", 5)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	got, _ = s.TokenByHash(ctx, hashOf("secret1"))
	if !got.RevokedAt.Equal(stored(revokeAt)) {
		t.Errorf("after revocation RevokedAt = %v, want %v", got.RevokedAt, stored(revokeAt))
	}
	if err := s.RevokeToken(ctx, "tok1", at(6), event(audit.TokenRevoke, "token:tok1", 6)); err != nil {
		t.Errorf("revoking a revoked token: %v", err)
	}
	got, _ = s.TokenByHash(ctx, hashOf("secret1"))
	if !got.RevokedAt.Equal(stored(revokeAt)) {
		t.Errorf("a second revocation moved RevokedAt to %v", got.RevokedAt)
	}
	if err := s.RevokeToken(ctx, "nope", at(6), event(audit.TokenRevoke, "token:nope", 6)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("RevokeToken(unknown) error = %v, want ErrNotFound", err)
	}

	evs := trail(t, s, "token:tok1")
	if len(evs) != 2 || evs[0].Action != audit.TokenCreate || evs[1].Action != audit.TokenRevoke {
		t.Errorf("audit trail of token:tok1 = %+v, want create then one revoke", evs)
	}
	// Only the two creations and the one real revocation happened.
	mustVerify(t, s, 3)
}

func testNamespaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := domain.Namespace{Name: "acme", Owners: []string{"alice", "bob"}, CreatedAt: at(0)}
	if err := s.CreateNamespace(ctx, ns, event(audit.NamespaceClaim, "namespace:acme", 0)); err != nil {
		t.Fatalf("CreateNamespace: %v", err)
	}
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "zeta", Owners: []string{"carol"}, CreatedAt: at(1)}, event(audit.NamespaceClaim, "namespace:zeta", 1)); err != nil {
		t.Fatalf("CreateNamespace: %v", err)
	}
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"mallory"}, CreatedAt: at(2)}, event(audit.NamespaceClaim, "namespace:acme", 2)); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("creating an existing namespace: error = %v, want ErrConflict", err)
	}
	got, err := s.GetNamespace(ctx, "acme")
	if err != nil {
		t.Fatalf("GetNamespace: %v", err)
	}
	want := ns
	want.CreatedAt = stored(ns.CreatedAt)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetNamespace = %+v, want %+v", got, want)
	}
	if _, err := s.GetNamespace(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetNamespace(unknown) error = %v, want ErrNotFound", err)
	}
	list, err := s.ListNamespaces(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "acme" || list[1].Name != "zeta" {
		t.Errorf("ListNamespaces = %+v, %v; want acme, zeta", list, err)
	}
	mustVerify(t, s, 2)
}

func testCreateVersion(t *testing.T, s store.Store) {
	ctx := context.Background()
	v := newVersion("sub1", "acme/hello", "1.0.0", "bytes one")
	got := create(t, s, v)
	want := v
	want.CreatedAt, want.UpdatedAt = stored(v.CreatedAt), stored(v.UpdatedAt)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CreateVersion returned %+v\nwant %+v", got, want)
	}
	read, err := s.GetVersion(ctx, "sub1")
	if err != nil {
		t.Fatalf("GetVersion: %v", err)
	}
	if !reflect.DeepEqual(read, want) {
		t.Errorf("GetVersion = %+v\nwant %+v", read, want)
	}

	ns, err := s.GetNamespace(ctx, "acme")
	if err != nil || !reflect.DeepEqual(ns.Owners, []string{"alice"}) {
		t.Errorf("namespace created with the version = %+v, %v; want owned by the submitter alice", ns, err)
	}
	p, err := s.GetPlugin(ctx, "acme/hello")
	if err != nil || p.Namespace != "acme" || p.Name != "hello" || p.LatestVersion != "1.0.0" || p.DisplayName != "Display of acme/hello" {
		t.Errorf("plugin created with the version = %+v, %v", p, err)
	}
	before := len(trail(t, s, ""))

	// The same bytes again: the existing submission, nothing new recorded.
	again := newVersion("sub2", "acme/hello", "1.0.0", "bytes one")
	got, created, err := s.CreateVersion(ctx, again, []audit.Event{event(audit.SubmissionCreate, "submission:sub2", 11)})
	if err != nil || created || got.ID != "sub1" {
		t.Errorf("resubmitting the same bytes = (id %s, created %v, %v); want the existing sub1, not created", got.ID, created, err)
	}
	// Other bytes under the same name@version: refused.
	other := newVersion("sub3", "acme/hello", "1.0.0", "bytes two")
	if _, _, err := s.CreateVersion(ctx, other, []audit.Event{event(audit.SubmissionCreate, "submission:sub3", 12)}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("same version with other bytes: error = %v, want ErrConflict", err)
	}
	if after := len(trail(t, s, "")); after != before {
		t.Errorf("a duplicate and a refused submission wrote %d audit events, want none", after-before)
	}
	if _, err := s.GetVersion(ctx, "sub3"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the refused version was stored (GetVersion error %v)", err)
	}
	// A second version into an existing namespace keeps its owners.
	create(t, s, newVersion("sub4", "acme/hello", "1.1.0", "bytes three"))
	if ns, _ := s.GetNamespace(ctx, "acme"); len(ns.Owners) != 1 {
		t.Errorf("namespace owners changed to %v", ns.Owners)
	}
	// Without an audit event there is no write.
	if _, _, err := s.CreateVersion(ctx, newVersion("sub5", "acme/hello", "2.0.0", "b"), nil); err == nil {
		t.Error("CreateVersion without audit events succeeded")
	}
	if _, err := s.GetVersion(ctx, "sub5"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a version without its audit event was stored (GetVersion error %v)", err)
	}
	mustVerify(t, s, 2)
}

func testVersionQueries(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newVersion("va", "acme/a", "1.0.0", "A")
	b := newVersion("vb", "acme/a", "1.1.0", "B")
	b.CreatedAt, b.UpdatedAt = at(20), at(20)
	c := newVersion("vc", "beta/c", "0.1.0", "C")
	c.CreatedAt, c.UpdatedAt = at(30), at(30)
	for _, v := range []domain.Version{a, b, c} {
		create(t, s, v)
	}
	// A page's versions in one read, each plugin's as ListVersions gives
	// them; a plugin with none is absent.
	page, err := s.ListVersionsOf(ctx, []string{"acme/a", "beta/c", "none/x"})
	if err != nil || len(page) != 2 {
		t.Fatalf("ListVersionsOf = %v, %v", page, err)
	}
	for _, id := range []string{"acme/a", "beta/c"} {
		one, err := s.ListVersions(ctx, id)
		if err != nil || !reflect.DeepEqual(ids(page[id]), ids(one)) {
			t.Errorf("ListVersionsOf[%s] = %v, ListVersions = %v (%v)", id, ids(page[id]), ids(one), err)
		}
	}
	got, err := s.GetVersionByName(ctx, "acme/a", "1.1.0")
	if err != nil || got.ID != "vb" {
		t.Errorf("GetVersionByName(acme/a, 1.1.0) = %s, %v; want vb", got.ID, err)
	}
	if _, err := s.GetVersionByName(ctx, "acme/a", "9.9.9"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetVersionByName(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetVersion(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetVersion(unknown) error = %v, want ErrNotFound", err)
	}
	got, err = s.VersionByDigest(ctx, c.Digest)
	if err != nil || got.ID != "vc" {
		t.Errorf("VersionByDigest = %s, %v; want vc", got.ID, err)
	}
	if _, err := s.VersionByDigest(ctx, digestOf("nothing")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("VersionByDigest(unknown) error = %v, want ErrNotFound", err)
	}
	if ok, err := s.DigestReferenced(ctx, a.Digest); err != nil || !ok {
		t.Errorf("DigestReferenced(stored) = %v, %v; want true", ok, err)
	}
	if ok, err := s.DigestReferenced(ctx, digestOf("nothing")); err != nil || ok {
		t.Errorf("DigestReferenced(unknown) = %v, %v; want false", ok, err)
	}
	list, err := s.ListVersions(ctx, "acme/a")
	if err != nil || len(list) != 2 || list[0].ID != "va" || list[1].ID != "vb" {
		t.Errorf("ListVersions(acme/a) = %v, %v; want va, vb", ids(list), err)
	}

	if err := s.Transition(ctx, "vb", lifecycle.Received, lifecycle.Vetting, "vetting", event(audit.SubmissionVet, "submission:vb", 40)); err != nil {
		t.Fatal(err)
	}
	found, err := s.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Received})
	if err != nil || !reflect.DeepEqual(ids(found), []string{"va", "vc"}) {
		t.Errorf("FindVersions(received) = %v, %v; want [va vc]", ids(found), err)
	}
	found, err = s.FindVersions(ctx, domain.VersionQuery{Limit: 2})
	if err != nil || !reflect.DeepEqual(ids(found), []string{"va", "vb"}) {
		t.Errorf("FindVersions(limit 2) = %v, %v; want the two oldest [va vb]", ids(found), err)
	}
	// vb moved at 40, vc was stored at 30: the pipeline's reconciler skips what was touched
	// since its cutoff.
	found, err = s.FindVersions(ctx, domain.VersionQuery{UpdatedBefore: at(31)})
	if err != nil || !reflect.DeepEqual(ids(found), []string{"va", "vc"}) {
		t.Errorf("FindVersions(updated before 31) = %v, %v; want [va vc]", ids(found), err)
	}
	found, err = s.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Vetting, UpdatedBefore: at(41)})
	if err != nil || !reflect.DeepEqual(ids(found), []string{"vb"}) {
		t.Errorf("FindVersions(vetting, updated before 41) = %v, %v; want [vb]", ids(found), err)
	}
}

func ids(vs []domain.Version) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func testTransition(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, newVersion("sub1", "acme/hello", "1.0.0", "x"))

	if err := s.Transition(ctx, "sub1", lifecycle.Received, lifecycle.Vetting, "analyzers started", event(audit.SubmissionVet, "submission:sub1", 20)); err != nil {
		t.Fatalf("legal transition: %v", err)
	}
	v, _ := s.GetVersion(ctx, "sub1")
	if v.State != lifecycle.Vetting || v.Reason != "analyzers started" || !v.UpdatedAt.Equal(stored(at(20))) {
		t.Errorf("after transition: state %s, reason %q, updated %v", v.State, v.Reason, v.UpdatedAt)
	}
	evs := trail(t, s, "submission:sub1")
	last := evs[len(evs)-1]
	if last.OldState != "received" || last.NewState != "vetting" || last.Action != audit.SubmissionVet {
		t.Errorf("transition's audit event = %+v, want received -> vetting", last)
	}

	var illegal *lifecycle.IllegalTransitionError
	if err := s.Transition(ctx, "sub1", lifecycle.Vetting, lifecycle.Certified, "skip review", event(audit.SubmissionTransition, "submission:sub1", 21)); !errors.As(err, &illegal) {
		t.Errorf("vetting -> certified: error = %v, want *lifecycle.IllegalTransitionError", err)
	}
	// A stale expected state: someone else moved it first.
	if err := s.Transition(ctx, "sub1", lifecycle.Received, lifecycle.Rejected, "late", event(audit.SubmissionTransition, "submission:sub1", 22)); !errors.Is(err, domain.ErrStateChanged) {
		t.Errorf("transition from a stale state: error = %v, want ErrStateChanged", err)
	}
	if err := s.Transition(ctx, "nope", lifecycle.Received, lifecycle.Vetting, "", event(audit.SubmissionTransition, "submission:nope", 22)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("transition of an unknown version: error = %v, want ErrNotFound", err)
	}
	if v, _ := s.GetVersion(ctx, "sub1"); v.State != lifecycle.Vetting {
		t.Errorf("a refused transition changed the state to %s", v.State)
	}

	// Two workers race for the same move: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Transition(ctx, "sub1", lifecycle.Vetting, lifecycle.Triage, "done", event(audit.SubmissionTransition, "submission:sub1", 30+i))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, domain.ErrStateChanged):
			t.Errorf("racing transition: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing transitions succeeded, want exactly 1", wins)
	}
	mustVerify(t, s, 3)
}

func testCatalog(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, ver := range []string{"1.9.0", "1.10.0", "1.2.0", "1.10.0-rc.1"} {
		v := newVersion(fmt.Sprintf("w%d", i), "acme/weather", ver, "weather "+ver)
		v.CreatedAt = at(i)
		create(t, s, v)
	}
	p, err := s.GetPlugin(ctx, "acme/weather")
	if err != nil {
		t.Fatal(err)
	}
	if p.LatestVersion != "1.10.0" || p.Description != "Plugin acme/weather at version 1.10.0" {
		t.Errorf("plugin = %+v; want latest 1.10.0 by SemVer, described by its manifest", p)
	}
	if _, err := s.GetPlugin(ctx, "acme/nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("GetPlugin(unknown) error = %v, want ErrNotFound", err)
	}

	for i := 0; i < 12; i++ {
		ns := "acme"
		if i%3 == 0 {
			ns = "other"
		}
		create(t, s, newVersion(fmt.Sprintf("p%02d", i), fmt.Sprintf("%s/tool-%02d", ns, i), "1.0.0", fmt.Sprint("tool", i)))
	}
	search := func(q domain.PluginQuery) []string {
		t.Helper()
		ps, err := s.ListPlugins(ctx, q)
		if err != nil {
			t.Fatalf("ListPlugins(%+v): %v", q, err)
		}
		out := []string{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	if got := search(domain.PluginQuery{Search: "WEATHER"}); !reflect.DeepEqual(got, []string{"acme/weather"}) {
		t.Errorf("search WEATHER = %v, want [acme/weather] (case-insensitive)", got)
	}
	if got := search(domain.PluginQuery{Search: "display of other/tool-0"}); !reflect.DeepEqual(got, []string{"other/tool-00", "other/tool-03", "other/tool-06", "other/tool-09"}) {
		t.Errorf("search by display name = %v", got)
	}
	if got := search(domain.PluginQuery{Search: "at version 1.10"}); !reflect.DeepEqual(got, []string{"acme/weather"}) {
		t.Errorf("search by description = %v, want [acme/weather]", got)
	}
	if got := search(domain.PluginQuery{Search: "tool_0"}); len(got) != 0 {
		t.Errorf("search tool_0 = %v; _ must match literally, not as a wildcard", got)
	}
	if got := search(domain.PluginQuery{Search: "%"}); len(got) != 0 {
		t.Errorf("search %% = %v; %% must match literally", got)
	}
	if got := search(domain.PluginQuery{Namespace: "other"}); len(got) != 4 {
		t.Errorf("namespace other = %v, want 4 plugins", got)
	}
	if got := search(domain.PluginQuery{Namespace: "other", Search: "weather"}); len(got) != 0 {
		t.Errorf("namespace other with search weather = %v, want none", got)
	}

	var paged []string
	for off := 0; ; off += 5 {
		page := search(domain.PluginQuery{Limit: 5, Offset: off})
		if len(page) > 5 {
			t.Fatalf("page of limit 5 has %d entries", len(page))
		}
		paged = append(paged, page...)
		if len(page) < 5 {
			break
		}
	}
	all := search(domain.PluginQuery{})
	if len(all) != 13 || !reflect.DeepEqual(paged, all) {
		t.Errorf("paging gave %v\nthe whole list is %v (want 13 plugins, each once, in order)", paged, all)
	}
	if len(search(domain.PluginQuery{Limit: 100000})) != 13 {
		t.Error("an oversized limit was not cut to the maximum")
	}
	if _, err := s.ListPlugins(ctx, domain.PluginQuery{Offset: -1}); err == nil {
		t.Error("a negative offset was accepted")
	}
}

func testAuditScan(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 7; i++ {
		subj := "thing:a"
		if i%2 == 1 {
			subj = "thing:b"
		}
		ev := event(audit.IncidentNote, subj, i)
		ev.Reason = fmt.Sprint("touch ", i)
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	all := trail(t, s, "")
	for i, e := range all {
		if e.Seq != int64(i+1) || e.Reason != fmt.Sprint("touch ", i) || !e.Time.Equal(stored(at(i))) || e.Actor != "alice" {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	b := trail(t, s, "thing:b")
	if len(b) != 3 || b[0].Seq != 2 || b[1].Seq != 4 || b[2].Seq != 6 {
		t.Errorf("events of thing:b = %+v, want seqs 2, 4, 6", b)
	}
	var got []int64
	if err := s.ScanAudit(ctx, domain.AuditQuery{AfterSeq: 3, Limit: 2}, func(e audit.Event) error {
		got = append(got, e.Seq)
		return nil
	}); err != nil || !reflect.DeepEqual(got, []int64{4, 5}) {
		t.Errorf("ScanAudit(after 3, limit 2) = %v, %v; want [4 5]", got, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ScanAudit(ctx, domain.AuditQuery{}, func(audit.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("ScanAudit did not stop at fn's error: %d calls, %v", n, err)
	}
	if err := s.AppendAudit(ctx, audit.Event{Action: audit.SubmissionCreate, Subject: "y"}); err == nil {
		t.Error("an audit event without an actor was accepted")
	}
	mustVerify(t, s, 7)
}

// testAuditPseudonymise is retention's purge of the trail (issue 20 item
// 4): old actors and token subjects become pseudonyms, the chain still
// verifies, recent events and non-personal subjects are untouched, the
// purge is itself an event, and a second run changes nothing.
func testAuditPseudonymise(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, subj := range []string{"token:tok-alice", "submission:01J", "token:tok-bob", "token:tok-carol"} {
		ev := event(audit.IncidentNote, subj, i)
		ev.Actor = fmt.Sprintf("person%d@example.com", i)
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	purge := audit.Event{Time: at(100), Actor: "system", Action: audit.AuditPseudonymise, Subject: "audit", Reason: "retention P90D"}
	// Events 1-3 are older than the cut-off, event 4 is not.
	changed, old, err := s.PseudonymiseAudit(ctx, at(3), 100, purge)
	if err != nil || changed != 3 || old != 0 {
		t.Fatalf("PseudonymiseAudit = %d, %d, %v; want 3 changed", changed, old, err)
	}
	evs := trail(t, s, "")
	if len(evs) != 5 {
		t.Fatalf("%d events, want 4 and the purge's", len(evs))
	}
	for _, e := range evs[:3] {
		if strings.Contains(e.Actor, "example.com") || !strings.HasPrefix(e.Actor, audit.PseudonymPrefix) {
			t.Errorf("event %d keeps its actor %q", e.Seq, e.Actor)
		}
	}
	if !strings.HasPrefix(evs[0].Subject, audit.PseudonymPrefix) || !strings.HasPrefix(evs[2].Subject, audit.PseudonymPrefix) {
		t.Errorf("token subjects kept: %q, %q", evs[0].Subject, evs[2].Subject)
	}
	if evs[1].Subject != "submission:01J" {
		t.Errorf("a submission subject was pseudonymised: %q", evs[1].Subject)
	}
	if evs[3].Actor != "person3@example.com" || evs[3].Subject != "token:tok-carol" {
		t.Errorf("a recent event changed: %+v", evs[3])
	}
	if p := evs[4]; p.Action != audit.AuditPseudonymise || !strings.Contains(string(p.Data), `"pseudonymised":3`) {
		t.Errorf("the purge's event = %+v", p)
	}
	mustVerify(t, s, 5)
	changed, _, err = s.PseudonymiseAudit(ctx, at(3), 100, purge)
	if err != nil || changed != 0 {
		t.Fatalf("second run = %d, %v; want nothing changed", changed, err)
	}
	if again := trail(t, s, ""); !reflect.DeepEqual(again, evs) {
		t.Error("a second purge changed the trail")
	}
	if _, _, err := s.PseudonymiseAudit(ctx, at(3), 0, purge); err == nil {
		t.Error("a limit of 0 was accepted")
	}
}

// testPurgeTokens is retention's purge of the tokens table (issue 20 item
// 4): tokens expired or revoked before the cut-off are deleted with their
// subjects, live ones and ones that ended after it stay, the purge is an
// event, the chain verifies, and a second run changes nothing.
func testPurgeTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	toks := []domain.Token{
		{ID: "expired-old", Subject: "alice@example.com", ExpiresAt: at(5)},
		{ID: "revoked-old", Subject: "bob@example.com", ExpiresAt: at(500), RevokedAt: at(6)},
		{ID: "expired-recent", Subject: "carol@example.com", ExpiresAt: at(20)},
		{ID: "revoked-recent", Subject: "dave@example.com", ExpiresAt: at(500), RevokedAt: at(21)},
		{ID: "live", Subject: "erin@example.com", ExpiresAt: at(500)},
	}
	for i, tok := range toks {
		tok.Role, tok.Hash, tok.CreatedAt = domain.RoleAuditor, hashOf(tok.ID), at(i)
		if err := s.CreateToken(ctx, tok, event(audit.TokenCreate, "token:"+tok.ID, i)); err != nil {
			t.Fatal(err)
		}
	}
	purge := audit.Event{Time: at(100), Actor: "system", Action: audit.TokenPurge, Subject: "tokens", Reason: "retention"}
	n, err := s.PurgeTokens(ctx, at(10), 100, purge)
	if err != nil || n != 2 {
		t.Fatalf("PurgeTokens = %d, %v; want 2 deleted", n, err)
	}
	list, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	if want := []string{"expired-recent", "revoked-recent", "live"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("tokens after the purge = %v, want %v", ids, want)
	}
	if _, err := s.TokenByHash(ctx, hashOf("revoked-old")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a purged token is still found by its secret: %v", err)
	}
	evs := trail(t, s, "tokens")
	if len(evs) != 1 || evs[0].Action != audit.TokenPurge || !strings.Contains(string(evs[0].Data), `"deleted":2`) {
		t.Errorf("the purge's event = %+v", evs)
	}
	mustVerify(t, s, int64(len(toks))+1)
	if n, err := s.PurgeTokens(ctx, at(10), 100, purge); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want nothing", n, err)
	}
	mustVerify(t, s, int64(len(toks))+1)
	// The limit bounds one transaction; the rest waits for the next run.
	if n, err := s.PurgeTokens(ctx, at(30), 1, purge); err != nil || n != 1 {
		t.Errorf("PurgeTokens(limit 1) = %d, %v; want 1", n, err)
	}
	if _, err := s.PurgeTokens(ctx, at(30), 0, purge); err == nil {
		t.Error("a limit of 0 was accepted")
	}
}

// testConcurrentCreateVersion is the 200-submissions aim of issue 2: no
// error, no lost record, a linear chain that verifies.
func testConcurrentCreateVersion(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Ten plugins in five namespaces, so namespaces and plugins are
			// created concurrently too.
			v := newVersion(fmt.Sprintf("c%03d", i), fmt.Sprintf("ns%d/p%d", i%5, i%10), fmt.Sprintf("1.%d.0", i), fmt.Sprint("content ", i))
			_, created, err := s.CreateVersion(ctx, v, []audit.Event{event(audit.SubmissionCreate, "submission:"+v.ID, i)})
			if err == nil && !created {
				err = fmt.Errorf("%s was not created", v.ID)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent CreateVersion: %v", err)
	}
	total := 0
	for p := 0; p < 10; p++ {
		vs, err := s.ListVersions(ctx, fmt.Sprintf("ns%d/p%d", p%5, p))
		if err != nil {
			t.Fatal(err)
		}
		total += len(vs)
	}
	if total != n {
		t.Errorf("%d versions stored, want %d", total, n)
	}
	mustVerify(t, s, n)
	evs := trail(t, s, "")
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Subject] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct submissions in the audit trail, want %d", len(seen), n)
	}
	if p, err := s.GetPlugin(ctx, "ns0/p0"); err != nil || p.LatestVersion != "1.190.0" {
		t.Errorf("latest of ns0/p0 = %q, %v; want 1.190.0", p.LatestVersion, err)
	}
}

// seedTrail writes n events and returns the raw database, or skips when
// the store offers none.
func seedTrail(t *testing.T, s store.Store, n int) RawDB {
	t.Helper()
	raw, ok := s.(RawDB)
	if !ok {
		t.Skip("the store offers no raw database to tamper with")
	}
	for i := 0; i < n; i++ {
		if err := s.AppendAudit(context.Background(), event(audit.IncidentNote, fmt.Sprint("thing:", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	mustVerify(t, s, int64(n))
	return raw
}

func exec(t *testing.T, raw RawDB, q string, args ...any) {
	t.Helper()
	if _, err := raw.DB().ExecContext(context.Background(), raw.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func wantBreak(t *testing.T, s store.Store, seq int64) {
	t.Helper()
	rep := verify(t, s)
	if rep.Break == nil {
		t.Fatal("a tampered audit trail verified")
	}
	if rep.Break.Seq != seq {
		t.Errorf("break reported at event %d (%s), want %d", rep.Break.Seq, rep.Break.Reason, seq)
	}
	if rep.Count != seq-1 {
		t.Errorf("%d events verified before the break, want %d", rep.Count, seq-1)
	}
}

func testTamperEdit(t *testing.T, s store.Store) {
	raw := seedTrail(t, s, 5)
	exec(t, raw, `UPDATE audit_events SET reason = 'x' WHERE seq = 3`)
	wantBreak(t, s, 3)
}

func testTamperDelete(t *testing.T, s store.Store) {
	raw := seedTrail(t, s, 5)
	exec(t, raw, `DELETE FROM audit_events WHERE seq = 3`)
	wantBreak(t, s, 3)
}

// testTamperReorder swaps the contents of events 2 and 3, keeping their
// sequence numbers: each row is intact, but the order is not.
func testTamperReorder(t *testing.T, s store.Store) {
	raw := seedTrail(t, s, 5)
	ctx := context.Background()
	type row struct {
		time                                                     int64
		actor, action, subject, oldState, newState, reason, prev string
		hash                                                     string
		data                                                     []byte
	}
	read := func(seq int) row {
		var r row
		err := raw.DB().QueryRowContext(ctx, raw.Rebind(`SELECT time, actor, action, subject, old_state, new_state, reason, data, prev_hash, hash FROM audit_events WHERE seq = ?`), seq).
			Scan(&r.time, &r.actor, &r.action, &r.subject, &r.oldState, &r.newState, &r.reason, &r.data, &r.prev, &r.hash)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	write := func(seq int, r row) {
		exec(t, raw, `UPDATE audit_events SET time = ?, actor = ?, action = ?, subject = ?, old_state = ?, new_state = ?, reason = ?, data = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
			r.time, r.actor, r.action, r.subject, r.oldState, r.newState, r.reason, r.data, r.prev, r.hash, seq)
	}
	r2, r3 := read(2), read(3)
	write(2, r3)
	write(3, r2)
	wantBreak(t, s, 2)
}
