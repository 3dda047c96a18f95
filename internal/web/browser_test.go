package web_test

// End-to-end tests in a real headless Chromium (Debian's chromium package)
// driven with chromedp, against a marketplace serving on loopback. Each
// test saves a screenshot of the page it checked in screenshots/ at the
// repository root (git-ignored), so a person can look at what users see.
//
// Without Chromium the tests skip, saying so; in CI (CI=true) they fail
// instead, because .ci/run installs it.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// chromiumPath finds the browser: $GATEHOUSE_CHROMIUM, then the usual
// names of Debian's package.
func chromiumPath() string {
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "/usr/lib/chromium/chromium", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chrome starts a headless browser for one test.
func chrome(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests are skipped in -short mode")
	}
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is not installed, and CI must run the browser tests: install Debian's chromium package (.ci/run does) or set GATEHOUSE_CHROMIUM")
		}
		t.Skip("Chromium is not installed: `apt-get install chromium` (or set GATEHOUSE_CHROMIUM) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	// Start the browser now, so its start-up is not charged to a step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium at %s: %v", path, err)
	}
	return ctx
}

// screenshot saves the whole page as screenshots/NAME.png.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(repoRoot(t), "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// signInWith signs in through the form, as a person does.
func signInWith(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS(".who form")), // the sign-out button: signed in
	)
}

// do runs a step of a test; when it fails, the test says what the page
// showed and saves it as screenshots/failed-NAME.png.
func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(sctx, actions...)
	if err == nil {
		return
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
	screenshot(t, ctx, "failed-"+strings.ReplaceAll(step, " ", "-"))
	t.Fatalf("%s: %v\nat %s the page read:\n%s", step, err, loc, body)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func TestBrowserReviewerApprovesAndSeesItInTheCatalog(t *testing.T) {
	ctx := chrome(t)
	e := newServedEnv(t)
	v := e.submit(pkg(t, "weather", "1.0.0", "w", false, "kv:read", "net:https://api.weather.example"))
	if v.State != lifecycle.InReview {
		t.Fatalf("the submission is %s, want in review", v.State)
	}
	signInWith(t, ctx, e.url, e.tokens["reviewer"])
	do(t, ctx, "open the queue",
		chromedp.Click(chromedp.CSS(`nav a[href="/reviews"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/reviews/`+v.ID+`"]`)),
	)
	screenshot(t, ctx, "reviewer-queue")
	do(t, ctx, "open the review",
		chromedp.Click(chromedp.CSS(`a[href="/reviews/`+v.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#approve`)),
	)
	if perms := text(t, ctx, "table.permdiff"); !strings.Contains(perms, "net:https://api.weather.example") {
		t.Errorf("the review page's permissions: %q", perms)
	}
	screenshot(t, ctx, "reviewer-review-page")
	do(t, ctx, "approve",
		chromedp.SendKeys(chromedp.CSS("#approve-msg"), "Origins and storage match the description."),
		chromedp.Click(chromedp.CSS(`#approve button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if n := text(t, ctx, ".notice"); !strings.Contains(n, "certified") {
		t.Errorf("after approving the page says %q", n)
	}
	// The catalog now lists it as certified, to everyone.
	do(t, ctx, "open the catalog",
		chromedp.Click(chromedp.CSS(`nav a[href="/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/plugins/acme/weather"]`)),
	)
	card := text(t, ctx, "li.plugin-card")
	if !strings.Contains(card, "Weather plugin") || !strings.Contains(card, "certified") {
		t.Errorf("the catalog card says %q", card)
	}
	screenshot(t, ctx, "reviewer-catalog-after-approval")
	do(t, ctx, "open the plugin page",
		chromedp.Click(chromedp.CSS(`a[href="/plugins/acme/weather"]`)),
		chromedp.WaitVisible(chromedp.CSS("ul.perms")),
	)
	if cert := text(t, ctx, "main"); !strings.Contains(cert, "valid until") {
		t.Errorf("the plugin page shows no certificate expiry")
	}
	screenshot(t, ctx, "plugin-page")
}

func TestBrowserAuthorReadsAFinding(t *testing.T) {
	ctx := chrome(t)
	e := newServedEnv(t)
	v := e.submit(pkg(t, "leaky", "1.0.0", "l", true, "kv:read"))
	if v.State != lifecycle.Rejected {
		t.Fatalf("the leaky version is %s, want rejected: %s", v.State, v.Reason)
	}
	signInWith(t, ctx, e.url, e.tokens["publisher"])
	do(t, ctx, "open the submission",
		chromedp.Click(chromedp.CSS(`nav a[href="/submissions"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/submissions/`+v.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/submissions/`+v.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("article.finding")),
	)
	f := text(t, ctx, "article.finding.sev-high, article.finding.sev-critical")
	for _, want := range []string{"secrets/aws-access-token", "README.md:", "How to fix:"} {
		if !strings.Contains(f, want) {
			t.Errorf("the finding reads %q; it lacks %q", f, want)
		}
	}
	if tl := text(t, ctx, "ol.timeline li.current"); !strings.Contains(tl, "rejected") {
		t.Errorf("the timeline's current step is %q", tl)
	}
	screenshot(t, ctx, "author-submission-finding")
}

func TestBrowserDashboardChartsRender(t *testing.T) {
	ctx := chrome(t)
	e := newServedEnv(t)
	var first domain.Version
	for i, name := range []string{"alpha", "beta", "gamma"} {
		v := e.submit(pkg(t, name, "1.0.0", name, i == 2, "kv:read", "net:https://"+name+".example"))
		if i == 0 {
			first = v
		}
	}
	if _, err := e.m.Review.Approve(context.Background(), domain.Principal{Subject: "user-reviewer", Role: domain.RoleReviewer}, first.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	signInWith(t, ctx, e.url, e.tokens["steward"])
	do(t, ctx, "open the dashboard",
		chromedp.Click(chromedp.CSS(`nav a[href="/dashboard"]`)),
		chromedp.WaitVisible(chromedp.CSS("svg.chart")),
	)
	// Every chart is laid out with a size, and the charts with data have
	// bars the browser drew with a height.
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("svg.chart")].map(s => s.getBoundingClientRect().height)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) < 9 {
		t.Errorf("%d charts", len(charts))
	}
	for i, h := range charts {
		if h < 20 {
			t.Errorf("chart %d is %.0f px high", i, h)
		}
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("svg.chart rect.bar")].filter(r => r.getBoundingClientRect().height > 0 && r.getBoundingClientRect().width > 0).length`))
	if err != nil {
		t.Fatal(err)
	}
	if bars < 6 {
		t.Errorf("%d bars drawn", bars)
	}
	subs := text(t, ctx, "ul.figures li:first-child .value")
	if subs != "3" {
		t.Errorf("the submissions figure reads %q, want 3", subs)
	}
	// The stylesheet applied (the CSP allows it): bars are filled.
	fill, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("svg.chart rect.bar")).fill`))
	if err != nil || fill == "" || fill == "rgb(0, 0, 0)" {
		t.Errorf("bar fill %q (%v): the stylesheet did not apply", fill, err)
	}
	screenshot(t, ctx, "steward-dashboard")
}

func TestBrowserStewardPausesRollout(t *testing.T) {
	ctx := chrome(t)
	e := newServedEnv(t)
	e.stageRollout("hello")
	signInWith(t, ctx, e.url, e.tokens["steward"])
	do(t, ctx, "open the release timeline",
		chromedp.Navigate(e.url+"/plugins/acme/hello"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/plugins/acme/hello/releases"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/plugins/acme/hello/releases"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart polyline`)),
	)
	screenshot(t, ctx, "steward-release-timeline")
	do(t, ctx, "open the rollout controls",
		chromedp.Click(chromedp.CSS(`a[href="/plugins/acme/hello/rollout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#pause-dev`)),
	)
	do(t, ctx, "pause",
		chromedp.SendKeys(chromedp.CSS(`#env-dev form:has(#pause-dev) input[name=reason]`), "error rate up on dev-1"),
		chromedp.Click(chromedp.CSS(`#pause-dev`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if n := text(t, ctx, ".notice"); !strings.Contains(n, "paused") {
		t.Errorf("after pausing the page says %q", n)
	}
	if s := text(t, ctx, "#env-dev .rollout-status"); s != "paused" {
		t.Errorf("the dev row's status reads %q", s)
	}
	if r := e.release("acme/hello", "dev"); r.Status != domain.RolloutPaused {
		t.Errorf("the release is %s after the steward paused it", r.Status)
	}
	screenshot(t, ctx, "steward-rollout-paused")
}
