package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// trustCmds are the commands of the trust layer: keys, namespace, verify,
// install, rollback and log.
func trustCmds(g *globals) []*cobra.Command {
	cmds := []*cobra.Command{keysCmd(g), namespaceCmd(g), certificateCmd(g)}
	cmds = append(cmds, verifyCmd(g), installCmd(g), rollbackCmd(g), syncCmd(g), logCmd(g)) // T2: internal/cli/verify.go, internal/cli/install.go, internal/cli/rollback.go, internal/cli/logcmd.go
	return cmds
}

func keysCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Marketplace and publisher keys: show the trust root, make a publisher key, rotate the marketplace key"}
	c.AddCommand(keysShowCmd(g), keysGenerateCmd(g), keysRotateCmd(g), keyCompromisedCmd(g))
	return c
}

// keyCompromisedCmd reports a publisher key stolen. It is under both
// `keys` and `namespace key`: whoever reaches for it in a hurry finds it.
func keyCompromisedCmd(g *globals) *cobra.Command {
	var reason string
	c := withOutput(&cobra.Command{
		Use:   "compromised NAMESPACE KEY_ID --reason TEXT",
		Short: "Report a publisher key stolen: it is retired and trusted for nothing; versions only it signed are suspended, the others re-checked (owners, stewards, admins)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			rc, err := cl.CompromiseNamespaceKey(cmd.Context(), args[0], args[1], api.KeyCompromise{Reason: reason})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if outputOf(cmd).json() {
				return writeJSON(w, rc)
			}
			if rc.AlreadyReported {
				fmt.Fprintf(w, "Key %s of namespace %s was reported compromised already; finished what was left.\n", args[1], rc.Namespace)
			} else {
				fmt.Fprintf(w, "Key %s of namespace %s is marked compromised and retired; new submissions signed with it are refused.\n", args[1], rc.Namespace)
			}
			printRecheck(w, rc)
			fmt.Fprintf(w, "Next: register a new key (gatehouse namespace key add %s KEY.pub), re-sign and resubmit the suspended versions; a steward revokes any you did not publish.\n", rc.Namespace)
			return nil
		},
	})
	c.Flags().StringVar(&reason, "reason", "", "why the key is considered stolen (recorded in the audit trail and the transparency log)")
	return c
}

func printRecheck(w io.Writer, rc api.Recheck) {
	fmt.Fprintf(w, "Suspended %d version(s); queued %d for revalidation.\n", len(rc.Suspended), len(rc.Queued))
	for _, v := range rc.Suspended {
		fmt.Fprintf(w, "  suspended  %s@%s  (%s)\n", v.Plugin, v.Version, v.ID)
	}
	for _, v := range rc.Queued {
		fmt.Fprintf(w, "  re-check   %s@%s  (%s)\n", v.Plugin, v.Version, v.ID)
	}
}

func namespaceTransferCmd(g *globals) *cobra.Command {
	var to, reason string
	c := withOutput(&cobra.Command{
		Use:   "transfer NAMESPACE --to SUBJECT --reason TEXT",
		Short: "Give a namespace to a new owner (admin); every certified version in it is queued for revalidation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			rc, err := cl.TransferNamespace(cmd.Context(), args[0], api.NamespaceTransfer{To: to, Reason: reason})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if outputOf(cmd).json() {
				return writeJSON(w, rc)
			}
			fmt.Fprintf(w, "Namespace %s now belongs to %s (logged).\n", rc.Namespace, to)
			printRecheck(w, rc)
			return nil
		},
	})
	c.Flags().StringVar(&to, "to", "", "the new owner's token subject")
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail and the transparency log)")
	return c
}

func keysShowCmd(g *globals) *cobra.Command {
	var data string
	var out *output
	c := &cobra.Command{
		Use:   "show",
		Short: "Print the trust root (marketplace keys with their ids and windows, the log key) from the server, or from --data offline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw []byte
			if data != "" {
				tr, err := marketplace.ReadTrustRoot(data)
				if err != nil {
					return err
				}
				if raw, err = json.MarshalIndent(tr, "", "  "); err != nil {
					return err
				}
			} else {
				cl, err := client.New(g.server, "")
				if err != nil {
					return err
				}
				if raw, err = cl.TrustRoot(cmd.Context()); err != nil {
					return err
				}
			}
			tr, err := verify.ParseTrustRoot(raw)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.json() {
				_, err := fmt.Fprintf(w, "%s\n", raw)
				return err
			}
			fmt.Fprintln(w, "Marketplace keys:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, k := range tr.MarketplaceKeys.Keys() {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", k.ID, k.Algorithm, window(k))
			}
			tw.Flush()
			fmt.Fprintf(w, "Log origin:  %s\nLog key:     %s\nRevocation lists older than %s are refused.\n", tr.LogOrigin, tr.LogKey, tr.RevocationMaxAge)
			return nil
		},
	}
	c.Flags().StringVar(&data, "data", "", "read the trust root from this data folder instead of the server")
	out = addOutput(c, "text", "json")
	c.Flags().Lookup("output").Usage += " (json: the trust root document hosts keep as trust-root.json)"
	out.deprecatedJSON(c)
	return c
}

func window(k trust.Key) string {
	switch {
	case k.NotAfter.IsZero() && k.NotBefore.IsZero():
		return "current"
	case k.NotAfter.IsZero():
		return "current since " + k.NotBefore.Format(time.RFC3339)
	}
	return "retired " + k.NotAfter.Format(time.RFC3339) + " (verifies what it signed before)"
}

func keysGenerateCmd(g *globals) *cobra.Command {
	var out, alg string
	c := &cobra.Command{
		Use:   "generate -o FILE",
		Short: "Make a publisher key pair: FILE (private, mode 0600) and FILE.pub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("-o names the private key file to write")
			}
			s, err := trust.GenerateKey(trust.Algorithm(alg))
			if err != nil {
				return err
			}
			if err := s.WriteKeyPair(out, out+".pub"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (private, mode 0600) and %s.pub\nKey id: %s\nRegister it: gatehouse namespace key add NAMESPACE %s.pub\n", out, out, s.KeyID(), out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "the private key file to write")
	c.Flags().StringVar(&alg, "algorithm", string(trust.Ed25519), "ed25519 or ecdsa-p256-sha256")
	return c
}

func keysRotateCmd(g *globals) *cobra.Command {
	var data, alg string
	c := &cobra.Command{
		Use:   "rotate --data DIR",
		Short: "Retire the marketplace signing key and make a new one (server stopped); old certificates keep verifying",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return fmt.Errorf("--data names the marketplace's data folder")
			}
			oldID, newID, err := marketplace.RotateMarketplaceKey(data, trust.Algorithm(alg), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Retired marketplace key %s (what it signed keeps verifying); the new key is %s.\nHosts must fetch the trust root again (gatehouse keys show --json).\n", oldID, newID)
			return nil
		},
	}
	g.envString(c.Flags(), &data, "data", "GATEHOUSE_DATA", "", "data folder")
	c.Flags().StringVar(&alg, "algorithm", "", "the new key's algorithm (default: the old key's)")
	return c
}

func namespaceCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "namespace", Short: "Namespaces: publisher keys, the signature requirement and transfers"}
	key := &cobra.Command{Use: "key", Short: "A namespace's publisher keys"}
	key.AddCommand(
		&cobra.Command{
			Use:   "add NAMESPACE PUBLIC_KEY_FILE",
			Short: "Register a publisher public key for a namespace",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := g.client()
				if err != nil {
					return err
				}
				pem, err := os.ReadFile(args[1])
				if err != nil {
					return err
				}
				k, err := cl.AddNamespaceKey(cmd.Context(), args[0], pem)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Registered key %s (%s) for namespace %s\n", k.ID, k.Algorithm, k.Namespace)
				return nil
			},
		},
		withOutput(&cobra.Command{
			Use:   "list NAMESPACE",
			Short: "List a namespace's publisher keys",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := client.New(g.server, g.token)
				if err != nil {
					return err
				}
				ks, err := cl.NamespaceKeys(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if outputOf(cmd).json() {
					return writeJSON(w, ks)
				}
				req := "required"
				if !ks.SignaturesRequired {
					req = "not required"
				}
				fmt.Fprintf(w, "Namespace %s: signatures %s\n", ks.Namespace, req)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				for _, k := range ks.Keys {
					state := "current"
					if k.CompromisedAt != nil {
						state = "COMPROMISED " + k.CompromisedAt.Format(time.RFC3339) + " by " + k.CompromisedBy + ": " + k.CompromisedReason
					} else if k.RetiredAt != nil {
						state = "retired " + k.RetiredAt.Format(time.RFC3339) + " by " + k.RetiredBy
					}
					alg := k.Algorithm
					if k.Subject != "" {
						alg += " " + k.Subject + " (" + k.Issuer + ")"
					}
					fmt.Fprintf(tw, "  %s\t%s\tadded %s by %s\t%s\n", k.ID, alg, k.AddedAt.Format(time.RFC3339), k.AddedBy, state)
				}
				return tw.Flush()
			},
		}),
		&cobra.Command{
			Use:   "remove NAMESPACE KEY_ID",
			Short: "Retire a publisher key: what it signed stays verifiable (its certified versions are re-checked), new submissions signed with it are refused; for a stolen key use `compromised`",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := g.client()
				if err != nil {
					return err
				}
				if err := cl.RemoveNamespaceKey(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Retired key %s of namespace %s\n", args[1], args[0])
				return nil
			},
		},
	)
	var issuer, subject string
	identity := &cobra.Command{Use: "identity", Short: "A namespace's keyless Sigstore signers (listed, removed and reported compromised with `namespace key`)"}
	identityAdd := &cobra.Command{
		Use:   "add NAMESPACE --issuer URL --subject SAN",
		Short: "Bind a keyless Sigstore signer (OIDC issuer and certificate subject) to a namespace",
		Long: `Bind a keyless signer to a namespace, the way ` + "`namespace key add`" + ` binds a key:
the namespace then accepts Sigstore bundles from ` + "`cosign sign-blob --bundle`" + ` whose
Fulcio certificate names exactly this OIDC issuer and subject (the SAN: an
e-mail address, or a workload identity such as a GitHub Actions workflow URI),
chained to a CA in the marketplace's --sigstore-trusted-root. The identity gets
an id (oidc-...) that ` + "`namespace key list`, `remove` and `compromised`" + ` take.`,
		Example: `  gatehouse namespace identity add acme --issuer https://github.com/login/oauth --subject dev@acme.example
  gatehouse namespace identity add acme --issuer https://token.actions.githubusercontent.com \
    --subject https://github.com/acme/hello/.github/workflows/release.yml@refs/heads/main`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if issuer == "" || subject == "" {
				return fmt.Errorf("--issuer and --subject are required: the OIDC issuer and the subject (SAN) your signing certificates name (see them with `cosign verify-blob` or `openssl x509 -text` on the bundle's certificate)")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			k, err := cl.AddNamespaceIdentity(cmd.Context(), args[0], api.PublisherIdentity{Issuer: issuer, Subject: subject})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Bound keyless identity %s (%s, issuer %s) to namespace %s\n", k.ID, k.Subject, k.Issuer, k.Namespace)
			return nil
		},
	}
	identityAdd.Flags().StringVar(&issuer, "issuer", "", "the OIDC issuer URL the Fulcio certificate names")
	identityAdd.Flags().StringVar(&subject, "subject", "", "the certificate's subject (SAN): an e-mail address or URI, matched exactly")
	identity.AddCommand(identityAdd)
	c.AddCommand(identity)
	var reason string
	req := &cobra.Command{
		Use:   "require-signatures NAMESPACE on|off --reason TEXT",
		Short: "Require publisher signatures in a namespace (the default) or not (admin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch args[1] {
			case "on":
				on = true
			case "off":
			default:
				return fmt.Errorf("say on or off, not %q", args[1])
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.SetSignatureRequirement(cmd.Context(), args[0], api.SignatureRequirement{Required: on, Reason: reason}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Namespace %s: signatures required %s\n", args[0], args[1])
			return nil
		},
	}
	req.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit trail)")
	key.AddCommand(keyCompromisedCmd(g))
	c.AddCommand(key, req, namespaceTransferCmd(g))
	return c
}

func certificateCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "certificate", Short: "Stewards: suspend or revoke a certified version"}
	var reason string
	var deadline time.Duration
	suspend := versionCmd(g, "suspend VERSION --reason TEXT [--deadline 168h]", "Suspend a certified version; logged", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		a := api.TrustAction{Reason: reason}
		if deadline > 0 {
			d := time.Now().Add(deadline).UTC()
			a.Deadline = &d
		}
		sub, err := cl.Suspend(cmd.Context(), id, a)
		if err != nil {
			return notFound(err, ref, "")
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s@%s is %s: %s\n", sub.Plugin, sub.Version, sub.State, sub.Reason)
		return nil
	})
	suspend.Flags().StringVar(&reason, "reason", "", "why (publishers and hosts read it)")
	positiveDuration(suspend.Flags(), &deadline, "deadline", 7*24*time.Hour, 0, "how long the publisher has to certify a fixed version")
	var revReason string
	revoke := versionCmd(g, "revoke VERSION --reason TEXT", "Revoke a certified or suspended version: its digest goes on the signed revocation list; logged", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		sub, err := cl.Revoke(cmd.Context(), id, api.TrustAction{Reason: revReason})
		if err != nil {
			return notFound(err, ref, "")
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s@%s is %s: %s\n", sub.Plugin, sub.Version, sub.State, sub.Reason)
		return nil
	})
	revoke.Flags().StringVar(&revReason, "reason", "", "why (hosts read it)")
	var confReason string
	confirm := versionCmd(g, "confirm-health VERSION --reason TEXT", "Confirm hosts' failing health reports of a certified version: with the policy's steward confirmations in (default 1), it is suspended everywhere at once, naming the hosts; logged", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		q, err := cl.ConfirmHealth(cmd.Context(), id, api.HealthConfirmation{Reason: confReason})
		if err != nil {
			return notFound(err, ref, "")
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s@%s is %s: %s (hosts: %s)\n", q.Plugin, q.Version, q.State, q.Reason, strings.Join(q.Hosts, ", "))
		return nil
	})
	confirm.Flags().StringVar(&confReason, "reason", "", "why you confirm the hosts' reports (publishers read it)")
	c.AddCommand(suspend, revoke, confirm)
	return c
}
