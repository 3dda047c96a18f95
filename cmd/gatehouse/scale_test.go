package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// scaleProc is one process of a scaled-out marketplace.
type scaleProc struct {
	args []string
	*serverProc
}

var readyLine = regexp.MustCompile(`(?:serving on|metrics on) (http://\S+)`)

// startProc runs the binary with args and waits until it prints its
// address.
func startProc(t testing.TB, args ...string) *scaleProc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs, printed bytes.Buffer
	var mu sync.Mutex
	cmd.Stderr = &lockedWriter{w: &logs, mu: &mu}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &scaleProc{args: args, serverProc: &serverProc{cmd: cmd, out: &logs, stdout: &printed, mu: &mu}}
	t.Cleanup(func() { p.kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			printed.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.base = <-found:
	case <-time.After(90 * time.Second):
		t.Fatalf("%v did not start; its log:\n%s", args, p.logs())
	}
	return p
}

// restart kills the process with SIGKILL and starts it again with the
// same arguments.
func (p *scaleProc) restart(t *testing.T) *scaleProc {
	p.kill()
	return startProc(t, p.args...)
}

// TestScaleOut is issue 17's proof: two API and two worker processes on
// one PostgreSQL database and one S3 bucket take 200 submissions spread over both APIs while
// one worker and one API are killed (SIGKILL) mid-run and restarted. Every
// acknowledged submission reaches a verdict exactly once, the audit chain
// verifies, and both APIs serve the same log checkpoint, which extends the
// one saved before the run.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four marketplace processes")
	}
	dbURL := pgtest.URL(t)
	blobsURL := blobtest.S3URL(t)
	// Each process has a data folder of its own, as on its own machine;
	// they share the database and the bucket, and the keys, which an
	// operator copies from the first process's folder (docs/operations.md).
	datas := make([]string, 4)
	for i := range datas {
		datas[i] = t.TempDir()
	}
	args := func(i int, role ...string) []string {
		return append(role, "--database", dbURL, "--blobs", blobsURL, "--data", datas[i], "--log-level", "warn", "--addr", "127.0.0.1:0")
	}
	// The first process makes the keys and the schema; the rest share them.
	w1 := startProc(t, args(0, "worker")...)
	for _, d := range datas[1:] {
		copyKeys(t, datas[0], d)
	}
	a1 := startProc(t, args(1, "serve", "--role", "api")...)
	w2 := startProc(t, args(2, "worker")...)
	a2 := startProc(t, args(3, "serve", "--role", "api")...)
	data := datas[1] // the first API made the admin token there
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	ctx := context.Background()
	clientOf := func(p *scaleProc) *client.Client {
		cl, err := client.New(p.base, token)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	for _, p := range []*scaleProc{w1, a1, w2, a2} {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v is not ready: %v %v\n%s", p.args[:2], resp, err, p.logs())
		}
		resp.Body.Close()
	}
	if resp, err := http.Get(w1.base + "/api/v1/plugins"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("a worker answered an API request: %v %v", resp, err)
	}

	signer, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := signer.PublicKey().MarshalPEM()
	if _, err := clientOf(a1).AddNamespaceKey(ctx, "scale", pem); err != nil {
		t.Fatal(err)
	}
	// The checkpoint before the run, which the log must extend.
	before := waitCheckpoint(t, clientOf(a2), 1)
	sinceFile := filepath.Join(t.TempDir(), "checkpoint")
	if err := os.WriteFile(sinceFile, before, 0o600); err != nil {
		t.Fatal(err)
	}

	const total, submitters = 200, 8
	var (
		mu       sync.Mutex
		accepted = map[string]string{} // id → digest
		apis     = []*scaleProc{a1, a2}
		next     = make(chan int, total)
		wg       sync.WaitGroup
	)
	for i := range total {
		next <- i
	}
	close(next)
	for s := range submitters {
		wg.Go(func() {
			for i := range next {
				// One in ten passes vetting and waits for a reviewer, who
				// certifies it below; the rest are rejected by vetting.
				p := testPackage(t, fmt.Sprintf("scale/p%d", s), fmt.Sprintf("1.0.%d", i), 16<<10)
				if i%10 == 0 {
					p = certifiablePackage(t, fmt.Sprintf("scale/c%d", i), "1.0.0")
				}
				env, err := intake.Sign(ctx, signer, p)
				if err != nil {
					t.Error(err)
					return
				}
				sig, _ := trust.MarshalEnvelope(env)
				// Spread over both APIs; a killed one is retried on the
				// other, as a load balancer would.
				var lastErr error
				for attempt := 0; attempt < 100; attempt++ {
					mu.Lock()
					api := apis[(i+attempt)%2]
					mu.Unlock()
					cl, _ := client.New(api.base, token)
					sub, _, err := cl.SubmitSigned(ctx, bytes.NewReader(p), sig)
					if err == nil {
						mu.Lock()
						accepted[sub.ID] = sub.Digest
						mu.Unlock()
						lastErr = nil
						break
					}
					lastErr = err
					time.Sleep(100 * time.Millisecond)
				}
				if lastErr != nil {
					t.Errorf("submission %d was never acknowledged: %v", i, lastErr)
				}
			}
		})
	}
	// Kill one worker and one API once part of the work is in.
	waitAccepted := func(n int) {
		deadline := time.Now().Add(3 * time.Minute)
		for {
			mu.Lock()
			got := len(accepted)
			mu.Unlock()
			if got >= n || time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitAccepted(total / 4)
	w1 = w1.restart(t)
	waitAccepted(total / 2)
	mu.Lock()
	apis[0].kill()
	mu.Unlock()
	a1 = a1.restart(t)
	mu.Lock()
	apis[0] = a1
	mu.Unlock()
	wg.Wait()
	if len(accepted) != total {
		t.Fatalf("%d of %d submissions were acknowledged", len(accepted), total)
	}

	// Every acknowledged submission reaches a verdict.
	cl := clientOf(a2)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		unsettled := 0
		for _, state := range []string{"received", "vetting", "triage", "auto_approved"} {
			subs, err := cl.Submissions(ctx, state)
			if err != nil {
				t.Fatal(err)
			}
			unsettled += len(subs)
		}
		if unsettled == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d submissions have no verdict 5 minutes after the run; worker logs:\n%s\n%s", unsettled, w1.logs(), w2.logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// A reviewer certifies the versions waiting for one, through both
	// APIs, while a worker is killed and restarted: each gets exactly one
	// certificate, and one log entry for it.
	inReview, err := cl.Submissions(ctx, "in_review")
	if err != nil {
		t.Fatal(err)
	}
	if len(inReview) != total/10 {
		t.Fatalf("%d versions wait for review, want %d", len(inReview), total/10)
	}
	var reviewer string
	out, code := run(t, []string{"GATEHOUSE_SERVER=" + a1.base, "GATEHOUSE_TOKEN=" + token}, "token", "create", "--subject", "bob", "--role", "reviewer")
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, " ") {
			reviewer = l
		}
	}
	if code != 0 || reviewer == "" {
		t.Fatalf("creating a reviewer token: exit %d\n%s", code, out)
	}
	for i, sub := range inReview {
		if i == len(inReview)/2 {
			w2 = w2.restart(t)
		}
		api := []*scaleProc{a1, a2}[i%2]
		if out, code := run(t, []string{"GATEHOUSE_SERVER=" + api.base, "GATEHOUSE_TOKEN=" + reviewer}, "review", "approve", sub.ID); code != 0 {
			t.Fatalf("approving %s: exit %d\n%s", sub.ID, code, out)
		}
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		certified, err := cl.Submissions(ctx, "certified")
		if err != nil {
			t.Fatal(err)
		}
		if len(certified) == len(inReview) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d approved versions are certified 3 minutes later", len(certified), len(inReview))
		}
	}

	// ... exactly once: one move out of triage per version in the audit
	// trail (to rejected, auto-approved or in review), and one certificate
	// per certified version.
	var trail bytes.Buffer
	if err := cl.ExportAudit(ctx, &trail, 0); err != nil {
		t.Fatal(err)
	}
	verdicts, certificates := map[string]int{}, map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(trail.Bytes()), []byte("\n")) {
		var ev struct{ Action, Subject, OldState string }
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.OldState == "triage" {
			verdicts[strings.TrimPrefix(ev.Subject, "submission:")]++
		}
		if ev.Action == "certificate.issued" {
			certificates[strings.TrimPrefix(ev.Subject, "submission:")]++
		}
	}
	for _, sub := range inReview {
		if n := certificates[sub.ID]; n != 1 {
			t.Errorf("certified version %s has %d certificates, want exactly 1", sub.ID, n)
		}
	}
	for id := range accepted {
		if n := verdicts[id]; n != 1 {
			t.Errorf("submission %s left triage %d times, want exactly 1", id, n)
		}
	}
	if v, err := cl.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit chain: %v %+v", err, v)
	}
	out, code = run(t, nil, "audit", "verify", "--database", dbURL)
	if code != 0 {
		t.Fatalf("gatehouse audit verify exits %d:\n%s", code, out)
	}

	// Both APIs serve one log, which extends the checkpoint from before.
	time.Sleep(time.Second)
	c1 := waitCheckpoint(t, clientOf(a1), 1)
	c2 := waitCheckpoint(t, clientOf(a2), 1)
	if !bytes.Equal(c1, c2) {
		t.Errorf("the two APIs serve different checkpoints:\n%s\n%s", c1, c2)
	}
	// No entry is in the log twice.
	cp, err := tlog.ParseCheckpoint(c1[:bytes.Index(c1, []byte("\n\n"))+1])
	if err != nil {
		t.Fatal(err)
	}
	prover := tlog.TileProver{Fetch: clientOf(a1).LogFetch}
	seen := map[string]bool{}
	for b := uint64(0); b*256 < cp.Size; b++ {
		entries, err := prover.Entries(ctx, b, cp)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if seen[string(e)] {
				t.Errorf("log entry %s is in the log twice", e)
			}
			seen[string(e)] = true
		}
	}
	out, code = run(t, []string{"GATEHOUSE_SERVER=" + a1.base, "GATEHOUSE_TOKEN=" + token}, "log", "verify", "--since", sinceFile)
	if code != 0 {
		t.Fatalf("gatehouse log verify exits %d:\n%s", code, out)
	}
	// No package byte is on any process's local disk: the packages are in
	// the bucket only.
	digests := map[string]bool{}
	for _, d := range accepted {
		digests[d] = true
	}
	for _, d := range datas {
		if _, err := os.Stat(filepath.Join(d, "blobs")); err == nil {
			t.Errorf("%s has a blobs folder; the blobs belong in the bucket", d)
		}
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if sum := sha256.Sum256(b); digests["sha256:"+hex.EncodeToString(sum[:])] {
				t.Errorf("a package is on local disk at %s", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d submissions over 2 APIs and 2 workers, one of each killed and restarted; log verified", len(accepted))
}

// copyKeys copies the keys of a marketplace's first process (the
// marketplace and log keys, the keyring, the web session and webhook keys) to another
// process's data folder, as docs/operations.md tells operators to.
func copyKeys(t testing.TB, from, to string) {
	t.Helper()
	for _, rel := range []string{"keys/marketplace.key", "keys/marketplace.pub", "keys/log.key", "keys/log.pub", "keys/keyring.json", "web-session.key", "webhook.key"} {
		b, err := os.ReadFile(filepath.Join(from, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(to, filepath.Dir(rel)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCheckpoint returns the log checkpoint cl's server serves once its
// tree holds at least min entries.
func waitCheckpoint(t *testing.T, cl *client.Client, min int) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := cl.LogFetch(context.Background(), "checkpoint")
		if err == nil {
			lines := strings.SplitN(string(b), "\n", 3)
			var size int
			if len(lines) > 1 {
				fmt.Sscan(lines[1], &size)
			}
			if size >= min {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %d entries after a minute: %v", min, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSigtermDrains: on SIGTERM a process fails its readiness probe at
// once, keeps answering for the drain delay (so a load balancer moves
// away first), then exits cleanly.
func TestSigtermDrains(t *testing.T) {
	p := startServer(t, t.TempDir(), "--drain-delay", "5s")
	// The address is printed before the start-up sweep; wait until the
	// process serves.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("the process never became ready: %v; its log:\n%s", err, p.logs())
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness fails before the process stops answering at all.
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatalf("the process stopped answering before its readiness probe failed: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, err := http.Get(p.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("while draining, healthz = %v, %v; the process is alive", resp, err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the process exited with %v after SIGTERM; its log:\n%s", err, p.logs())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the process did not exit within a minute of SIGTERM")
	}
}
