package web_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/pkgfile"
)

// flowPkg builds acme/crm@version reading the contacts and orders scopes,
// both kept on the platform for retention.
func flowPkg(t testing.TB, version, retention string) []byte {
	t.Helper()
	m := fmt.Sprintf(`{"manifestVersion":1,"id":"acme/crm","version":%q,"name":"CRM","description":"Keeps contacts and orders in step.","owners":[{"name":"Acme","email":"dev@acme.example"}],"license":"MIT",
"runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["data:read:contacts","data:read:orders"],
"data":{"categories":["contacts","orders"],"purpose":"matches orders to contacts","retention":%q,"leavesPlatform":false}}`, version, retention)
	wasm := append(append([]byte(nil), handleModule...), 0, 2, 1, version[0])
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: wasm}, {Path: "README.md", Data: []byte("# crm\n")}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// approveRefusing approves v on its review page, ticking the flows in
// refuse, and checks the version is certified.
func approveRefusing(t *testing.T, e *env, v domain.Version, refuse ...string) {
	t.Helper()
	if v.State != lifecycle.InReview {
		t.Fatalf("%s@%s is %s (%s); the test needs it in review", v.PluginID, v.Version, v.State, v.Reason)
	}
	// A high tier needs a second approver: the steward reviews too.
	for _, who := range []string{"reviewer", "steward"} {
		if v, _ = e.m.Store.GetVersion(context.Background(), v.ID); v.State != lifecycle.InReview {
			break
		}
		rev := e.browser()
		rev.signIn(who)
		rp := rev.get("/reviews/" + v.ID)
		for _, f := range []string{"contacts>platform", "orders>platform"} {
			if !strings.Contains(rp.body, `name="refuse-flow" value="`+html.EscapeString(f)+`"`) {
				t.Fatalf("the review page offers no refusal of %s:\n%s", f, rp.body)
			}
		}
		if res := rev.post("/reviews/"+v.ID+"/approve", url.Values{"csrf": {rp.csrf()}, "refuse-flow": refuse}); res.status >= 400 {
			t.Fatalf("%s's approval: %d %s", who, res.status, errorText(res.body))
		}
	}
	v, _ = e.m.Store.GetVersion(context.Background(), v.ID)
	if v.State != lifecycle.Certified {
		t.Fatalf("after the approval %s is %s (%s)", v.ID, v.State, v.Reason)
	}
}

// TestPrivacyPages: a reviewer refuses one flow of 1.0.0 on the review
// page; the version's privacy report page, linked from the version page,
// shows each flow's decision, retention and evidence, and 1.1.0's page
// shows what changed since 1.0.0; the steward's category view lists the
// plugin under both categories, and a publisher may not open it.
func TestPrivacyPages(t *testing.T) {
	e := newEnv(t)
	v1 := e.submit(flowPkg(t, "1.0.0", "P30D"))
	approveRefusing(t, e, v1, "orders>platform")

	br := e.browser()
	br.signIn("auditor")
	vp := br.get("/plugins/acme/crm?version=1.0.0")
	link := `href="/submissions/` + v1.ID + `/privacy"`
	if !strings.Contains(vp.body, link) {
		t.Fatalf("the version page does not link its privacy report (%s):\n%s", link, vp.body)
	}
	p := br.get("/submissions/" + v1.ID + "/privacy")
	if p.status != 200 {
		t.Fatalf("privacy page: %d %s", p.status, errorText(p.body))
	}
	for _, want := range []string{`data-flow="contacts&gt;platform"`, `data-decision="approved"`, `data-decision="refused"`, "user-reviewer",
		"P30D (about 30 days)", "matches orders to contacts", "manifest.json <code>/permissions/0</code>", "No earlier version was released"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("the privacy page lacks %q:\n%s", want, p.body)
		}
	}

	// The next version keeps orders longer: the diff says so.
	v2 := e.submit(flowPkg(t, "1.1.0", "P90D"))
	p = br.get("/submissions/" + v2.ID + "/privacy")
	if diff := between(p.body, `id="privacy-diff"`, "</section>"); !strings.Contains(diff, "Compared with 1.0.0") || !strings.Contains(diff, "P90D") {
		t.Fatalf("the 1.1.0 diff section reads:\n%s", diff)
	}

	st := e.browser()
	st.signIn("steward")
	cats := st.get("/privacy")
	if cats.status != 200 {
		t.Fatalf("/privacy: %d %s", cats.status, errorText(cats.body))
	}
	for _, c := range []string{"contacts", "orders"} {
		group := between(cats.body, `data-category="`+c+`"`, "</tbody>")
		if !strings.Contains(group, `href="/plugins/acme/crm?version=1.0.0"`) {
			t.Fatalf("the %s group does not list acme/crm@1.0.0:\n%s", c, cats.body)
		}
	}
	if !strings.Contains(cats.body, `href="/privacy"`) {
		t.Error("the steward's navigation has no link to the category view")
	}
	pub := e.browser()
	pub.signIn("publisher")
	if got := pub.get("/privacy"); got.status != 403 {
		t.Fatalf("a publisher opened the category view: %d", got.status)
	}
}

// between returns the text of s from the first from up to the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

// TestBrowserReviewerReadsPrivacyReport: in a real browser, a reviewer
// goes from the version page to its privacy report and reads the refused
// flow's decision.
func TestBrowserReviewerReadsPrivacyReport(t *testing.T) {
	ctx := chrome(t)
	e := newServedEnv(t)
	v := e.submit(flowPkg(t, "1.0.0", "P30D"))
	approveRefusing(t, e, v, "orders>platform")
	signInWith(t, ctx, e.url, e.tokens["reviewer"])
	do(t, ctx, "open the version page and its privacy report",
		chromedp.Navigate(e.url+"/plugins/acme/crm?version=1.0.0"),
		chromedp.Click(chromedp.CSS(`#privacy-link`)),
		chromedp.WaitVisible(chromedp.CSS(`#privacy-flows`)),
	)
	if got := text(t, ctx, `#privacy-flows tr[data-flow="orders>platform"]`); !strings.Contains(got, "refused") || !strings.Contains(got, "P30D") {
		t.Fatalf("the refused flow's row reads %q", got)
	}
	screenshot(t, ctx, "reviewer-privacy-report")
	do(t, ctx, "open the category view",
		chromedp.Click(chromedp.CSS(`nav a[href="/privacy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#data-categories`)),
	)
	if got := text(t, ctx, `#data-categories tbody[data-category="contacts"]`); !strings.Contains(got, "acme/crm@1.0.0") {
		t.Fatalf("the contacts group reads %q", got)
	}
}
