package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

func TestSubmissionSignatureRefusals(t *testing.T) {
	e := newEnv(t)
	pub := e.tokens["publisher"]
	e.register(pub, "acme")
	p := pkg(t, "acme/hello", "1.0.0", "one")
	stranger, _ := trust.GenerateKey(trust.ECDSAP256)
	strangerSig, _ := intake.Sign(context.Background(), stranger, p)
	wrongSubject, _ := trust.SignPackage(context.Background(), e.key, digestOf(t, e, p), "acme/other", "1.0.0")
	for name, c := range map[string]struct {
		header string
		status int
		want   string
	}{
		"no signature":     {"", 422, "requires a publisher signature"},
		"unregistered key": {envelopeHeader(t, strangerSig), 422, "is not registered for namespace acme; register it with"},
		"wrong subject":    {envelopeHeader(t, wrongSubject), 422, "manifest says acme/hello@1.0.0"},
		"not base64":       {"%%%", 400, "not standard base64"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, b := e.doHeader("POST", "/api/v1/submissions", pub, bytes.NewReader(p), api.SignatureHeader, c.header)
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.want) {
				t.Fatalf("got %d %s; want %d saying %q", resp.StatusCode, b, c.status, c.want)
			}
		})
	}
	if resp, b := e.submit(pub, p); resp.StatusCode != 202 {
		t.Fatalf("the signed submission: %d %s", resp.StatusCode, b)
	}
}

func envelopeHeader(t *testing.T, env any) string {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// digestOf returns a package's identity: the SHA-256 of its bytes.
func digestOf(t *testing.T, _ *env, p []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(p))
}

// approve moves a submission through the worker and the reviewers' approvals
// to certified.
func (e *env) approve(id string) {
	e.t.Helper()
	if err := e.pipe.RunPending(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	for _, who := range []string{"reviewer", "steward"} {
		resp, b := e.do("POST", "/api/v1/reviews/"+id+"/approve", e.tokens[who], strings.NewReader(`{}`))
		if resp.StatusCode != 200 {
			e.t.Fatalf("approve as %s: %d %s", who, resp.StatusCode, b)
		}
		var sub api.Submission
		_, b = e.do("GET", "/api/v1/submissions/"+id, e.tokens["reviewer"], nil)
		json.Unmarshal(b, &sub)
		if sub.State == "certified" {
			return
		}
	}
	e.t.Fatalf("%s is not certified after two approvals", id)
}

// TestCertifiedPackageVerifiesOnHost takes a package from signed submission
// to approval, then does what a host does over HTTP without a token: fetch
// the catalog, the package, its bundle, the trust root and the revocation
// list, and verify offline. After a steward revokes it, the host refuses it.
func TestCertifiedPackageVerifiesOnHost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pub := e.tokens["publisher"]
	e.register(pub, "acme")
	p := pkg(t, "acme/hello", "1.0.0", "one")
	resp, b := e.submit(pub, p)
	if resp.StatusCode != 202 {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	var sub api.Submission
	json.Unmarshal(b, &sub)
	// A second plugin stays in review: anonymous callers never see it.
	resp, b = e.submit(pub, pkg(t, "acme/draft", "1.0.0", "draft"))
	var draft api.Submission
	json.Unmarshal(b, &draft)

	anon, err := client.New(e.http.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Bundle(ctx, "acme/hello", "1.0.0"); !isStatus(err, 404) {
		t.Errorf("bundle of an uncertified version: %v, want 404", err)
	}
	if resp, _ := e.do("GET", "/api/v1/packages/"+sub.Digest, "", nil); resp.StatusCode != 404 {
		t.Errorf("anonymous download of an uncertified package: %d, want 404", resp.StatusCode)
	}

	badgeSays := func(want string) {
		t.Helper()
		resp, b := e.do("GET", "/badge/acme/hello.svg", "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(b), ">"+want+"<") {
			t.Errorf("badge: %d %s; want it to say %q", resp.StatusCode, b, want)
		}
	}
	badgeSays("not certified")

	e.approve(sub.ID)
	badgeSays("certified")

	// The catalog is public and shows certified plugins only.
	list, err := anon.Plugins(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Plugins) != 1 || list.Plugins[0].ID != "acme/hello" || list.Plugins[0].LatestVersion != "1.0.0" {
		t.Errorf("anonymous catalog = %+v, want acme/hello alone", list.Plugins)
	}
	if _, err := anon.Plugin(ctx, "acme/draft"); !isStatus(err, 404) {
		t.Errorf("anonymous read of a plugin in review: %v, want 404", err)
	}
	if signedIn, _ := client.New(e.http.URL, e.tokens["reviewer"]); signedIn != nil {
		if l, err := signedIn.Plugins(ctx, "", 0, 0); err != nil || len(l.Plugins) != 2 {
			t.Errorf("a reviewer's catalog = %+v, %v; want both plugins", l.Plugins, err)
		}
	}
	var pkgBytes bytes.Buffer
	if err := anon.Download(ctx, sub.Digest, &pkgBytes); err != nil || !bytes.Equal(pkgBytes.Bytes(), p) {
		t.Fatalf("anonymous download of a certified package: %v", err)
	}

	host := t.TempDir()
	verifyOnHost := func() (*verify.Result, error) {
		rawRoot, err := anon.TrustRoot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		root, err := verify.ParseTrustRoot(rawRoot)
		if err != nil {
			t.Fatal(err)
		}
		rawBundle, err := anon.Bundle(ctx, "acme/hello", "1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		bundle, err := verify.ParseBundle(rawBundle)
		if err != nil {
			t.Fatal(err)
		}
		rawRevs, err := anon.Revocations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		revs, err := trust.ParseEnvelope(rawRevs)
		if err != nil {
			t.Fatal(err)
		}
		return verify.Verify(ctx, pkgBytes.Bytes(), bundle, verify.Options{
			MarketplaceKeys: root.MarketplaceKeys, LogVerifier: root.LogVerifier, StateDir: host,
			Prover: tlog.TileProver{Fetch: anon.LogFetch}, Revocations: revs, RevocationMaxAge: root.RevocationMaxAge,
			Policy: verify.Policy{Allow: []string{"kv:read"}},
		})
	}
	res, err := verifyOnHost()
	if err != nil {
		t.Fatalf("the certified package does not verify on the host: %v", err)
	}
	if res.Certificate == nil || len(res.Certificate.Reviewers) == 0 || !contains(res.Certificate.Checks, "reviewed") {
		t.Errorf("certificate = %+v; want the reviewers and the reviewed badge", res.Certificate)
	}

	// Only stewards revoke, with a reason.
	if resp, _ := e.do("POST", "/api/v1/submissions/"+sub.ID+"/revoke", e.tokens["reviewer"], strings.NewReader(`{"reason":"x"}`)); resp.StatusCode != 403 {
		t.Errorf("a reviewer revoked: %d", resp.StatusCode)
	}
	if resp, b := e.do("POST", "/api/v1/submissions/"+sub.ID+"/revoke", e.tokens["steward"], strings.NewReader(`{}`)); resp.StatusCode != 422 {
		t.Errorf("a revocation without a reason: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("POST", "/api/v1/submissions/"+sub.ID+"/revoke", e.tokens["steward"], strings.NewReader(`{"reason":"sends tokens to a third party"}`)); resp.StatusCode != 200 || !strings.Contains(string(b), `"revoked"`) {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	badgeSays("revoked")
	_, err = verifyOnHost()
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Check != verify.CheckRevoked {
		t.Fatalf("a revoked package on the host: %v, want a %s failure", err, verify.CheckRevoked)
	}

	// The log is public; its private state is not.
	if resp, b := e.do("GET", "/log/checkpoint", "", nil); resp.StatusCode != 200 || !strings.HasPrefix(string(b), "test.example/log\n") {
		t.Errorf("checkpoint: %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/log/state/hashes", "/log/tile/../state/hashes", "/log/tile/%2e%2e/state/lock"} {
		if resp, b := e.do("GET", path, "", nil); resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("%s: %d %s; the log's state must not be served", path, resp.StatusCode, b)
		}
	}
	// Every change is in the audit trail, and it verifies.
	_, b = e.do("GET", "/api/v1/audit/verify", e.tokens["auditor"], nil)
	var av api.AuditVerification
	json.Unmarshal(b, &av)
	if !av.OK {
		t.Errorf("audit verify: %s", b)
	}
}

func isStatus(err error, status int) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == status
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestNamespaceKeys(t *testing.T) {
	e := newEnv(t)
	pub := e.tokens["publisher"]
	e.register(pub, "acme")
	pem, _ := e.key.PublicKey().MarshalPEM()
	// Another publisher may not add keys to a namespace it does not own.
	if resp, b := e.do("POST", "/api/v1/namespaces/acme/keys", e.tokens["publisher-other"], bytes.NewReader(pem)); resp.StatusCode != 403 {
		t.Errorf("a key added to another's namespace: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("POST", "/api/v1/namespaces/acme/keys", pub, bytes.NewReader(pem)); resp.StatusCode != 409 {
		t.Errorf("the same key twice: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("POST", "/api/v1/namespaces/acme/keys", pub, strings.NewReader("not a key")); resp.StatusCode != 422 {
		t.Errorf("garbage as a key: %d %s", resp.StatusCode, b)
	}
	resp, b := e.do("GET", "/api/v1/namespaces/acme/keys", "", nil)
	var ks api.NamespaceKeys
	json.Unmarshal(b, &ks)
	if resp.StatusCode != 200 || !ks.SignaturesRequired || len(ks.Keys) != 1 || ks.Keys[0].ID != e.key.KeyID() || ks.Keys[0].AddedBy != "user-publisher" {
		t.Fatalf("keys: %d %s", resp.StatusCode, b)
	}
	// Retired, the key signs no new submission.
	if resp, b := e.do("DELETE", "/api/v1/namespaces/acme/keys/"+e.key.KeyID(), pub, nil); resp.StatusCode != 204 {
		t.Fatalf("remove: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.submit(pub, pkg(t, "acme/hello", "1.0.0", "one")); resp.StatusCode != 422 || !strings.Contains(string(b), "no registered publisher key") {
		t.Errorf("a submission signed by a removed key: %d %s", resp.StatusCode, b)
	}
	// Only an admin turns the requirement off, with a reason.
	if resp, _ := e.do("POST", "/api/v1/namespaces/acme/signature-requirement", pub, strings.NewReader(`{"required":false,"reason":"x"}`)); resp.StatusCode != 403 {
		t.Errorf("a publisher switched the requirement: %d", resp.StatusCode)
	}
	if resp, b := e.do("POST", "/api/v1/namespaces/acme/signature-requirement", e.tokens["admin"], strings.NewReader(`{"required":false,"reason":"internal test namespace"}`)); resp.StatusCode != 200 {
		t.Fatalf("switch off: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("POST", "/api/v1/submissions", pub, bytes.NewReader(pkg(t, "acme/hello", "1.0.0", "one"))); resp.StatusCode != 202 {
		t.Errorf("an unsigned submission where signatures are off: %d %s", resp.StatusCode, b)
	}
	// The key changes are in the transparency log.
	if _, err := e.trust.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	kinds := map[trust.EventKind]int{}
	cl, _ := client.New(e.http.URL, "")
	raw, _ := cl.LogFetch(context.Background(), "checkpoint")
	root, _ := cl.TrustRoot(context.Background())
	tr, err := verify.ParseTrustRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.VerifyCheckpoint(raw, tr.LogVerifier)
	if err != nil {
		t.Fatal(err)
	}
	es, err := tlog.TileProver{Fetch: cl.LogFetch}.Entries(context.Background(), 0, cp)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if ev, err := trust.ParseEvent(en); err == nil {
			kinds[ev.Kind]++
		}
	}
	if kinds[trust.EventPublisherKeyAdded] != 1 || kinds[trust.EventPublisherKeyRemove] != 1 || kinds[trust.EventNamespaceOwner] != 1 {
		t.Errorf("log entries by kind = %v; want the namespace claimed, one key added and one removed", kinds)
	}
}
