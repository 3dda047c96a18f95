package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
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
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/server"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// env is a server on a fresh SQLite store with one token per role, the
// trust layer (keys, log, certifier) and a publisher key.
type env struct {
	t      *testing.T
	srv    *server.Server
	http   *httptest.Server
	st     store.Store
	in     *intake.Service
	pipe   *pipeline.Pipeline
	trust  *certify.Service
	logDir string
	tokens map[string]string // role (or "publisher-other") → secret
	// key is the publishers' signing key; register puts it on a namespace.
	key *trust.FileSigner
}

func newEnv(t *testing.T, opts ...func(*server.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
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
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Triager = rv
	pipe := pipeline.New(pipeline.Config{Store: st, Vetting: in, Certifying: rv})
	svc, logDir := newTrust(t, st, in)
	rv.Certifier = svc
	cfg := server.Config{App: app.New(app.Config{Store: st, Blobs: blobs, Intake: in, Review: rv, Trust: svc}), TransparencyLog: tlog.DirStorage(logDir)}
	for _, o := range opts {
		o(&cfg)
	}
	srv := server.New(cfg)
	key, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, http: httptest.NewServer(srv), st: st, in: in, pipe: pipe, trust: svc, logDir: logDir, tokens: map[string]string{}, key: key}
	t.Cleanup(e.http.Close)
	mk := func(key, subject string, role domain.Role, ns string) {
		tok, secret, err := server.NewToken(time.Now(), api.TokenRequest{Subject: subject, Role: string(role), Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tok, server.TokenEvent(tok, "test", time.Now())); err != nil {
			t.Fatal(err)
		}
		e.tokens[key] = secret
	}
	for _, r := range domain.Roles {
		mk(string(r), "user-"+string(r), r, "")
	}
	mk("publisher-other", "mallory", domain.RolePublisher, "other")
	return e
}

// newTrust makes the marketplace and log keys, the log and the certifier.
func newTrust(t *testing.T, st store.Store, packages certify.PackageLoader) (*certify.Service, string) {
	t.Helper()
	tr := certifytest.WithPackages(t, st, nil, packages)
	return tr.Service, tr.LogDir
}

// register puts the env's publisher key on namespace ns through the API,
// as the holder of token (creating the namespace, owned by them).
func (e *env) register(token, ns string) {
	e.t.Helper()
	pem, _ := e.key.PublicKey().MarshalPEM()
	if resp, b := e.do("POST", "/api/v1/namespaces/"+ns+"/keys", token, bytes.NewReader(pem)); resp.StatusCode != 201 {
		e.t.Fatalf("registering a key on %s: %d %s", ns, resp.StatusCode, b)
	}
}

// submit submits package p signed with the env's key.
func (e *env) submit(token string, p []byte) (*http.Response, []byte) {
	e.t.Helper()
	env, err := intake.Sign(context.Background(), e.key, p)
	if err != nil {
		e.t.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	return e.doHeader("POST", "/api/v1/submissions", token, bytes.NewReader(p), api.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
}

func (e *env) do(method, path, token string, body io.Reader) (*http.Response, []byte) {
	e.t.Helper()
	return e.doHeader(method, path, token, body, "", "")
}

func (e *env) doHeader(method, path, token string, body io.Reader, header, value string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// pkg builds a package for id@version whose module bytes vary with salt.
func pkg(t *testing.T, id, version, salt string) []byte {
	t.Helper()
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Test","description":"A test plugin.","owners":[{"name":"Test","email":"t@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`, id, version)
	// The smallest valid WebAssembly module, with a custom section so
	// that salt changes the bytes.
	wasm := append([]byte("\x00asm\x01\x00\x00\x00\x00"), byte(len(salt)+1), byte(len(salt)))
	wasm = append(wasm, salt...)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: wasm}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func orNone(s string) string {
	if s == "" {
		return "no token"
	}
	return s
}

func TestBadTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, tok := range map[string]string{"garbage": "not-a-token", "unknown": "ghtk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		resp, b := e.do("GET", "/api/v1/whoami", tok, nil)
		if resp.StatusCode != 401 {
			t.Errorf("%s token: got %d: %s", name, resp.StatusCode, b)
		}
	}
	// Expired and revoked tokens are refused with their reason.
	tok, secret, _ := server.NewToken(time.Now().Add(-100*24*time.Hour), api.TokenRequest{Subject: "old", Role: "reviewer", TTL: "1h"})
	if err := e.st.CreateToken(ctx, tok, server.TokenEvent(tok, "test", time.Now())); err != nil {
		t.Fatal(err)
	}
	resp, b := e.do("GET", "/api/v1/whoami", secret, nil)
	if resp.StatusCode != 401 || !strings.Contains(string(b), "expired") {
		t.Errorf("expired token: got %d %s", resp.StatusCode, b)
	}
	resp, b = e.do("POST", "/api/v1/tokens", e.tokens["admin"], strings.NewReader(`{"subject":"bob","role":"reviewer"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create token: %d %s", resp.StatusCode, b)
	}
	var created api.Token
	json.Unmarshal(b, &created)
	if resp, _ := e.do("GET", "/api/v1/whoami", created.Secret, nil); resp.StatusCode != 200 {
		t.Fatalf("new token refused: %d", resp.StatusCode)
	}
	if resp, b := e.do("DELETE", "/api/v1/tokens/"+created.ID, e.tokens["admin"], nil); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	resp, b = e.do("GET", "/api/v1/whoami", created.Secret, nil)
	if resp.StatusCode != 401 || !strings.Contains(string(b), "revoked") {
		t.Errorf("revoked token: got %d %s", resp.StatusCode, b)
	}
	// The list never shows a secret or its hash.
	_, b = e.do("GET", "/api/v1/tokens", e.tokens["admin"], nil)
	if strings.Contains(string(b), created.Secret) || strings.Contains(string(b), "ghtk_") {
		t.Error("token list leaks a secret")
	}
}

func TestSubmissionLifecycle(t *testing.T) {
	e := newEnv(t)
	pub := e.tokens["publisher"]
	p1 := pkg(t, "acme/hello", "1.0.0", "one")
	e.register(pub, "acme")

	resp, b := e.submit(pub, p1)
	if resp.StatusCode != 202 {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	var sub api.Submission
	json.Unmarshal(b, &sub)
	if sub.ID == "" || sub.State != "received" || resp.Header.Get("Location") != sub.StatusURL {
		t.Fatalf("unexpected answer %+v", sub)
	}

	// The same bytes again: the existing submission, not a new one.
	resp, b = e.submit(pub, p1)
	var again api.Submission
	json.Unmarshal(b, &again)
	if resp.StatusCode != 200 || again.ID != sub.ID {
		t.Fatalf("resubmit of the same bytes: %d %s", resp.StatusCode, b)
	}
	// Other bytes under the same version: refused.
	resp, b = e.submit(pub, pkg(t, "acme/hello", "1.0.0", "two"))
	if resp.StatusCode != 409 || !strings.Contains(string(b), "immutable") {
		t.Fatalf("other bytes, same version: %d %s", resp.StatusCode, b)
	}
	// Another publisher's namespace: refused, and a scoped token stays in
	// its scope.
	resp, b = e.submit(e.tokens["publisher-other"], pkg(t, "acme/hello", "1.0.1", "x"))
	if resp.StatusCode != 403 {
		t.Fatalf("publishing into another namespace: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("GET", "/api/v1/submissions/"+sub.ID, e.tokens["publisher-other"], nil); resp.StatusCode != 404 {
		t.Fatalf("reading another namespace's submission: %d %s", resp.StatusCode, b)
	}

	// The worker moves it on; with no analyzers or policy yet, to review.
	if err := e.pipe.RunPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, b = e.do("GET", sub.StatusURL, pub, nil)
	json.Unmarshal(b, &sub)
	if resp.StatusCode != 200 || sub.State != "in_review" {
		t.Fatalf("after processing: %d %s", resp.StatusCode, b)
	}
	var moves []string
	for _, h := range sub.History {
		moves = append(moves, h.Action+":"+h.OldState+">"+h.NewState)
	}
	if got, want := strings.Join(moves, " "), "submission.signature:> submission.create:>received submission.transition:received>vetting submission.vet:> submission.transition:vetting>triage triage.verdict:> review.open:> submission.transition:triage>in_review"; got != want {
		t.Errorf("history %q, want %q", got, want)
	}

	// The catalog shows it; its manifest and package can be fetched, and
	// the package bytes are exactly what was submitted.
	_, b = e.do("GET", "/api/v1/plugins?q=hello", e.tokens["reviewer"], nil)
	if !strings.Contains(string(b), `"acme/hello"`) {
		t.Errorf("catalog search: %s", b)
	}
	resp, b = e.do("GET", "/api/v1/plugins/acme/hello/versions/1.0.0/manifest", e.tokens["reviewer"], nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"acme/hello"`) {
		t.Errorf("manifest: %d %s", resp.StatusCode, b)
	}
	resp, b = e.do("GET", "/api/v1/packages/"+sub.Digest, e.tokens["reviewer"], nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, p1) {
		t.Errorf("download: %d, %d bytes", resp.StatusCode, len(b))
	}

	// The queue lists it for reviewers.
	_, b = e.do("GET", "/api/v1/submissions?state=in_review", e.tokens["reviewer"], nil)
	if !strings.Contains(string(b), sub.ID) {
		t.Errorf("queue: %s", b)
	}

	// The audit trail verifies.
	_, b = e.do("GET", "/api/v1/audit/verify", e.tokens["auditor"], nil)
	var v api.AuditVerification
	json.Unmarshal(b, &v)
	if !v.OK || v.Count < 5 {
		t.Errorf("audit verify: %s", b)
	}
}

func TestHostilePackagesRefused(t *testing.T) {
	e := newEnv(t)
	cases := map[string][]byte{
		"not gzip":  []byte("hello, this is not a package"),
		"truncated": pkg(t, "acme/t", "1.0.0", "x")[:60],
		"empty":     {},
	}
	for name, body := range cases {
		resp, b := e.do("POST", "/api/v1/submissions", e.tokens["publisher"], bytes.NewReader(body))
		if resp.StatusCode != 422 {
			t.Errorf("%s: got %d %s", name, resp.StatusCode, b)
		}
		var ae api.Error
		if json.Unmarshal(b, &ae) != nil || ae.Error.Message == "" {
			t.Errorf("%s: no error message: %s", name, b)
		}
	}
	// An invalid manifest is refused with its JSON pointer.
	bad := string(pkgManifest(t, `{"manifestVersion":1,"id":"acme/x","version":"one","name":"X","owners":[{"name":"A"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["fs:write:/x"]}`))
	resp, b := e.do("POST", "/api/v1/submissions", e.tokens["publisher"], strings.NewReader(bad))
	if resp.StatusCode != 422 || !strings.Contains(string(b), "/version") || !strings.Contains(string(b), "/permissions/0") {
		t.Errorf("invalid manifest: %d %s", resp.StatusCode, b)
	}
	// The server still serves.
	if resp, _ := e.do("GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz after hostile input: %d", resp.StatusCode)
	}
}

func pkgManifest(t *testing.T, m string) []byte {
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t)
	resp, b := e.do("GET", "/api/v1/openapi.json", "", nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, rt := range e.srv.Routes() {
		path, _, err := server.OpenAPIPath(rt.Path)
		if err != nil {
			t.Errorf("%s %s: %v", rt.Method, rt.Path, err)
			continue
		}
		if _, ok := doc.Paths[path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s missing from the OpenAPI document", rt.Method, rt.Path)
		}
	}
	resp, b = e.do("GET", "/api/v1/schema/manifest.v1.json", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "2020-12") {
		t.Errorf("manifest schema: %d", resp.StatusCode)
	}
}

func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	big := `{"subject":"` + strings.Repeat("a", server.MaxJSONBody) + `","role":"reviewer"}`
	resp, b := e.do("POST", "/api/v1/tokens", e.tokens["admin"], strings.NewReader(big))
	if resp.StatusCode != 413 {
		t.Errorf("oversized JSON body: %d %s", resp.StatusCode, b)
	}
}
