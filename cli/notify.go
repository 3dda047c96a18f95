package cli

import "github.com/spf13/cobra"

// notifyCmds are the commands for webhooks and incidents.
func notifyCmds(g *globals) []*cobra.Command { return nil }
