package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/policy"
)

// TestRevalidateCommand runs a real marketplace and drives the
// revalidation commands and endpoints a steward and a host use. The
// revalidation itself (renewal, suspension, revocation) is proven in
// package revalidate; here: the wiring, the refusals and the host role's
// least privilege.
func TestRevalidateCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	m, err := marketplace.Open(ctx, marketplace.Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Revalidate == nil || m.Health == nil {
		t.Fatal("the marketplace runs without revalidation or host health")
	}
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := marketplace.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	base := "http://" + ln.Addr().String()
	admin, _ := marketplace.ReadAdminToken(data)
	cl, _ := client.New(base, admin)
	steward, err := cl.CreateToken(ctx, api.TokenRequest{Subject: "sam", Role: "steward"})
	if err != nil {
		t.Fatal(err)
	}
	host, err := cl.CreateToken(ctx, api.TokenRequest{Subject: "host-eu-1", Role: "host"})
	if err != nil {
		t.Fatalf("creating a host token: %v", err)
	}

	run := func(wantCode int, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		env := Env{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
			return map[string]string{"GATEHOUSE_SERVER": base, "GATEHOUSE_TOKEN": steward.Secret}[k]
		}}
		if code := Main(ctx, args, env); code != wantCode {
			t.Fatalf("gatehouse %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out.String())
		}
		return out.String()
	}

	if out := run(0, "revalidate", "--all"); !strings.Contains(out, "0 revalidation(s) queued") {
		t.Fatalf("revalidate --all on an empty marketplace:\n%s", out)
	}
	if out := run(1, "revalidate", "acme/none@1.0.0"); !strings.Contains(out, "no version acme/none@1.0.0") {
		t.Fatalf("revalidate of an unknown version:\n%s", out)
	}
	if out := run(2, "revalidate"); !strings.Contains(out, "VERSION or give --all") {
		t.Fatalf("revalidate without arguments:\n%s", out)
	}

	// vulndb import through the API answers with what it revalidates.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	f, _ := zw.Create("GO-2099-0001.json")
	f.Write([]byte(`{"schema_version":"1.3.1","id":"GO-2099-0001","modified":"2099-01-01T00:00:00Z","affected":[{"package":{"name":"example.com/x","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`))
	zw.Close()
	zipPath := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(zipPath, zbuf.Bytes(), 0o600)
	if out := run(0, "vulndb", "import", zipPath); !strings.Contains(out, "Imported sha256:") {
		t.Fatalf("vulndb import:\n%s", out)
	}

	// The policy dry run reports the certified versions a policy would
	// suspend (none here), and applying it says what it revalidates.
	polDir := t.TempDir()
	for name, src := range policy.Default().Modules {
		os.WriteFile(filepath.Join(polDir, name), []byte(src), 0o600)
	}
	if out := run(0, "policy", "apply", "--dry-run", polDir); !strings.Contains(out, "0 certified version(s) would be suspended") {
		t.Fatalf("policy apply --dry-run:\n%s", out)
	}
	if out := run(0, "policy", "apply", polDir); !strings.Contains(out, "Applied sha256:") {
		t.Fatalf("policy apply:\n%s", out)
	}

	// A host reports health and can do nothing else.
	hc, _ := client.New(base, host.Secret)
	report := map[string]any{"windowStart": time.Now().Add(-time.Hour), "windowEnd": time.Now(),
		"plugins": []map[string]any{{"plugin": "acme/none", "version": "1.0.0", "calls": 10}}}
	if err := hc.JSON(ctx, "POST", "/health", report, nil, http.StatusAccepted); err == nil || !strings.Contains(err.Error(), "unknown plugin version") {
		t.Fatalf("a report about an unknown version: %v", err)
	}
	report["plugins"] = []map[string]any{{"plugin": "acme/none", "version": "1.0.0", "calls": 10, "errors": map[string]int{"gremlins": 1}}}
	if err := hc.JSON(ctx, "POST", "/health", report, nil, http.StatusAccepted); err == nil || !strings.Contains(err.Error(), "not a sandbox error kind") {
		t.Fatalf("a report with an unknown error kind: %v", err)
	}
	for _, path := range []string{"/whoami", "/plugins/acme/none/versions/1.0.0", "/revalidations", "/host-api"} {
		if err := hc.JSON(ctx, "GET", path, nil, nil); err == nil || !strings.Contains(err.Error(), "403") && !strings.Contains(err.Error(), "may not") {
			t.Errorf("a host token read %s: %v; want 403", path, err)
		}
	}
	if err := (func() error {
		sc, _ := client.New(base, steward.Secret)
		return sc.JSON(ctx, "POST", "/health", report, nil, http.StatusAccepted)
	})(); err == nil || !strings.Contains(err.Error(), "may not") {
		t.Errorf("a steward posted a host health report: %v", err)
	}

	// The platform offers a new host API version: nothing is certified, so
	// nothing is flagged, and the offer is listed.
	sc, _ := client.New(base, steward.Secret)
	var offer api.HostAPIOffer
	if err := sc.JSON(ctx, "POST", "/host-api", map[string]string{"version": "2.0.0"}, &offer); err != nil || offer.Version != "2.0.0" || len(offer.Incompatible) != 0 {
		t.Fatalf("offering host API 2.0.0: %+v, %v", offer, err)
	}
	if err := sc.JSON(ctx, "POST", "/host-api", map[string]string{"version": "two"}, nil); err == nil || !strings.Contains(err.Error(), "semantic version") {
		t.Fatalf("offering host API \"two\": %v", err)
	}
	var offers []api.HostAPIOffer
	if err := sc.JSON(ctx, "GET", "/host-api", nil, &offers); err != nil || len(offers) != 1 || offers[0].By != "sam" {
		t.Fatalf("host API offers: %+v, %v", offers, err)
	}
}
