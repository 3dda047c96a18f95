package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

func logCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "log",
		Short: "Watch the marketplace's transparency log, as a monitor does",
	}
	c.AddCommand(logVerifyCmd(g))
	return c
}

func logVerifyCmd(g *globals) *cobra.Command {
	var since, logURL, trustRoot string
	var update bool
	var o *output
	c := &cobra.Command{
		Use:   "verify --since CHECKPOINT_FILE",
		Short: "Check that the log's current checkpoint extends one saved earlier",
		Long: `Log verify fetches the log's current checkpoint, checks its signature with
the log key from the trust root, and proves from the log's own tiles that its
tree extends the tree of the checkpoint saved in CHECKPOINT_FILE: every entry
seen before is still there, in the same place. A rolled-back or forked log
exits 2, naming what failed.

The new checkpoint goes to standard output; save it for the next run, or pass
--update to replace CHECKPOINT_FILE with it (atomically). The trust root comes
from --trust-root, or else from the server (trust on first use: keep the
file and pass it next time).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if since == "" {
				return errors.New("--since CHECKPOINT_FILE is required: a checkpoint saved from an earlier run (or from GET /log/checkpoint)")
			}
			ctx := cmd.Context()
			if logURL == "" {
				logURL = strings.TrimRight(g.server, "/") + "/log"
			}
			fetch, err := install.NewLogFetcher(logURL, nil)
			if err != nil {
				return fmt.Errorf("--log: %w", err)
			}
			var rootData []byte
			if trustRoot != "" {
				if rootData, err = os.ReadFile(trustRoot); err != nil {
					return fmt.Errorf("--trust-root: %w", err)
				}
			} else {
				src, err := install.NewHTTP(g.server, nil)
				if err != nil {
					return err
				}
				if rootData, err = src.TrustRoot(ctx); err != nil {
					return fmt.Errorf("fetching the trust root (or pass --trust-root): %w", err)
				}
				// A log that forks can serve a matching key too, but not one
				// that verifies the saved checkpoint; still, say where it came from.
				fmt.Fprintf(cmd.ErrOrStderr(), "using the log key from %s; pass --trust-root to use a pinned one\n", g.server)
			}
			root, err := verify.ParseTrustRoot(rootData)
			if err != nil {
				return fmt.Errorf("the trust root: %w", err)
			}
			oldNote, err := os.ReadFile(since)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			fail := func(what string, err error) error {
				return &exitError{code: 2, msg: fmt.Sprintf("log verify: %s: %v", what, err)}
			}
			older, err := tlog.VerifyCheckpoint(oldNote, root.LogVerifier)
			if err != nil {
				return fail("the saved checkpoint "+since, err)
			}
			newNote, err := fetch(ctx, tlog.CheckpointPath)
			if err != nil {
				return err
			}
			newer, err := tlog.VerifyCheckpoint(newNote, root.LogVerifier)
			if err != nil {
				return fail("the log's current checkpoint is not signed by the log key", err)
			}
			switch {
			case newer.Size < older.Size:
				return fail("rollback", fmt.Errorf("the log now has %d entries, fewer than the %d of the saved checkpoint", newer.Size, older.Size))
			case newer.Size == older.Size:
				if err := tlog.VerifyConsistency(older, newer, nil); err != nil {
					return fail("fork", err)
				}
			default:
				proof, err := tlog.TileProver{Fetch: fetch}.ConsistencyProof(ctx, older.Size, newer)
				if err != nil {
					return fail("consistency", err)
				}
				if err := tlog.VerifyConsistency(older, newer, proof); err != nil {
					return fail("fork", err)
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "consistent: %s grew from %d to %d entries\n", newer.Origin, older.Size, newer.Size)
			if update {
				if err := trust.WriteFileAtomic(since, newNote, 0o644); err != nil {
					return fmt.Errorf("updating %s: %w", since, err)
				}
				return nil
			}
			if o.json() {
				return writeJSON(cmd.OutOrStdout(), struct {
					Origin       string `json:"origin"`
					PreviousSize uint64 `json:"previousSize"`
					Size         uint64 `json:"size"`
					Checkpoint   string `json:"checkpoint"`
				}{newer.Origin, older.Size, newer.Size, string(newNote)})
			}
			_, err = cmd.OutOrStdout().Write(newNote)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&since, "since", "", "a checkpoint saved earlier (required)")
	f.StringVar(&logURL, "log", "", "the log's URL (default: --server with /log)")
	f.StringVar(&trustRoot, "trust-root", "", "the marketplace's trust root file (default: fetched from --server)")
	f.BoolVar(&update, "update", false, "replace the --since file with the new checkpoint instead of printing it")
	o = addOutput(c, "text", "json")
	return c
}
