package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// notifyCmds are the commands for webhooks and incidents.
func notifyCmds(g *globals) []*cobra.Command { return []*cobra.Command{incidentCmd(g), webhookCmd(g)} }

func incidentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "incident", Short: "Respond to an incident: name versions, contain them, hunt, notify, close (steward)"}

	var open struct {
		title, summary, severity string
	}
	openCmd := &cobra.Command{
		Use:   "open [VERSION...]",
		Short: "Open an incident naming versions (submission ids or namespace/name@version)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.Incident
			req := map[string]any{"title": open.title, "summary": open.summary, "severity": open.severity, "versions": args}
			if err := cl.JSON(cmd.Context(), "POST", "/incidents", req, &out, 201); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Opened %s (%s): %s\n", out.ID, out.Severity, out.Title)
			return nil
		},
	}
	openCmd.Flags().StringVar(&open.title, "title", "", "what went wrong, in a line (required)")
	openCmd.Flags().StringVar(&open.summary, "summary", "", "what is known so far")
	openCmd.Flags().StringVar(&open.severity, "severity", "high", "low, medium, high or critical")

	var add struct {
		versions                   []string
		note                       string
		ruleKind, rule, ruleDetail string
	}
	addCmd := &cobra.Command{
		Use:   "add ID",
		Short: "Add versions, a note or a hunting rule to an incident",
		Long: `Add to an incident: --version names more versions; --note adds to the
timeline; --rule adds a hunting rule of --rule-kind:

  content  an RE2 regular expression over every file of a package
  module   a banned Go module, package or SBOM component (path[@version])
  import   a banned WebAssembly import (module or module/name)
  origin   a banned network origin (a host, or scheme://host[:port])

A rule runs at once over every stored version (the matches are shown, and
certified ones are named in the incident so they can be contained), and
from then on blocks every new submission that matches it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(add.versions) == 0 && add.note == "" && add.rule == "" {
				return errors.New("give --version, --note or --rule")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			ctx, w, path := cmd.Context(), cmd.OutOrStdout(), "/incidents/"+url.PathEscape(args[0])+"/"
			if len(add.versions) > 0 {
				var out api.IncidentActionResult
				if err := cl.JSON(ctx, "POST", path+"versions", map[string]any{"versions": add.versions}, &out); err != nil {
					return err
				}
				fmt.Fprintf(w, "Named %d more versions in %s.\n", out.Added, args[0])
			}
			if add.note != "" {
				if err := cl.JSON(ctx, "POST", path+"note", map[string]any{"note": add.note}, nil); err != nil {
					return err
				}
				fmt.Fprintf(w, "Noted in %s.\n", args[0])
			}
			if add.rule != "" {
				var out api.IncidentActionResult
				if err := cl.JSON(ctx, "POST", path+"rule", map[string]any{"kind": add.ruleKind, "pattern": add.rule, "description": add.ruleDetail}, &out); err != nil {
					return err
				}
				fmt.Fprintf(w, "Added hunting rule %s (%s %q); it now blocks new submissions that match.\n", out.Rule.ID, out.Rule.Kind, out.Rule.Pattern)
				if h := out.Hunt; h != nil {
					fmt.Fprintf(w, "Searched %d stored versions: %d match.\n", h.Scanned, len(h.Hits))
					for _, hit := range h.Hits {
						m := hit.Matches[0]
						where := m.File
						if m.Line > 0 {
							where += fmt.Sprintf(":%d", m.Line)
						}
						fmt.Fprintf(w, "  %s  %s@%s (%s)  %s  %s\n", hit.Submission, hit.Plugin, hit.Version, hit.State, where, m.Subject)
					}
					for _, u := range h.Unreadable {
						fmt.Fprintf(w, "  not searched: %s\n", u)
					}
				}
			}
			return nil
		},
	}
	f := addCmd.Flags()
	f.StringSliceVar(&add.versions, "version", nil, "a version to name (submission id or namespace/name@version); repeat for more")
	f.StringVar(&add.note, "note", "", "a note for the timeline")
	f.StringVar(&add.ruleKind, "rule-kind", "content", "content, module, import or origin")
	f.StringVar(&add.rule, "rule", "", "the hunting rule's pattern")
	f.StringVar(&add.ruleDetail, "rule-description", "", "what the rule looks for and why")

	var contain struct {
		revoke   bool
		reason   string
		deadline time.Duration
	}
	containCmd := &cobra.Command{
		Use:   "contain ID",
		Short: "Suspend (or with --revoke, revoke) every installable version the incident names",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			req := map[string]any{"action": "suspend", "reason": contain.reason}
			if contain.revoke {
				req["action"] = "revoke"
			}
			if contain.deadline > 0 {
				req["deadline"] = time.Now().Add(contain.deadline)
			}
			var out api.IncidentActionResult
			if err := cl.JSON(cmd.Context(), "POST", "/incidents/"+url.PathEscape(args[0])+"/contain", req, &out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBMISSION\tVERSION\tBEFORE\tAFTER\tERROR")
			for _, o := range out.Outcomes {
				fmt.Fprintf(tw, "%s\t%s@%s\t%s\t%s\t%s\n", o.Submission, o.Plugin, o.Version, o.Before, o.After, orDash(o.Error))
			}
			tw.Flush()
			printIncidentState(w, out.Incident)
			return nil
		},
	}
	containCmd.Flags().BoolVar(&contain.revoke, "revoke", false, "revoke instead of suspending")
	containCmd.Flags().StringVar(&contain.reason, "reason", "", "why, for publishers and hosts (default: the incident's title)")
	positiveDuration(containCmd.Flags(), &contain.deadline, "deadline", 0, 0, "how long publishers have to certify a fixed version before revocation (default 168h)")

	var closing struct{ postmortem, file string }
	closeCmd := &cobra.Command{
		Use:   "close ID",
		Short: "Close an incident with its post-mortem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := closing.postmortem
			if closing.file != "" {
				b, err := readBounded(closing.file, 256<<10)
				if err != nil {
					return err
				}
				text = string(b)
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.IncidentActionResult
			if err := cl.JSON(cmd.Context(), "POST", "/incidents/"+url.PathEscape(args[0])+"/close", map[string]any{"postmortem": text}, &out); err != nil {
				return err
			}
			printIncidentState(cmd.OutOrStdout(), out.Incident)
			return nil
		},
	}
	closeCmd.Flags().StringVar(&closing.postmortem, "postmortem", "", "the post-mortem text")
	closeCmd.Flags().StringVar(&closing.file, "postmortem-file", "", "read the post-mortem from this file")

	var message string
	notifyCmd := &cobra.Command{
		Use:   "notify ID",
		Short: "Send a notice about the incident to every webhook subscriber",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.JSON(cmd.Context(), "POST", "/incidents/"+url.PathEscape(args[0])+"/notify", map[string]any{"message": message}, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Notice queued for every subscriber.")
			return nil
		},
	}
	notifyCmd.Flags().StringVarP(&message, "message", "m", "", "the notice (required)")

	var (
		state   string
		listOut *output
	)
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.IncidentList
			if err := cl.JSON(cmd.Context(), "GET", "/incidents?state="+url.QueryEscape(state), nil, &out); err != nil {
				return err
			}
			if listOut.json() {
				return writeJSON(cmd.OutOrStdout(), out.Incidents)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tOPENED\tCONTAINED IN\tREMEDIATED IN\tTITLE")
			for _, i := range out.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.State, i.Severity, i.OpenedAt.Format(time.RFC3339), fmtSeconds(i.TimeToContainSeconds), fmtSeconds(i.TimeToRemediateSeconds), i.Title)
			}
			return tw.Flush()
		},
	}
	listCmd.Flags().StringVar(&state, "state", "", "open, contained or closed")
	listOut = addOutput(listCmd, "text", "json")
	var showOut *output

	showCmd := &cobra.Command{
		Use:   "show ID",
		Short: "An incident's versions, rules and timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var d api.IncidentDetail
			if err := cl.JSON(cmd.Context(), "GET", "/incidents/"+url.PathEscape(args[0]), nil, &d); err != nil {
				return err
			}
			if showOut.json() {
				return writeJSON(cmd.OutOrStdout(), d)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s  %s  (%s)\n", d.Incident.ID, d.Incident.Title, d.Incident.Severity)
			printIncidentState(w, d.Incident)
			fmt.Fprintln(w, "\nVersions:")
			for _, v := range d.Versions {
				fmt.Fprintf(w, "  %s  %s@%s  %s  (%s)\n", v.Submission, v.Plugin, v.Version, v.State, v.Source)
			}
			if len(d.Rules) > 0 {
				fmt.Fprintln(w, "\nHunting rules:")
				for _, r := range d.Rules {
					fmt.Fprintf(w, "  %s  %s %q  %s\n", r.ID, r.Kind, r.Pattern, r.Description)
				}
			}
			fmt.Fprintln(w, "\nTimeline:")
			for _, e := range d.Timeline {
				fmt.Fprintf(w, "  %s  %-10s %-24s %s\n", e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Reason)
			}
			if d.Incident.Postmortem != "" {
				fmt.Fprintf(w, "\nPost-mortem:\n%s\n", d.Incident.Postmortem)
			}
			return nil
		},
	}
	showOut = addOutput(showCmd, "text", "json")
	c.AddCommand(openCmd, addCmd, containCmd, closeCmd, notifyCmd, listCmd, showCmd)
	return c
}

func printIncidentState(w io.Writer, i api.Incident) {
	fmt.Fprintf(w, "State %s; opened %s by %s; time to contain %s; time to remediate %s\n",
		i.State, i.OpenedAt.Format(time.RFC3339), i.OpenedBy, fmtSeconds(i.TimeToContainSeconds), fmtSeconds(i.TimeToRemediateSeconds))
}

func fmtSeconds(s float64) string {
	if s == 0 {
		return "-"
	}
	return (time.Duration(s) * time.Second).String()
}

func webhookCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "webhook", Short: "Subscribe to events, read the delivery log, replay (publisher or steward)"}

	var add struct {
		events            []string
		namespace, plugin string
	}
	addCmd := &cobra.Command{
		Use:   "add URL",
		Short: "Subscribe a URL to events; prints the signing secret once",
		Long: `Subscribe a URL to events. Every request is signed as the Standard Webhooks
specification says (webhook-id, webhook-timestamp, webhook-signature); check
it with the secret printed here, which is shown only this once. In Go:
webhook.Verify(secret, r.Header, body, time.Now(), 0).

Event types are the audit trail's actions: submission.create,
submission.transition, version.suspended, certificate.issued, incident.opened,
…; filter with exact types, a prefix wildcard (submission.*) or *.
Publishers subscribe for a namespace (or one plugin) they publish in;
stewards may subscribe to everything.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.Webhook
			req := webhook.Subscription{URL: args[0], Events: add.events, Namespace: add.namespace, Plugin: add.plugin}
			if err := cl.JSON(cmd.Context(), "POST", "/webhooks", req, &out, 201); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Subscribed %s to %s as %s.\n", out.URL, strings.Join(out.Events, ", "), out.ID)
			fmt.Fprintf(w, "Signing secret (shown only now; keep it in your receiver's secret store):\n%s\n", out.Secret)
			return nil
		},
	}
	addCmd.Flags().StringSliceVar(&add.events, "event", []string{"*"}, "event types to receive; repeat or separate with commas")
	addCmd.Flags().StringVar(&add.namespace, "namespace", "", "only events about this namespace's plugins")
	addCmd.Flags().StringVar(&add.plugin, "plugin", "", "only events about this plugin (namespace/name)")

	var hooksOut *output
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List subscriptions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.WebhookList
			if err := cl.JSON(cmd.Context(), "GET", "/webhooks", nil, &out); err != nil {
				return err
			}
			if hooksOut.json() {
				return writeJSON(cmd.OutOrStdout(), out.Webhooks)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tOWNER\tSCOPE\tEVENTS\tURL\tSTATUS")
			for _, h := range out.Webhooks {
				scope := "everything"
				if h.Plugin != "" {
					scope = h.Plugin
				} else if h.Namespace != "" {
					scope = h.Namespace + "/*"
				}
				status := "active"
				if !h.DisabledAt.IsZero() {
					status = "disabled: " + h.DisabledReason
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Owner, scope, strings.Join(h.Events, ","), h.URL, status)
			}
			return tw.Flush()
		},
	}

	hooksOut = addOutput(listCmd, "text", "json")
	var dq struct {
		webhook, state string
		limit          int
		out            *output
	}
	deliveriesCmd := &cobra.Command{
		Use:   "deliveries [DELIVERY]",
		Short: "The delivery log, or one delivery's attempts",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(args) == 1 {
				var d api.Delivery
				if err := cl.JSON(cmd.Context(), "GET", "/deliveries/"+url.PathEscape(args[0]), nil, &d); err != nil {
					return err
				}
				if dq.out.json() {
					return writeJSON(w, d)
				}
				fmt.Fprintf(w, "Delivery %d of event %d (%s) to %s: %s after %d attempts; message %s\n", d.ID, d.Event, d.Type, d.Webhook, d.State, d.Attempts, d.MessageID)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "N\tAT\tSTATUS\tLATENCY\tERROR\tRESPONSE")
				for _, a := range d.Attempt {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%.1fms\t%s\t%q\n", a.N, a.At.Format(time.RFC3339), a.StatusCode, a.LatencyMS, orDash(a.Error), clipText(a.Response, 60))
				}
				return tw.Flush()
			}
			q := url.Values{}
			if dq.webhook != "" {
				q.Set("webhook", dq.webhook)
			}
			if dq.state != "" {
				q.Set("state", dq.state)
			}
			q.Set("limit", fmt.Sprint(dq.limit))
			var out api.DeliveryList
			if err := cl.JSON(cmd.Context(), "GET", "/deliveries?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if dq.out.json() {
				return writeJSON(w, out.Deliveries)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWEBHOOK\tEVENT\tTYPE\tSTATE\tATTEMPTS\tLAST\tNEXT")
			for _, d := range out.Deliveries {
				next := "-"
				if !d.NextAttempt.IsZero() {
					next = d.NextAttempt.Format(time.RFC3339)
				}
				last := orDash(d.LastError)
				if d.LastStatus != 0 {
					last = fmt.Sprint(d.LastStatus)
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Webhook, d.Event, d.Type, d.State, d.Attempts, last, next)
			}
			return tw.Flush()
		},
	}
	deliveriesCmd.Flags().StringVar(&dq.webhook, "webhook", "", "only this subscription's deliveries")
	deliveriesCmd.Flags().StringVar(&dq.state, "state", "", "pending, delivered or dead")
	deliveriesCmd.Flags().IntVar(&dq.limit, "limit", 50, "how many, newest first")
	dq.out = addOutput(deliveriesCmd, "text", "json")

	var deadOf string
	replayCmd := &cobra.Command{
		Use:   "replay [DELIVERY]",
		Short: "Send a delivery again, or with --dead WEBHOOK every dead letter of a subscription",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (deadOf != "") {
				return errors.New("give either a delivery id or --dead WEBHOOK")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if deadOf != "" {
				var out struct{ Replayed int }
				if err := cl.JSON(cmd.Context(), "POST", "/webhooks/"+url.PathEscape(deadOf)+"/replay", nil, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Replaying %d dead letters of %s.\n", out.Replayed, deadOf)
				return nil
			}
			var d api.Delivery
			if err := cl.JSON(cmd.Context(), "POST", "/deliveries/"+url.PathEscape(args[0])+"/replay", nil, &d); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Delivery %d is queued again (message %s).\n", d.ID, d.MessageID)
			return nil
		},
	}
	replayCmd.Flags().StringVar(&deadOf, "dead", "", "replay every dead letter of this subscription")

	removeCmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Disable a subscription",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.JSON(cmd.Context(), "DELETE", "/webhooks/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Disabled %s.\n", args[0])
			return nil
		},
	}
	c.AddCommand(addCmd, listCmd, deliveriesCmd, replayCmd, removeCmd)
	return c
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
