package tracing

import (
	"context"
	"errors"
	"io/fs"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// Store is a store.Store whose every call that takes a context is a
// client span "store.Method" (store_gen.go, generated from the interface
// by TestStoreDecoratorIsCurrent). A method added to store.Store later
// passes through the embedded Store untraced until the file is
// regenerated, which that test asks for; so a merge never breaks the
// build.
//
// Arguments and error messages are never recorded (they hold token
// hashes, keys and whatever a driver's error quotes); a failed call
// carries error.type: not_found, conflict, state_changed or other.
type Store struct {
	store.Store
	tracer trace.Tracer
	system attribute.KeyValue
}

// WrapStore returns st with each call traced on tp; system names the
// database ("sqlite", "postgresql") in db.system.name.
func WrapStore(st store.Store, tp trace.TracerProvider, system string) *Store {
	return &Store{Store: st, tracer: tp.Tracer(Scope), system: attribute.String("db.system.name", system)}
}

// Unwrap returns the store underneath.
func (s *Store) Unwrap() store.Store { return s.Store }

func (s *Store) start(ctx context.Context, name string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(s.system))
}

// Blobs is a store.BlobStore whose every call that takes a context is a
// client span "blobs.Method" (store_gen.go), as Store is.
type Blobs struct {
	store.BlobStore
	tracer trace.Tracer
}

// WrapBlobs returns b with each call traced on tp.
func WrapBlobs(b store.BlobStore, tp trace.TracerProvider) *Blobs {
	return &Blobs{BlobStore: b, tracer: tp.Tracer(Scope)}
}

func (b *Blobs) start(ctx context.Context, name string) (context.Context, trace.Span) {
	return b.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
}

// end closes a store span, marking it failed when err is one.
func end(span trace.Span, err error) {
	if err != nil {
		kind := errorType(err)
		span.SetAttributes(attribute.String("error.type", kind))
		// A lookup that finds nothing and a compare-and-set that lost
		// are answers, not failures of the store.
		if kind == "other" {
			span.SetStatus(codes.Error, "store call failed")
		}
	}
	span.End()
}

func errorType(err error) string {
	switch {
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return "not_found"
	case errors.Is(err, domain.ErrConflict):
		return "conflict"
	case errors.Is(err, domain.ErrStateChanged):
		return "state_changed"
	}
	return "other"
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.BlobStore = (*Blobs)(nil)
)
