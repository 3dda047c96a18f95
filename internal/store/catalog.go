package store

import "gatehouse.dev/gatehouse/internal/domain"

import "context"

// Catalog reads plugins: a namespace/name with at least one version. The
// catalog is derived from versions and has no writes of its own.
type Catalog interface {
	ListPlugins(ctx context.Context, q domain.PluginQuery) ([]domain.Plugin, error)
	GetPlugin(ctx context.Context, id string) (domain.Plugin, error)
}
