package store

import "gatehouse.dev/gatehouse/internal/domain"

import "context"

// Catalog reads plugins: a namespace/name with at least one version. The
// catalog is derived from versions and has no writes of its own.
type Catalog interface {
	ListPlugins(ctx context.Context, q domain.PluginQuery) ([]domain.Plugin, error)
	GetPlugin(ctx context.Context, id string) (domain.Plugin, error)
	// CatalogGeneration names the current state of the plugins and
	// versions, in every process sharing the database: it changes with
	// every committed change to either, so what was read under one
	// generation may be served again while CatalogGeneration returns it.
	CatalogGeneration(ctx context.Context) (Generation, error)
}

// A Generation names one state of the catalog; compare with ==. A
// generation read after a change committed differs from every generation
// read before it, except for the moment a notification of another
// process's change takes to arrive (milliseconds; on PostgreSQL the
// generation is the count of notifications, not a query).
type Generation struct {
	// Epoch is 0 for the database's own counter, else the listening
	// session whose notifications N counts; a new session is a new epoch.
	Epoch uint64
	N     int64
}
