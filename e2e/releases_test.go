package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/trust"
)

// TestReleasesAcrossEnvironments is issue 18's proof, through the real
// command line against a real marketplace served over HTTP, with three
// hosts per environment, each its own install folder following its
// environment with `gatehouse sync`:
//
//   - a certified version lands in dev only: staging and prod hosts keep
//     the old one after sync;
//   - promotion is refused, naming the rule, until the policy's soak
//     condition holds (health reports from hosts of the environment before,
//     sent with their host tokens), then allowed;
//   - promotion to prod at 50% gives the new version to exactly the hosts
//     trust.InRollout puts in, and growing keeps them in;
//   - one prod host's failing report quarantines the version on that host
//     only; three distinct hosts' reports halt the rollout (and reach the
//     policy's quorum, which suspends the version everywhere);
//   - `release rollback` brings every prod host back at its next sync,
//     recorded in its lock history;
//   - the suspension reaches every host, and verify refuses the suspended
//     version with its own reason;
//   - an older signed feed replayed to a host is refused.
//
// Health reports have no command (hosts send them from their runtime), so
// they go to POST /api/v1/health of the same server; everything else is
// the CLI. The marketplace has no clock a test may set: the default
// policy's soak time is shown refusing first, then a steward applies a
// copy of the default policy whose soak times are zero (every other soak
// rule kept), so the soak the test waits for is the hosts' health reports.
func TestReleasesAcrossEnvironments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly plugin and runs the whole marketplace with nine hosts")
	}
	ctx := context.Background()
	const plugin = "acme/templater"
	c := startCast(t)
	base, publisher, reviewer, reviewer2, steward := c.base, c.publisher, c.reviewer, c.reviewer2, c.steward
	token := c.token
	anon := gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": base}} // hosts: no token

	// Nine hosts, three per environment, each with its own folder and its
	// own host token enrolled in its environment. The prod hosts' ids are
	// picked with the product's bucket function so that a 50% rollout
	// takes some and leaves others, and 90% takes all three: the test then
	// asserts what trust.InRollout says of each, whichever ids they are.
	type host struct {
		env, id, dir, token string
	}
	var hosts []*host
	var prodIDs []string
	var in50, out50 int
	for i := 0; len(prodIDs) < 3; i++ {
		id := fmt.Sprintf("prod-edge-%d", i)
		b := trust.RolloutBucket(id, plugin)
		switch {
		case b < 5000 && in50 < 1:
			in50++
		case b >= 5000 && b < 9000 && out50 < 2:
			out50++
		default:
			continue
		}
		prodIDs = append(prodIDs, id)
	}
	hostRoot := t.TempDir()
	for _, env := range []string{"dev", "staging", "prod"} {
		for i := 0; i < 3; i++ {
			id := fmt.Sprintf("%s-%d", env, i+1)
			if env == "prod" {
				id = prodIDs[i]
			}
			hosts = append(hosts, &host{env: env, id: id, dir: filepath.Join(hostRoot, id), token: token("host", id, "--environment", env)})
		}
	}
	inEnv := func(env string) []*host {
		var out []*host
		for _, h := range hosts {
			if h.env == env {
				out = append(out, h)
			}
		}
		return out
	}

	// Health reports go to the API (no command sends them). Each host
	// reports a new one-minute window each time, so no two overlap.
	windows := map[string]time.Time{}
	report := func(h *host, version string, calls, failed int64) api.HealthOutcome {
		t.Helper()
		end, ok := windows[h.id]
		if !ok {
			end = time.Now().Add(-30 * time.Minute)
		}
		end = end.Add(time.Minute)
		windows[h.id] = end
		p := api.PluginHealth{Plugin: plugin, Version: version, Calls: calls}
		if failed > 0 {
			p.Errors = map[string]int64{string(sandbox.KindTrap): failed}
		}
		body, _ := json.Marshal(api.HealthReport{WindowStart: end.Add(-time.Minute), WindowEnd: end, Plugins: []api.PluginHealth{p}})
		req, _ := http.NewRequest("POST", base+"/api/v1/health", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("health report of %s on %s@%s: %s %s", h.id, plugin, version, resp.Status, data)
		}
		var ans api.HealthAnswer
		if err := json.Unmarshal(data, &ans); err != nil || len(ans.Plugins) != 1 {
			t.Fatalf("health answer %s: %v", data, err)
		}
		return ans.Plugins[0]
	}
	healthy := func(env, version string) {
		t.Helper()
		for _, h := range inEnv(env) {
			if o := report(h, version, 500, 0); o.Quarantine || o.Suspended {
				t.Fatalf("a healthy report quarantined %s@%s on %s: %+v", plugin, version, h.id, o)
			}
		}
	}

	// What the marketplace says of the plugin's releases.
	release := func(env string) api.Release {
		t.Helper()
		var rs api.PluginReleases
		if err := json.Unmarshal([]byte(steward.must("release", "show", plugin, "-o", "json")), &rs); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs.Releases {
			if r.Environment == env {
				return r
			}
		}
		return api.Release{}
	}

	// The host side.
	sync := func(h *host) string {
		t.Helper()
		return anon.must("sync", "--env", h.env, "--host", h.id, "--dir", h.dir)
	}
	pinned := func(h *host) string {
		t.Helper()
		l, err := install.ReadLock(filepath.Join(h.dir, install.LockFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Plugins {
			if e.ID == plugin {
				return e.Version
			}
		}
		t.Fatalf("%s pins no %s", h.id, plugin)
		return ""
	}
	expectPins := func(step string, want func(h *host) string) {
		t.Helper()
		for _, h := range hosts {
			sync(h)
			if got := pinned(h); got != want(h) {
				t.Errorf("%s: host %s (%s) runs %s, want %s", step, h.id, h.env, got, want(h))
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	pkgOf := func(h *host, version string) string {
		return filepath.Join(h.dir, install.PackageFileName(plugin, version))
	}

	// The publisher's key, and the plugin built once; each version is the
	// same module under its own manifest version.
	work := t.TempDir()
	key := filepath.Join(work, "acme.key")
	publisher.must("keys", "generate", "-o", key)
	publisher.must("namespace", "key", "add", "acme", key+".pub")
	src := filepath.Join("..", "examples", "plugins", "templater")
	dir := filepath.Join(work, "templater")
	copyDir(t, src, dir)
	if _, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	certify := func(version string) {
		t.Helper()
		m := strings.Replace(string(manifest), `"version": "1.0.0"`, `"version": "`+version+`"`, 1)
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		pkg := filepath.Join(work, "templater-"+version+".gpkg")
		publisher.must("plugin", "pack", dir, "-o", pkg)
		publisher.must("plugin", "sign", pkg, "--key", key)
		id := subID.FindString(publisher.must("plugin", "submit", pkg))
		if id == "" {
			t.Fatal("submit printed no submission id")
		}
		if s := publisher.must("plugin", "status", id, "--wait"); !strings.Contains(s, "in_review") && !strings.Contains(s, "certified") {
			t.Fatalf("after vetting:\n%s", s)
		}
		if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
			reviewer.must("review", "approve", id, "-m", "templates stay in the mount")
		}
		if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
			reviewer2.must("review", "approve", id)
		}
		if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
			t.Fatalf("%s@%s after approval:\n%s", plugin, version, s)
		}
	}
	promote := func(version, to string, extra ...string) string {
		t.Helper()
		return steward.must(append([]string{"release", "promote", plugin + "@" + version, "--to", to}, extra...)...)
	}
	// The marketplace's refusals end the command with exit 1 and its
	// answer (exit 2 is the host's refusal of a package).
	serverRefused := func(want []string, args ...string) string {
		t.Helper()
		code, out, errOut := steward.run(args...)
		if code != 1 {
			t.Fatalf("gatehouse %s: exit %d, want 1\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out+errOut, w) {
				t.Fatalf("gatehouse %s does not say %q:\n%s%s", strings.Join(args, " "), w, out, errOut)
			}
		}
		return out + errOut
	}
	promoteRefused := func(version, to string, rules ...string) string {
		t.Helper()
		return serverRefused(append([]string{"promotion_refused"}, rules...), "release", "promote", plugin+"@"+version, "--to", to)
	}

	// 1.0.0 is certified: it lands in dev, and nowhere else.
	certify("1.0.0")
	if r := release("dev"); r.Version != "1.0.0" || r.Rollout != 100 {
		t.Fatalf("dev after certification: %+v", r)
	}
	if r := release("staging"); r.Version != "" {
		t.Fatalf("staging has a release before any promotion: %+v", r)
	}
	// The default policy soaks a version an hour in dev before staging;
	// the refusal names that rule (and the health rules not met either).
	promoteRefused("1.0.0", "staging", "soak-time", "soak-hosts", "soak-calls")

	// A steward applies a copy of the default policy with no soak time:
	// hosts' reports are the soak the rest of the test waits for. The
	// copy keeps the default's Rego tests (policy apply runs them) except
	// release_test.rego, which asserts the default soak hours.
	policyDir := filepath.Join(work, "policy")
	os.MkdirAll(policyDir, 0o755)
	defDir := filepath.Join("..", "internal", "policy", "default")
	entries, err := os.ReadDir(defDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".rego") || e.Name() == "release_test.rego" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(defDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "config.rego" {
			before := string(data)
			data = []byte(strings.ReplaceAll(before, `{"hours": 1,`, `{"hours": 0,`))
			data = []byte(strings.ReplaceAll(string(data), `{"hours": 24,`, `{"hours": 0,`))
			if n := strings.Count(string(data), `{"hours": 0,`); n != 3 {
				t.Fatalf("config.rego: %d soak entries set to 0 hours, want 3 (staging, prod, default)", n)
			}
		}
		os.WriteFile(filepath.Join(policyDir, e.Name()), data, 0o644)
	}
	steward.must("policy", "apply", policyDir)
	if msg := promoteRefused("1.0.0", "staging", "soak-hosts", "soak-calls"); strings.Contains(msg, "soak-time") {
		t.Fatalf("the applied policy still soaks by time:\n%s", msg)
	}

	// 1.0.0 soaks in dev, then in staging, and goes to every prod host.
	healthy("dev", "1.0.0")
	promote("1.0.0", "staging")
	healthy("staging", "1.0.0")
	steward.must("release", "approve", plugin+"@1.0.0", "--env", "prod")
	promote("1.0.0", "prod")
	for _, h := range hosts {
		if out := anon.must("install", plugin+"@^1", "--dir", h.dir); !strings.Contains(out, "installed "+plugin+"@1.0.0") {
			t.Fatalf("install on %s:\n%s", h.id, out)
		}
	}
	expectPins("1.0.0 everywhere", func(*host) string { return "1.0.0" })
	// An early prod feed, kept for the replay at the end.
	oldFeed := filepath.Join(work, "prod-feed-old.json")
	fetchTo(t, base+"/api/v1/environments/prod/status", oldFeed)

	// 1.1.0 is certified: dev hosts move to it at their next sync; staging
	// and prod hosts keep 1.0.0.
	certify("1.1.0")
	if r := release("dev"); r.Version != "1.1.0" {
		t.Fatalf("dev after certifying 1.1.0: %+v", r)
	}
	expectPins("1.1.0 certified", func(h *host) string {
		if h.env == "dev" {
			return "1.1.0"
		}
		return "1.0.0"
	})

	// Staging refuses it until dev hosts' reports make the soak, then
	// takes it.
	promoteRefused("1.1.0", "staging", "soak-hosts", "soak-calls")
	healthy("dev", "1.1.0")
	promote("1.1.0", "staging")
	expectPins("1.1.0 in staging", func(h *host) string {
		if h.env == "prod" {
			return "1.0.0"
		}
		return "1.1.0"
	})

	// Prod at 50%: exactly the hosts in the bucket take 1.1.0.
	promoteRefused("1.1.0", "prod", "soak-hosts", "soak-calls")
	healthy("staging", "1.1.0")
	steward.must("release", "approve", plugin+"@1.1.0", "--env", "prod")
	if out := promote("1.1.0", "prod", "--rollout", "50%"); !strings.Contains(out, "50%") || !strings.Contains(out, "keep 1.0.0") {
		t.Fatalf("promote at 50%%:\n%s", out)
	}
	inAt := func(pct int) func(h *host) string {
		return func(h *host) string {
			if h.env == "prod" && !trust.InRollout(h.id, plugin, pct) {
				return "1.0.0"
			}
			return "1.1.0"
		}
	}
	expectPins("prod at 50%", inAt(50))
	var first *host // the prod host in the 50% bucket
	for _, h := range inEnv("prod") {
		if trust.InRollout(h.id, plugin, 50) {
			first = h
		}
	}

	// One host's failing report quarantines 1.1.0 on that host only: the
	// rollout goes on, the version stays certified in every feed, and the
	// other hosts verify it.
	if o := report(first, "1.1.0", 100, 50); !o.Quarantine || o.Suspended || o.Hosts != 1 {
		t.Fatalf("one host's failing report: %+v", o)
	}
	if r := release("prod"); r.Status != "active" {
		t.Fatalf("one host's report changed the rollout: %+v", r)
	}
	for _, h := range hosts {
		if out := sync(h); !strings.Contains(out, "0 suspended") {
			t.Fatalf("one host's report suspended a version for %s:\n%s", h.id, out)
		}
	}
	anon.must("verify", pkgOf(inEnv("dev")[0], "1.1.0"))

	// The rollout grows to 90%: the host that was in stays in, the others
	// join.
	steward.must("release", "rollout", plugin, "grow", "--to", "90%", "--env", "prod")
	expectPins("prod at 90%", inAt(90))

	// The two other prod hosts report it failing too: three distinct
	// hosts halt the rollout, and reach the policy's quorum, which
	// suspends 1.1.0 everywhere.
	var last api.HealthOutcome
	for _, h := range inEnv("prod") {
		if h != first {
			last = report(h, "1.1.0", 100, 50)
		}
	}
	if !last.Quarantine || !last.Suspended || last.Hosts != 3 {
		t.Fatalf("the third failing host: %+v", last)
	}
	if r := release("prod"); r.Status != "halted" || r.Version != "1.1.0" {
		t.Fatalf("three failing hosts did not halt the rollout: %+v", r)
	}
	serverRefused([]string{"rollout_halted"}, "release", "rollout", plugin, "grow", "--to", "95%", "--env", "prod")

	// release rollback: every prod host is back on 1.0.0 at its next
	// sync, from the version its folder kept, and its history says so.
	if out := steward.must("release", "rollback", plugin, "--env", "prod", "--reason", "e2e: failing on three hosts"); !strings.Contains(out, "1.0.0") {
		t.Fatalf("release rollback:\n%s", out)
	}
	expectPins("after release rollback", func(h *host) string {
		if h.env == "prod" {
			return "1.0.0"
		}
		return "1.1.0"
	})
	for _, h := range inEnv("prod") {
		var hist install.History
		if err := json.Unmarshal([]byte(anon.must("install", "--history", plugin, "--dir", h.dir, "-o", "json")), &hist); err != nil {
			t.Fatal(err)
		}
		rec := hist.Records[len(hist.Records)-1]
		if rec.Version != "1.0.0" || rec.Previous != "1.1.0" || rec.Action != install.ActionRollback || !strings.Contains(rec.Reason, "status feed prod/") {
			t.Errorf("%s: the last history record is %+v, want a rollback from 1.1.0 to 1.0.0 by the prod feed", h.id, rec)
		}
	}

	// The suspension reaches every host; verify refuses 1.1.0 wherever it
	// is (pinned in dev and staging, kept in prod), with its own reason.
	for _, h := range hosts {
		if out := sync(h); !strings.Contains(out, "1 suspended") {
			t.Fatalf("%s's feed does not carry the suspension:\n%s", h.id, out)
		}
		anon.refused([]string{"the status check failed", "version is suspended", plugin + "@1.1.0"}, "verify", pkgOf(h, "1.1.0"))
		if h.env == "prod" {
			anon.must("verify", pkgOf(h, "1.0.0"))
		}
	}

	// An older signed feed replayed to a host is refused: served by a
	// marketplace that answers the old feed, and kept in the folder.
	old, err := os.ReadFile(oldFeed)
	if err != nil {
		t.Fatal(err)
	}
	replay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/environments/prod/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(old)
	}))
	defer replay.Close()
	victim := inEnv("prod")[0]
	code, out, errOut := anon.with("GATEHOUSE_SERVER", replay.URL).run("sync", "--env", "prod", "--host", victim.id, "--dir", victim.dir)
	if code == 0 || !strings.Contains(out+errOut, trust.ErrFeedRollback.Error()) {
		t.Fatalf("a replayed older feed: exit %d\n%s%s", code, out, errOut)
	}
	if got := pinned(victim); got != "1.0.0" {
		t.Fatalf("the replayed feed moved %s to %s", victim.id, got)
	}
	if err := os.WriteFile(filepath.Join(victim.dir, install.StatusFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	anon.refused([]string{trust.ErrFeedRollback.Error()}, "verify", pkgOf(victim, "1.0.0"))
}
