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
		dir, policy, trustRoot string
		update                 bool
	)
	c := &cobra.Command{
		Use:   "install NAMESPACE/NAME[@RANGE]",
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
No token is needed: everything install reads is public.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := install.ParseRequest(args[0])
			if err != nil {
				return err
			}
			src, err := install.NewHTTP(g.server, nil)
			if err != nil {
				return err
			}
			opts := install.Options{Source: src, Marketplace: src.URL(), Dir: dir, Update: update,
				Policy: verify.Policy{Allow: []string{"*"}}}
			if policy != "" {
				data, err := os.ReadFile(policy)
				if err != nil {
					return fmt.Errorf("--policy: %w", err)
				}
				if opts.Policy, err = verify.ParsePolicy(data); err != nil {
					return fmt.Errorf("--policy %s: %w", policy, err)
				}
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
			out := cmd.OutOrStdout()
			if res.TrustRootFetched {
				fmt.Fprintf(out, "trusting %s on first use: marketplace keys", g.server)
				for _, k := range res.TrustRoot.MarketplaceKeys.Keys() {
					fmt.Fprintf(out, " %s", k.ID)
				}
				fmt.Fprintf(out, ", log key %s\n  compare them with `gatehouse keys show` on the marketplace; they are pinned in %s\n", res.TrustRoot.LogKey, install.TrustRootFile)
			}
			for _, p := range res.Plugins {
				how := "resolved"
				if p.Pinned {
					how = "pinned"
				}
				fmt.Fprintf(out, "installed %s@%s (%s, %s) → %s\n", p.ID, p.Version, p.Digest, how, p.Package)
			}
			for _, p := range res.Refreshed {
				fmt.Fprintf(out, "refreshed the bundle of %s@%s, installed earlier\n", p.ID, p.Version)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			if policy == "" {
				fmt.Fprintln(out, "note: no --policy file, so every certified permission was accepted; see `gatehouse verify --policy`")
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "plugins", "the install folder")
	f.StringVar(&policy, "policy", "", `the host's policy file, {"allow": ["kv:*", ...]}`)
	f.StringVar(&trustRoot, "trust-root", "", "the marketplace's trust root, obtained out of band (default: the folder's, or fetched on first use)")
	f.BoolVar(&update, "update", false, "resolve versions again instead of keeping gatehouse.lock's pins")
	return c
}
