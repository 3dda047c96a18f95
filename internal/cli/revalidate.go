package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
)

func revalidateCmd(g *globals) *cobra.Command {
	var all, reviewed, show bool
	var o *output
	c := &cobra.Command{
		Use:   "revalidate [--all | VERSION]",
		Short: "Revalidate certified versions now: the analyzers run again with today's rules, vulnerability database and policy",
		Long: `Revalidate a certified (or suspended) version now, or every one with --all.
VERSION is a submission id or NAMESPACE/NAME@VERSION. Passing renews the
certificate; failing suspends the version with a remediation deadline and
records what to fix. Needs a steward token.

--reviewed records that you looked at a version whose revalidation hosts'
health reports routed to people, so the analyzers decide it again.
--show prints the version's schedule and last outcome instead.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return &exitError{code: 2, msg: "name one VERSION or give --all"}
			}
			if all && (reviewed || show) {
				return &exitError{code: 2, msg: "--reviewed and --show take one VERSION, not --all"}
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if show {
				var rv api.Revalidation
				if err := cl.JSON(cmd.Context(), "GET", "/revalidations/"+url.PathEscape(args[0]), nil, &rv); err != nil {
					return err
				}
				if o.json() {
					return writeJSON(w, rv)
				}
				fmt.Fprintf(w, "%s (%s) is %s, tier %s\n", rv.Plugin, rv.Version, rv.State, rv.Tier)
				fmt.Fprintf(w, "  next revalidation: %s\n", rv.Next.Format(time.RFC3339))
				if !rv.Deadline.IsZero() {
					fmt.Fprintf(w, "  remediation deadline: %s\n", rv.Deadline.Format(time.RFC3339))
				}
				if rv.LastOutcome != "" {
					fmt.Fprintf(w, "  last: %s at %s: %s\n", rv.LastOutcome, rv.LastRun.Format(time.RFC3339), rv.LastReason)
				}
				if rv.NeedsReview {
					fmt.Fprintf(w, "  routed to people: %s\n", rv.ReviewReason)
				}
				return nil
			}
			req := api.RevalidateRequest{All: all, Reviewed: reviewed}
			if len(args) == 1 {
				req.Version = args[0]
			}
			var out api.RevalidateResult
			if err := cl.JSON(cmd.Context(), "POST", "/revalidations", req, &out, http.StatusAccepted); err != nil {
				if len(args) == 1 {
					return notFound(err, args[0], "")
				}
				return err
			}
			if o.json() {
				return writeJSON(w, out)
			}
			fmt.Fprintln(w, out.Status)
			if all {
				fmt.Fprintf(w, "%d revalidation(s) queued\n", out.Queued)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "revalidate every certified and suspended version")
	c.Flags().BoolVar(&reviewed, "reviewed", false, "record that a steward reviewed the version, so the analyzers decide it again")
	c.Flags().BoolVar(&show, "show", false, "show the version's revalidation schedule and last outcome")
	o = addOutput(c, "text", "json")
	return c
}
