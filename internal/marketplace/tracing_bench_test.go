package marketplace_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"gatehouse.dev/gatehouse/internal/tracing"
)

// BenchmarkTracingHTTP: the hot HTTP paths served in process with
// tracing off (nothing installed) and on (the SDK, batching to an
// exporter that drops the spans, so the cost measured is Gatehouse's and
// the SDK's, not a collector's): the anonymous catalog (from the public
// cache) and a submission read by its id (store calls, each a span when
// on). docs/benchmarks.md has the command and the numbers; nothing here
// asserts a timing.
func BenchmarkTracingHTTP(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		var tp trace.TracerProvider
		if mode == "on" {
			p := tracing.NewProvider(tracetest.NewNoopExporter(), false)
			b.Cleanup(func() { p.Shutdown(context.Background()) })
			tp = p
		}
		m, cl, key, admin := tracedMarket(b, tp)
		id := submitHello(b, m, cl, key)
		for _, path := range []struct{ name, path, token string }{
			{"catalog", "/api/v1/plugins?limit=50", ""},
			{"submission", "/api/v1/submissions/" + id, admin},
		} {
			b.Run(path.name+"/tracing="+mode, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, path.path, nil)
					if path.token != "" {
						req.Header.Set("Authorization", "Bearer "+path.token)
					}
					rec := httptest.NewRecorder()
					m.Server.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("GET %s: %d %s", path.path, rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
