package web_test

import (
	"github.com/chromedp/chromedp"

	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/hostcompat"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// TestHostAPIPages: the matrix page shows a certified version broken
// under a published version that lacks the capability it needs, and the
// calendar page shows the sunset to anyone, with the affected plugin only
// to those who may read it.
func TestHostAPIPages(t *testing.T) {
	e := newEnv(t)
	sunset := publishDroppingKVRead(t, e)

	br := e.browser()
	br.signIn("publisher")
	p := br.get("/host-api")
	if p.status != 200 {
		t.Fatalf("/host-api: %d %s", p.status, errorText(p.body))
	}
	for _, want := range []string{`<td><code>1.1.0</code></td>`, `<a href="/plugins/acme/hello">acme/hello</a>`, `data-status="broken"`,
		"does not offer the kv:read capability", `data-status="compatible"`, "imports only"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("the matrix page lacks %q:\n%s", want, p.body)
		}
	}
	cal := br.get("/host-api/calendar")
	for _, want := range []string{sunset.Format("2 Jan 2006"), "<code>1.0.0</code>", "https://docs.example.com/move", `<a href="/plugins/acme/hello">acme/hello</a>: 1.0.0 (broken)`} {
		if !strings.Contains(cal.body, want) {
			t.Fatalf("the publisher's calendar page lacks %q:\n%s", want, cal.body)
		}
	}
	anon := e.browser().get("/host-api/calendar")
	if anon.status != 200 || !strings.Contains(anon.body, "<code>1.0.0</code>") || strings.Contains(anon.body, "acme/hello") {
		t.Fatalf("the anonymous calendar page: %d, names the plugin: %v", anon.status, strings.Contains(anon.body, "acme/hello"))
	}
}

// publishDroppingKVRead certifies acme/hello (which needs kv:read) and
// publishes 1.0.0 (this build's host API) and 1.1.0 without kv:read,
// deprecating 1.0.0 with a sunset in three months, which it returns.
func publishDroppingKVRead(t *testing.T, e *env) time.Time {
	t.Helper()
	v := e.submit(pkg(t, "hello", "1.0.0", "a", false, "kv:read"))
	rev := e.browser()
	rev.signIn("reviewer")
	rp := rev.get("/reviews/" + v.ID)
	rev.post("/reviews/"+v.ID+"/approve", url.Values{"csrf": {rp.csrf()}, "message": {"ok"}, "granted-shown": {"1"}, "granted": {"kv:read"}})
	v, _ = e.m.Store.GetVersion(context.Background(), v.ID)
	if v.State != lifecycle.Certified {
		t.Fatalf("hello is %s; the test needs a certified version", v.State)
	}
	ctx := context.Background()
	cur, _ := json.Marshal(hostapi.Current())
	if _, err := e.m.HostAPI.Publish(ctx, hostcompat.PublishRequest{Version: "1.0.0", Capabilities: cur, Actor: "steward"}); err != nil {
		t.Fatal(err)
	}
	next := hostapi.Current()
	next.Version = "1.1.0"
	next.Functions = slices.DeleteFunc(next.Functions, func(f hostapi.SpecFunction) bool { return f.Name == "kv_get" })
	next.Capabilities = slices.DeleteFunc(next.Capabilities, func(c hostapi.SpecCapability) bool { return c.Name == "kv:read" })
	b, _ := json.Marshal(next)
	sunset := time.Now().AddDate(0, 3, 0).UTC().Truncate(24 * time.Hour)
	if _, err := e.m.HostAPI.Publish(ctx, hostcompat.PublishRequest{Version: "1.1.0", Capabilities: b, Deprecates: "1.0.0", Sunset: sunset,
		MigrationURL: "https://docs.example.com/move", Actor: "steward"}); err != nil {
		t.Fatal(err)
	}

	return sunset
}

// TestBrowserAuthorSeesBrokenInMatrix: in a real browser, an author
// follows the navigation to the matrix, sees the plugin broken under the
// new version, and finds it on the calendar.
func TestBrowserAuthorSeesBrokenInMatrix(t *testing.T) {
	ctx := chrome(t)
	e := newServedEnv(t)
	publishDroppingKVRead(t, e)
	signInWith(t, ctx, e.url, e.tokens["publisher"])
	do(t, ctx, "open the matrix",
		chromedp.Click(chromedp.CSS(`nav a[href="/host-api"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#host-api-matrix`)),
	)
	if got := text(t, ctx, `#host-api-matrix td[data-status="broken"]`); !strings.Contains(got, "broken") || !strings.Contains(got, "kv:read") {
		t.Fatalf("the broken cell reads %q", got)
	}
	screenshot(t, ctx, "author-host-api-matrix")
	do(t, ctx, "open the calendar",
		chromedp.Click(chromedp.CSS(`a[href="/host-api/calendar"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sunsets`)),
	)
	if got := text(t, ctx, "#sunsets"); !strings.Contains(got, "acme/hello") || !strings.Contains(got, "1.1.0") {
		t.Fatalf("the calendar reads %q", got)
	}
}
