package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/policy"
)

func reviewCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "review", Short: "Work the review queue (reviewer or steward)"}
	var (
		limit   int
		listOut *output
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "The queue: earliest deadline first, then highest risk",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.ReviewList
			if err := cl.JSON(cmd.Context(), "GET", fmt.Sprintf("/reviews?limit=%d", limit), nil, &out); err != nil {
				return err
			}
			if listOut.json() {
				return writeJSON(cmd.OutOrStdout(), out.Items)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPLUGIN\tTIER\tWEIGHT\tAPPROVALS\tDEADLINE\tCLAIMED BY")
			for _, it := range out.Items {
				due := it.Deadline.Format(time.RFC3339)
				if it.Overdue {
					due += " (overdue)"
				}
				fmt.Fprintf(tw, "%s\t%s@%s\t%s\t%d\t%d/%d\t%s\t%s\n", it.ID, it.Plugin, it.Version, it.Tier, it.Weight, len(it.Approvals), it.ApprovalsRequired, due, orDash(it.ClaimedBy))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many items")
	listOut = addOutput(list, "text", "json")
	var showOut *output

	show := versionCmd(g, "show VERSION", "What to decide on: verdict factor by factor, findings, changes, thread", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		var d json.RawMessage
		if err := cl.JSON(cmd.Context(), "GET", "/reviews/"+url.PathEscape(id), nil, &d); err != nil {
			return notFound(err, ref, " in the review queue")
		}
		if showOut.json() {
			return writeJSON(cmd.OutOrStdout(), d)
		}
		var detail api.ReviewDetail
		if err := json.Unmarshal(d, &detail); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		it := detail.Item
		fmt.Fprintf(w, "%s  %s@%s\nTier %s, weight %d, approvals %d/%d, due %s\n", it.ID, it.Plugin, it.Version, it.Tier, it.Weight, len(it.Approvals), it.ApprovalsRequired, it.Deadline.Format(time.RFC3339))
		if v := detail.Verdict; v != nil {
			fmt.Fprintf(w, "\nPolicy %s: %s\n", v.PolicyDigest, strings.Join(v.Reasons, "; "))
			for _, f := range v.Weight.Factors {
				fmt.Fprintf(w, "  weight %-16s %3d of %3d  %s\n", f.Name, f.Value, f.Cap, f.Reason)
			}
			fmt.Fprintf(w, "  %s\n", v.DryRun.Summary)
		}
		if len(detail.Changes) > 0 {
			fmt.Fprintln(w, "\nChanges since the last approved version:")
			for _, ch := range detail.Changes {
				fmt.Fprintf(w, "  - %s\n", ch)
			}
		}
		if vt := detail.Submission.Vetting; vt != nil {
			fmt.Fprintf(w, "\nVetting: %s\n", vt.Summary)
			printResults(w, vt.Results)
		}
		if len(detail.Thread) > 0 {
			fmt.Fprintln(w, "\nThread:")
			for _, m := range detail.Thread {
				fmt.Fprintf(w, "  %s %s (%s): %s\n", m.CreatedAt.Format(time.RFC3339), m.Author, m.Kind, m.Body)
			}
		}
		return nil
	})
	showOut = addOutput(show, "text", "json")

	action := func(name, short string, setup func(*cobra.Command, *api.DecisionRequest)) *cobra.Command {
		var req api.DecisionRequest
		a := versionCmd(g, name+" VERSION", short, func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
			var body any = req
			if name == "claim" {
				body = nil
			}
			var out map[string]any
			if err := cl.JSON(cmd.Context(), "POST", "/reviews/"+url.PathEscape(id)+"/"+name, body, &out); err != nil {
				return notFound(err, ref, " in the review queue")
			}
			if st, ok := out["state"]; ok {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %v\n", ref, st)
			} else if until, ok := out["claimedUntil"]; ok {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: claimed until %v\n", ref, until)
			}
			return nil
		})
		if setup != nil {
			setup(a, &req)
		}
		return a
	}
	c.AddCommand(list, show,
		action("claim", "Claim an item so nobody else decides it meanwhile", nil),
		action("approve", "Approve (a high tier needs two different reviewers)", func(a *cobra.Command, r *api.DecisionRequest) {
			a.Flags().StringSliceVar(&r.Granted, "grant", nil, "grant only these permissions (default: all the manifest asks for)")
			a.Flags().StringArrayVar(&r.RefusedFlows, "refuse-flow", nil, "refuse this data flow, by its id CATEGORY>DESTINATION (repeatable; `gatehouse privacy report` lists them); every other flow is approved, and no permission a refused flow rests on is granted")
			a.Flags().StringVarP(&r.Message, "message", "m", "", "a note for the thread")
		}),
		action("reject", "Reject with a reason code and a message the author reads", func(a *cobra.Command, r *api.DecisionRequest) {
			a.Flags().StringVar(&r.Code, "code", "", "security, privacy, policy, quality, malicious or other")
			a.Flags().StringVarP(&r.Message, "message", "m", "", "what is wrong (required)")
		}),
		action("request-changes", "Send back to the author; the next version returns to you", func(a *cobra.Command, r *api.DecisionRequest) {
			a.Flags().StringVarP(&r.Message, "message", "m", "", "which changes are needed (required)")
		}),
	)
	return c
}

func appealCmd(g *globals) *cobra.Command {
	var msg string
	c := versionCmd(g, "appeal VERSION", "Appeal a rejection; two reviewers other than the first decide", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		if err := cl.JSON(cmd.Context(), "POST", "/submissions/"+url.PathEscape(id)+"/thread/appeal", api.DecisionRequest{Message: msg}, nil); err != nil {
			return notFound(err, ref, "")
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: appealed; back in review\n", ref)
		return nil
	})
	c.Flags().StringVarP(&msg, "message", "m", "", "your case (required)")
	return c
}

func policyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Show, test and apply the triage policy (Rego)"}
	var so *output
	show := &cobra.Command{
		Use:   "show",
		Short: "The active policy's digest, files and history",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var out api.Policy
			if err := cl.JSON(cmd.Context(), "GET", "/policy", nil, &out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if so.json() {
				return writeJSON(w, out)
			}
			fmt.Fprintf(w, "Active policy %s\n", out.Digest)
			for name, src := range out.Modules {
				fmt.Fprintf(w, "  %s (%d lines)\n", name, strings.Count(src, "\n"))
			}
			if len(out.History) == 0 {
				fmt.Fprintln(w, "No policy was applied: the embedded default decides.")
			}
			for _, h := range out.History {
				fmt.Fprintf(w, "  applied %s by %s: %s\n", h.AppliedAt.Format(time.RFC3339), h.AppliedBy, h.Digest)
			}
			return nil
		},
	}
	so = addOutput(show, "text", "json")
	test := &cobra.Command{
		Use:   "test [FILE|DIR]",
		Short: "Compile a policy (a .rego file or a folder of them) and run its Rego tests, locally; the embedded default without an argument",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := policy.Default()
			if len(args) == 1 {
				var err error
				if p, err = loadPolicy(args[0]); err != nil {
					return err
				}
			}
			if _, err := policy.Compile(cmd.Context(), p); err != nil {
				return err
			}
			rep, err := policy.Test(cmd.Context(), p)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, r := range rep.Results {
				fmt.Fprintf(w, "%-5s %s:%d %s\n", strings.ToUpper(string(r.Outcome)), filepath.Base(r.File), r.Line, r.Name)
			}
			fmt.Fprintf(w, "%d passed, %d failed\n", rep.Passed, rep.Failed)
			if err := rep.Err(); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	var dry bool
	apply := &cobra.Command{
		Use:   "apply FILE|DIR",
		Short: "Apply a policy, a .rego file or a folder of them (refused when it does not compile or its tests fail); --dry-run reports what it would change",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPolicy(args[0])
			if err != nil {
				return err
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			req := api.PolicyRequest{Modules: p.Modules}
			w := cmd.OutOrStdout()
			if dry {
				var out api.PolicyDryRun
				if err := cl.JSON(cmd.Context(), "POST", "/policy/dry-run", req, &out); err != nil {
					return err
				}
				fmt.Fprintf(w, "Dry run of %s against the active %s: %d version(s) in review would be decided differently\n", out.Proposed, out.Active, len(out.Differences))
				for _, d := range out.Differences {
					fmt.Fprintf(w, "  %s@%s: %s → %s\n", d.Plugin, d.Version, d.Current, d.Proposed)
					for _, ch := range d.Changes {
						fmt.Fprintf(w, "      %s: %v → %v\n", ch.Field, ch.Current, ch.Proposed)
					}
				}
				fmt.Fprintf(w, "%d certified version(s) would be suspended (their revalidation is queued when the policy is applied)\n", len(out.WouldSuspend))
				for _, im := range out.WouldSuspend {
					fmt.Fprintf(w, "  %s@%s (%s): %s\n", im.Plugin, im.Version, im.Submission, strings.Join(im.Problems, "; "))
				}
				return nil
			}
			var out struct {
				Digest       string `json:"digest"`
				Revalidating int    `json:"revalidating"`
			}
			if err := cl.JSON(cmd.Context(), "POST", "/policy", req, &out); err != nil {
				return err
			}
			fmt.Fprintf(w, "Applied %s\n", out.Digest)
			if out.Revalidating > 0 {
				fmt.Fprintf(w, "Revalidating %d certified version(s) the policy would suspend\n", out.Revalidating)
			}
			return nil
		},
	}
	apply.Flags().BoolVar(&dry, "dry-run", false, "report which versions in review the policy would decide differently, and change nothing")
	c.AddCommand(show, test, apply)
	return c
}

// loadPolicy reads a policy from a .rego file or a folder of them.
func loadPolicy(path string) (policy.Policy, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return policy.Policy{}, err
	}
	if fi.IsDir() {
		return policy.Load(path)
	}
	if filepath.Ext(path) != ".rego" {
		return policy.Policy{}, fmt.Errorf("%s is not a .rego file or a folder of them", path)
	}
	if fi.Size() > 4<<20 {
		return policy.Policy{}, fmt.Errorf("%s is over 4 MiB", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return policy.Policy{}, err
	}
	return policy.New(map[string]string{filepath.Base(path): string(src)}), nil
}
