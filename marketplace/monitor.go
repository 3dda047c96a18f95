package marketplace

import (
	"context"

	"gatehouse.dev/gatehouse/server"
)

// openMonitor sets up revalidation, webhooks, incidents and host health.
func (m *Marketplace) openMonitor(ctx context.Context, cfg *server.Config) error { return nil }

// runMonitor runs the background work of revalidation, webhooks, incidents and host health until ctx ends.
func (m *Marketplace) runMonitor(ctx context.Context) {}
