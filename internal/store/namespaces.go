package store

import (
	"context"
	"time"

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
	// TransferNamespace replaces a namespace's owners and queues the trust
	// event of the change (entry) with its audit event, in one
	// transaction. In the same transaction it revokes every unrevoked
	// token scoped to the namespace whose subject is not a new owner (a
	// scoped token acts in its namespace whoever owns it, so a former
	// owner's would outlive the transfer), and lists their ids in ev's
	// data under "revokedTokens". ErrNotFound when the namespace does not
	// exist.
	TransferNamespace(ctx context.Context, name string, owners []string, at time.Time, entry []byte, ev audit.Event) error
}
