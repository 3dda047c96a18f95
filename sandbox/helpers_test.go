package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/manifest"
)

// workDir holds the test plugins built for this test binary run and a
// compilation cache they share.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string][]byte{}
)

// buildPlugin builds ./testdata/<name> as a wasip1 reactor, once per test
// binary run.
func buildPlugin(tb testing.TB, name string) []byte {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	out := filepath.Join(workDir, filepath.FromSlash(name)+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./"+filepath.ToSlash(filepath.Join("testdata", name)))
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building test plugin %s: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[name] = b
	return b
}

func testManifest(id string, exports []string, perms ...string) *manifest.Manifest {
	return &manifest.Manifest{
		ManifestVersion: 1,
		ID:              id,
		Version:         "1.0.0",
		Name:            id,
		License:         "MIT",
		Runtime:         manifest.Runtime{Module: "plugin.wasm", Exports: exports, HostAPI: "^1.0.0"},
		Permissions:     perms,
	}
}

// testEnv is a Runtime with its own registry and a captured log.
type testEnv struct {
	rt  *Runtime
	reg *prometheus.Registry
	log *bytes.Buffer
}

func newEnv(tb testing.TB, mutate func(*Config)) *testEnv {
	tb.Helper()
	reg := prometheus.NewRegistry()
	var logBuf bytes.Buffer
	cfg := Config{
		CacheDir:   filepath.Join(workDir, "cache"),
		Registerer: reg,
		Logger:     slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	rt, err := NewRuntime(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(context.Background()) })
	return &testEnv{rt: rt, reg: reg, log: &logBuf}
}

func (e *testEnv) load(tb testing.TB, req LoadRequest) *Plugin {
	tb.Helper()
	p, err := e.rt.Load(context.Background(), req)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	tb.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// metric returns the sum of the counters or gauges called name whose
// labels include labels, read from the registry (so it also proves the
// metric is registered); 0 if there is no such series.
func (e *testEnv) metric(tb testing.TB, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func (e *testEnv) calls(tb testing.TB, p *Plugin, result string) float64 {
	tb.Helper()
	return e.metric(tb, "gatehouse_plugin_calls_total", map[string]string{"plugin": p.ref.ID, "version": p.ref.Version, "result": result})
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (e *testEnv) logText() string {
	return e.log.String()
}
