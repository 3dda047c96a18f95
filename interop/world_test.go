package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"gatehouse.dev/gatehouse/internal/cli"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/pluginkit"
)

// world is one real marketplace, taken once through the life of a plugin
// (a publisher key, a submission vetted, approved and certified), with a
// webhook receiver subscribed to every event. Every test checks what that
// left behind with an outside client.
type world struct {
	base                      string
	admin, publisher, steward gatehouse
	submission                string // the certified submission's id
	version                   string // namespace/name/versions/version, for URLs
	firstCheckpoint           []byte // the log's checkpoint before the submission
	receiver                  *receiver
	webhookSecret             string
}

var (
	theWorld  *world
	worldErr  error
	worldOnce sync.Once
	worldStop func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if worldStop != nil {
		worldStop()
	}
	os.Exit(code)
}

// getWorld builds the world on first use; a test that needs it fails with
// the reason when it could not be built.
func getWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a marketplace and vets a WebAssembly plugin built from source")
	}
	worldOnce.Do(func() {
		theWorld, worldErr = buildWorld()
	})
	if worldErr != nil {
		t.Fatalf("setting up the marketplace: %v", worldErr)
	}
	return theWorld
}

// gatehouse runs the command line in-process with the given environment.
type gatehouse struct{ env map[string]string }

func (g gatehouse) with(k, v string) gatehouse {
	env := map[string]string{}
	for key, val := range g.env {
		env[key] = val
	}
	env[k] = v
	return gatehouse{env: env}
}

func (g gatehouse) run(args ...string) (string, error) {
	out, code, err := g.runCode(args...)
	if code != 0 {
		return "", err
	}
	return out, nil
}

// runCode runs a command and returns its standard output and exit code;
// err describes a non-zero exit.
func (g gatehouse) runCode(args ...string) (string, int, error) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return g.env[k] }})
	if code != 0 {
		return stdout.String(), code, fmt.Errorf("gatehouse %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String(), 0, nil
}

// get answers a GET as the caller (no token for anonymous) and fails on
// anything but 200.
func (g gatehouse) get(path string) ([]byte, error) {
	req, err := http.NewRequest("GET", g.env["GATEHOUSE_SERVER"]+path, nil)
	if err != nil {
		return nil, err
	}
	if tok := g.env["GATEHOUSE_TOKEN"]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, data)
	}
	return data, nil
}

// delivery is one webhook request as the receiver got it.
type delivery struct {
	header http.Header
	body   []byte
	// verified is what the receiver's check said when the request came
	// in (nil: it verified), as a subscriber checks it: then, with the
	// timestamp tolerance enforced.
	verified error
}

// receiver is a subscriber's endpoint: it keeps every request it gets and
// checks each, on arrival, with the check a receiver plugs in.
type receiver struct {
	srv   *httptest.Server
	check func(body []byte, h http.Header) error // set before the subscription
	mu    sync.Mutex
	got   []delivery
}

func newReceiver() *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d := delivery{header: req.Header.Clone(), body: body, verified: errors.New("no check was set")}
		r.mu.Lock()
		if r.check != nil {
			d.verified = r.check(body, req.Header)
		}
		r.got = append(r.got, d)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waitFor waits until a delivery's body contains s.
func (r *receiver) waitFor(s string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, d := range r.deliveries() {
			if bytes.Contains(d.body, []byte(s)) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no webhook delivery mentioning %q within %s (got %d)", s, limit, len(r.deliveries()))
}

var (
	subIDPattern  = regexp.MustCompile(`sub_[a-z0-9]+`)
	secretPattern = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`)
)

func buildWorld() (_ *world, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "gatehouse-interop-")
	if err != nil {
		cancel()
		return nil, err
	}
	var stops []func()
	worldStop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		cancel()
		os.RemoveAll(dir)
	}

	data := filepath.Join(dir, "data")
	m, err := marketplace.Open(ctx, marketplace.Config{
		Data: data, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// The receiver below listens on loopback.
		WebhooksAllowPrivate: true,
	})
	if err != nil {
		return nil, err
	}
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		m.Close()
		return nil, err
	}
	adminToken, err := marketplace.ReadAdminToken(data)
	if err != nil {
		m.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	stops = append(stops, func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(os.Stderr, "interop: serve: %v\n", err)
		}
		m.Close()
	})

	w := &world{base: "http://" + ln.Addr().String(), receiver: newReceiver()}
	stops = append(stops, w.receiver.srv.Close)
	w.admin = gatehouse{env: map[string]string{"GATEHOUSE_SERVER": w.base, "GATEHOUSE_TOKEN": adminToken}}
	token := func(role, subject string, extra ...string) (gatehouse, error) {
		out, err := w.admin.run(append([]string{"token", "create", "--role", role, "--subject", subject}, extra...)...)
		return w.admin.with("GATEHOUSE_TOKEN", strings.TrimSpace(out)), err
	}
	var reviewer, reviewer2 gatehouse
	for _, step := range []func() error{
		func() (err error) {
			w.publisher, err = token("publisher", "dev@acme.example.com", "--namespace", "acme")
			return
		},
		func() (err error) { reviewer, err = token("reviewer", "rev@gatehouse.example"); return },
		func() (err error) { reviewer2, err = token("reviewer", "rev2@gatehouse.example"); return },
		func() (err error) { w.steward, err = token("steward", "steward@gatehouse.example"); return },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}

	// A steward subscribes the receiver to every event.
	out, err := w.steward.run("webhook", "add", w.receiver.srv.URL+"/hook", "--event", "*")
	if err != nil {
		return nil, err
	}
	if w.webhookSecret = secretPattern.FindString(out); w.webhookSecret == "" {
		return nil, fmt.Errorf("webhook add printed no secret:\n%s", out)
	}
	// The reference library checks each request as it arrives.
	hook, err := standardwebhooks.NewWebhook(w.webhookSecret)
	if err != nil {
		return nil, fmt.Errorf("the Standard Webhooks library refuses the secret %q... as a secret: %w", w.webhookSecret[:10], err)
	}
	w.receiver.mu.Lock()
	w.receiver.check = hook.Verify
	w.receiver.mu.Unlock()

	// The publisher's key, registered (a logged trust event), then the
	// log's checkpoint as a monitor would have seen it before the rest.
	work := filepath.Join(dir, "work")
	key := filepath.Join(work, "acme.key")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if _, err := w.publisher.run("keys", "generate", "-o", key); err != nil {
		return nil, err
	}
	if _, err := w.publisher.run("namespace", "key", "add", "acme", key+".pub"); err != nil {
		return nil, err
	}
	anonymous := gatehouse{env: map[string]string{"GATEHOUSE_SERVER": w.base}}
	if w.firstCheckpoint, err = anonymous.get("/log/checkpoint"); err != nil {
		return nil, err
	}

	// The counter example: built from source, packed, signed, submitted,
	// vetted, approved.
	src := filepath.Join("..", "examples", "plugins", "counter")
	pdir := filepath.Join(work, "counter")
	if err := copyDir(src, pdir); err != nil {
		return nil, err
	}
	if _, err := pluginkit.Build(ctx, pdir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
		return nil, err
	}
	pkg := filepath.Join(work, "counter.gpkg")
	for _, args := range [][]string{{"plugin", "pack", pdir, "-o", pkg}, {"plugin", "sign", pkg, "--key", key}} {
		if _, err := w.publisher.run(args...); err != nil {
			return nil, err
		}
	}
	if out, err = w.publisher.run("plugin", "submit", pkg); err != nil {
		return nil, err
	}
	if w.submission = subIDPattern.FindString(out); w.submission == "" {
		return nil, fmt.Errorf("submit printed no submission id:\n%s", out)
	}
	if out, err = w.publisher.run("plugin", "status", w.submission, "--wait", "--timeout", "8m"); err != nil {
		return nil, err
	}
	if !strings.Contains(out, "in_review") {
		return nil, fmt.Errorf("after vetting, the submission is not in review:\n%s", out)
	}
	if _, err := reviewer.run("review", "approve", w.submission, "-m", "interop"); err != nil {
		return nil, err
	}
	if out, _ = w.publisher.run("plugin", "status", w.submission); !strings.Contains(out, "certified") {
		if _, err := reviewer2.run("review", "approve", w.submission); err != nil {
			return nil, err
		}
	}
	if out, err = w.publisher.run("plugin", "status", w.submission); err != nil || !strings.Contains(out, "certified") {
		return nil, fmt.Errorf("after approval the submission is not certified (%v):\n%s", err, out)
	}
	w.version = "acme/counter/versions/1.0.0"
	// The certificate is the last event the receiver must hear of.
	if err := w.receiver.waitFor("certificate.issued", 2*time.Minute); err != nil {
		return nil, err
	}
	return w, nil
}

// copyDir copies an example plugin's folder, as its author would have it.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == "plugin.wasm" {
			return nil // built from source
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

// tool returns the outside tool an environment variable names, or skips
// the test, loudly, when it is not set: .ci/run sets it once the tool is
// installed and says so when it cannot be.
func tool(t *testing.T, env, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("SKIPPED: %s is not set, so %s was not checked (.ci/run installs it and sets it)", env, what)
	}
	return p
}
