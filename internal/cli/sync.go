package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
)

// syncCmd is `gatehouse sync` (issue 18): follow the host's environment.
func syncCmd(g *globals) *cobra.Command {
	var (
		dir, env, host, by string
		keep               int
		maxAge             time.Duration
		vf                 verifyFlags
	)
	c := &cobra.Command{
		Use:   "sync --env ENV --host ID",
		Short: "Fetch the environment's signed status feed, keep it in the install folder and move pinned plugins to the versions it gives this host",
		Long: `Sync fetches the host environment's signed status feed from --server,
checks it against the trust root pinned in --dir (a feed older than the
last one accepted, or older than --status-max-age, is refused: fail
closed), and keeps it as gatehouse.status, which every later
` + "`gatehouse verify`" + ` of the folder obeys offline: a suspended version is
refused with its reason, a killed plugin is refused, a revoked one too.

Each pinned plugin is then moved to the version the feed gives this host:
in a staged rollout the host is in or out by a stable hash of --host, so
the same hosts stay in as the rollout grows. A version the folder kept is
restored through the lock history (as ` + "`gatehouse rollback`" + `), another one
is installed; both are verified first and recorded in gatehouse.history.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("--env is required: the environment this host enrolled into (its host token's)")
			}
			if host == "" {
				h, err := os.Hostname()
				if err != nil || h == "" {
					return fmt.Errorf("--host is required: a stable id of this host (its host name could not be read)")
				}
				host = h
			}
			chk, _, err := vf.check()
			if err != nil {
				return err
			}
			chk.StatusMaxAge, chk.Environment = maxAge, env
			src, err := install.NewHTTP(g.server, nil)
			if err != nil {
				return err
			}
			res, err := install.Sync(cmd.Context(), install.SyncOptions{Source: src, Marketplace: g.server, Dir: dir, Environment: env, Host: host,
				Check: chk, Policy: chk.Policy, By: byOrUser(g, by), Keep: keep})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "status feed %s/%d accepted (issued %s): %d plugins, %d suspended, %d revoked, %d killed\n", res.Feed.Environment, res.Feed.Sequence,
				res.Feed.IssuedAt.Format(time.RFC3339), len(res.Feed.Plugins), len(res.Feed.Suspended), len(res.Feed.Revoked), len(res.Feed.Killed))
			failed := 0
			for _, ch := range res.Changes {
				if ch.Err != nil {
					failed++
					fmt.Fprintf(w, "%s: not moved from %s to %s: %v\n", ch.ID, ch.From, ch.To, ch.Err)
					continue
				}
				fmt.Fprintf(w, "%s: %s %s -> %s\n", ch.ID, ch.How, ch.From, ch.To)
			}
			if failed > 0 {
				return &exitError{code: 2, msg: fmt.Sprintf("%d plugin(s) could not follow the environment; they keep their pinned version", failed)}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "plugins", "the install folder")
	f.StringVar(&env, "env", "", "the host's environment")
	f.StringVar(&host, "host", "", "a stable id of this host, which places it in or out of staged rollouts (default: the host name)")
	f.StringVar(&by, "by", "", "who, recorded in gatehouse.history (default: $USER)")
	f.IntVar(&keep, "keep", install.DefaultKeep, "how many earlier versions of each plugin to keep in --dir")
	f.StringVar(&vf.policy, "policy", "", `the host's policy file, {"allow": ["kv:*", ...]}`)
	positiveDuration(f, &vf.maxAge, "max-age", 0, 0, "refuse a revocation list older than this")
	positiveDuration(f, &maxAge, "status-max-age", install.DefaultStatusMaxAge, 7*24*time.Hour, "refuse a status feed older than this")
	return c
}
