package cli

import "github.com/spf13/cobra"

// monitorCmds are the commands that keep certification honest: revalidate,
// incident and webhook.
func monitorCmds(g *globals) []*cobra.Command {
	return []*cobra.Command{revalidateCmd(g), hostapiCmd(g)}
}
