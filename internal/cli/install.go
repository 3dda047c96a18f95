package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/verify"
)

func installCmd(g *globals) *cobra.Command {
	var (
		dir, policy, trustRoot, hostAPI string
		reason, by                      string
		update, history                 bool
		keep                            int
		out                             *output
	)
	c := &cobra.Command{
		Use:   "install NAMESPACE/NAME[@RANGE] | install --history [NAMESPACE/NAME]",
		Short: "Install a certified plugin and its dependencies into a folder, verified and pinned",
		Long: `Install resolves the plugin and the dependencies its manifest declares by
SemVer range (the highest certified versions that satisfy every range;
^1.2.0, ~1.2, >=1.0.0 <2.0.0, 1.x ...), downloads each package with its
certificate bundle, verifies every one as ` + "`gatehouse verify`" + ` does, and only then
writes them into --dir with the marketplace's trust root, the current
revocation list and gatehouse.lock, which pins each digest.

With a gatehouse.lock in --dir, the pinned versions are installed exactly
(digests checked); --update resolves again. The trust root is fetched once
and then kept in --dir: pass --trust-root to supply it out of band.
No token is needed: everything install reads is public.

Every pin an install adds or moves is recorded in gatehouse.history (time,
version, digest, the version it replaced, --reason and who). The versions
replaced stay in --dir, the --keep most recently used per plugin, with
their bundles fetched again on every install, so that ` + "`gatehouse rollback`" + `
needs no network; older ones are removed. --history prints the history
(of one plugin if named) instead of installing.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if history {
				return cobra.MaximumNArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if history {
				return printHistory(cmd, dir, args, out)
			}
			if keep < 1 {
				return fmt.Errorf("--keep %d: keep at least 1 earlier version", keep)
			}
			if cmd.Flags().Changed("output") {
				return fmt.Errorf("-o goes with --history; install prints its progress as text")
			}
			req, err := install.ParseRequest(args[0])
			if err != nil {
				return err
			}
			src, err := install.NewHTTP(g.server, nil)
			if err != nil {
				return err
			}
			opts := install.Options{Source: src, Marketplace: src.URL(), Dir: dir, Update: update,
				Policy: verify.Policy{Allow: []string{"*"}}, Keep: keep, Reason: reason, By: byOrUser(g, by)}
			if policy != "" {
				data, err := os.ReadFile(policy)
				if err != nil {
					return fmt.Errorf("--policy: %w", err)
				}
				if opts.Policy, err = verify.ParsePolicy(data); err != nil {
					return fmt.Errorf("--policy %s: %w", policy, err)
				}
			}
			if opts.HostAPIs, err = readHostAPIs(hostAPI); err != nil {
				return err
			}
			if trustRoot != "" {
				if opts.TrustRoot, err = os.ReadFile(trustRoot); err != nil {
					return fmt.Errorf("--trust-root: %w", err)
				}
			}
			res, err := install.Install(cmd.Context(), req, opts)
			if err != nil {
				var ve *verify.Error
				if errors.As(err, &ve) {
					return &exitError{code: 2, msg: err.Error()} // exit 2, as verify does
				}
				return err
			}
			w := cmd.OutOrStdout()
			if res.TrustRootFetched {
				fmt.Fprintf(w, "trusting %s on first use: marketplace keys", g.server)
				for _, k := range res.TrustRoot.MarketplaceKeys.Keys() {
					fmt.Fprintf(w, " %s", k.ID)
				}
				fmt.Fprintf(w, ", log key %s\n  compare them with `gatehouse keys show` on the marketplace; they are pinned in %s\n", res.TrustRoot.LogKey, install.TrustRootFile)
			}
			for _, p := range res.Plugins {
				how := "resolved"
				if p.Pinned {
					how = "pinned"
				}
				fmt.Fprintf(w, "installed %s@%s (%s, %s) → %s\n", p.ID, p.Version, p.Digest, how, p.Package)
				if p.Result != nil {
					for _, warn := range p.Result.Warnings {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", warn)
					}
				}
			}
			for _, p := range res.Refreshed {
				fmt.Fprintf(w, "refreshed the bundle of %s@%s, installed earlier\n", p.ID, p.Version)
			}
			for _, k := range res.Kept {
				if k.Err != nil {
					fmt.Fprintf(w, "kept %s@%s for rollback, but a rollback to it would be refused: %v\n", k.ID, k.Version, k.Err)
				} else {
					fmt.Fprintf(w, "kept %s@%s for rollback\n", k.ID, k.Version)
				}
			}
			for _, p := range res.Pruned {
				fmt.Fprintf(w, "removed %s: no longer kept for rollback\n", p)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			if policy == "" {
				fmt.Fprintln(w, "note: no --policy file, so every certified permission was accepted; see `gatehouse verify --policy`")
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "plugins", "the install folder")
	f.StringVar(&policy, "policy", "", `the host's policy file: {"allow": ["kv:*", ...]}, or an AI-SWA file {"plugins": {"ID": {"permissions": [...]}}} listing the only plugins that load`)
	f.StringVar(&hostAPI, "host-api", "", "the marketplace's published host API versions (`gatehouse hostapi list -o json`): warn about plugins relying on a deprecated host API, and refuse them after its sunset when the policy's hostApi.refuseAfterSunset says so")
	f.StringVar(&trustRoot, "trust-root", "", "the marketplace's trust root, obtained out of band (default: the folder's, or fetched on first use)")
	f.BoolVar(&update, "update", false, "resolve versions again instead of keeping gatehouse.lock's pins")
	f.IntVar(&keep, "keep", install.DefaultKeep, "how many earlier versions of each plugin to keep in --dir for `gatehouse rollback`")
	f.StringVar(&reason, "reason", "", "why, recorded in gatehouse.history with every pin this install adds or moves")
	f.StringVar(&by, "by", "", "who, recorded in gatehouse.history (default: $USER)")
	f.BoolVar(&history, "history", false, "print gatehouse.history (every install, update and rollback in --dir) instead of installing")
	out = addOutput(c, "text", "json")
	c.Flags().Lookup("output").Usage += " (with --history)"
	return c
}

// byOrUser is --by, or the user running the command.
func byOrUser(g *globals, by string) string {
	if by != "" {
		return by
	}
	return g.env.Getenv("USER")
}
