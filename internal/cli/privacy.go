package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/privacy"
)

func privacyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "privacy", Short: "Data flows: a version's privacy report, and which plugins touch which data"}
	var repOut *output
	report := versionCmd(g, "report VERSION", "A version's data flows, the decision on each, retention, evidence and the change since the previous version", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		var rep api.PrivacyReport
		if err := cl.JSON(cmd.Context(), "GET", "/submissions/"+url.PathEscape(id)+"/privacy", nil, &rep); err != nil {
			return notFound(err, ref, "")
		}
		w := cmd.OutOrStdout()
		switch repOut.format {
		case "json":
			return writeJSON(w, rep)
		case "markdown":
			_, err := w.Write(privacy.Markdown(&rep))
			return err
		}
		fmt.Fprintf(w, "%s@%s (%s), flows from the %s\n\n", rep.Plugin, rep.Version, rep.State, rep.Source)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FLOW\tPURPOSE\tRETENTION\tDECISION\tPERMISSIONS")
		for _, f := range rep.Flows {
			dec := f.Decision
			if len(f.DecidedBy) > 0 {
				dec += " by " + strings.Join(f.DecidedBy, ", ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.ID, orDash(f.Purpose), orDash(f.Retention), dec, strings.Join(f.Permissions, " "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "\n%s %s: %s", f.Severity, f.RuleID, f.Message)
		}
		if len(rep.Findings) > 0 {
			fmt.Fprintln(w)
		}
		if rep.Diff.Previous != "" {
			fmt.Fprintf(w, "\nSince %s: added %s; removed %s; changed %s\n", rep.Diff.Previous, orDash(strings.Join(rep.Diff.Added, ", ")), orDash(strings.Join(rep.Diff.Removed, ", ")), orDash(strings.Join(rep.Diff.Changed, "; ")))
		}
		return nil
	})
	report.Long = `Show the data flows of a version: which category of user data goes to which
destination (the platform, or an origin), for which purpose, kept how long;
whether reviewers approved or refused each one; and the evidence (manifest
fields, the origins the module names, the calls its test scenarios made).
-o markdown writes the report for a privacy impact assessment.

Refuse a flow when approving with: gatehouse review approve VERSION --refuse-flow ID`
	repOut = addOutput(report, "text", "json", "markdown")

	var catOut *output
	categories := &cobra.Command{
		Use:   "categories",
		Short: "Which released plugins touch which categories of user data (reviewer, steward, auditor)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.DataCategories
			if err := cl.JSON(cmd.Context(), "GET", "/privacy/categories", nil, &out); err != nil {
				return err
			}
			if catOut.json() {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CATEGORY\tPLUGIN\tSTATE\tDESTINATIONS\tRETENTION")
			for _, u := range out.Uses {
				fmt.Fprintf(tw, "%s\t%s@%s\t%s\t%s\t%s\n", u.Category, u.Plugin, u.Version, u.State, strings.Join(u.Destinations, ", "), orDash(u.Retention))
			}
			if out.Truncated {
				fmt.Fprintln(tw, "(more versions than the view reads; the list is cut)")
			}
			return tw.Flush()
		},
	}
	catOut = addOutput(categories, "text", "json")
	c.AddCommand(report, categories)
	return c
}
