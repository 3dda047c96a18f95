package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/internal/pluginkit"
)

// TestHostAPIVersionDropsAFunction is issue 19 item 6's proof, through
// the real CLI and marketplace: two certified plugins, a host API version
// published from this build's own table, then one that drops a function
// only one of them imports. That plugin moves to broken in the matrix
// (from its imports at once, then confirmed by its revalidation, whose
// sandbox refuses to load it), both are revalidated, the deprecation
// shows on the calendar and its iCalendar feed, the author is told, the
// author's check-upgrade names the function, and a host warns, then
// refuses after the sunset when its policy says so.
func TestHostAPIVersionDropsAFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WebAssembly plugins and runs the whole marketplace")
	}
	ctx := context.Background()
	c := startCast(t)
	publisher, steward := c.publisher, c.steward
	work := t.TempDir()
	key := filepath.Join(work, "acme.key")
	publisher.must("keys", "generate", "-o", key)
	publisher.must("namespace", "key", "add", "acme", key+".pub")

	// The counter imports kv_set; the templater does not.
	dirs := map[string]string{}
	for _, name := range []string{"counter", "templater"} {
		dir := filepath.Join(work, name)
		copyDir(t, filepath.Join("..", "examples", "plugins", name), dir)
		if _, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
			t.Fatal(err)
		}
		dirs[name] = dir
		mod, _ := os.ReadFile(filepath.Join(dir, "plugin.wasm"))
		ims, err := hostapi.ModuleImports(mod)
		if err != nil {
			t.Fatal(err)
		}
		imports := slices.ContainsFunc(ims, func(im hostapi.Import) bool { return im.Name == "kv_set" })
		if imports != (name == "counter") {
			t.Fatalf("%s imports kv_set: %v; the test needs the counter to and the templater not to", name, imports)
		}
		pkg := filepath.Join(work, name+".gpkg")
		publisher.must("plugin", "pack", dir, "-o", pkg)
		publisher.must("plugin", "sign", pkg, "--key", key)
		id := subID.FindString(publisher.must("plugin", "submit", pkg))
		status := publisher.must("plugin", "status", id, "--wait", "--timeout", "8m")
		if strings.Contains(status, "in_review") {
			c.reviewer.must("review", "approve", id, "-m", "e2e")
			if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
				c.reviewer2.must("review", "approve", id)
			}
		}
		if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
			t.Fatalf("%s is not certified:\n%s", name, s)
		}
	}

	// The platform publishes this build's host API as 1.0.0.
	caps := filepath.Join(work, "capabilities-1.0.0.json")
	os.WriteFile(caps, []byte(steward.must("hostapi", "current")), 0o644)
	out := steward.must("hostapi", "publish", "1.0.0", "--capabilities", caps)
	if !strings.Contains(out, "Checked 2 certified version(s): 0 broken") {
		t.Fatalf("publishing 1.0.0:\n%s", out)
	}
	// Its revalidations confirm the column (a revalidation already queued
	// when a version is published takes it in; the test waits so the next
	// publication queues its own).
	waitConfirmed(t, publisher, "1.0.0", 2)
	waitRevalidated(t, c.admin, "host API 1.0.0 published", 2)
	// A publisher may not publish; a mistake in the file is named.
	if code, _, _ := publisher.run("hostapi", "publish", "1.0.1", "--capabilities", caps); code == 0 {
		t.Fatal("a publisher published a host API version")
	}
	bad := filepath.Join(work, "bad.json")
	os.WriteFile(bad, []byte(`{"functions":[{"name":"kv_get"}]}`), 0o644)
	if code, o, e := steward.run("hostapi", "publish", "1.0.1", "--capabilities", bad); code == 0 || !strings.Contains(o+e, `needs the capability "kv:read"`) {
		t.Fatalf("a bad capabilities file: exit %d\n%s%s", code, o, e)
	}

	// 1.1.0 drops kv_set and deprecates 1.0.0, which sunsets in 60 days.
	var spec hostapi.Spec
	if err := json.Unmarshal([]byte(steward.must("hostapi", "current")), &spec); err != nil {
		t.Fatal(err)
	}
	spec.Version = "1.1.0"
	spec.Functions = slices.DeleteFunc(spec.Functions, func(f hostapi.SpecFunction) bool { return f.Name == "kv_set" })
	b, _ := json.Marshal(spec)
	caps11 := filepath.Join(work, "capabilities-1.1.0.json")
	os.WriteFile(caps11, b, 0o644)
	sunset := time.Now().UTC().AddDate(0, 0, 60).Format(time.DateOnly)
	migration := "https://docs.example.com/host-api/1.1"
	out = steward.must("hostapi", "publish", "1.1.0", "--capabilities", caps11, "--deprecates", "1.0.0", "--sunset", sunset, "--migration", migration)
	for _, want := range []string{"It deprecates 1.0.0, which sunsets on " + sunset, "1 broken", "2 revalidation(s) queued",
		"acme/counter@1.0.0: broken: host API 1.1.0 does not offer kv_set"} {
		if !strings.Contains(out, want) {
			t.Fatalf("publishing 1.1.0 does not say %q:\n%s", want, out)
		}
	}

	// The matrix, at once from the imports, then confirmed by the
	// revalidations the publication queued.
	matrix := func() map[string]api.CompatCell {
		var m api.CompatMatrix
		if err := json.Unmarshal([]byte(publisher.must("hostapi", "matrix", "-o", "json")), &m); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.HostAPIs, []string{"1.1.0", "1.0.0"}) {
			t.Fatalf("matrix columns %v", m.HostAPIs)
		}
		cells := map[string]api.CompatCell{}
		for _, c := range m.Cells {
			cells[c.Plugin+"|"+c.HostAPI] = c
		}
		return cells
	}
	cells := matrix()
	if cells["acme/counter|1.1.0"].Status != hostapi.Broken || cells["acme/templater|1.1.0"].Status != hostapi.Compatible {
		t.Fatalf("matrix after publishing: %+v", cells)
	}
	deadline := time.Now().Add(8 * time.Minute)
	for {
		cells = matrix()
		if cells["acme/counter|1.1.0"].Confirmed != "" && cells["acme/templater|1.1.0"].Confirmed != "" &&
			cells["acme/counter|1.0.0"].Confirmed != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revalidations did not confirm the matrix in 8 minutes: %+v", cells)
		}
		time.Sleep(time.Second)
	}
	if c := cells["acme/counter|1.1.0"]; c.Status != hostapi.Broken || c.Confirmed != "failed" || !strings.Contains(c.Detail, "kv_set") {
		t.Fatalf("the counter under 1.1.0 after revalidation: %+v", c)
	}
	for _, k := range []string{"acme/templater|1.1.0", "acme/counter|1.0.0", "acme/templater|1.0.0"} {
		if c := cells[k]; c.Status != hostapi.Compatible || c.Confirmed != "passed" {
			t.Fatalf("%s after revalidation: %+v", k, c)
		}
	}
	text := publisher.must("hostapi", "matrix")
	if !strings.Contains(text, "acme/counter") || !strings.Contains(text, "broken!") {
		t.Fatalf("matrix text:\n%s", text)
	}
	// The revalidation ran because of the publication, and the counter,
	// broken only under a version hosts do not run yet, stays certified.
	waitRevalidated(t, c.admin, "host API 1.1.0 published", 2)

	// The calendar, as a page, JSON and an iCalendar feed.
	out = publisher.must("hostapi", "calendar")
	for _, want := range []string{sunset + "  host API 1.0.0 sunsets (replaced by 1.1.0)", "migration notes: " + migration, "affects acme/counter: 1.0.0 (broken)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("calendar does not say %q:\n%s", want, out)
		}
	}
	ics := get(t, c.base+"/api/v1/host-api/calendar.ics")
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", "DTSTART;VALUE=DATE:" + strings.ReplaceAll(sunset, "-", "") + "\r\n", "END:VCALENDAR\r\n"} {
		if !strings.Contains(ics, want) {
			t.Fatalf("the feed lacks %q:\n%s", want, ics)
		}
	}
	if strings.Contains(ics, "acme/counter") {
		t.Fatal("the public feed names a plugin")
	}
	page := get(t, c.base+"/host-api/calendar")
	if !strings.Contains(page, "<code>1.0.0</code>") || !strings.Contains(page, "/api/v1/host-api/calendar.ics") {
		t.Fatalf("the calendar page:\n%s", page)
	}

	// The counter's author is told (the sunset is 60 days away: the
	// 90-day notice), once.
	deadline = time.Now().Add(time.Minute)
	for {
		var ns []api.SunsetNotice
		body := publisherGet(t, c, "/api/v1/host-api/notices")
		if err := json.Unmarshal([]byte(body), &ns); err != nil {
			t.Fatal(err)
		}
		if len(ns) == 1 && ns[0].Plugin == "acme/counter" && ns[0].HostAPI == "1.0.0" && ns[0].Threshold == 90 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices: %s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The author checks the upgrade: the counter's kv_set import is named.
	code, o, e := publisher.run("plugin", "check-upgrade", dirs["counter"])
	if code != 3 || !strings.Contains(o, "acme/counter@1.0.0 under host API 1.1.0: broken") || !strings.Contains(o, "function kv_set: broken") ||
		!strings.Contains(o, "migration notes: "+migration) {
		t.Fatalf("check-upgrade of the counter: exit %d\n%s%s", code, o, e)
	}
	if o := publisher.must("plugin", "check-upgrade", dirs["templater"]); !strings.Contains(o, "under host API 1.1.0: compatible") {
		t.Fatalf("check-upgrade of the templater:\n%s", o)
	}

	// A host on 1.0.0 installs the counter with a warning; after the
	// sunset its policy refuses it.
	host := gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": c.base}}
	versions := filepath.Join(work, "host-api.json")
	os.WriteFile(versions, []byte(steward.must("hostapi", "list", "-o", "json")), 0o644)
	policy := filepath.Join(work, "policy.json")
	os.WriteFile(policy, []byte(`{"allow": ["kv:*"], "hostApi": {"version": "1.0.0", "refuseAfterSunset": true}}`), 0o644)
	plugins := filepath.Join(work, "plugins")
	code, o, e = host.run("install", "acme/counter@^1", "--dir", plugins, "--policy", policy, "--host-api", versions)
	if code != 0 || !strings.Contains(e, "warning: acme/counter@1.0.0: this host's API 1.0.0 is deprecated by 1.1.0 (it sunsets on "+sunset+")") ||
		!strings.Contains(e, "host API 1.1.0 does not offer kv_set") {
		t.Fatalf("install: exit %d\n%s%s", code, o, e)
	}
	installed := filepath.Join(plugins, install.PackageFileName("acme/counter", "1.0.0"))
	if o := (gatehouse{t: t}).must("verify", installed, "--policy", policy, "--host-api", versions); !strings.Contains(o, "warn  host-api") {
		t.Fatalf("verify before the sunset:\n%s", o)
	}
	// The host's copy of the versions, as it will read once the sunset
	// has passed.
	pubs, err := hostapi.ParsePublished([]byte(steward.must("hostapi", "list", "-o", "json")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range pubs {
		if pubs[i].Deprecates == "1.0.0" {
			pubs[i].Sunset = time.Now().Add(-time.Hour)
		}
	}
	b, _ = json.Marshal(pubs)
	os.WriteFile(versions, b, 0o644)
	(gatehouse{t: t}).refused([]string{"the host-api check failed", "host API sunset passed", "kv_set"}, "verify", installed, "--policy", policy, "--host-api", versions)
	// Without refuseAfterSunset the host only warns.
	lenient := filepath.Join(work, "lenient.json")
	os.WriteFile(lenient, []byte(`{"allow": ["kv:*"], "hostApi": {"version": "1.0.0"}}`), 0o644)
	(gatehouse{t: t}).must("verify", installed, "--policy", lenient, "--host-api", versions)
}

// waitRevalidated waits until n revalidations queued because of why have
// passed (their audit events).
func waitRevalidated(t *testing.T, admin gatehouse, why string, n int) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Minute)
	for {
		passed := 0
		for _, line := range strings.Split(strings.TrimSpace(admin.must("audit", "export")), "\n") {
			var e struct{ Action, Reason string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Action == "revalidation.passed" && strings.Contains(e.Reason, "host-api-change: "+why) {
				passed++
			}
		}
		if passed >= n {
			// River marks a job complete just after it returns; a job
			// still active would take the next publication's place.
			time.Sleep(2 * time.Second)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d revalidations passed for %q after 8 minutes, want %d", passed, why, n)
		}
		time.Sleep(time.Second)
	}
}

// waitConfirmed waits until n cells of hostAPI are confirmed.
func waitConfirmed(t *testing.T, g gatehouse, hostAPI string, n int) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Minute)
	for {
		var m api.CompatMatrix
		if err := json.Unmarshal([]byte(g.must("hostapi", "matrix", "--host-api", hostAPI, "-o", "json")), &m); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, c := range m.Cells {
			if c.Confirmed != "" {
				done++
			}
		}
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d cells of %s confirmed after 8 minutes: %+v", done, n, hostAPI, m.Cells)
		}
		time.Sleep(time.Second)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func publisherGet(t *testing.T, c cast, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.publisher.env["GATEHOUSE_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}
