package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/install"
)

// crmManifest is acme/crm's manifest with the data section and
// permissions a case gives it.
func crmManifest(version, permissions, data string) string {
	return `{"manifestVersion": 1, "id": "acme/crm", "version": "` + version + `", "name": "CRM sync",
 "description": "Sends contacts to the CRM and orders to the shop.",
 "owners": [{"name": "acme", "email": "dev@acme.example.com"}], "license": "MIT",
 "runtime": {"module": "plugin.wasm", "exports": ["read", "push"], "hostApi": "^1.0.0"},
 "permissions": [` + permissions + `],
 "limits": {"memoryMiB": 16},
 "data": ` + data + `,
 "support": {"email": "dev@acme.example.com"}}`
}

const (
	crmPermissions = `"net:https://crm.example.com", "net:https://shop.example.com", "data:read:contacts", "data:read:orders"`
	crmFlows       = `"flows": [{"category": "contacts", "destination": "https://crm.example.com", "purpose": "contact sync"},
   {"category": "orders", "destination": "https://shop.example.com", "purpose": "order sync"}]`
)

// TestDataFlowsProof is issue 20's proof through the real CLI and
// marketplace, with a plugin built from Go source (testdata/crm): a
// manifest that says "no personal data" while asking for a contacts scope
// is blocked, naming both places; a retention of P9999D is refused with
// the policy's maximum; a reviewer approves one flow and refuses the other
// and the installed plugin can then use only the approved one; and the
// privacy report lists the flows with their evidence.
func TestDataFlowsProof(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly plugin and runs the whole marketplace")
	}
	work := t.TempDir()
	c := startCast(t)
	publisher := c.publisher.with("XDG_CACHE_HOME", filepath.Join(work, "cache"))
	key := filepath.Join(work, "acme.key")
	publisher.must("keys", "generate", "-o", key)
	publisher.must("namespace", "key", "add", "acme", key+".pub")

	dir := filepath.Join(work, "crm")
	publisher.must("plugin", "init", "acme/crm", dir)
	os.Remove(filepath.Join(dir, "tests", "greet.json"))
	for _, f := range []string{"main.go", filepath.Join("tests", "crm.json")} {
		data, err := os.ReadFile(filepath.Join("testdata", "crm", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	submit := func(manifest string) (string, api.Submission) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		publisher.must("plugin", "build", dir)
		pkg := filepath.Join(work, "crm.gpkg")
		publisher.must("plugin", "pack", dir, "-o", pkg)
		publisher.must("plugin", "sign", pkg, "--key", key)
		id := subID.FindString(publisher.must("plugin", "submit", pkg))
		if id == "" {
			t.Fatal("submit printed no submission id")
		}
		publisher.must("plugin", "status", id, "--wait", "--timeout", "8m")
		var sub api.Submission
		if err := json.Unmarshal([]byte(publisher.must("plugin", "status", id, "-o", "json")), &sub); err != nil {
			t.Fatal(err)
		}
		return id, sub
	}
	blocked := func(sub api.Submission, want ...string) {
		t.Helper()
		if sub.State == "in_review" || sub.State == "certified" {
			t.Fatalf("%s went to %s (%s)", sub.Version, sub.State, sub.Reason)
		}
		all, _ := json.Marshal(sub)
		for _, w := range want {
			if !strings.Contains(string(all), w) {
				t.Errorf("%s (%s: %s) does not say %q:\n%s", sub.Version, sub.State, sub.Reason, w, all)
			}
		}
	}

	t.Log("(a) no personal data declared, a contacts scope requested")
	_, sub := submit(crmManifest("0.1.0", `"net:https://crm.example.com", "data:read:contacts"`,
		`{"categories": [], "purpose": "sync", "retention": "none", "leavesPlatform": true}`))
	blocked(sub, "dataflow/undeclared-category", "data:read:contacts (/permissions/1)", "/data/categories")

	t.Log("(b) a retention of P9999D")
	_, sub = submit(crmManifest("0.2.0", crmPermissions,
		`{"categories": ["contacts", "orders"], "purpose": "sync", "retention": "P9999D", "leavesPlatform": true, `+crmFlows+`}`))
	blocked(sub, "retention-above-maximum", "P9999D", "above the policy's maximum of P400D")

	t.Log("(c) one flow approved, one refused")
	id, sub := submit(crmManifest("1.0.0", crmPermissions,
		`{"categories": ["contacts", "orders"], "purpose": "sync", "retention": "P30D", "leavesPlatform": true, `+crmFlows+`}`))
	if sub.State != "in_review" {
		t.Fatalf("the declared version is %s (%s):\n%s", sub.State, sub.Reason, results(sub))
	}
	const refused = "orders>https://shop.example.com"
	c.reviewer.must("review", "approve", id, "--refuse-flow", refused, "-m", "orders stay on the platform")
	if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
		c.reviewer2.must("review", "approve", id, "--refuse-flow", refused)
	}
	if s := publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
		t.Fatalf("after approval:\n%s", s)
	}

	host := gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": c.base}}
	plugins := filepath.Join(work, "plugins")
	host.must("install", "acme/crm@^1", "--dir", plugins)
	installed := filepath.Join(plugins, install.PackageFileName("acme/crm", "1.0.0"))
	contacts, orders := filepath.Join(work, "contacts.json"), filepath.Join(work, "orders.json")
	os.WriteFile(contacts, []byte(`[{"name":"Ada"}]`), 0o644)
	os.WriteFile(orders, []byte(`[{"order":42}]`), 0o644)
	offline := gatehouse{t: t, env: map[string]string{"XDG_CACHE_HOME": filepath.Join(work, "cache")}}
	runCall := func(export, scope string) (int, string) {
		code, out, errOut := offline.run("run", installed, "--call", export, "--input", `{"scope":"`+scope+`"}`,
			"--data", "contacts="+contacts, "--data", "orders="+orders)
		return code, out + errOut
	}
	// The approved flow's data scope is served.
	if code, out := runCall("read", "contacts"); code != 0 || !strings.Contains(out, `Ada`) {
		t.Fatalf("reading the approved flow's contacts: exit %d\n%s", code, out)
	}
	// The refused flow's scope and origin are not granted at run time.
	for _, export := range []string{"read", "push"} {
		code, out := runCall(export, "orders")
		if code != 1 || !strings.Contains(out, "denied") || strings.Contains(out, "order\":42") {
			t.Errorf("%s orders under a refused flow: exit %d, want 1 and denied\n%s", export, code, out)
		}
	}

	t.Log("(d) the privacy report")
	var rep api.PrivacyReport
	if err := json.Unmarshal([]byte(c.reviewer.must("privacy", "report", id, "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	decisions := map[string]string{}
	for _, f := range rep.Flows {
		decisions[f.ID] = f.Decision
		if len(f.Evidence) == 0 {
			t.Errorf("flow %s has no evidence", f.ID)
		}
	}
	if decisions["contacts>https://crm.example.com"] != "approved" || decisions[refused] != "refused" {
		t.Errorf("report decisions %v", decisions)
	}
	md := c.reviewer.must("privacy", "report", id, "-o", "markdown")
	for _, w := range []string{"# Privacy report: acme/crm@1.0.0", "`" + refused + "`", "refused (rev@gatehouse.example", "contact sync", "P30D", "manifest.json /data/flows/1"} {
		if !strings.Contains(md, w) {
			t.Errorf("the Markdown report lacks %q:\n%s", w, md)
		}
	}
	if cats := c.steward.must("privacy", "categories"); !strings.Contains(cats, "acme/crm@1.0.0") || !strings.Contains(cats, "contacts") {
		t.Errorf("privacy categories:\n%s", cats)
	}
}
