package marketplace

import (
	"context"

	"gatehouse.dev/gatehouse/server"
)

// openWeb sets up the web pages.
func (m *Marketplace) openWeb(ctx context.Context, cfg *server.Config) error { return nil }
