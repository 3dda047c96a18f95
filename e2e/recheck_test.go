package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	sumtlog "golang.org/x/mod/sumdb/tlog"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/webhook"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// TestOwnershipAndKeyChangesRecheck is issue 19 item 7's proof, through
// the real CLI and marketplace. Two certified plugins of acme: the counter
// signed by one key only, the templater co-signed by a second. Then:
//   - the second key is removed: the templater, which it signed, is
//     re-checked, and stays certified;
//   - the first key is reported compromised: the counter, which only it
//     signed, is suspended with the reason, which its author reads and a
//     host's install and verify refuse; the templater, still vouched for
//     by the second key's signature (made before that key was retired),
//     is only re-checked, and stays certified;
//   - the namespace is transferred: every certified version is re-checked,
//     the new owner's webhook hears the transfer, and each change is in
//     the transparency log, which a monitor reads from the served tiles.
func TestOwnershipAndKeyChangesRecheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WebAssembly plugins and runs the whole marketplace")
	}
	ctx := context.Background()
	c := startCast(t, func(cfg *marketplace.Config) { cfg.WebhooksAllowPrivate = true })
	publisher, steward, admin := c.publisher, c.steward, c.admin
	host := gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": c.base}}
	work := t.TempDir()

	// A monitor saves the log's checkpoint before any of it.
	since := filepath.Join(work, "checkpoint")
	os.WriteFile(since, []byte(get(t, c.base+"/log/checkpoint")), 0o644)
	trustRoot := filepath.Join(work, "trust-root.json")
	os.WriteFile(trustRoot, []byte(host.must("keys", "show", "-o", "json")), 0o644)

	keyID := regexp.MustCompile(`Key id: (\S+)`)
	keys := map[string]string{} // file → id
	for _, name := range []string{"first", "second"} {
		f := filepath.Join(work, name+".key")
		m := keyID.FindStringSubmatch(publisher.must("keys", "generate", "-o", f))
		if m == nil {
			t.Fatal("keys generate printed no key id")
		}
		keys[name] = m[1]
		publisher.must("namespace", "key", "add", "acme", f+".pub")
	}

	// The counter is signed by the first key; the templater by the first,
	// then co-signed by the second.
	versions := map[string]string{} // plugin → submission id
	for _, name := range []string{"counter", "templater"} {
		dir := filepath.Join(work, name)
		copyDir(t, filepath.Join("..", "examples", "plugins", name), dir)
		if _, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
			t.Fatal(err)
		}
		pkg := filepath.Join(work, name+".gpkg")
		publisher.must("plugin", "pack", dir, "-o", pkg)
		publisher.must("plugin", "sign", pkg, "--key", filepath.Join(work, "first.key"))
		if name == "templater" {
			if out := publisher.must("plugin", "sign", pkg, "--key", filepath.Join(work, "second.key"), "--add"); !strings.Contains(out, "2 signatures") {
				t.Fatalf("co-signing:\n%s", out)
			}
		}
		versions[name] = certify(t, c, pkg)
	}
	counter, templater := versions["counter"], versions["templater"]

	// A host installs the counter while it is certified.
	plugins := filepath.Join(work, "plugins")
	host.must("install", "acme/counter@1.0.0", "--dir", plugins)
	installed := filepath.Join(plugins, install.PackageFileName("acme/counter", "1.0.0"))
	(gatehouse{t: t}).must("verify", installed)

	// The new owner-to-be holds a token for acme and subscribes to its
	// namespace events before the handover.
	heard := receiveWebhooks(t)
	newOwner := admin.with("GATEHOUSE_TOKEN", c.token("publisher", "nina@acme.example.com", "--namespace", "acme"))
	out := newOwner.must("webhook", "add", heard.url, "--event", "namespace.*", "--namespace", "acme")
	heard.setSecret(t, out)

	// (b) The second key is removed: the templater it co-signed is
	// re-checked, and passes (its first-key signature stands).
	publisher.must("namespace", "key", "remove", "acme", keys["second"])
	waitAudit(t, admin, "revalidation.passed", "key-removed: publisher key "+keys["second"], 1)
	if s := publisher.must("plugin", "status", templater); !strings.Contains(s, "certified") {
		t.Fatalf("the templater after its key was removed:\n%s", s)
	}

	// (c) The first key is reported compromised.
	out = steward.must("keys", "compromised", "acme", keys["first"], "--reason", "e2e: the release laptop was stolen")
	for _, want := range []string{"Suspended 1 version(s); queued 1 for revalidation", "suspended  acme/counter@1.0.0", "re-check   acme/templater@1.0.0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("keys compromised does not say %q:\n%s", want, out)
		}
	}
	// The author reads why the counter is suspended.
	s := publisher.must("plugin", "status", counter)
	for _, want := range []string{"suspended", "was reported compromised", "the release laptop was stolen"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the counter's status does not say %q:\n%s", want, s)
		}
	}
	// The templater is re-checked against its second signature, and stays.
	waitAudit(t, admin, "revalidation.passed", "key-compromised: publisher key "+keys["first"], 1)
	if s := publisher.must("plugin", "status", templater); !strings.Contains(s, "certified") || strings.Contains(s, "State:     suspended") {
		t.Fatalf("the co-signed templater after the first key was compromised:\n%s", s)
	}
	// A host installs and verifies the suspended counter no more.
	if code, o, e := host.run("install", "acme/counter@1.0.0", "--dir", filepath.Join(work, "late")); code == 0 {
		t.Fatalf("a suspended version installed:\n%s%s", o, e)
	} else if !strings.Contains(o+e, "acme/counter") {
		t.Fatalf("install of the suspended counter does not name it:\n%s%s", o, e)
	}
	code, o, e := host.run("verify", installed, "--refresh")
	if code == 0 {
		t.Fatalf("a host's refreshed verify accepts the suspended counter:\n%s%s", o, e)
	}
	if !strings.Contains(o+e, "suspended") {
		t.Fatalf("verify of the suspended counter does not say it is suspended:\n%s%s", o, e)
	}
	// Submitting with the compromised key is refused from now on.
	pkg := filepath.Join(work, "counter.gpkg")
	if code, o, e := publisher.run("plugin", "submit", pkg); code == 0 || !strings.Contains(o+e, keys["first"]) {
		t.Fatalf("a submission signed by the compromised key: exit %d\n%s%s", code, o, e)
	}

	// (a) The namespace is transferred: every certified version (the
	// templater; the counter is suspended) is queued for revalidation.
	out = admin.must("namespace", "transfer", "acme", "--to", "nina@acme.example.com", "--reason", "e2e: dev left; nina maintains acme")
	if !strings.Contains(out, "Namespace acme now belongs to nina@acme.example.com") || !strings.Contains(out, "queued 1 for revalidation") ||
		!strings.Contains(out, "re-check   acme/templater@1.0.0") {
		t.Fatalf("namespace transfer:\n%s", out)
	}
	waitAudit(t, admin, "revalidation.passed", "owner-change: namespace acme transferred to nina@acme.example.com", 1)
	// The new owner's webhook hears it, signed.
	ev := heard.wait(t, "namespace.owner-transfer")
	if ev.Subject != "namespace:acme" || !strings.Contains(ev.Reason, "nina maintains acme") {
		t.Fatalf("the transfer delivery: %+v", ev)
	}

	// Each change is in the transparency log: the log grew consistently
	// from the monitor's checkpoint, and its entries, read from the served
	// tiles and hashed into the signed checkpoint, hold them.
	if _, _, errOut := host.run("log", "verify", "--since", since, "--trust-root", trustRoot); !strings.Contains(errOut, "consistent") {
		t.Fatalf("log verify: %s", errOut)
	}
	logged := map[trust.EventKind][]string{}
	for _, e := range readLog(t, c.base, trustRoot) {
		logged[e.Kind] = append(logged[e.Kind], e.Subject+" "+e.Detail)
	}
	for kind, want := range map[trust.EventKind]string{
		trust.EventPublisherKeyRemove:      keys["second"],
		trust.EventPublisherKeyCompromised: keys["first"] + ": e2e: the release laptop was stolen",
		trust.EventNamespaceOwner:          "to nina@acme.example.com",
		trust.EventVersionSuspended:        "reported compromised",
	} {
		if !strings.Contains(strings.Join(logged[kind], "\n"), want) {
			t.Errorf("no %s entry in the log saying %q: %q", kind, want, logged[kind])
		}
	}
}

// certify submits a signed package, waits for vetting, approves it as
// the reviewers if it is routed to them, and returns its submission id.
func certify(t *testing.T, c cast, pkg string) string {
	t.Helper()
	id := subID.FindString(c.publisher.must("plugin", "submit", pkg))
	if id == "" {
		t.Fatal("submit printed no submission id")
	}
	status := c.publisher.must("plugin", "status", id, "--wait", "--timeout", "8m")
	if strings.Contains(status, "in_review") {
		c.reviewer.must("review", "approve", id, "-m", "e2e")
		if s := c.publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
			c.reviewer2.must("review", "approve", id)
		}
	}
	if s := c.publisher.must("plugin", "status", id); !strings.Contains(s, "certified") {
		t.Fatalf("%s is not certified:\n%s", pkg, s)
	}
	return id
}

// waitAudit waits until n audit events of action have a reason that
// contains why.
func waitAudit(t *testing.T, admin gatehouse, action, why string, n int) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Minute)
	for {
		seen := 0
		for _, line := range strings.Split(strings.TrimSpace(admin.must("audit", "export")), "\n") {
			var e struct{ Action, Reason string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Action == action && strings.Contains(e.Reason, why) {
				seen++
			}
		}
		if seen >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events for %q after 8 minutes, want %d", seen, action, why, n)
		}
		time.Sleep(time.Second)
	}
}

// hooks is a subscriber's receiver: it keeps the deliveries whose
// Standard Webhooks signature verifies with the subscription's secret.
type hooks struct {
	url    string
	mu     sync.Mutex
	secret string
	events []webhook.Payload
	bad    int
}

func receiveWebhooks(t *testing.T) *hooks {
	h := &hooks{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h.mu.Lock()
		defer h.mu.Unlock()
		var p webhook.Payload
		if h.secret == "" || webhook.Verify(h.secret, r.Header, body, time.Now(), 0) != nil || json.Unmarshal(body, &p) != nil {
			h.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.events = append(h.events, p)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hooks"
	return h
}

// setSecret keeps the secret `webhook add` printed (its last line).
func (h *hooks) setSecret(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	h.mu.Lock()
	h.secret = strings.TrimSpace(lines[len(lines)-1])
	h.mu.Unlock()
}

// wait returns the first verified delivery of type typ.
func (h *hooks) wait(t *testing.T, typ string) audit.Event {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		h.mu.Lock()
		for _, p := range h.events {
			if p.Type == typ {
				h.mu.Unlock()
				return p.Data
			}
		}
		n, bad := len(h.events), h.bad
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s delivery after 2 minutes (%d verified, %d refused)", typ, n, bad)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readLog reads every entry of the served transparency log as a monitor
// would: the checkpoint, checked with the log key of the trust root, and
// the entry bundles, whose Merkle tree hash must be the checkpoint's.
func readLog(t *testing.T, base, trustRootFile string) []trust.Event {
	t.Helper()
	raw, err := os.ReadFile(trustRootFile)
	if err != nil {
		t.Fatal(err)
	}
	root, err := verify.ParseTrustRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlog.NewVerifier(root.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.VerifyCheckpoint([]byte(get(t, base+"/log/checkpoint")), v)
	if err != nil {
		t.Fatal(err)
	}
	var entries [][]byte
	for n := uint64(0); uint64(len(entries)) < cp.Size; n++ {
		w := int(min(cp.Size-n*256, 256))
		bundle, err := tlog.ParseEntryBundle([]byte(get(t, base+"/log/"+tlog.EntryBundlePath(n, w))))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, bundle...)
	}
	var stored []sumtlog.Hash
	reader := sumtlog.HashReaderFunc(func(idx []int64) ([]sumtlog.Hash, error) {
		out := make([]sumtlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not stored", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, e := range entries {
		hs, err := sumtlog.StoredHashes(int64(i), e, reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	if h, err := sumtlog.TreeHash(int64(cp.Size), reader); err != nil || h != cp.Hash {
		t.Fatalf("the served entries do not hash to the signed checkpoint (%v)", err)
	}
	var evs []trust.Event
	for _, e := range entries {
		if ev, err := trust.ParseEvent(e); err == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}
