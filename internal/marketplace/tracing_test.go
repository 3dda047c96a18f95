package marketplace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/tracing"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// tracedMarket opens an embedded marketplace with tp (nil: tracing off),
// serves it on loopback and returns it with an admin client and a
// publisher key registered on acme.
func tracedMarket(t testing.TB, tp trace.TracerProvider) (*marketplace.Marketplace, *client.Client, *trust.FileSigner, string) {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	m, err := marketplace.Open(ctx, marketplace.Config{Data: data, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := marketplace.ReadAdminToken(data)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Server)
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL, admin)
	if err != nil {
		t.Fatal(err)
	}
	return m, cl, certifytest.PublisherKey(t, m.Store, "acme", "admin"), admin
}

// submitHello submits a signed acme/hello@1.0.0 through the HTTP API and
// runs the pipeline over it.
func submitHello(t testing.TB, m *marketplace.Marketplace, cl *client.Client, key *trust.FileSigner) string {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	man := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"H","description":"H.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(man)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	env, err := intake.Sign(ctx, key, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	sub, _, err := cl.SubmitSigned(ctx, bytes.NewReader(buf.Bytes()), sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Pipeline.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	return sub.ID
}

func version(s sdktrace.ReadOnlySpan) string {
	for _, a := range s.Attributes() {
		if a.Key == tracing.VersionID {
			return a.Value.AsString()
		}
	}
	return ""
}

// TestTracedSubmissionSpanTree: a submission through the API and the
// pipeline, traced into memory, gives the request's span, one trace per
// step (vet, triage, and certify when it is certified) with a span per
// analyzer under vet and the store calls under each; every span of the
// steps and every span of the request from the moment the version
// exists names the version.
func TestTracedSubmissionSpanTree(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(exp, true)
	defer tp.Shutdown(context.Background())
	m, cl, key, _ := tracedMarket(t, tp)
	if _, ok := m.Store.(*tracing.Store); !ok {
		t.Fatalf("with tracing on the store is a %T, not the traced decorator", m.Store)
	}
	exp.Reset() // the set-up's spans
	id := submitHello(t, m, cl, key)
	if _, err := cl.Submission(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The server ends a request's span after the client has its answer:
	// wait (bounded) for the read's span to be exported.
	var spans []sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		spans = exp.GetSpans().Snapshots()
		if slices.ContainsFunc(spans, func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "GET /api/v1/submissions/{id}" }) || time.Now().After(deadline) {
			break
		}
	}

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	// root returns the span at the top of s's tree.
	root := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
		for s.Parent().IsValid() {
			p, ok := byID[s.Parent().SpanID()]
			if !ok {
				t.Fatalf("span %s has a parent that was not exported", s.Name())
			}
			s = p
		}
		return s
	}
	var submit, get sdktrace.ReadOnlySpan
	jobs := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		switch {
		case s.Name() == "POST /api/v1/submissions":
			submit = s
		case s.Name() == "GET /api/v1/submissions/{id}":
			get = s
		case strings.HasPrefix(s.Name(), "pipeline."):
			jobs[strings.TrimPrefix(s.Name(), "pipeline.")] = s
		}
	}
	if submit == nil || get == nil {
		t.Fatalf("no span of the submission or of reading it among %d spans", len(spans))
	}
	for _, s := range []sdktrace.ReadOnlySpan{submit, get} {
		if version(s) != id {
			t.Errorf("%s names version %q, want %s", s.Name(), version(s), id)
		}
	}
	v, err := m.Store.GetVersion(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	wantJobs := []string{"vet", "triage"}
	if v.State == lifecycle.Certified {
		wantJobs = append(wantJobs, "certify")
	}
	if len(jobs) != len(wantJobs) {
		t.Errorf("job spans %v for a version that reached %s, want %v", keys(jobs), v.State, wantJobs)
	}
	for _, j := range wantJobs {
		s, ok := jobs[j]
		if !ok {
			t.Errorf("no span of the %s job", j)
			continue
		}
		if s.Parent().IsValid() {
			t.Errorf("the %s job's span has a parent; each job is its own trace", j)
		}
	}

	// The analyzers that ran are children of the vet job, one span each.
	run, err := m.Store.LatestVetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var results []vet.Result
	if err := json.Unmarshal(run.Results, &results); err != nil {
		t.Fatal(err)
	}
	// The analyzers that ran; one skipped or refused before it started
	// (an unknown requirement) has no duration and no span.
	ran := map[string]bool{}
	for _, r := range results {
		if r.Status != vet.Skipped && r.Duration > 0 {
			ran[r.Analyzer] = true
		}
	}
	analyzers := map[string]bool{}
	storeUnder := map[string]int{}
	for _, s := range spans {
		r := root(s)
		if name, ok := strings.CutPrefix(s.Name(), "vet.analyzer "); ok {
			analyzers[name] = true
			if s.Parent().SpanID() != jobs["vet"].SpanContext().SpanID() {
				t.Errorf("analyzer %s's span is not a child of the vet job", name)
			}
		}
		if strings.HasPrefix(s.Name(), "store.") {
			storeUnder[r.Name()]++
		}
		// Every span of a job's trace names the version, and so does
		// every span of the request that reads it.
		if strings.HasPrefix(r.Name(), "pipeline.") || r.SpanContext().Equal(get.SpanContext()) {
			if version(s) != id {
				t.Errorf("%s (under %s) names version %q, want %s", s.Name(), r.Name(), version(s), id)
			}
		}
		if r.SpanContext().Equal(submit.SpanContext()) && strings.HasPrefix(s.Name(), "store.CreateVersion") && version(s) != id {
			t.Errorf("the submission's CreateVersion names version %q", version(s))
		}
	}
	for name := range ran {
		if !analyzers[name] {
			t.Errorf("analyzer %s ran but has no span (spans for %v)", name, keys(analyzers))
		}
	}
	t.Logf("%d spans; the version reached %s; analyzer spans %v; store calls per trace %v", len(spans), v.State, keys(analyzers), storeUnder)
	if len(analyzers) == 0 {
		t.Error("no analyzer spans")
	}
	for _, j := range append(wantJobs, "POST /api/v1/submissions") {
		name := j
		if !strings.Contains(j, " ") {
			name = "pipeline." + j
		}
		if storeUnder[name] == 0 {
			t.Errorf("no store call under %s", name)
		}
	}

	// The per-stage histogram in /metrics has the steps and the analyzers.
	rec := httptest.NewRecorder()
	m.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`gatehouse_pipeline_stage_duration_seconds_count{analyzer="",stage="vet"} 1`, `gatehouse_pipeline_stage_duration_seconds_count{analyzer="",stage="triage"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for name := range ran {
		if want := `gatehouse_pipeline_stage_duration_seconds_count{analyzer="` + name + `",stage="analyzer"} 1`; !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestTracingOffRecordsNothing: without a provider nothing is traced,
// not even onto the OpenTelemetry global (which a library could have
// set): the store is the driver itself and no span reaches an exporter.
func TestTracingOffRecordsNothing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	global := tracing.NewProvider(exp, true)
	defer global.Shutdown(context.Background())
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(global)
	defer otel.SetTracerProvider(prev)

	m, cl, key, _ := tracedMarket(t, nil)
	if _, ok := m.Store.(*tracing.Store); ok {
		t.Fatal("with tracing off the store is still decorated")
	}
	id := submitHello(t, m, cl, key)
	if _, err := cl.Submission(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// Give a request's span, ended after its answer, time to arrive.
	time.Sleep(200 * time.Millisecond)
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("tracing off exported %d spans: %v", n, exp.GetSpans())
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
