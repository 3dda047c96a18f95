package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Namespaces keeps the first parts of plugin ids and who owns them.
//
// Creating a namespace writes its audit event in the same transaction.
type Namespaces interface {
	// CreateNamespace stores ns; ErrConflict when it exists.
	CreateNamespace(ctx context.Context, ns domain.Namespace, ev audit.Event) error
	GetNamespace(ctx context.Context, name string) (domain.Namespace, error)
	// ListNamespaces returns every namespace by name.
	ListNamespaces(ctx context.Context) ([]domain.Namespace, error)
}
