package main_test

// These tests run the real binary as a user would: a server process, and
// the CLI against it.

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gatehouse: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type serverProc struct {
	cmd    *exec.Cmd
	base   string
	token  string
	out    *bytes.Buffer
	stdout *bytes.Buffer // what the server printed for its user
	mu     *sync.Mutex
}

// startServer runs `gatehouse serve` on a free port over data and waits
// until it serves.
func startServer(t *testing.T, data string, extra ...string) *serverProc {
	t.Helper()
	p := startProc(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn"}, extra...)...)
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	p.token = strings.TrimSpace(string(tok))
	return p.serverProc
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// printed returns what the server wrote to its standard output so far.
func (p *serverProc) printed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// logs returns what the server wrote to its standard error so far.
func (p *serverProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *serverProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// run runs the CLI with the server's address and token in its environment.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestNewcomerFlow is the "done when": init, build, pack, submit,
// status --wait in in_review with its history; audit verify passes, and
// fails after a row is edited by hand.
func TestNewcomerFlow(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	env := []string{"GATEHOUSE_SERVER=" + srv.base, "GATEHOUSE_TOKEN=" + srv.token}
	work := t.TempDir()
	dir := filepath.Join(work, "hello")

	mustRun := func(args ...string) string {
		t.Helper()
		out, code := run(t, env, args...)
		if code != 0 {
			t.Fatalf("gatehouse %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	mustRun("plugin", "init", "acme/hello", dir)
	mustRun("plugin", "build", dir)
	pkgPath := filepath.Join(work, "hello.gpkg")
	mustRun("plugin", "pack", dir, "-o", pkgPath)
	again := filepath.Join(work, "again.gpkg")
	mustRun("plugin", "pack", dir, "-o", again)
	a, _ := os.ReadFile(pkgPath)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Fatal("packing the same folder twice gave different bytes")
	}
	inspect := mustRun("plugin", "inspect", pkgPath)
	if !strings.Contains(inspect, "acme/hello") || !strings.Contains(inspect, "plugin.wasm") {
		t.Errorf("inspect output lacks the manifest or files:\n%s", inspect)
	}
	// An unsigned package is refused with the reason; the author makes a
	// key, registers it on the namespace, signs, and submits again.
	if out, code := run(t, env, "plugin", "submit", pkgPath); code == 0 || !strings.Contains(out, "requires a publisher signature") {
		t.Fatalf("an unsigned submission: exit %d\n%s", code, out)
	}
	key := filepath.Join(work, "publisher.key")
	mustRun("keys", "generate", "-o", key)
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the private key file: %v %v", fi, err)
	}
	if out := mustRun("namespace", "key", "add", "acme", key+".pub"); !strings.Contains(out, "Registered key") {
		t.Errorf("namespace key add: %s", out)
	}
	if out := mustRun("namespace", "key", "list", "acme"); !strings.Contains(out, "signatures required") || !strings.Contains(out, "current") {
		t.Errorf("namespace key list: %s", out)
	}
	if out := mustRun("keys", "show"); !strings.Contains(out, "Marketplace keys:") || !strings.Contains(out, "Log key:") {
		t.Errorf("keys show: %s", out)
	}
	mustRun("plugin", "sign", pkgPath, "--key", key)
	id := strings.TrimSpace(mustRun("plugin", "submit", pkgPath))
	if !strings.HasPrefix(id, "sub_") {
		t.Fatalf("submit printed %q", id)
	}
	status := mustRun("plugin", "status", id, "--wait")
	if !strings.Contains(status, "in_review") || !strings.Contains(status, audit.SubmissionCreate) || !strings.Contains(status, "triage → in_review") {
		t.Errorf("status --wait:\n%s", status)
	}
	// The analyzers ran, and the author sees each one's result.
	for _, want := range []string{"Vetting (run 1", "capabilities  passed", "secrets       passed", "dependencies  skipped"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	// The host side: run the packed plugin in the sandbox.
	if out := mustRun("run", pkgPath, "--insecure-skip-verify", "--call", "greet", "--input", `{"name":"Ada"}`); !strings.Contains(out, "Ada") || !strings.Contains(out, "host call") {
		t.Errorf("run greet:\n%s", out)
	}
	if out, code := run(t, env, "run", pkgPath, "--insecure-skip-verify", "--call", "nosuchexport"); code != 1 {
		t.Errorf("run of a missing export: exit %d\n%s", code, out)
	}
	// The same checks run locally, with no server, and leave nothing in
	// the temporary folder: compiled modules go to the user's cache
	// directory, reused by the next run.
	tmp, cache := t.TempDir(), t.TempDir()
	vetEnv := append(env[:len(env):len(env)], "TMPDIR="+tmp, "XDG_CACHE_HOME="+cache)
	if out, code := run(t, vetEnv, "vet", dir); code != 0 || !strings.Contains(out, "Every enforced check passed") {
		t.Errorf("vet of the scaffold: exit %d\n%s", code, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("vet left %d entries in the temporary folder, first %s", len(left), left[0].Name())
	}
	if cached, _ := os.ReadDir(filepath.Join(cache, "gatehouse", "compiled")); len(cached) == 0 {
		t.Errorf("vet kept no compiled module in %s/gatehouse/compiled", cache)
	}
	// With no user cache directory, the temporary one is removed on exit.
	if out, code := run(t, append(env[:len(env):len(env)], "TMPDIR="+tmp, "XDG_CACHE_HOME=", "HOME="), "vet", dir); code != 0 {
		t.Errorf("vet with no cache directory: exit %d\n%s", code, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("vet with no cache directory left %d entries in the temporary folder, first %s", len(left), left[0].Name())
	}
	// A steward imports a real subset of the Go vulnerability database
	// (the one the README imports) into the running server; a re-run then
	// matches components against it.
	osv := filepath.Join("..", "..", "testdata", "osv", "go-subset.zip")
	zr, err := zip.OpenReader(osv)
	if err != nil {
		t.Fatal(err)
	}
	records := len(zr.File)
	zr.Close()
	if out := mustRun("vulndb", "import", osv); !strings.Contains(out, fmt.Sprintf("records=%d ", records)) {
		t.Errorf("vulndb import: %s, want records=%d", out, records)
	}
	bad := filepath.Join(work, "bad.zip")
	os.WriteFile(bad, []byte("PK\x03\x04 not really a zip"), 0o600)
	if out, code := run(t, env, "vulndb", "import", bad); code == 0 || !strings.Contains(out, "unchanged") {
		t.Errorf("import of a corrupt zip: exit %d: %s", code, out)
	}
	req, _ := http.NewRequest("POST", srv.base+"/api/v1/submissions/"+id+"/vet", nil)
	req.Header.Set("Authorization", "Bearer "+srv.token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("re-vet: %v %v", err, resp)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := mustRun("plugin", "status", id)
		if strings.Contains(out, "Vetting (run 2") {
			if !strings.Contains(out, "dependencies  passed") {
				t.Errorf("re-run did not match against the imported database:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no second vetting run:\n%s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	var sub api.Submission
	if err := json.Unmarshal([]byte(mustRun("plugin", "status", id, "-o", "json")), &sub); err != nil || sub.State != "in_review" {
		t.Errorf("status -o json: %v %+v", err, sub)
	}
	if out := mustRun("audit", "verify"); !strings.Contains(out, "verified") {
		t.Errorf("audit verify: %s", out)
	}
	export := mustRun("audit", "export")
	if n := strings.Count(export, "\n"); n < 5 {
		t.Errorf("audit export has %d lines", n)
	}

	// Stop the server and edit a row by hand: verification must fail and
	// name the row.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	db, err := sql.Open("sqlite", filepath.Join(data, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET reason = 'nothing happened here' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, code := run(t, nil, "audit", "verify", "--data", data)
	if code != 2 || !strings.Contains(out, "event 3") {
		t.Errorf("audit verify after tampering: exit %d\n%s", code, out)
	}
}

// TestServeWithExamples is the README's first command: the example
// plugins are built, packed and submitted through the real submission
// path, vetted, and triaged by the default policy into the review queue.
func TestServeWithExamples(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--with-examples", filepath.Join("..", "..", "examples", "plugins"))
	cl, err := client.New(srv.base, srv.token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The server answers as soon as it says it is serving: the examples
	// are built and submitted behind it, each reported as it goes in.
	if _, err := cl.Submissions(ctx, ""); err != nil {
		t.Fatalf("the server does not answer once it says it is serving: %v", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var queue struct{ Items []struct{ Plugin string } }
		if err := cl.JSON(ctx, "GET", "/reviews", nil, &queue); err != nil {
			t.Fatal(err)
		}
		if len(queue.Items) == 3 {
			break
		}
		if rejected, _ := cl.Submissions(ctx, "rejected"); len(rejected) > 0 {
			t.Fatalf("an example plugin was rejected: %s: %s", rejected[0].Plugin, rejected[0].Reason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d examples in the review queue after 3 minutes; server log:\n%s", len(queue.Items), srv.logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The output tells the story in order: serving first, then each
	// example built and submitted, one line per step (not a terminal).
	out := srv.printed()
	for !strings.Contains(out, "example plugins are submitted") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		out = srv.printed()
	}
	order := []string{"serving on", "in the background", "[1/3] building the example plugin counter", "Submitted example acme/counter@1.0.0 as sub_",
		"building the example plugin notifier", "Submitted example acme/notifier@1.0.0", "building the example plugin templater", "Submitted example acme/templater@1.0.0", "All 3 example plugins are submitted"}
	at := 0
	for _, want := range order {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("the server's output lacks %q after offset %d:\n%s", want, at, out)
		}
		at += i + len(want)
	}
}

// TestCrashSafety kills the server with SIGKILL while submissions are in
// flight, restarts it, and checks that every submission answered with 202
// is there with its bytes, that no blob is left without a record, and that
// the audit chain holds.
func TestCrashSafety(t *testing.T) {
	data := t.TempDir()
	accepted := map[string]string{} // submission id → digest
	var mu sync.Mutex
	signer, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	round := 0
	for ; round < 3; round++ {
		srv := startServer(t, data)
		cl, err := client.New(srv.base, srv.token)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if round == 0 {
			pem, _ := signer.PublicKey().MarshalPEM()
			if _, err := cl.AddNamespaceKey(ctx, "crash", pem); err != nil {
				t.Fatal(err)
			}
		}
		// The server is killed once this round has had a few submissions
		// accepted (how many varies, so the kill lands at different
		// points), not after a fixed time that a busy machine could spend
		// before accepting any.
		killAfter := 1 + rand.IntN(8)
		acceptedNow := make(chan struct{}, 1024)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					p := testPackage(t, fmt.Sprintf("crash/p%d", w), fmt.Sprintf("%d.%d.0", round, i), 64<<10)
					env, err := intake.Sign(context.Background(), signer, p)
					if err != nil {
						t.Error(err)
						return
					}
					sig, _ := trust.MarshalEnvelope(env)
					sub, created, err := cl.SubmitSigned(ctx, bytes.NewReader(p), sig)
					if err == nil && created {
						mu.Lock()
						accepted[sub.ID] = sub.Digest
						mu.Unlock()
						select {
						case acceptedNow <- struct{}{}:
						default:
						}
					}
				}
			}(w)
		}
		timeout := time.After(2 * time.Minute)
		for n := 0; n < killAfter; n++ {
			select {
			case <-acceptedNow:
			case <-timeout:
				cancel()
				srv.kill()
				wg.Wait()
				t.Fatalf("round %d: %d submissions accepted in 2 minutes, want %d; server log:\n%s", round, n, killAfter, srv.logs())
			}
		}
		srv.kill() // SIGKILL, mid-flight: the other workers are still submitting
		cancel()
		wg.Wait()
	}
	if len(accepted) == 0 {
		t.Fatal("no submission was accepted before the kills")
	}

	srv := startServer(t, data)
	cl, _ := client.New(srv.base, srv.token)
	ctx := context.Background()
	for id, digest := range accepted {
		sub, err := cl.Submission(ctx, id)
		if err != nil {
			t.Fatalf("submission %s was answered 202 but is lost: %v", id, err)
		}
		var buf bytes.Buffer
		if err := cl.Download(ctx, digest, &buf); err != nil {
			t.Fatalf("package of %s (%s) cannot be served: %v", id, sub.Plugin, err)
		}
	}
	// Every blob on disk has its record: the server finds a version for
	// each digest (it answers 404 for a digest no record names).
	blobs := 0
	err = filepath.WalkDir(filepath.Join(data, "blobs", "sha256"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		blobs++
		digest := "sha256:" + filepath.Base(filepath.Dir(path)) + d.Name()
		if err := cl.Download(ctx, digest, io.Discard); err != nil {
			t.Errorf("blob %s has no record after restart: %v", digest, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cl.VerifyAudit(ctx)
	if err != nil || !v.OK {
		t.Fatalf("audit chain after crashes: %v %+v", err, v)
	}
	// Everything accepted moves on once the server runs again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pending, err := cl.Submissions(ctx, "received")
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d submissions still received after restart", len(pending))
		}
		time.Sleep(200 * time.Millisecond)
	}
	resp, err := http.Get(srv.base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	if blobs < len(accepted) {
		t.Errorf("%d blobs on disk for %d accepted submissions", blobs, len(accepted))
	}
	t.Logf("%d submissions accepted across %d kills; all recovered, %d blobs, none orphaned", len(accepted), round, blobs)
}

// testPackage makes a valid package of about size bytes whose module
// exports nothing, so vetting rejects it.
func testPackage(t *testing.T, id, version string, size int) []byte {
	return packageOf(t, id, version, size, []byte("\x00asm\x01\x00\x00\x00"))
}

// packageOf makes a valid package of about size bytes around module.
func packageOf(tb testing.TB, id, version string, size int, module []byte) []byte {
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Crash","description":"Crash test.","owners":[{"name":"T","email":"t@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":[]}`, id, version)
	filler := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(len(id)), uint64(len(version))))
	for i := range filler {
		filler[i] = byte(r.UintN(256))
	}
	copy(filler, "filler:") // never the magic of a nested archive
	var buf bytes.Buffer
	_, err := pkgfile.Write(&buf, []pkgfile.File{
		{Path: "manifest.json", Data: []byte(m)},
		{Path: "plugin.wasm", Data: module},
		{Path: "data.bin", Data: filler},
	})
	if err != nil {
		tb.Error(err)
	}
	return buf.Bytes()
}
