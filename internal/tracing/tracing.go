// Package tracing is Gatehouse's OpenTelemetry tracing: spans over the
// HTTP requests, the pipeline's jobs, each analyzer run and each store
// call, every one carrying the id of the plugin version it works on when
// that is known.
//
// Tracing is off unless the standard OTEL_* variables turn it on
// (FromEnv); then spans are exported over OTLP/HTTP. Off, nothing here is
// installed: no exporter, no store decorator, no middleware, and the
// pipeline and the analyzers start spans on a no-op provider, which costs
// a few nanoseconds. The provider is made by the command that runs the
// server and handed down through configuration; the OpenTelemetry global
// provider is never set or read, so two marketplaces in one test binary
// trace apart.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Scope names Gatehouse's tracers (the instrumentation scope).
const Scope = "gatehouse.dev/gatehouse"

// VersionID is the attribute naming the plugin version (submission id,
// "sub_…") a span worked on.
const VersionID = attribute.Key("gatehouse.version.id")

type versionKey struct{}

// WithVersion returns ctx carrying the version id, so every span started
// under it gets the VersionID attribute (Provider stamps it), and adds the
// attribute to the span ctx already holds: the id of a new submission is
// known only half-way through its request.
func WithVersion(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	if sp := trace.SpanFromContext(ctx); sp.IsRecording() {
		sp.SetAttributes(VersionID.String(id))
	}
	return context.WithValue(ctx, versionKey{}, id)
}

// Version returns the version id ctx carries, or "".
func Version(ctx context.Context) string {
	id, _ := ctx.Value(versionKey{}).(string)
	return id
}

// Provider is an OpenTelemetry SDK tracer provider that stamps the
// version id carried by a span's context on the span as it starts.
type Provider struct {
	*sdktrace.TracerProvider
	// Endpoint names where spans go, for the start-up log: scheme, host
	// and path only, never credentials.
	Endpoint string
}

// NewProvider returns a Provider exporting to exp with the given options
// (a resource, a sampler); with sync the spans are exported as each ends
// (tests), otherwise in batches (OTEL_BSP_* tune them).
func NewProvider(exp sdktrace.SpanExporter, sync bool, opts ...sdktrace.TracerProviderOption) *Provider {
	// The stamper runs first, so the exporter's processor sees the
	// attribute; OnStart runs in registration order.
	all := []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(versionStamper{})}
	if sync {
		all = append(all, sdktrace.WithSyncer(exp))
	} else {
		all = append(all, sdktrace.WithBatcher(exp))
	}
	return &Provider{TracerProvider: sdktrace.NewTracerProvider(append(all, opts...)...)}
}

// versionStamper puts the version id of a span's parent context on the
// span, so no call site has to: the store decorator, the analyzers and
// any library under them get it alike.
type versionStamper struct{}

func (versionStamper) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if id := Version(parent); id != "" {
		s.SetAttributes(VersionID.String(id))
	}
}
func (versionStamper) OnEnd(sdktrace.ReadOnlySpan)      {}
func (versionStamper) Shutdown(context.Context) error   { return nil }
func (versionStamper) ForceFlush(context.Context) error { return nil }

// The standard variables FromEnv reads itself; the exporter reads the
// rest (headers, timeout, compression, certificates), the SDK the sampler
// (OTEL_TRACES_SAMPLER) and the batching (OTEL_BSP_*), the resource
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
const (
	envDisabled       = "OTEL_SDK_DISABLED"
	envExporter       = "OTEL_TRACES_EXPORTER"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// maxEnvValue bounds what FromEnv accepts in one variable.
const maxEnvValue = 2048

// Enabled reports whether the OTEL_* variables read through getenv turn
// tracing on, and refuses settings Gatehouse cannot honour with an error
// naming the variable and the fix. Off by default: tracing is on when
// OTEL_TRACES_EXPORTER is otlp, or when it is unset and an OTLP endpoint
// is given; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it
// off whatever else is set.
func Enabled(getenv func(string) string) (bool, error) {
	get := func(k string) (string, error) {
		v := strings.TrimSpace(getenv(k))
		if len(v) > maxEnvValue {
			return "", fmt.Errorf("%s is longer than %d bytes", k, maxEnvValue)
		}
		return v, nil
	}
	disabled, err := get(envDisabled)
	if err != nil {
		return false, err
	}
	if strings.EqualFold(disabled, "true") {
		return false, nil
	}
	exporter, err := get(envExporter)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(exporter) {
	case "none":
		return false, nil
	case "", "otlp":
	default:
		return false, fmt.Errorf("%s=%q: Gatehouse exports traces over OTLP only; set it to otlp (or none to turn tracing off)", envExporter, exporter)
	}
	endpoint := ""
	for _, k := range []string{envTracesEndpoint, envEndpoint} {
		v, err := get(k)
		if err != nil {
			return false, err
		}
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return false, fmt.Errorf("%s: give an http:// or https:// URL of an OTLP/HTTP collector, such as http://localhost:4318", k)
		}
		if endpoint == "" {
			endpoint = v
		}
	}
	if exporter == "" && endpoint == "" {
		return false, nil
	}
	for _, k := range []string{envTracesProtocol, envProtocol} {
		v, err := get(k)
		if err != nil {
			return false, err
		}
		if v != "" && v != "http/protobuf" {
			return false, fmt.Errorf("%s=%q: Gatehouse exports traces over OTLP/HTTP with protobuf only; set it to http/protobuf and point the endpoint at the collector's HTTP port (4318)", k, v)
		}
		if v != "" {
			break // the signal's own setting wins
		}
	}
	return true, nil
}

// FromEnv returns the Provider the OTEL_* variables ask for, or nil when
// tracing is off (see Enabled). getenv decides whether tracing is on; the
// exporter and the SDK read their own settings from the process
// environment, as every OpenTelemetry SDK does. Shut the provider down
// when done, so the last batch is sent.
func FromEnv(ctx context.Context, getenv func(string) string, version string) (*Provider, error) {
	on, err := Enabled(getenv)
	if err != nil || !on {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("setting up the OTLP trace exporter (check the OTEL_EXPORTER_OTLP_* variables): %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", "gatehouse")}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	// Later sources win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the defaults.
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	p := NewProvider(exp, false, sdktrace.WithResource(res))
	p.Endpoint = describeEndpoint(getenv)
	return p, nil
}

// describeEndpoint names the collector for a log line without its
// credentials or query.
func describeEndpoint(getenv func(string) string) string {
	for _, k := range []string{envTracesEndpoint, envEndpoint} {
		if u, err := url.Parse(strings.TrimSpace(getenv(k))); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host + u.Path
		}
	}
	return "http://localhost:4318 (the OTLP default)"
}

// ShutdownTimeout bounds how long a stopping process waits to send its
// last spans.
const ShutdownTimeout = 5 * time.Second

// Shutdown flushes and stops p within ShutdownTimeout; nil p is a no-op.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	return p.TracerProvider.Shutdown(ctx)
}
