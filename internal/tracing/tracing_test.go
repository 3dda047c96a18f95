package tracing_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/tracing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnabled(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		on      bool
		errWant string
	}{
		{name: "nothing set: off", env: nil},
		{name: "an endpoint: on", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: true},
		{name: "a traces endpoint: on", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/v1/traces"}, on: true},
		{name: "exporter otlp alone: on, default endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{name: "exporter none beats an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}},
		{name: "SDK disabled beats everything", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{name: "another exporter is refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, errWant: "OTEL_TRACES_EXPORTER"},
		{name: "grpc is refused", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, errWant: "http/protobuf"},
		{name: "the traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, on: true},
		{name: "an endpoint that is no URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, errWant: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "an endpoint too long", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c/" + strings.Repeat("a", 3000)}, errWant: "longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			on, err := tracing.Enabled(envOf(tt.env))
			if tt.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errWant) {
					t.Fatalf("err = %v, want one naming %q", err, tt.errWant)
				}
				return
			}
			if err != nil || on != tt.on {
				t.Fatalf("Enabled = %v, %v; want %v", on, err, tt.on)
			}
		})
	}
}

// TestFromEnvOffMakesNoExporter: with no OTEL_* variables there is no
// provider at all, so nothing is exported or even batched.
func TestFromEnvOffMakesNoExporter(t *testing.T) {
	p, err := tracing.FromEnv(context.Background(), envOf(nil), "")
	if err != nil || p != nil {
		t.Fatalf("FromEnv with nothing set = %v, %v; want no provider", p, err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutting down no provider: %v", err)
	}
}

// TestFromEnvExportsOverOTLP: with an endpoint set, the spans reach an
// OTLP/HTTP collector (a local server decoding the protobuf the real
// exporter sends), with the version id stamped from the context.
func TestFromEnvExportsOverOTLP(t *testing.T) {
	var (
		mu  sync.Mutex
		got []*collectortrace.ExportTraceServiceRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("the exporter posted %s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("decoding the export: %v", err)
		}
		mu.Lock()
		got = append(got, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(nil)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "gatehouse-test")
	p, err := tracing.FromEnv(context.Background(), os.Getenv, "")
	if err != nil || p == nil {
		t.Fatalf("FromEnv = %v, %v", p, err)
	}
	ctx := tracing.WithVersion(context.Background(), "sub_aaaaaaaaaaaaaaaa")
	_, span := p.Tracer("test").Start(ctx, "work")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var names []string
	var version, service string
	for _, req := range got {
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
					for _, a := range s.Attributes {
						if a.Key == string(tracing.VersionID) {
							version = a.Value.GetStringValue()
						}
					}
				}
			}
		}
	}
	if len(names) != 1 || names[0] != "work" || version != "sub_aaaaaaaaaaaaaaaa" || service != "gatehouse-test" {
		t.Fatalf("the collector got spans %v, version %q, service %q", names, version, service)
	}
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, a := range s.Attributes() {
		if a.Key == k {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestMiddleware(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := tracing.NewProvider(exp, true)
	defer p.Shutdown(context.Background())
	mux := http.NewServeMux()
	var (
		inner   trace.SpanContext
		seenIDs []string
	)
	mux.HandleFunc("GET /api/v1/submissions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !inner.IsValid() {
			inner = trace.SpanContextFromContext(r.Context())
		}
		seenIDs = append(seenIDs, tracing.Version(r.Context()))
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("POST /boom", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	var outerPattern string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tracing.Middleware(p)(mux).ServeHTTP(w, r)
		outerPattern = r.Pattern // what the metrics middleware reads
	})

	req := httptest.NewRequest("GET", "/api/v1/submissions/sub_abcdefghijklmnop?token=secret", nil)
	const clientTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	req.Header.Set("Traceparent", clientTrace)
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/boom", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/submissions/..%2f..%2fetc", nil))

	spans := exp.GetSpans().Snapshots()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	if len(seenIDs) != 2 || seenIDs[0] != "sub_abcdefghijklmnop" || seenIDs[1] != "" {
		t.Errorf("the handler's contexts carried version ids %q, want the well-formed one only", seenIDs)
	}
	s := spans[0]
	if s.Name() != "GET /api/v1/submissions/{id}" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if v, _ := attr(s, tracing.VersionID); v.AsString() != "sub_abcdefghijklmnop" {
		t.Errorf("version id %q", v.AsString())
	}
	if v, _ := attr(s, "http.response.status_code"); v.AsInt64() != 404 {
		t.Errorf("status %d", v.AsInt64())
	}
	if outerPattern != "GET /api/v1/submissions/{id}" {
		t.Errorf("the caller's request has pattern %q", outerPattern)
	}
	if !s.SpanContext().Equal(inner) {
		t.Error("the handler did not run under the request's span")
	}
	// The client's traceparent is a link, never the parent.
	if s.Parent().IsValid() || s.SpanContext().TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
		t.Error("the client's traceparent became the parent of the request's span")
	}
	if l := s.Links(); len(l) != 1 || l[0].SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("links %v, want the client's trace", l)
	}
	for _, sp := range spans {
		for _, a := range sp.Attributes() {
			if strings.Contains(a.Value.Emit(), "secret") || strings.Contains(a.Value.Emit(), "..") {
				t.Errorf("span %s records %s=%s from the request", sp.Name(), a.Key, a.Value.Emit())
			}
		}
	}
	if b := spans[1]; b.Status().Code != codes.Error || b.Name() != "POST /boom" {
		t.Errorf("a 502 gave span %q with status %v", b.Name(), b.Status())
	}
	if u := spans[2]; u.Name() != "GET unmatched" {
		t.Errorf("an unmatched path gave span %q", u.Name())
	}
	if _, ok := attr(spans[3], tracing.VersionID); ok {
		t.Error("a path with no valid submission id gave a version id")
	}
}

// TestStoreSpans: a store call is a client span named for the method,
// with the version id of its context; a lookup that finds nothing is an
// answer (error.type not_found), not a failed span. A real SQLite store
// stands underneath.
func TestStoreSpans(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	exp := tracetest.NewInMemoryExporter()
	p := tracing.NewProvider(exp, true)
	defer p.Shutdown(ctx)
	traced := tracing.WrapStore(st, p, "sqlite")
	vctx := tracing.WithVersion(ctx, "sub_bbbbbbbbbbbbbbbb")
	if _, err := traced.GetVersion(vctx, "sub_bbbbbbbbbbbbbbbb"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetVersion of nothing: %v", err)
	}
	if err := traced.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans().Snapshots()
	if len(spans) != 2 || spans[0].Name() != "store.GetVersion" || spans[1].Name() != "store.Ping" {
		t.Fatalf("spans %v", exp.GetSpans())
	}
	g := spans[0]
	if v, _ := attr(g, tracing.VersionID); v.AsString() != "sub_bbbbbbbbbbbbbbbb" {
		t.Errorf("version id %q", v.AsString())
	}
	if v, _ := attr(g, "error.type"); v.AsString() != "not_found" || g.Status().Code == codes.Error {
		t.Errorf("a miss: error.type %q status %v", v.AsString(), g.Status())
	}
	if v, _ := attr(g, "db.system.name"); v.AsString() != "sqlite" || g.SpanKind() != trace.SpanKindClient {
		t.Errorf("db.system.name %q kind %v", v.AsString(), g.SpanKind())
	}
	if _, ok := attr(spans[1], tracing.VersionID); ok {
		t.Error("a call without a version in its context got a version id")
	}
}

// TestWithVersionOnNoopCostsNoSpan: with tracing off the context still
// carries the id, and nothing records.
func TestWithVersionOnNoop(t *testing.T) {
	ctx, span := noop.NewTracerProvider().Tracer("x").Start(context.Background(), "x")
	ctx = tracing.WithVersion(ctx, "sub_cccccccccccccccc")
	if span.IsRecording() || tracing.Version(ctx) != "sub_cccccccccccccccc" {
		t.Fatal("a no-op span records, or the id was lost")
	}
}
