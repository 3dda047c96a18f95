package vet

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerScope names the analyzers' spans (the instrumentation scope).
const tracerScope = "gatehouse.dev/gatehouse/internal/vet"

// startSpan starts the span of one analyzer run as a child of the span
// ctx holds, on that span's own provider: with tracing off (or no span
// above, as under the CLI) that is the no-op one, so vet needs no tracer
// of its own and costs nothing when nobody traces.
func startSpan(ctx context.Context, name, version string) (context.Context, trace.Span) {
	tr := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracerScope)
	return tr.Start(ctx, "vet.analyzer "+name, trace.WithAttributes(
		attribute.String("gatehouse.analyzer.name", name),
		attribute.String("gatehouse.analyzer.version", version)))
}

// endSpan records the analyzer's outcome: its status and how many
// findings, never their text (a finding can quote a secret it found).
func endSpan(span trace.Span, res *Result) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("gatehouse.analyzer.status", string(res.Status)), attribute.Int("gatehouse.analyzer.findings", len(res.Findings)))
		if res.Status == Errored {
			span.SetStatus(codes.Error, "analyzer errored")
		}
	}
	span.End()
}
