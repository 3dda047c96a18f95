package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/retention"
	"gatehouse.dev/gatehouse/internal/tracing"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

func serveCmd(g *globals) *cobra.Command {
	var (
		o        marketOptions
		examples string
		role     string
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the marketplace: API and background work, SQLite and local disk by default",
		Long: `Run the marketplace. On first start it creates the data folder and an admin
token in <data>/admin.token (mode 0600). With --database it keeps its state in
PostgreSQL instead of SQLite; with --blobs s3://BUCKET?endpoint=URL&region=REGION
it keeps packages in an S3-compatible bucket instead of <data>/blobs, with
credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.

With PostgreSQL, --role api serves the API and the web pages only, and any
number of such processes and of ` + "`gatehouse worker`" + ` processes share the
database, the blob store and the transparency log (docs/operations.md).

--with-examples builds the example plugins in the given folder, packs them and
submits them through the real submission path, so a new installation has a
catalog and a review queue to look at.

Tracing is off unless the standard OpenTelemetry variables turn it on:
OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 exports spans over OTLP/HTTP
(docs/operations.md, "Traces").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.cfg.Role = marketplace.Role(role)
			return o.run(cmd, g, func(ctx context.Context, m *marketplace.Marketplace, base string) error {
				out := cmd.OutOrStdout()
				tokenPath, err := m.EnsureAdminToken(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "Gatehouse is serving on %s (data in %s)\n", base, o.cfg.Data)
				adminFile := filepath.Join(o.cfg.Data, marketplace.AdminTokenFile)
				if tokenPath != "" {
					fmt.Fprintf(out, "Created the admin token in %s (mode 0600).\n", tokenPath)
				}
				if _, err := os.Stat(adminFile); err == nil {
					fmt.Fprintf(out, "Use it from another shell:\n  export GATEHOUSE_SERVER=%s GATEHOUSE_TOKEN=$(cat %s)\n", base, adminFile)
				} else {
					fmt.Fprintf(out, "This database had its first admin token made already (in the data folder of the process that first served it), so none is made here: an admin makes more with `gatehouse token create --role admin` (docs/operations.md, \"Admin access\").\n")
				}
				fmt.Fprintf(out, "Web pages: %s/ (sign in with a token); trust root: %s/.well-known/gatehouse/trust-root.json\n", base, base)
				if examples != "" {
					// The server answers while the examples are built and
					// submitted in the background.
					fmt.Fprintf(out, "Building and submitting the example plugins in %s in the background.\n", examples)
					go func() {
						if err := submitExamples(ctx, out, base, o.cfg.Data, examples); err != nil {
							g.logger().Error("submitting the example plugins", "err", err)
						}
					}()
				}
				return nil
			})
		},
	}
	f := c.Flags()
	o.flags(g, c, "127.0.0.1:8080")
	g.envString(f, &role, "role", "GATEHOUSE_ROLE", string(marketplace.RoleAll), "what this process does: all (API, web pages and background work) or api (API and web pages only; needs --database)")
	f.StringVar(&examples, "with-examples", "", "build and submit the example plugins found in this folder (e.g. examples/plugins)")
	g.envString(f, &o.cfg.PublicURL, "public-url", "GATEHOUSE_PUBLIC_URL", "", "address users reach the marketplace at, e.g. https://plugins.example.com; https marks the web session cookie Secure")
	return c
}

func workerCmd(g *globals) *cobra.Command {
	var o marketOptions
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run background work beside API processes, on PostgreSQL",
		Long: `Run the marketplace's background work: vetting, triage, certification,
revalidation, webhook deliveries, the transparency log and the schedules. Any
number of workers and ` + "`gatehouse serve --role api`" + ` processes share one PostgreSQL
database, blob store and log; each may be stopped or killed at any moment, and
another picks up its work. A worker serves only /healthz, /readyz and /metrics
on --addr. OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on, as for serve.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.cfg.Role = marketplace.RoleWorker
			return o.run(cmd, g, func(ctx context.Context, m *marketplace.Marketplace, base string) error {
				fmt.Fprintf(cmd.OutOrStdout(), "Gatehouse worker running; probes and metrics on %s\n", base)
				return nil
			})
		},
	}
	o.flags(g, c, "127.0.0.1:9090")
	return c
}

// marketOptions are the settings every marketplace process takes.
type marketOptions struct {
	cfg           marketplace.Config
	licensePolicy string
	provPolicy    string
	sigstoreRoot  string
	drainDelay    string
	publicCache   string
	environments  string
	retention     string
}

// maxPublicCacheMiB bounds --public-cache.
const maxPublicCacheMiB = 16 << 10

// maxDrainDelay bounds --drain-delay: a stop that waits longer is a hang.
const maxDrainDelay = time.Minute

func (o *marketOptions) flags(g *globals, c *cobra.Command, addr string) {
	f := c.Flags()
	g.envString(f, &o.cfg.Addr, "addr", "GATEHOUSE_ADDR", addr, "address to listen on, HOST:PORT")
	g.envString(f, &o.cfg.Data, "data", "GATEHOUSE_DATA", "./gatehouse-data", "data folder")
	g.envString(f, &o.cfg.DatabaseURL, "database", "GATEHOUSE_DATABASE", "", "PostgreSQL URL; SQLite in the data folder when empty")
	g.envString(f, &o.cfg.BlobsURL, "blobs", "GATEHOUSE_BLOBS", "", "blob store: file:///PATH (or a plain path) or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION with credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; the folder blobs in the data folder when empty")
	g.envString(f, &o.cfg.VetConfig, "vet-config", "GATEHOUSE_VET_CONFIG", "", "check modes (JSON): which analyzers and rules are enabled, enforced, required")
	g.envString(f, &o.licensePolicy, "licenses", "GATEHOUSE_LICENSES", "", `licence policy (JSON): {"allowed": [...], "denied": [...]}`)
	g.envString(f, &o.sigstoreRoot, "sigstore-trusted-root", "GATEHOUSE_SIGSTORE_TRUSTED_ROOT", "", "a Sigstore trusted_root.json (Fulcio CAs, timestamp authorities, Rekor logs) that keyless cosign bundles are verified against, offline; keyless bundles are refused when empty (keyed ones verify with the namespace's keys)")
	g.envString(f, &o.provPolicy, "provenance-policy", "GATEHOUSE_PROVENANCE_POLICY", "", `builders whose SLSA provenance is trusted (JSON): {"builders": [{"id": ..., "keyring": ...}]}; none when empty`)
	g.envString(f, &o.cfg.KeyAlgorithm, "key-algorithm", "GATEHOUSE_KEY_ALGORITHM", "ed25519", "algorithm of the marketplace signing key made on first start: ed25519 or ecdsa-p256-sha256")
	g.envString(f, &o.cfg.LogOrigin, "log-origin", "GATEHOUSE_LOG_ORIGIN", "", "name of a new transparency log, e.g. gatehouse.example.com/log; "+marketplace.DefaultLogOrigin+" when empty")
	g.envBool(f, &o.cfg.WebhooksAllowPrivate, "webhooks-allow-private", "GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE", "let webhook subscriptions target loopback and private addresses; off by default so a subscriber cannot make the server call internal services (set the variable to true)")
	g.envString(f, &o.environments, "environments", "GATEHOUSE_ENVIRONMENTS", "dev,staging,prod", "the environments hosts enroll into, in promotion order; a certified version is released into the first")
	g.envString(f, &o.publicCache, "public-cache", "GATEHOUSE_PUBLIC_CACHE", "64", "MiB of memory for answers to anonymous catalog and package requests, served again until the catalog changes; 0 keeps none")
	g.envString(f, &o.drainDelay, "drain-delay", "GATEHOUSE_DRAIN_DELAY", "0s", "on SIGTERM, fail /readyz for this long before refusing new requests, so a load balancer stops sending first (e.g. 5s behind one; at most 1m)")
	g.envString(f, &o.retention, "personal-data-retention", "GATEHOUSE_PERSONAL_DATA_RETENTION", "", "how long the marketplace keeps its own personal data, in days from 30d to 3650d: older audit actors and the reasons and data naming people are pseudonymised, and ended tokens, old health reports and sent webhook deliveries deleted (docs/operations.md, \"Retention\"); the database records it on first start (400d when not given), and a process given another value refuses to start")
	g.envBool(f, &o.cfg.ChangePersonalDataRetention, "change-personal-data-retention", "GATEHOUSE_CHANGE_PERSONAL_DATA_RETENTION", "with --personal-data-retention, change the retention the database records (an audit event) instead of refusing to start; the other processes purge on it from their next run")
}

// run opens the marketplace, lets started report it, and serves until the
// command's context ends (SIGINT or SIGTERM).
func (o *marketOptions) run(cmd *cobra.Command, g *globals, started func(context.Context, *marketplace.Marketplace, string) error) error {
	ctx := cmd.Context()
	cfg := o.cfg
	cfg.Log = g.logger()
	d, err := time.ParseDuration(o.drainDelay)
	if err != nil || d < 0 || d > maxDrainDelay {
		return fmt.Errorf("--drain-delay %q: give a duration from 0s to %s, such as 5s", o.drainDelay, maxDrainDelay)
	}
	cfg.DrainDelay = d
	if o.retention != "" {
		if cfg.PersonalDataRetention, err = retention.ParseDays(o.retention); err != nil {
			return fmt.Errorf("--personal-data-retention: %w", err)
		}
	}
	if cfg.Environments, err = domain.ParseEnvironments(o.environments); err != nil {
		return fmt.Errorf("--environments %q: %w", o.environments, err)
	}
	switch mib, err := strconv.ParseInt(o.publicCache, 10, 64); {
	case err != nil || mib < 0 || mib > maxPublicCacheMiB:
		return fmt.Errorf("--public-cache %q: give a whole number of MiB from 0 (no cache) to %d, such as 64", o.publicCache, maxPublicCacheMiB)
	case mib == 0:
		cfg.PublicCacheBytes = -1
	default:
		cfg.PublicCacheBytes = mib << 20
	}
	if o.licensePolicy != "" {
		var err error
		if cfg.Licenses, err = readLicensePolicy(o.licensePolicy); err != nil {
			return err
		}
	}
	if o.provPolicy != "" {
		b, err := readBounded(o.provPolicy, provenance.MaxPolicyBytes)
		if err != nil {
			return err
		}
		if cfg.Provenance, err = provenance.ParsePolicy(b); err != nil {
			return fmt.Errorf("%s: %w", o.provPolicy, err)
		}
	}
	cfg.SigstoreTrustedRoot = o.sigstoreRoot
	if k := g.env.Getenv("PLUGIN_SIGNING_KEY"); k != "" {
		cfg.LegacySigningKey = []byte(k)
	}
	// Tracing is off unless the standard OTEL_* variables turn it on.
	tp, err := tracing.FromEnv(ctx, g.env.Getenv, "")
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if tp != nil {
		defer func() {
			if err := tp.Shutdown(ctx); err != nil {
				cfg.Log.Warn("sending the last spans", "err", err)
			}
		}()
		cfg.TracerProvider = tp
		cfg.Log.Info("tracing on: exporting spans over OTLP/HTTP", "endpoint", tp.Endpoint)
	}
	// Listen before anything is created: a bad or busy address must not
	// leave a new data folder behind.
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	m, err := marketplace.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := started(ctx, m, "http://"+ln.Addr().String()); err != nil {
		return err
	}
	return m.Serve(ctx, ln)
}

// submitExamples builds, packs and submits every plugin folder under dir
// through the HTTP API, as an author would.
func submitExamples(ctx context.Context, out io.Writer, base, data, dir string) error {
	token, err := marketplace.ReadAdminToken(data)
	if err != nil {
		return fmt.Errorf("reading the admin token: %w", err)
	}
	cl, err := client.New(base, token)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "gatehouse-examples-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The examples are signed like any publisher's packages, with a key
	// kept in the data folder and registered on their namespaces.
	signer, _, err := trust.LoadOrGenerate(filepath.Join(data, ExamplePublisherKey), filepath.Join(data, ExamplePublisherKey+".pub"), trust.Ed25519)
	if err != nil {
		return fmt.Errorf("the example publisher key: %w", err)
	}
	var plugins []string
	for _, e := range entries {
		pdir := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(pdir, "manifest.json")); e.IsDir() && err == nil {
			plugins = append(plugins, pdir)
		}
	}
	// Building is the slow part (minutes with a cold Go build cache, seconds
	// after), so every step is reported as it starts and every submission
	// as soon as it is in.
	prog := newProgress(out, len(plugins))
	registered := map[string]bool{}
	for _, pdir := range plugins {
		name := filepath.Base(pdir)
		prog.Step("building the example plugin %s (go build, GOOS=wasip1)", name)
		buildCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, err := pluginkit.Build(buildCtx, pdir, pluginkit.BuildOptions{})
		cancel()
		if err != nil {
			return fmt.Errorf("building %s: %w", pdir, err)
		}
		prog.Step("packing, signing and submitting %s", name)
		pkg := filepath.Join(tmp, name+".gpkg")
		if _, _, err := packTo(pdir, pkg); err != nil {
			return fmt.Errorf("packing %s: %w", pdir, err)
		}
		sig, err := signExample(ctx, cl, signer, registered, pkg)
		if err != nil {
			return fmt.Errorf("signing %s: %w", pdir, err)
		}
		f, err := os.Open(pkg)
		if err != nil {
			return err
		}
		sub, _, err := cl.SubmitSigned(ctx, f, sig)
		f.Close()
		if err != nil {
			return fmt.Errorf("submitting %s: %w", pdir, err)
		}
		prog.Finish("Submitted example %s@%s as %s (%s)", sub.Plugin, sub.Version, sub.ID, sub.State)
	}
	fmt.Fprintf(out, "All %d example plugins are submitted; vetting puts them in the review queue.\nCatalog:      curl -H \"Authorization: Bearer $GATEHOUSE_TOKEN\" %s/api/v1/plugins\nReview queue: curl -H \"Authorization: Bearer $GATEHOUSE_TOKEN\" %s/api/v1/reviews   (or: gatehouse review list)\n",
		len(plugins), base, base)
	return nil
}

// ExamplePublisherKey is the example plugins' publisher key in the data
// folder (FILE.pub beside it).
const ExamplePublisherKey = "example-publisher.key"

// signExample registers the example key on the package's namespace (once)
// and returns the package's signature.
func signExample(ctx context.Context, cl *client.Client, signer *trust.FileSigner, registered map[string]bool, pkgPath string) ([]byte, error) {
	pkg, err := os.ReadFile(pkgPath)
	if err != nil {
		return nil, err
	}
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(p.Manifest(), manifest.Options{})
	if err != nil {
		return nil, err
	}
	if ns := m.Namespace(); !registered[ns] {
		pem, err := signer.PublicKey().MarshalPEM()
		if err != nil {
			return nil, err
		}
		var ce *client.Error
		if _, err := cl.AddNamespaceKey(ctx, ns, pem); err != nil && !(errors.As(err, &ce) && ce.Status == 409) {
			return nil, fmt.Errorf("registering the example key on namespace %s: %w", ns, err)
		}
		registered[ns] = true
	}
	env, err := trust.SignPackage(ctx, signer, p.Digest, m.ID, m.Version)
	if err != nil {
		return nil, err
	}
	return trust.MarshalEnvelope(env)
}
