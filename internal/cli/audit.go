package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
)

func auditCmd(g *globals) *cobra.Command {
	var data, database string
	c := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the audit trail",
		Long: `Verify and export the audit trail, through the API (steward or auditor token)
or, with --data or --database, directly on a server's store.`,
	}
	c.PersistentFlags().StringVar(&data, "data", "", "read the SQLite store of this data folder directly")
	c.PersistentFlags().StringVar(&database, "database", "", "read this PostgreSQL store directly")

	// direct opens the store named by --data or --database, or returns nil.
	direct := func(ctx context.Context) (marketplace.AuditTrail, error) {
		if data == "" && database == "" {
			return nil, nil
		}
		return marketplace.OpenAuditTrail(ctx, data, database)
	}

	var vo *output
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the hash chain; exit 2 and name the first broken link if it does not hold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var res api.AuditVerification
			st, err := direct(ctx)
			if err != nil {
				return err
			}
			if st != nil {
				defer st.Close()
				rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error {
					return st.ScanAudit(ctx, domain.AuditQuery{}, fn)
				})
				if err != nil {
					return err
				}
				res = app.Verification(rep)
			} else {
				cl, err := g.client()
				if err != nil {
					return err
				}
				if res, err = cl.VerifyAudit(ctx); err != nil {
					return err
				}
			}
			if vo.json() {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			}
			if res.Broken != nil {
				return &exitError{code: 2, msg: fmt.Sprintf("audit chain broken at event %d: %s (%d events before it verified)", res.Broken.Seq, res.Broken.Reason, res.Count)}
			}
			if !vo.json() {
				fmt.Fprintf(cmd.OutOrStdout(), "audit chain verified: %d events, head %s\n", res.Count, res.Head)
			}
			return nil
		},
	}
	vo = addOutput(verify, "text", "json")

	var (
		out   string
		after int64
	)
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the audit trail as JSON lines (for a SIEM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var w io.Writer = cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			st, err := direct(ctx)
			if err != nil {
				return err
			}
			if st != nil {
				defer st.Close()
				enc := json.NewEncoder(w)
				return st.ScanAudit(ctx, domain.AuditQuery{AfterSeq: after}, func(e audit.Event) error {
					return enc.Encode(e)
				})
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			return cl.ExportAudit(ctx, w, after)
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "-", "file to write (mode 0600); - for standard output")
	export.Flags().Int64Var(&after, "after", 0, "only events after this sequence number")
	c.AddCommand(verify, export)
	return c
}
