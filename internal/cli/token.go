package cli

import (
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
)

func tokenCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens (admin)"}
	var (
		req api.TokenRequest
		ttl time.Duration
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token; its secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := domain.ParseRole(req.Role); err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			if ttl > 0 {
				req.TTL = ttl.String()
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			t, err := cl.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Created %s for %s (role %s, expires %s). The secret below is shown only now:\n", t.ID, t.Subject, t.Role, t.ExpiresAt.Format(time.RFC3339))
			fmt.Fprintln(cmd.OutOrStdout(), t.Secret)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&req.Subject, "subject", "", "who holds the token (required)")
	f.StringVar(&req.Role, "role", "", domain.RoleNames()+" (required)")
	f.StringVar(&req.Namespace, "namespace", "", "restrict a publisher token to one namespace")
	f.StringVar(&req.Environment, "environment", "", "the environment a host token enrolls into (one the marketplace declares; default the first)")
	positiveDuration(f, &ttl, "ttl", 0, auth.MaxLifetime, fmt.Sprintf("lifetime, e.g. 720h (default %s, at most %s)", hours(auth.DefaultLifetime), hours(auth.MaxLifetime)))
	_ = create.MarkFlagRequired("subject")
	_ = create.MarkFlagRequired("role")

	var listOut *output
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			ts, err := cl.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if listOut.json() {
				return writeJSON(cmd.OutOrStdout(), ts)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSUBJECT\tROLE\tNAMESPACE\tEXPIRES\tSTATUS")
			for _, t := range ts {
				status := "active"
				if t.RevokedAt != nil {
					status = "revoked " + t.RevokedAt.Format(time.RFC3339)
				} else if time.Now().After(t.ExpiresAt) {
					status = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Subject, t.Role, orDash(t.Namespace), t.ExpiresAt.Format(time.RFC3339), status)
			}
			return tw.Flush()
		},
	}
	listOut = addOutput(list, "text", "json")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked %s\n", args[0])
			return nil
		},
	}
	c.AddCommand(create, list, revoke, recoverAdminCmd(g))
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recoverAdminCmd is the break-glass: an admin token made straight in the
// database when every admin token is lost (marketplace.RecoverAdmin).
func recoverAdminCmd(g *globals) *cobra.Command {
	var (
		r   marketplace.Recovery
		ttl time.Duration
	)
	c := &cobra.Command{
		Use:   "recover-admin --reason TEXT [--data DIR | --database URL]",
		Short: "Break-glass: make an admin token straight in the database when every admin token is lost",
		Long: `Make an admin token straight in the marketplace's database, for when no
admin token is left (expired, revoked or purged): a start-up makes the
first admin token only once per database, so nothing else would.

It needs what a repair by hand would (the data folder, or the PostgreSQL
database's credentials), but it records a token.create event in the audit
chain naming the operator (--operator, default the system user) and the
reason, and the token expires within 7 days (--ttl, default 24h): use it
to make lasting admin tokens with ` + "`gatehouse token create`" + `, then revoke
it. The secret is printed once, on standard output.`,
		Example: `  gatehouse token recover-admin --data ./gatehouse-data --reason "INC-1234: the last admin token expired"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.Operator == "" {
				if u, err := user.Current(); err == nil {
					r.Operator = u.Username
				}
			}
			r.TTL = ttl
			t, err := marketplace.RecoverAdmin(cmd.Context(), r)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Created break-glass admin token %s (expires %s), recorded in the audit trail. Make lasting admin tokens with it, then revoke it (gatehouse token revoke %s). The secret below is shown only now:\n", t.TokenID, t.ExpiresAt.Format(time.RFC3339), t.TokenID)
			fmt.Fprintln(cmd.OutOrStdout(), t.Secret)
			return nil
		},
	}
	f := c.Flags()
	g.envString(f, &r.Data, "data", "GATEHOUSE_DATA", "./gatehouse-data", "the embedded installation's data folder")
	g.envString(f, &r.DatabaseURL, "database", "GATEHOUSE_DATABASE", "", "the PostgreSQL database instead, postgres://…")
	f.StringVar(&r.Reason, "reason", "", "why, e.g. the incident ticket (required; goes into the audit trail)")
	f.StringVar(&r.Operator, "operator", "", "who runs the recovery (default the system user)")
	positiveDuration(f, &ttl, "ttl", 24*time.Hour, marketplace.MaxRecoveryTTL, "the token's lifetime (at most 168h)")
	_ = c.MarkFlagRequired("reason")
	return c
}
