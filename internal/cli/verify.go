package cli

import (
	"gatehouse.dev/gatehouse/hostapi"

	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/verify"
)

// verifyFlags are the flags of every command that verifies a package before
// using it (verify, run).
type verifyFlags struct {
	bundle, state, policy, trustRoot, revocations, logURL, hostAPI string
	maxAge                                                         time.Duration
	// prover is the marketplace's log, when --refresh found it.
	prover verify.Prover
}

func (v *verifyFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&v.bundle, "bundle", "", "the certificate bundle (default: PACKAGE's name with .bundle.json, beside it)")
	f.StringVar(&v.state, "state", "", "the host's state folder, remembering the last log checkpoint seen (default: .gatehouse-state beside PACKAGE)")
	f.StringVar(&v.policy, "policy", "", `the host's policy file: {"allow": ["kv:*", ...]}, or an AI-SWA file {"plugins": {"ID": {"permissions": [...]}}} listing the only plugins that load (default: accept every permission the certificate grants, and say so)`)
	f.StringVar(&v.trustRoot, "trust-root", "", "the marketplace's trust root (default: trust-root.json beside PACKAGE)")
	f.StringVar(&v.revocations, "revocations", "", "the signed revocation list (default: revocations.json beside PACKAGE)")
	positiveDuration(f, &v.maxAge, "max-age", 0, 0, "refuse a revocation list older than this (default: the trust root's maximum age; it can only be shortened)")
	f.StringVar(&v.hostAPI, "host-api", "", "the marketplace's published host API versions (`gatehouse hostapi list -o json`): warn about plugins that use what a version deprecates or its replacement lacks, and refuse them after the sunset when the policy's hostApi.refuseAfterSunset says so")
	f.StringVar(&v.logURL, "log", "", "the log's URL (e.g. https://plugins.example.com/log): fetch consistency proofs from its tiles when the bundle's checkpoint is newer than the state's; without it such a bundle is refused")
}

// files names the files to read for pkgPath, flags first.
func (v *verifyFlags) files(pkgPath string) install.Files {
	f := install.Beside(pkgPath)
	set := func(dst *string, flag string) {
		if flag != "" {
			*dst = flag
		}
	}
	set(&f.Bundle, v.bundle)
	set(&f.StateDir, v.state)
	set(&f.TrustRoot, v.trustRoot)
	set(&f.Revocations, v.revocations)
	return f
}

// check is the host's side of verification; note is what to say when no
// policy file was given.
func (v *verifyFlags) check() (c install.Check, note string, err error) {
	c.MaxAge = v.maxAge
	if v.policy == "" {
		c.Policy = verify.Policy{Allow: []string{"*"}}
		note = "not checked: no --policy file, so every certified permission is accepted"
	} else {
		data, err := os.ReadFile(v.policy)
		if err != nil {
			return c, "", fmt.Errorf("--policy: %w", err)
		}
		if c.Policy, err = verify.ParsePolicy(data); err != nil {
			return c, "", fmt.Errorf("--policy %s: %w", v.policy, err)
		}
	}
	if c.HostAPIs, err = readHostAPIs(v.hostAPI); err != nil {
		return c, "", err
	}
	if v.logURL != "" {
		fetch, err := install.NewLogFetcher(v.logURL, nil)
		if err != nil {
			return c, "", fmt.Errorf("--log: %w", err)
		}
		c.Prover = tlog.TileProver{Fetch: fetch}
	}
	return c, note, nil
}

// checkOrder is the order verify runs its checks, for the report.
var checkOrder = []verify.Check{
	verify.CheckDigest, verify.CheckPublisherSignature, verify.CheckCertificateSignature, verify.CheckSubject,
	verify.CheckValidity, verify.CheckCheckpoint, verify.CheckInclusion, verify.CheckConsistency,
	verify.CheckRevocationList, verify.CheckRevoked, verify.CheckPolicy,
}

// verifyFailure prints the checks that passed before the failed one, and
// the failed one, and returns the exit error (code 2).
func verifyFailure(w io.Writer, pkgPath string, err error) error {
	var ve *verify.Error
	if !errors.As(err, &ve) {
		return err
	}
	for _, c := range checkOrder {
		if c == ve.Check {
			break
		}
		if ve.Check != verify.CheckSetup {
			fmt.Fprintf(w, "  ok    %s\n", c)
		}
	}
	fmt.Fprintf(w, "  FAIL  %s: %v\n", ve.Check, ve.Err)
	return &exitError{code: 2, msg: fmt.Sprintf("%s did not verify: the %s check failed", pkgPath, ve.Check)}
}

// printVerified reports every check that passed.
func printVerified(w io.Writer, res *verify.Result, policyNote string) {
	c := res.Certificate
	fmt.Fprintf(w, "verified %s (%s)\n", c.PluginID+"@"+c.Version, res.Digest)
	line := func(check verify.Check, format string, args ...any) {
		fmt.Fprintf(w, "  ok    %-22s %s\n", check, fmt.Sprintf(format, args...))
	}
	line(verify.CheckDigest, "%s", res.Digest)
	line(verify.CheckPublisherSignature, "publisher key %s", res.PublisherKeyID)
	line(verify.CheckCertificateSignature, "marketplace key %s; tier %s; checks %s", res.MarketplaceKeyID, c.RiskTier, stringsJoin(c.Checks))
	line(verify.CheckSubject, "%s@%s", res.PluginID, res.Version)
	line(verify.CheckValidity, "issued %s, expires %s", c.IssuedAt.UTC().Format(time.RFC3339), c.ExpiresAt.UTC().Format(time.RFC3339))
	line(verify.CheckCheckpoint, "%s, %d entries", res.Checkpoint.Origin, res.Checkpoint.Size)
	line(verify.CheckInclusion, "entry %d", res.LogIndex)
	line(verify.CheckConsistency, "extends the last checkpoint seen")
	line(verify.CheckRevocationList, "list %d, fresh", res.RevocationList)
	line(verify.CheckRevoked, "not revoked")
	if policyNote != "" {
		fmt.Fprintf(w, "  --    %-22s %s; granted: %s\n", verify.CheckPolicy, policyNote, stringsJoin(c.Permissions))
	} else {
		line(verify.CheckPolicy, "granted: %s", stringsJoin(c.Permissions))
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "  warn  %-22s %s\n", verify.CheckHostAPI, warn)
	}
}

// readHostAPIs reads a --host-api file; "" reads none.
func readHostAPIs(path string) ([]hostapi.Published, error) {
	if path == "" {
		return nil, nil
	}
	data, err := readLimited(path, hostapi.MaxPublishedBytes)
	if err != nil {
		return nil, fmt.Errorf("--host-api: %w", err)
	}
	pubs, err := hostapi.ParsePublished(data)
	if err != nil {
		return nil, fmt.Errorf("--host-api %s: %w", path, err)
	}
	return pubs, nil
}

func verifyCmd(g *globals) *cobra.Command {
	var vf verifyFlags
	var refresh bool
	c := &cobra.Command{
		Use:   "verify PACKAGE | verify --refresh PACKAGE|FOLDER",
		Short: "Verify a package offline against its certificate bundle, as a host must before running it",
		Long: `Verify checks, in order and from files only: the package digest, the
publisher's signature, the marketplace's certificate signature, that the
certificate is about this plugin version, its validity window, the log
checkpoint's signature, the certificate's inclusion in the transparency log,
the checkpoint's consistency with the last one this host saw (kept in the
state folder, so a rolled-back or forked log is caught), the revocation
list's signature and freshness, that the package is not revoked, and the
host's policy.

The bundle, trust root and revocation list are found beside the package, as
` + "`gatehouse install`" + ` writes them, unless flags name them; a gatehouse.lock
beside it pins the digest. Exits 2 naming the first check that failed.

--refresh first fetches the marketplace's current revocation list, log
checkpoint and the certificate bundles of the plugins gatehouse.lock pins
(from the marketplace the lock names, else --server), checks their signatures
against the pinned trust root, records the list and checkpoint in the state
folder (an older one is refused from then on, as a replay) and writes them
beside the packages. Given a FOLDER, it reports every pinned plugin's
standing and exits 2 if one no longer verifies; the versions kept for
` + "`gatehouse rollback`" + ` get fresh bundles too and are reported, never failed on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if refresh {
				chk, err := vf.refreshFolder(cmd, g, args[0])
				if err != nil {
					return err
				}
				if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() {
					return nil
				}
				vf.prover = chk.Prover
			}
			chk, note, err := vf.check()
			if err != nil {
				return err
			}
			if vf.prover != nil && chk.Prover == nil {
				chk.Prover = vf.prover
			}
			_, res, err := install.VerifyFile(cmd.Context(), vf.files(args[0]), chk)
			if err != nil {
				return verifyFailure(cmd.OutOrStdout(), args[0], err)
			}
			printVerified(cmd.OutOrStdout(), res, note)
			return nil
		},
	}
	vf.register(c)
	c.Flags().BoolVar(&refresh, "refresh", false, "first fetch, check and record the marketplace's current revocation list, log checkpoint and bundles (see above)")
	return c
}
