package cli

import (
	"fmt"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/trust"
)

// SignatureSuffix names a package's signature file: PACKAGE.sig.
const SignatureSuffix = ".sig"

func pluginSignCmd(g *globals) *cobra.Command {
	var keyFile, out string
	var add bool
	c := &cobra.Command{
		Use:   "sign PACKAGE --key FILE [--add]",
		Short: "Sign a package as its publisher; writes PACKAGE.sig (a DSSE envelope over the package digest); --add co-signs one",
		Long: `Sign a package with your publisher key (made by ` + "`gatehouse keys generate`" + `).
The signature is an in-toto statement whose subject is the package's digest
and namespace/name@version, in a DSSE envelope. ` + "`gatehouse plugin submit PACKAGE`" + `
sends PACKAGE.sig with the package; the namespace must have your public key
registered (` + "`gatehouse namespace key add NAMESPACE KEY.pub`" + `).

With --add, your key co-signs the signature another of the namespace's keys
made (PACKAGE.sig, or -o): the same statement, signed again. A version
signed by two keys stays trusted when one of them is later reported
compromised (` + "`gatehouse keys compromised`" + `): it is re-checked, not suspended.`,
		Example: `  gatehouse plugin sign hello.gpkg --key release.key
  gatehouse plugin sign hello.gpkg --key backup.key --add`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return fmt.Errorf("--key names your private key file (make one with `gatehouse keys generate -o FILE`)")
			}
			signer, err := trust.LoadSigner(keyFile)
			if err != nil {
				return err
			}
			pkg, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0] + SignatureSuffix
			}
			var env *dsse.Envelope
			if add {
				prev, err := readBounded(out, trust.MaxEnvelopeBytes)
				if err != nil {
					return fmt.Errorf("--add co-signs an existing signature: %w (sign with the first key without --add)", err)
				}
				first, err := trust.ParseEnvelope(prev)
				if err != nil {
					return fmt.Errorf("%s: %w", out, err)
				}
				if env, err = intake.Cosign(cmd.Context(), signer, pkg, first); err != nil {
					return fmt.Errorf("co-signing %s: %w", args[0], err)
				}
			} else if env, err = intake.Sign(cmd.Context(), signer, pkg); err != nil {
				return fmt.Errorf("signing %s: %w", args[0], err)
			}
			b, err := trust.MarshalEnvelope(env)
			if err != nil {
				return err
			}
			if err := trust.WriteFileAtomic(out, b, 0o644); err != nil {
				return err
			}
			if add {
				fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (co-signed by key %s; %d signatures)\n", out, signer.KeyID(), len(env.Signatures))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (key %s)\n", out, signer.KeyID())
			return nil
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "your private key file (PEM, mode 0600)")
	c.Flags().StringVarP(&out, "output", "o", "", "where to write the signature (default PACKAGE.sig)")
	c.Flags().BoolVar(&add, "add", false, "co-sign: add this key's signature to the existing signature file instead of replacing it")
	return c
}

// SigstoreBundleSuffix names a package's Sigstore bundle, as
// `cosign sign-blob --bundle PACKAGE.sigstore.json PACKAGE` writes it.
const SigstoreBundleSuffix = ".sigstore.json"

// maxSignatureFile bounds a signature file read to send: the larger of a
// DSSE envelope's and a Sigstore bundle's limits.
const maxSignatureFile = trust.MaxEnvelopeBytes

// readSignature returns the signature to send with a package: the file
// given, or PACKAGE.sig, or PACKAGE.sigstore.json (whichever exists; both
// is an error, as the choice would be a guess), or nil.
func readSignature(pkg, given string) ([]byte, error) {
	if given != "" {
		return readBounded(given, maxSignatureFile)
	}
	var found []string
	for _, name := range []string{pkg + SignatureSuffix, pkg + SigstoreBundleSuffix} {
		if _, err := os.Stat(name); err == nil {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return readBounded(found[0], maxSignatureFile)
	}
	return nil, fmt.Errorf("both %s and %s exist: name the signature to send with --signature FILE", found[0], found[1])
}
