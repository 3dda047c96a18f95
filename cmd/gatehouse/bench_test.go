package main_test

// Issue 17's benchmarks on real processes: the built binary as API
// (serve --role api) and worker processes on one PostgreSQL database and
// one S3 bucket, as TestScaleOut starts them. They need
// GATEHOUSE_TEST_POSTGRES and GATEHOUSE_TEST_S3 (docs/benchmarks.md has
// the commands and the numbers). Nothing here asserts a timing.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
	"gatehouse.dev/gatehouse/internal/wasmfile/wasmtest"
	"gatehouse.dev/gatehouse/trust"
)

// benchCluster is a marketplace of real processes on PostgreSQL + S3.
type benchCluster struct {
	b        testing.TB
	dbURL    string
	blobsURL string
	datas    []string
	apis     []*scaleProc
	workers  []*scaleProc
	token    string // the admin token
	signer   *trust.FileSigner
}

// startCluster starts apis API processes and workers worker processes,
// each with a data folder of its own (the keys copied from the first),
// and registers a publisher key on namespace ns. Their cleanup is tb's.
func startCluster(tb testing.TB, apis, workers int, ns string) *benchCluster {
	tb.Helper()
	c := &benchCluster{b: tb, dbURL: pgtest.URL(tb), blobsURL: blobtest.S3URL(tb)}
	// The first API makes the keys, the schema and the admin token.
	c.apis = append(c.apis, c.start("serve", "--role", "api"))
	for range apis - 1 {
		c.apis = append(c.apis, c.start("serve", "--role", "api"))
	}
	for range workers {
		c.workers = append(c.workers, c.start("worker"))
	}
	tok, err := os.ReadFile(filepath.Join(c.datas[0], "admin.token"))
	if err != nil {
		tb.Fatal(err)
	}
	c.token = strings.TrimSpace(string(tok))
	if c.signer, err = trust.GenerateKey(trust.Ed25519); err != nil {
		tb.Fatal(err)
	}
	pem, _ := c.signer.PublicKey().MarshalPEM()
	if _, err := c.client(0).AddNamespaceKey(context.Background(), ns, pem); err != nil {
		tb.Fatal(err)
	}
	return c
}

// start runs one more process of the cluster with role.
func (c *benchCluster) start(role ...string) *scaleProc {
	data := c.b.TempDir()
	if len(c.datas) > 0 {
		copyKeys(c.b, c.datas[0], data)
	}
	c.datas = append(c.datas, data)
	return startProc(c.b, append(role, "--database", c.dbURL, "--blobs", c.blobsURL, "--data", data, "--log-level", "warn", "--addr", "127.0.0.1:0")...)
}

// client is an admin client of the i-th API process.
func (c *benchCluster) client(i int) *client.Client {
	cl, err := client.New(c.apis[i].base, c.token)
	if err != nil {
		c.b.Fatal(err)
	}
	return cl
}

// signed is a package of size filler bytes and its signature.
type signed struct{ pkg, sig []byte }

func (c *benchCluster) sign(tb testing.TB, id, version string, size int) signed {
	p := benchPackage(tb, id, version, size)
	env, err := intake.Sign(context.Background(), c.signer, p)
	if err != nil {
		tb.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	return signed{p, sig}
}

// benchPackage is a package as testPackage makes them, with a module
// that exports what its manifest declares, so that a reviewer may
// approve it.
func benchPackage(tb testing.TB, id, version string, size int) []byte {
	return packageOf(tb, id, version, size, wasmtest.Handle)
}

// submitAll submits every package through the API processes, round-robin,
// from submitters goroutines; a 429 (the upload limit) is retried. It
// returns the submissions' ids.
func (c *benchCluster) submitAll(tb testing.TB, pkgs []signed, submitters int) []string {
	ids := make([]string, len(pkgs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range submitters {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(pkgs) {
					return
				}
				for attempt := 0; ; attempt++ {
					sub, _, err := c.client(i%len(c.apis)).SubmitSigned(context.Background(), bytes.NewReader(pkgs[i].pkg), pkgs[i].sig)
					if err == nil {
						ids[i] = sub.ID
						break
					}
					if attempt == 50 {
						tb.Errorf("submitting %d: %v", i, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return ids
}

// pipelineStates are the states a submission is in until its verdict.
var pipelineStates = []string{"received", "vetting", "triage", "auto_approved"}

// waitVerdicts polls until no submission is in a pipeline state.
func (c *benchCluster) waitVerdicts(tb testing.TB, within time.Duration) {
	cl := c.client(0)
	deadline := time.Now().Add(within)
	for {
		busy := false
		for _, st := range pipelineStates {
			var out api.SubmissionList
			if err := cl.JSON(context.Background(), "GET", "/submissions?limit=1&state="+st, nil, &out); err != nil {
				tb.Fatal(err)
			}
			if len(out.Submissions) > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, w := range c.workers {
				logs.WriteString(w.logs())
			}
			tb.Fatalf("submissions still in the pipeline after %s; worker logs:\n%s", within, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkVerdicts: submissions to verdicts per second with one API
// process and 1 or 2 worker processes. b.N signed packages are submitted
// concurrently through the API; the clock stops when every one has left
// the pipeline states (received, vetting, triage, auto_approved).
func BenchmarkVerdicts(b *testing.B) {
	if os.Getenv("GATEHOUSE_TEST_POSTGRES") == "" {
		b.Skip("GATEHOUSE_TEST_POSTGRES is not set")
	}
	for _, workers := range []int{1, 2} {
		var c *benchCluster
		var run int
		b.Run(fmt.Sprintf("workers=%d", workers), func(sb *testing.B) {
			if c == nil {
				// The parent's cleanup: the processes outlive each
				// invocation with a new b.N, and end with the parent.
				c = startCluster(b, 1, workers, "bench")
			}
			run++
			pkgs := make([]signed, sb.N)
			for i := range pkgs {
				pkgs[i] = c.sign(sb, fmt.Sprintf("bench/r%dp%d", run, i), "1.0.0", 16<<10)
			}
			sb.ResetTimer()
			start := time.Now()
			ids := c.submitAll(sb, pkgs, 4)
			accepted := time.Since(start)
			c.waitVerdicts(sb, 10*time.Minute)
			sb.StopTimer()
			sb.ReportMetric(float64(sb.N)/sb.Elapsed().Seconds(), "verdicts/s")
			// How fast the API acknowledged them: when this is close to
			// verdicts/s, intake rather than the workers sets the pace.
			sb.ReportMetric(float64(sb.N)/accepted.Seconds(), "accepted/s")
			if slices.Contains(ids, "") {
				sb.Fatal("a submission was not acknowledged")
			}
		})
		if c != nil {
			for _, p := range append(c.apis, c.workers...) {
				p.kill() // before the next cluster starts
			}
		}
	}
}

// catalogCluster is a cluster of 2 API processes whose catalog holds
// plugins certified plugins (each approved by a reviewer), of which the
// first's package has downloadSize filler bytes; the worker that vetted
// them is stopped before anything is measured.
func catalogCluster(b *testing.B, plugins, downloadSize int) (c *benchCluster, digest string) {
	if os.Getenv("GATEHOUSE_TEST_POSTGRES") == "" {
		b.Skip("GATEHOUSE_TEST_POSTGRES is not set")
	}
	c = startCluster(b, 2, 1, "cat")
	ctx := context.Background()
	pkgs := make([]signed, plugins)
	for i := range pkgs {
		size := 16 << 10
		if i == 0 {
			size = downloadSize
		}
		pkgs[i] = c.sign(b, fmt.Sprintf("cat/plugin-%03d", i), "1.0.0", size)
	}
	ids := c.submitAll(b, pkgs, 4)
	c.waitVerdicts(b, 10*time.Minute)
	rv, err := c.client(0).CreateToken(ctx, api.TokenRequest{Subject: "rita", Role: "reviewer"})
	if err != nil {
		b.Fatal(err)
	}
	reviewer, _ := client.New(c.apis[0].base, rv.Secret)
	for _, id := range ids {
		var out struct{ State string }
		if err := reviewer.JSON(ctx, "POST", "/reviews/"+id+"/approve", map[string]any{"message": "benchmark"}, &out); err != nil {
			sub, _ := c.client(0).Submission(ctx, id)
			b.Fatalf("approving %s: %v\n%+v", id, err, sub)
		}
		if out.State != "certified" {
			b.Fatalf("approved %s is %s, not certified", id, out.State)
		}
	}
	sub, err := c.client(0).Submission(ctx, ids[0])
	if err != nil {
		b.Fatal(err)
	}
	// The worker's background work (the log, schedules) is done or
	// waits; stop it so that only the APIs take the cores.
	time.Sleep(2 * time.Second)
	for _, w := range c.workers {
		w.kill()
	}
	return c, sub.Digest
}

// BenchmarkCatalog: anonymous GET /api/v1/plugins?limit=50 from 16
// concurrent clients over 1 and 2 API processes (round-robin), beside a
// static file server on loopback serving the same bytes.
func BenchmarkCatalog(b *testing.B) {
	c, _ := catalogCluster(b, 60, 16<<10)
	benchHTTP(b, c, "/api/v1/plugins?limit=50", "/catalog.json", 50)
}

// BenchmarkDownload: anonymous GET /api/v1/packages/{digest} of a
// certified package (released versions are anyone's to download) from 16
// concurrent clients over 1 and 2 API processes, beside a static file
// server on loopback serving the same bytes.
func BenchmarkDownload(b *testing.B) {
	c, digest := catalogCluster(b, 1, 256<<10)
	benchHTTP(b, c, "/api/v1/packages/"+digest, "/package.gpkg", 0)
}

// benchClients is the number of concurrent clients of the HTTP benchmarks.
const benchClients = 16

// benchHTTP runs static, apis=1 and apis=2 sub-benchmarks of GET path,
// and reports each one's requests per second, p99 latency and ratio to
// the static server of the same run. wantPlugins, when not 0, is the
// number of plugins the catalog page must hold.
func benchHTTP(b *testing.B, c *benchCluster, path, staticName string, wantPlugins int) {
	// The same bytes as the API's answer, from a file on loopback.
	resp, err := http.Get(c.apis[0].base + path)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
	}
	if wantPlugins > 0 {
		var page api.PluginList
		if err := json.Unmarshal(body, &page); err != nil || len(page.Plugins) != wantPlugins {
			b.Fatalf("the catalog page holds %d plugins, want %d: %v\n%.2000s", len(page.Plugins), wantPlugins, err, body)
		}
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, strings.TrimPrefix(staticName, "/")), body, 0o600); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	static := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go static.Serve(ln)
	b.Cleanup(func() { static.Close() })
	b.Logf("%s: %d bytes", path, len(body))

	var staticRate float64
	peers := []struct {
		name string
		urls []string
	}{
		{"static", []string{"http://" + ln.Addr().String() + staticName}},
		{"apis=1", []string{c.apis[0].base + path}},
		{"apis=2", []string{c.apis[0].base + path, c.apis[1].base + path}},
	}
	for _, peer := range peers {
		b.Run(peer.name, func(b *testing.B) {
			rate, p99 := loadHTTP(b, peer.urls, len(body))
			b.ReportMetric(rate, "req/s")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			if peer.name == "static" {
				staticRate = rate
			} else if staticRate > 0 {
				b.ReportMetric(rate/staticRate, "x-static")
			}
		})
	}
}

// loadHTTP makes b.N GET requests from benchClients goroutines, spread
// round-robin over urls, each answer read whole and checked (200, size
// bytes); it returns the requests per second and the 99th percentile of
// their latencies.
func loadHTTP(b *testing.B, urls []string, size int) (float64, time.Duration) {
	tr := &http.Transport{MaxIdleConns: 2 * benchClients, MaxIdleConnsPerHost: benchClients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				start := time.Now()
				resp, err := hc.Get(urls[i%len(urls)])
				if err != nil {
					b.Error(err)
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(start)
				if err != nil || resp.StatusCode != 200 || int(n) != size {
					b.Errorf("GET %s: %d, %d bytes of %d, %v", urls[i%len(urls)], resp.StatusCode, n, size, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	return float64(b.N) / b.Elapsed().Seconds(), lat[(len(lat)*99)/100]
}
