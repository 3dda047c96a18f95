package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/domain"
)

// releaseCmd holds the marketplace's release commands (issue 18).
func releaseCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "release", Long: "Environments and releases: promote a version to the next environment (decided by the policy), stage its rollout, roll an environment back, show a plugin's releases."}
	c.AddCommand(releasePromoteCmd(g), releaseApproveCmd(g), releaseRolloutCmd(g), releaseRollbackCmd(g), releaseShowCmd(g))
	c.Short = "Releases: " + subcommandNames(c)
	return c
}

func releasePromoteCmd(g *globals) *cobra.Command {
	var to, rollout, reason string
	c := &cobra.Command{
		Use:   "promote PLUGIN@VERSION --to ENV [--rollout 10%]",
		Short: "Promote a version into the next environment when the policy allows it; a refusal names every rule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, ok := strings.Cut(args[0], "@"); !ok || !strings.Contains(args[0], "/") {
				return fmt.Errorf("%q must be NAMESPACE/NAME@VERSION, like acme/hello@1.2.0", args[0])
			}
			if to == "" {
				return fmt.Errorf("--to is required: the environment to promote into, such as staging")
			}
			pct := 100
			if rollout != "" {
				var err error
				if pct, err = domain.ParseRollout(rollout); err != nil {
					return fmt.Errorf("--rollout: %w", err)
				}
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			rel, err := cl.Promote(cmd.Context(), api.PromoteRequest{Version: args[0], To: to, Rollout: pct, Reason: reason})
			if err != nil {
				return err
			}
			printRelease(cmd, rel)
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "the environment to promote into (the one after the version's current environment)")
	c.Flags().StringVar(&rollout, "rollout", "", "start a staged rollout at this share of the environment's hosts, such as 10% (default 100%)")
	c.Flags().StringVar(&reason, "reason", "", "why, for the audit trail and the log")
	return c
}

func releaseApproveCmd(g *globals) *cobra.Command {
	var env, reason string
	c := &cobra.Command{
		Use:   "approve PLUGIN@VERSION --env ENV",
		Short: "Approve a version for an environment (stewards); the policy may require it before production",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("--env is required: the environment the approval is for, such as prod")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.ApproveRelease(cmd.Context(), api.ApproveRequest{Version: args[0], Environment: env, Reason: reason}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Approved %s for %s\n", args[0], env)
			return nil
		},
	}
	c.Flags().StringVar(&env, "env", "", "the environment")
	c.Flags().StringVar(&reason, "reason", "", "why")
	return c
}

func releaseRolloutCmd(g *globals) *cobra.Command {
	var env, to, reason string
	c := &cobra.Command{
		Use:   "rollout PLUGIN grow|pause|resume|abort --env ENV [--to 50%]",
		Short: "Grow (--to), pause, resume or abort the staged rollout of a plugin in an environment",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("--env is required: the environment of the rollout")
			}
			req := api.RolloutRequest{Environment: env, Action: args[1], Reason: reason}
			switch args[1] {
			case "grow":
				pct, err := domain.ParseRollout(to)
				if err != nil {
					return fmt.Errorf("--to: %w", err)
				}
				req.Rollout = pct
			case "pause", "resume", "abort":
			default:
				return fmt.Errorf("unknown rollout action %q: use grow, pause, resume or abort", args[1])
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			rel, err := cl.Rollout(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			printRelease(cmd, rel)
			return nil
		},
	}
	c.Flags().StringVar(&env, "env", "", "the environment")
	c.Flags().StringVar(&to, "to", "", "with grow: the new share of hosts, such as 50%")
	c.Flags().StringVar(&reason, "reason", "", "why")
	return c
}

func releaseRollbackCmd(g *globals) *cobra.Command {
	var env, reason string
	c := &cobra.Command{
		Use:   "rollback PLUGIN --env ENV",
		Short: "Point an environment back at its previous release; hosts follow at their next `gatehouse sync`",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("--env is required: the environment to roll back, such as prod")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			rel, err := cl.ReleaseRollback(cmd.Context(), args[0], api.ReleaseRollbackRequest{Environment: env, Reason: reason})
			if err != nil {
				return err
			}
			printRelease(cmd, rel)
			return nil
		},
	}
	c.Flags().StringVar(&env, "env", "", "the environment")
	c.Flags().StringVar(&reason, "reason", "", "why, for the audit trail and the log")
	return c
}

func releaseShowCmd(g *globals) *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "show PLUGIN",
		Short: "A plugin's release in each environment and its release history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			rs, err := cl.Releases(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out.json() {
				return writeJSON(cmd.OutOrStdout(), rs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENVIRONMENT\tVERSION\tROLLOUT\tSTATUS\tPREVIOUS\tSINCE")
			for _, env := range rs.Environments {
				for _, r := range rs.Releases {
					if r.Environment == env {
						fmt.Fprintf(tw, "%s\t%s\t%d%%\t%s\t%s\t%s\n", env, r.Version, r.Rollout, r.Status, r.Previous, r.Since.Format("2006-01-02 15:04"))
					}
				}
			}
			tw.Flush()
			fmt.Fprintln(cmd.OutOrStdout(), "\nHistory:")
			for _, h := range rs.History {
				fmt.Fprintf(cmd.OutOrStdout(), "  %s  %-8s %-11s %s at %d%% by %s %s\n", h.At.Format("2006-01-02 15:04"), h.Environment, h.Action, h.Version, h.Rollout, h.Actor, h.Reason)
			}
			return nil
		},
	}
	out = addOutput(c, "text", "json")
	return c
}

func printRelease(cmd *cobra.Command, r api.Release) {
	fmt.Fprintf(cmd.OutOrStdout(), "%s runs %s@%s on %d%% of hosts (%s)", r.Environment, r.Plugin, r.Version, r.Rollout, r.Status)
	if r.Previous != "" && r.Rollout < 100 {
		fmt.Fprintf(cmd.OutOrStdout(), "; the others keep %s", r.Previous)
	}
	fmt.Fprintln(cmd.OutOrStdout())
}

func pluginKillCmd(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "kill PLUGIN --reason TEXT",
		Short: "The kill switch (stewards): every environment's status feed names the plugin and hosts stop running it at their next sync",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("--reason is required: hosts show it to their operators")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.Kill(cmd.Context(), args[0], reason); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Killed %s in every environment; hosts stop it at their next sync\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why, shown to every host's operator")
	return c
}
