package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
	"gatehouse.dev/gatehouse/internal/wasmfile/wasmtest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

func certifiablePackage(t *testing.T, id, version string) []byte {
	t.Helper()
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Moved","description":"Moves up.","owners":[{"name":"T","email":"t@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`, id, version)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: wasmtest.Handle}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMigrateThenVerify is issue 17's second proof: an embedded
// installation, populated through the real server (a namespace key, signed
// submissions, versions certified by a reviewer and installed on a host
// with `gatehouse install`), is stopped and moved up with `gatehouse
// migrate` into PostgreSQL and an S3 bucket; an API and a worker process
// then serve it with copies of the keys, and every installed plugin
// verifies against the new deployment (`gatehouse verify --refresh`, from
// the address the host installed from), as does a fresh install pinned to
// the old trust root; the log extends the checkpoint seen before the
// move, `gatehouse audit verify --database` passes, and a new submission
// goes through the new deployment.
func TestMigrateThenVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three marketplace processes")
	}
	dbURL, blobsURL := pgtest.URL(t), blobtest.S3URL(t)
	ctx := context.Background()
	data := t.TempDir()
	srv := startServer(t, data)
	cl, err := client.New(srv.base, srv.token)
	if err != nil {
		t.Fatal(err)
	}
	admin := []string{"GATEHOUSE_SERVER=" + srv.base, "GATEHOUSE_TOKEN=" + srv.token}
	mustRun := func(env []string, args ...string) string {
		t.Helper()
		out, code := run(t, env, args...)
		if code != 0 {
			t.Fatalf("gatehouse %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}

	// Populate: a namespace key, signed submissions, a reviewer who
	// certifies some of them, a host that installs those.
	signer, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := signer.PublicKey().MarshalPEM()
	if _, err := cl.AddNamespaceKey(ctx, "moved", pem); err != nil {
		t.Fatal(err)
	}
	submit := func(cl *client.Client, id, version string) string {
		t.Helper()
		p := certifiablePackage(t, id, version)
		env, err := intake.Sign(ctx, signer, p)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := trust.MarshalEnvelope(env)
		sub, _, err := cl.SubmitSigned(ctx, bytes.NewReader(p), sig)
		if err != nil {
			t.Fatal(err)
		}
		return sub.ID
	}
	waitState := func(cl *client.Client, id, want string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			sub, err := cl.Submission(ctx, id)
			if err == nil && sub.State == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("submission %s is %q (%v), want %s", id, sub.State, err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, submit(cl, fmt.Sprintf("moved/p%d", i), "1.0.0"))
	}
	// token create prints the secret alone on standard output, and notes
	// on standard error, which run combines.
	var reviewer string
	for _, l := range strings.Split(mustRun(admin, "token", "create", "--subject", "bob", "--role", "reviewer"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, " ") {
			reviewer = l
		}
	}
	asReviewer := []string{"GATEHOUSE_SERVER=" + srv.base, "GATEHOUSE_TOKEN=" + reviewer}
	host := filepath.Join(t.TempDir(), "host")
	certified := []string{"moved/p0", "moved/p1", "moved/p2"}
	for i, id := range ids {
		waitState(cl, id, "in_review")
		if i < len(certified) {
			mustRun(asReviewer, "review", "approve", id)
			waitState(cl, id, "certified")
			mustRun(admin, "install", certified[i]+"@1.0.0", "--dir", host)
		}
	}
	pkgOf := func(dir, plugin string) string {
		return filepath.Join(dir, strings.ReplaceAll(plugin, "/", "__")+"@1.0.0.gpkg")
	}
	for _, p := range certified {
		if out := mustRun(nil, "verify", pkgOf(host, p)); !strings.Contains(out, "verified "+p+"@1.0.0") {
			t.Fatalf("verify before the move:\n%s", out)
		}
	}
	before, err := cl.LogFetch(ctx, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(t.TempDir(), "seen.checkpoint")
	if err := os.WriteFile(seen, before, 0o600); err != nil {
		t.Fatal(err)
	}

	// While it serves, migrate refuses the folder.
	if out, code := run(t, nil, "migrate", "--data", data, "--to", dbURL, "--blobs", blobsURL); code == 0 || !strings.Contains(out, "stop `gatehouse serve`") {
		t.Fatalf("migrate of a served folder: exit %d\n%s", code, out)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// Move up.
	out := mustRun(nil, "migrate", "--data", data, "--to", dbURL, "--blobs", blobsURL)
	for _, want := range []string{"[5/5]", "verified on the target", "versions each with its package", "keys", "web-session.key", "gatehouse worker", "gatehouse serve --role api"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gatehouse:gatehouse@") {
		t.Errorf("migrate printed the database password:\n%s", out)
	}
	t.Logf("gatehouse migrate:\n%s", out)

	// The new deployment: a worker and an API process, each with a data
	// folder of its own holding a copy of the keys; the API on the address
	// the host installed from, as a DNS name would move.
	wdata, adata := t.TempDir(), t.TempDir()
	copyKeys(t, data, wdata)
	copyKeys(t, data, adata)
	startProc(t, "worker", "--database", dbURL, "--blobs", blobsURL, "--data", wdata, "--log-level", "warn", "--addr", "127.0.0.1:0")
	a := startProc(t, "serve", "--role", "api", "--database", dbURL, "--blobs", blobsURL, "--data", adata, "--log-level", "warn",
		"--addr", strings.TrimPrefix(srv.base, "http://"))
	if a.base != srv.base {
		t.Fatalf("the API serves on %s, want %s", a.base, srv.base)
	}

	// Every installed plugin verifies against the new deployment.
	out = mustRun(nil, "verify", "--refresh", host)
	for _, p := range certified {
		if !strings.Contains(out, "ok    "+p+"@1.0.0") {
			t.Errorf("verify --refresh against the new deployment lacks %s:\n%s", p, out)
		}
		if out := mustRun(nil, "verify", pkgOf(host, p)); !strings.Contains(out, "verified "+p+"@1.0.0") {
			t.Errorf("verify after the move:\n%s", out)
		}
	}
	// A new host installs from it, trusting the root pinned before the move.
	host2 := filepath.Join(t.TempDir(), "host2")
	for _, p := range certified {
		mustRun([]string{"GATEHOUSE_SERVER=" + a.base}, "install", p+"@1.0.0", "--dir", host2, "--trust-root", filepath.Join(host, "trust-root.json"))
		if out := mustRun(nil, "verify", pkgOf(host2, p)); !strings.Contains(out, "verified "+p+"@1.0.0") {
			t.Errorf("verify of a fresh install from the new deployment:\n%s", out)
		}
	}
	// The log only grew; the audit chain holds.
	newAdmin := []string{"GATEHOUSE_SERVER=" + a.base, "GATEHOUSE_TOKEN=" + srv.token}
	mustRun(newAdmin, "log", "verify", "--since", seen)
	if out := mustRun(nil, "audit", "verify", "--database", dbURL); !strings.Contains(out, "audit chain verified") {
		t.Errorf("audit verify --database: %s", out)
	}
	// And it carries on: a new submission through the new API, vetted by
	// the new worker, waits for a reviewer (whose token moved too) and is
	// certified: a new certificate and log entry after the copied ones.
	ncl, err := client.New(a.base, srv.token)
	if err != nil {
		t.Fatal(err)
	}
	id := submit(ncl, "moved/p9", "1.0.0")
	waitState(ncl, id, "in_review")
	mustRun([]string{"GATEHOUSE_SERVER=" + a.base, "GATEHOUSE_TOKEN=" + reviewer}, "review", "approve", id)
	waitState(ncl, id, "certified")
}
