package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/server"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// env is a whole marketplace (the same assembly `gatehouse serve` runs)
// on a fresh data folder, with one token per role.
type env struct {
	t      testing.TB
	m      *marketplace.Marketplace
	url    string            // where the marketplace serves
	served bool              // the marketplace runs its own worker
	tokens map[string]string // role, or "publisher-other" → secret
	key    *trust.FileSigner // acme's publisher key
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := openEnv(t)
	srv := httptest.NewServer(e.m.Server)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// newServedEnv runs the marketplace as `gatehouse serve` does (its own
// HTTP server on loopback, with the background worker) until the test ends.
func newServedEnv(t testing.TB) *env {
	t.Helper()
	e := openEnv(t)
	ln, err := marketplace.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serving: %v", err)
		}
	})
	e.url = "http://" + ln.Addr().String()
	e.served = true
	// Serve sweeps unrecorded blobs before it answers: submitting before
	// the first answer could race that sweep, which no HTTP client can.
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(e.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the marketplace did not start serving: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	m, err := marketplace.Open(ctx, marketplace.Config{Data: t.TempDir(), Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	e := &env{t: t, m: m, tokens: map[string]string{}}
	mk := func(key, subject string, role domain.Role, ns string) {
		tok, secret, err := server.NewToken(time.Now(), api.TokenRequest{Subject: subject, Role: string(role), Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Store.CreateToken(ctx, tok, server.TokenEvent(tok, "test", time.Now())); err != nil {
			t.Fatal(err)
		}
		e.tokens[key] = secret
	}
	for _, r := range domain.Roles {
		mk(string(r), "user-"+string(r), r, "")
	}
	mk("publisher-other", "mallory", domain.RolePublisher, "other")
	// user-publisher owns namespace acme, with a registered key.
	if err := m.Store.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"user-publisher"}, CreatedAt: time.Now()},
		audit.Event{Time: time.Now(), Actor: "user-publisher", Action: audit.NamespaceClaim, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	if e.key, err = trust.GenerateKey(trust.Ed25519); err != nil {
		t.Fatal(err)
	}
	pem, _ := e.key.PublicKey().MarshalPEM()
	entry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: time.Now(), Subject: "acme", Detail: e.key.KeyID()})
	if err := m.Store.AddPublisherKey(ctx, domain.PublisherKey{ID: e.key.KeyID(), Namespace: "acme", Algorithm: string(e.key.Algorithm()), PEM: pem, AddedBy: "user-publisher", AddedAt: time.Now()}, entry,
		audit.Event{Time: time.Now(), Actor: "user-publisher", Action: audit.PublisherKeyAdded, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// pkg builds a package of acme/NAME@version asking for perms; salt varies
// the module bytes. With secret set, the README holds an AWS key, which the
// secrets analyzer finds.
func pkg(t testing.TB, name, version, salt string, secret bool, perms ...string) []byte {
	t.Helper()
	q := make([]string, len(perms))
	for i, p := range perms {
		q[i] = fmt.Sprintf("%q", p)
	}
	m := fmt.Sprintf(`{"manifestVersion":1,"id":"acme/%s","version":%q,"name":"%s plugin","description":"Turns %s into something useful.","owners":[{"name":"Acme","email":"dev@acme.example"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":[%s]}`,
		name, version, strings.ToUpper(name[:1])+name[1:], name, strings.Join(q, ","))
	wasm := append([]byte(nil), handleModule...)
	wasm = append(wasm, 0, byte(len(salt)+1), byte(len(salt)))
	wasm = append(wasm, salt...)
	files := []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: wasm}}
	readme := "# " + name + "\n\nUsage notes for version " + version + ".\n"
	if secret {
		readme += "\nexport AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\nexport AWS_SECRET_ACCESS_KEY=9drTJvcXLB89EXAMPLELB8923FB892xMFI5fs32q\n"
	}
	files = append(files, pkgfile.File{Path: "README.md", Data: []byte(readme)})
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// submit signs and submits p as user-publisher and runs the pipeline
// until the version leaves the automatic states.
func (e *env) submit(p []byte) domain.Version {
	e.t.Helper()
	ctx := context.Background()
	env, err := intake.Sign(ctx, e.key, p)
	if err != nil {
		e.t.Fatal(err)
	}
	sig, err := trust.MarshalEnvelope(env)
	if err != nil {
		e.t.Fatal(err)
	}
	v, _, err := e.m.Intake.SubmitSigned(ctx, domain.Principal{Subject: "user-publisher", Role: domain.RolePublisher}, bytes.NewReader(p), sig)
	if err != nil {
		e.t.Fatal(err)
	}
	// A served marketplace's own worker vets it; otherwise the test runs
	// the pipeline itself. Either way, wait generously.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if e.served {
			e.m.Pipeline.Wake() // as the API does after a submission
		} else if err := e.m.Pipeline.RunPending(ctx); err != nil {
			e.t.Fatal(err)
		}
		if v, err = e.m.Store.GetVersion(ctx, v.ID); err != nil {
			e.t.Fatal(err)
		}
		switch v.State {
		case lifecycle.Received, lifecycle.Vetting, lifecycle.Triage:
		default:
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s is still %s after two minutes", v.ID, v.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// handleModule is the smallest module exporting handle() i32, so the
// capabilities analyzer finds the export the manifest lists.
var handleModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
	0x03, 0x02, 0x01, 0x00, // function 0 has type 0
	0x07, 0x0a, 0x01, 0x06, 'h', 'a', 'n', 'd', 'l', 'e', 0x00, 0x00, // export "handle"
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b, // body: i32.const 0
}

// testLog sends the marketplace's warnings and errors to the test's log,
// so a failure shows what the server saw.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser is a cookie-keeping HTTP client, like a person's browser.
type browser struct {
	e  *env
	c  *http.Client
	t  testing.TB
	ck *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, t: e.t, ck: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) get(path string) page {
	b.t.Helper()
	resp, err := b.c.Get(b.e.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(body), resp.Header}
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	resp, err := b.c.PostForm(b.e.url+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(body), resp.Header}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form on the page.
func (p page) csrf() string {
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// signIn signs in with the token of role ("" stays anonymous).
func (b *browser) signIn(role string) {
	b.t.Helper()
	if role == "" {
		return
	}
	form := b.get("/signin")
	p := b.post("/signin", url.Values{"csrf": {form.csrf()}, "token": {b.e.tokens[role]}, "next": {"/"}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("signing in as %s: %d %s", role, p.status, p.body)
	}
}
