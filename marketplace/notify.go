package marketplace

import (
	"context"

	"gatehouse.dev/gatehouse/server"
)

// openNotify sets up webhooks, incidents and hunting rules.
func (m *Marketplace) openNotify(ctx context.Context, cfg *server.Config) error { return nil }

// runNotify delivers webhooks until ctx ends.
func (m *Marketplace) runNotify(ctx context.Context) {}
