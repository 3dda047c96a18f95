package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/web"
)

func (e *env) pages() []web.Page {
	e.t.Helper()
	h, err := web.New(web.Config{App: app.New(app.Config{Store: e.m.Store, Intake: e.m.Intake, Review: e.m.Review}), SessionKey: make([]byte, web.KeySize)})
	if err != nil {
		e.t.Fatal(err)
	}
	return h.Pages()
}

func allowed(a web.Access, r domain.Role) bool {
	return a.Public || r == domain.RoleAdmin || (len(a.Roles) == 0 && r != domain.RoleHost) || slices.Contains(a.Roles, r)
}

// TestPageAccessMatrix opens every page as every role and as an anonymous
// visitor: anonymous visitors are sent to sign in (GET) or refused (POST)
// on private pages, a role the page does not name gets 403, and a role it
// names is let through.
func TestPageAccessMatrix(t *testing.T) {
	e := newEnv(t)
	v := e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read"))
	fill := strings.NewReplacer("{id}", v.ID, "{namespace}", "acme", "{name}", "hello", "{action}", "comment", "/{$}", "/")
	roles := append([]string{""}, func() []string {
		var rs []string
		for _, r := range domain.Roles {
			rs = append(rs, string(r))
		}
		return rs
	}()...)
	for _, pg := range e.pages() {
		for _, role := range roles {
			name := role
			if name == "" {
				name = "anonymous"
			}
			t.Run(pg.Method+" "+pg.Path+" as "+name, func(t *testing.T) {
				b := e.browser()
				b.signIn(role)
				path := fill.Replace(pg.Path)
				var p page
				if pg.Method == "GET" {
					p = b.get(path)
				} else {
					tok := b.get("/signin").csrf()
					p = b.post(path, url.Values{"csrf": {tok}, "message": {"looks fine"}, "module": {""}, "token": {e.tokens[role]}})
				}
				switch {
				case pg.Path == "/signin" && pg.Method == "POST":
					// Signing in is open to all; without a token it fails.
					if want := map[bool]int{true: 401, false: 303}[role == ""]; p.status != want {
						t.Fatalf("sign-in: %d, want %d", p.status, want)
					}
				case pg.Access.Public:
					if p.status == 401 || p.status == 403 {
						t.Fatalf("public page answered %d", p.status)
					}
				case role == "" && pg.Method == "GET":
					if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin?next=") {
						t.Fatalf("anonymous GET: %d to %q, want a redirect to sign in", p.status, p.header.Get("Location"))
					}
				case role == "":
					if p.status != http.StatusUnauthorized {
						t.Fatalf("anonymous POST: %d, want 401", p.status)
					}
				case allowed(pg.Access, domain.Role(role)) && strings.Contains(pg.Path, "/submissions/{id}") && !owns(domain.Role(role)):
					// The role may open submission pages, but only of its
					// own namespaces, as in the API: others are not found.
					if p.status != http.StatusNotFound || !strings.Contains(p.body, "There is no submission") {
						t.Fatalf("role %s on another namespace's submission: %d", role, p.status)
					}
				case allowed(pg.Access, domain.Role(role)):
					if p.status == 401 || p.status == 403 {
						t.Fatalf("role %s is allowed but got %d: %s", role, p.status, errorText(p.body))
					}
				default:
					if p.status != http.StatusForbidden {
						t.Fatalf("role %s is not allowed: got %d, want 403", role, p.status)
					}
				}
			})
		}
	}
}

// owns reports whether the env's token of role may read acme's
// submissions: overseers, admins, and user-publisher who owns acme.
func owns(r domain.Role) bool {
	switch r {
	case domain.RoleAdmin, domain.RolePublisher, domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor:
		return true
	}
	return false
}

var problemRe = regexp.MustCompile(`(?s)class="problem"[^>]*>(.*?)</p>`)

func errorText(body string) string {
	if m := problemRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	if len(body) > 300 {
		return body[:300]
	}
	return body
}

// TestAccessMatchesAPI holds each page to the access of the API route that
// does the same thing: a page must not show what the API would refuse, nor
// refuse what the API shows.
func TestAccessMatchesAPI(t *testing.T) {
	e := newEnv(t)
	routes := map[string]struct {
		public bool
		roles  []domain.Role
	}{}
	for _, rt := range e.m.Server.Routes() {
		routes[rt.Method+" "+rt.Path] = struct {
			public bool
			roles  []domain.Role
		}{rt.Access.Public, rt.Access.Roles}
	}
	checked := 0
	for _, pg := range e.pages() {
		if pg.API == "" {
			continue
		}
		rt, ok := routes[pg.API]
		if !ok {
			t.Errorf("%s %s names API route %q, which does not exist", pg.Method, pg.Path, pg.API)
			continue
		}
		checked++
		got, want := slices.Sorted(slices.Values(pg.Access.Roles)), slices.Sorted(slices.Values(rt.roles))
		// The catalog and plugin pages are public while the API may still
		// ask for a token; anonymous visitors see certified versions only,
		// which is what the contract makes the API show them too.
		if pg.Access.Public && !rt.public && len(rt.roles) == 0 {
			continue
		}
		if pg.Access.Public != rt.public || !slices.Equal(got, want) {
			t.Errorf("%s %s: access %+v, but API %s has public=%v roles=%v", pg.Method, pg.Path, pg.Access, pg.API, rt.public, rt.roles)
		}
	}
	if checked < 10 {
		t.Errorf("only %d pages are tied to API routes", checked)
	}
}

func TestAnonymousSeeOnlyCertifiedVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	certified := e.submit(pkg(t, "stable", "1.0.0", "s", false, "kv:read"))
	if _, err := e.m.Review.Approve(ctx, domain.Principal{Subject: "user-reviewer", Role: domain.RoleReviewer}, certified.ID, nil, "fine"); err != nil {
		t.Fatal(err)
	}
	pending := e.submit(pkg(t, "pending", "1.0.0", "p", false, "kv:read"))
	if pending.State != lifecycle.InReview {
		t.Fatalf("pending is %s", pending.State)
	}
	anon := e.browser()
	cat := anon.get("/")
	if !strings.Contains(cat.body, "acme/stable") || strings.Contains(cat.body, "acme/pending") {
		t.Errorf("anonymous catalog: stable shown %v, pending shown %v", strings.Contains(cat.body, "acme/stable"), strings.Contains(cat.body, "acme/pending"))
	}
	if p := anon.get("/plugins/acme/pending"); p.status != http.StatusNotFound {
		t.Errorf("anonymous plugin page of an uncertified plugin: %d", p.status)
	}
	pp := anon.get("/plugins/acme/stable")
	for _, want := range []string{"certified", "read values it stored earlier", "install acme/stable@1.0.0 --dir plugins", "Valid until", "First version shown."} {
		if !strings.Contains(strings.ToLower(pp.body), strings.ToLower(want)) {
			t.Errorf("plugin page lacks %q", want)
		}
	}
	signed := e.browser()
	signed.signIn("reviewer")
	if cat := signed.get("/?state=in_review"); !strings.Contains(cat.body, "acme/pending") || strings.Contains(cat.body, "acme/stable") {
		t.Errorf("signed-in catalog filtered to in review is wrong")
	}
	if p := anon.get("/?state=in_review"); p.status != http.StatusBadRequest {
		t.Errorf("anonymous filter on a hidden state: %d", p.status)
	}
	// Filters by permission kind and tier.
	if cat := signed.get("/?perm=net"); strings.Contains(cat.body, "acme/") {
		t.Error("the net filter shows plugins without network access")
	}
	vd, err := e.m.Store.LatestVerdict(ctx, certified.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cat := signed.get("/?perm=kv&tier=" + vd.Tier); !strings.Contains(cat.body, "acme/stable") {
		t.Errorf("kv + tier %s does not show acme/stable", vd.Tier)
	}
	if cat := signed.get("/?tier=critical"); strings.Contains(cat.body, "acme/") {
		t.Errorf("tier critical shows a plugin")
	}
}

func TestReviewerApprovesThroughForms(t *testing.T) {
	e := newEnv(t)
	v1 := e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read"))
	b := e.browser()
	b.signIn("reviewer")
	q := b.get("/reviews")
	if !strings.Contains(q.body, "/reviews/"+v1.ID) {
		t.Fatal("the queue does not list the version in review")
	}
	rp := b.get("/reviews/" + v1.ID)
	if !strings.Contains(rp.body, "first approved version") || !strings.Contains(rp.body, `value="kv:read" checked`) {
		t.Fatalf("review page lacks the change summary or the grant form: %s", errorText(rp.body))
	}
	// Without the CSRF token the decision is refused.
	if p := b.post("/reviews/"+v1.ID+"/approve", url.Values{"message": {"ok"}}); p.status != http.StatusForbidden {
		t.Fatalf("approval without a CSRF token: %d", p.status)
	}
	if p := b.post("/reviews/"+v1.ID+"/approve", url.Values{"csrf": {"forged"}, "message": {"ok"}}); p.status != http.StatusForbidden {
		t.Fatalf("approval with a forged CSRF token: %d", p.status)
	}
	p := b.post("/reviews/"+v1.ID+"/approve", url.Values{"csrf": {rp.csrf()}, "message": {"ok"}, "granted-shown": {"1"}, "granted": {"kv:read"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/reviews?done=certified" {
		t.Fatalf("approval: %d to %q: %s", p.status, p.header.Get("Location"), errorText(p.body))
	}
	got, _ := e.m.Store.GetVersion(context.Background(), v1.ID)
	if got.State != lifecycle.Certified {
		t.Fatalf("after approval the version is %s", got.State)
	}
	if q := b.get("/reviews?done=certified"); !strings.Contains(q.body, "certified and in the catalog") {
		t.Error("no notice after approval")
	}

	// The next version: the review page shows what changed, permission by
	// permission, and the code diff.
	v2 := e.submit(pkg(t, "hello", "1.1.0", "b", false, "kv:read", "net:https://api.example.com"))
	rp = b.get("/reviews/" + v2.ID)
	for _, want := range []string{"New permission net:https://api.example.com", `<span class="chip warn">new</span>`, "README.md", `class="add">&#43;Usage notes for version 1.1.0.`} {
		if !strings.Contains(rp.body, want) {
			t.Errorf("review of 1.1.0 lacks %q", want)
		}
	}
	// Request changes: the author reads the message on the submission page.
	p = b.post("/reviews/"+v2.ID+"/request-changes", url.Values{"csrf": {rp.csrf()}, "message": {"drop the network permission"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("request changes: %d %s", p.status, errorText(p.body))
	}
	author := e.browser()
	author.signIn("publisher")
	sp := author.get("/submissions/" + v2.ID)
	if !strings.Contains(sp.body, "drop the network permission") || !strings.Contains(sp.body, "changes requested") {
		t.Error("the author does not see the request for changes")
	}
	// The plugin page's history says what 1.1.0 changed (signed in: the
	// version is not certified).
	hp := author.get("/plugins/acme/hello?version=1.1.0")
	if !strings.Contains(hp.body, "New permission net:https://api.example.com") {
		t.Error("the version history does not say what changed")
	}
}

func TestAuthorReadsFindingsAndAppeals(t *testing.T) {
	e := newEnv(t)
	v := e.submit(pkg(t, "leaky", "1.0.0", "x", true, "kv:read"))
	if v.State != lifecycle.Rejected {
		t.Fatalf("the leaky version is %s", v.State)
	}
	b := e.browser()
	b.signIn("publisher")
	sp := b.get("/submissions/" + v.ID)
	for _, want := range []string{"secrets/aws-access-token", "README.md:", "How to fix:", "Appeal the rejection", `class="current bad"`} {
		if !strings.Contains(sp.body, want) {
			t.Errorf("submission page lacks %q", want)
		}
	}
	if strings.Contains(sp.body, "9drTJvcXLB89EXAMPLELB8923FB892xMFI5fs32q") {
		t.Error("the submission page shows the secret's value")
	}
	// Another namespace's publisher may not look.
	other := e.browser()
	other.signIn("publisher-other")
	if p := other.get("/submissions/" + v.ID); p.status != http.StatusNotFound {
		t.Errorf("another namespace's publisher: %d", p.status)
	}
	p := b.post("/submissions/"+v.ID+"/appeal", url.Values{"csrf": {sp.csrf()}, "message": {"the key is a documented example"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("appeal: %d %s", p.status, errorText(p.body))
	}
	got, _ := e.m.Store.GetVersion(context.Background(), v.ID)
	if got.State != lifecycle.InReview {
		t.Errorf("after the appeal the version is %s", got.State)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	form := b.get("/signin")
	// The sign-in form itself is protected by a double-submit token.
	if p := b.post("/signin", url.Values{"token": {e.tokens["steward"]}}); p.status != http.StatusForbidden {
		t.Fatalf("sign-in without its CSRF token: %d", p.status)
	}
	if p := b.post("/signin", url.Values{"csrf": {form.csrf()}, "token": {"ghtk_nope"}}); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "not recognised") {
		t.Fatalf("unknown token: %d", p.status)
	}
	p := b.post("/signin", url.Values{"csrf": {form.csrf()}, "token": {e.tokens["steward"]}, "next": {"//evil.example/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d to %q (an off-site next must become /)", p.status, p.header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "gatehouse_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || sc.MaxAge <= 0 || sc.MaxAge > int(web.DefaultSessionTTL.Seconds()) {
		t.Fatalf("session cookie = %+v", sc)
	}
	if strings.Contains(sc.Value, e.tokens["steward"]) {
		t.Fatal("the cookie carries the token's secret")
	}
	if d := b.get("/dashboard"); d.status != http.StatusOK {
		t.Fatalf("dashboard after sign-in: %d", d.status)
	}
	// A tampered cookie is no session.
	forged := e.browser()
	u, _ := url.Parse(e.url)
	forged.ck.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: strings.Replace(sc.Value, "a", "b", 1)}})
	if d := forged.get("/dashboard"); d.status != http.StatusSeeOther {
		t.Errorf("a tampered cookie opened the dashboard: %d", d.status)
	}
	// Revoking the token ends the session at once.
	var tokID string
	ts, _ := e.m.Store.ListTokens(context.Background())
	for _, tk := range ts {
		if tk.Subject == "user-steward" {
			tokID = tk.ID
		}
	}
	d := b.get("/dashboard")
	if err := e.m.Store.RevokeToken(context.Background(), tokID, time.Now(), audit.Event{Time: time.Now(), Actor: "admin", Action: audit.TokenRevoke, Subject: "token:" + tokID}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/dashboard"); p.status != http.StatusSeeOther {
		t.Errorf("dashboard after the token was revoked: %d", p.status)
	}
	// Sign-out clears the cookie (CSRF-protected).
	b2 := e.browser()
	b2.signIn("auditor")
	tok := b2.get("/audit").csrf()
	if p := b2.post("/signout", nil); p.status != http.StatusForbidden {
		t.Errorf("sign-out without a token: %d", p.status)
	}
	if p := b2.post("/signout", url.Values{"csrf": {tok}}); p.status != http.StatusSeeOther {
		t.Errorf("sign-out: %d", p.status)
	}
	if p := b2.get("/audit"); p.status != http.StatusSeeOther {
		t.Errorf("audit after sign-out: %d", p.status)
	}
	_ = d
}

func TestSecureCookiesAndHeaders(t *testing.T) {
	e := newEnv(t)
	h, err := web.New(web.Config{App: app.New(app.Config{Store: e.m.Store, Intake: e.m.Intake, Review: e.m.Review}), SessionKey: make([]byte, web.KeySize), Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/signin", nil))
	hd := rec.Header()
	if got := hd.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") || strings.Contains(got, "unsafe") || strings.Contains(got, "script-src") {
		t.Errorf("CSP = %q", got)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Strict-Transport-Security": "max-age=31536000", "Referrer-Policy": "same-origin"} {
		if hd.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, hd.Get(k), want)
		}
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != "__Host-gatehouse_csrf" || !c[0].Secure || !c[0].HttpOnly || c[0].Path != "/" {
		t.Errorf("pre-session cookie over TLS = %+v", c)
	}
	// No page carries an inline script or style.
	b := e.browser()
	b.signIn("steward")
	for _, path := range []string{"/", "/dashboard", "/audit", "/policy", "/reviews", "/submissions"} {
		body := b.get(path).body
		if strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
			t.Errorf("%s has inline script or style", path)
		}
	}
}

func TestDashboardChartsHaveData(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v := e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read", "net:https://api.example.com"))
	e.submit(pkg(t, "leaky", "1.0.0", "x", true, "kv:read"))
	if _, err := e.m.Review.Approve(ctx, domain.Principal{Subject: "user-reviewer", Role: domain.RoleReviewer}, v.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	// A host reports errors running the certified version.
	err := e.m.Store.SaveHealthReports(ctx, []domain.HealthReport{{VersionID: v.ID, Host: "host-1", WindowStart: time.Now().Add(-time.Hour), WindowEnd: time.Now(),
		Calls: 400, Errors: map[string]int64{"timeout": 12}, ReceivedAt: time.Now()}}, []audit.Event{{Time: time.Now(), Actor: "host-1", Action: audit.HealthAlert, Subject: "submission:" + v.ID}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("auditor")
	d := b.get("/dashboard")
	if d.status != 200 {
		t.Fatalf("dashboard: %d %s", d.status, errorText(d.body))
	}
	if n := strings.Count(d.body, `<svg class="chart"`); n < 9 {
		t.Errorf("dashboard has %d charts", n)
	}
	for _, want := range []string{"secrets/aws-access-token", "net:https://api.example.com", ">acme<", `<span class="label">Submissions</span><span class="value">2</span>`, "Compliance rate", "acme/hello@1.0.0: 3.00% of 400 calls"} {
		if !strings.Contains(d.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if strings.Count(d.body, `<rect class="bar`) < 6 {
		t.Errorf("the charts have %d bars", strings.Count(d.body, `<rect class="bar`))
	}
}

func TestAuditPageAndExport(t *testing.T) {
	e := newEnv(t)
	v := e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read"))
	b := e.browser()
	b.signIn("auditor")
	p := b.get("/audit?subject=submission:" + v.ID)
	if !strings.Contains(p.body, "The hash chain verifies") || !strings.Contains(p.body, audit.SubmissionCreate) {
		t.Fatalf("audit page: %s", errorText(p.body))
	}
	if strings.Contains(p.body, audit.TokenCreate) {
		t.Error("the subject filter let other events through")
	}
	if p := b.get("/audit?since=yesterday"); p.status != http.StatusBadRequest {
		t.Errorf("a bad date: %d", p.status)
	}
	resp, err := b.c.Get(e.url + "/audit/export?action=submission.")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("export content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || !strings.HasPrefix(ev.Action, "submission.") || ev.Hash == "" {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		n++
	}
	if n < 4 {
		t.Errorf("export has %d submission events", n)
	}
}

func TestPolicyDryRun(t *testing.T) {
	e := newEnv(t)
	e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read"))
	b := e.browser()
	b.signIn("steward")
	pp := b.get("/policy")
	if !strings.Contains(pp.body, e.m.Review.Engine().Digest()) || !strings.Contains(pp.body, "Try a change") {
		t.Fatal("policy page lacks the active digest or the dry-run form")
	}
	bad := b.post("/policy/dry-run", url.Values{"csrf": {pp.csrf()}, "module": {"broken.rego"}, "source": {"package gatehouse\nthis is not rego"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "broken.rego") {
		t.Errorf("a broken module: %d %s", bad.status, errorText(bad.body))
	}
	ok := b.post("/policy/dry-run", url.Values{"csrf": {pp.csrf()}, "module": {"extra.rego"}, "source": {"package gatehouse.extra\n\nanswer := 42\n"}})
	if ok.status != http.StatusOK || !strings.Contains(ok.body, "no version in review would be decided differently") {
		t.Errorf("a harmless module: %d %s", ok.status, errorText(ok.body))
	}
	// Reviewers read the policy but cannot dry-run it.
	r := e.browser()
	r.signIn("reviewer")
	if p := r.get("/policy"); p.status != 200 || strings.Contains(p.body, "Try a change") {
		t.Errorf("reviewer policy page: %d", p.status)
	}
}

func TestMetricsAndRequestIDs(t *testing.T) {
	e := newEnv(t)
	v := e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read"))
	if _, err := e.m.Review.Approve(context.Background(), domain.Principal{Subject: "user-reviewer", Role: domain.RoleReviewer}, v.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.get("/plugins/acme/hello")
	b.get("/plugins/acme/other")
	req, _ := http.NewRequest("GET", e.url+"/healthz", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-42" {
		t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	get := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", e.url+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
		}
		return resp.StatusCode, sb.String()
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("metrics without a token: %d", code)
	}
	if code, _ := get(e.tokens["publisher"]); code != http.StatusForbidden {
		t.Errorf("metrics as a publisher: %d", code)
	}
	code, body := get(e.tokens["auditor"])
	if code != 200 {
		t.Fatalf("metrics as an auditor: %d", code)
	}
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",method="GET",route="GET /plugins/{namespace}/{name}"} 1`,
		`gatehouse_http_requests_total{code="404",method="GET",route="GET /plugins/{namespace}/{name}"} 1`,
		`gatehouse_vet_analyzer_results_total{analyzer="capabilities",status="passed"} 1`,
		`gatehouse_queue_review_open 0`,
		`gatehouse_log_entries_total `,
		`gatehouse_log_pending_entries `,
		`gatehouse_revalidation_due `,
		`gatehouse_revalidation_read_ok 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/plugins/acme/hello") {
		t.Error("a raw path became a label")
	}
}

// TestUnreleasedVersionsHiddenFromOtherNamespaces: a version not yet
// released is shown to its namespace's publishers and the overseers only.
// A publisher of another namespace, signed in, finds it neither in the
// catalog nor on the plugin's page, and its submission page answers as
// for one that does not exist.
func TestUnreleasedVersionsHiddenFromOtherNamespaces(t *testing.T) {
	e := newEnv(t)
	pending := e.submit(pkg(t, "pending", "1.0.0", "p", false, "kv:read"))
	if pending.State != lifecycle.InReview {
		t.Fatalf("pending is %s", pending.State)
	}
	other := e.browser()
	other.signIn("publisher-other")
	if cat := other.get("/"); strings.Contains(cat.body, "acme/pending") {
		t.Error("another namespace's publisher sees acme/pending in the catalog")
	}
	if p := other.get("/plugins/acme/pending"); p.status != http.StatusNotFound {
		t.Errorf("another namespace's publisher opens acme/pending: %d", p.status)
	}
	hidden, missing := other.get("/submissions/"+pending.ID), other.get("/submissions/sub_missing")
	if hidden.status != http.StatusNotFound || errorText(hidden.body) != strings.ReplaceAll(errorText(missing.body), "sub_missing", pending.ID) {
		t.Errorf("another namespace's publisher on the submission: %d %q; want the answer for a missing one, %d %q", hidden.status, errorText(hidden.body), missing.status, errorText(missing.body))
	}
	for _, role := range []string{"publisher", "reviewer", "auditor"} {
		b := e.browser()
		b.signIn(role)
		if p := b.get("/plugins/acme/pending"); p.status != http.StatusOK {
			t.Errorf("%s opens acme/pending: %d", role, p.status)
		}
	}
}
