package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/marketplace"
	"gatehouse.dev/gatehouse/pluginkit"
)

func serveCmd(g *globals) *cobra.Command {
	var (
		cfg           marketplace.Config
		examples      string
		licensePolicy string
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the marketplace: API and background work, SQLite and local disk by default",
		Long: `Run the marketplace. On first start it creates the data folder and an admin
token in <data>/admin.token (mode 0600). With --database it keeps its state in
PostgreSQL instead of SQLite.

--with-examples builds the example plugins in the given folder, packs them and
submits them through the real submission path, so a new installation has a
catalog and a review queue to look at.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			log := g.logger()
			cfg.Log = log
			if licensePolicy != "" {
				var err error
				if cfg.Licenses, err = readLicensePolicy(licensePolicy); err != nil {
					return err
				}
			}
			if k := g.env.Getenv("PLUGIN_SIGNING_KEY"); k != "" {
				cfg.LegacySigningKey = []byte(k)
			}
			m, err := marketplace.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer m.Close()
			tokenPath, err := m.EnsureAdminToken(ctx)
			if err != nil {
				return err
			}
			ln, err := marketplace.Listen(cfg.Addr)
			if err != nil {
				return err
			}
			base := "http://" + ln.Addr().String()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Gatehouse is serving on %s (data in %s)\n", base, cfg.Data)
			adminFile := filepath.Join(cfg.Data, marketplace.AdminTokenFile)
			if tokenPath != "" {
				fmt.Fprintf(out, "Created the admin token in %s (mode 0600).\n", tokenPath)
			}
			fmt.Fprintf(out, "Use it from another shell:\n  export GATEHOUSE_SERVER=%s GATEHOUSE_TOKEN=$(cat %s)\n", base, adminFile)
			if examples != "" {
				go func() {
					if err := submitExamples(ctx, out, base, cfg.Data, examples); err != nil {
						log.Error("submitting the example plugins", "err", err)
					}
				}()
			}
			return m.Serve(ctx, ln)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Addr, "addr", g.getenv("GATEHOUSE_ADDR", "127.0.0.1:8080"), "address to listen on (GATEHOUSE_ADDR)")
	f.StringVar(&cfg.Data, "data", g.getenv("GATEHOUSE_DATA", "./gatehouse-data"), "data folder (GATEHOUSE_DATA)")
	f.StringVar(&cfg.DatabaseURL, "database", g.getenv("GATEHOUSE_DATABASE", ""), "PostgreSQL URL; SQLite in the data folder when empty (GATEHOUSE_DATABASE)")
	f.StringVar(&cfg.VetConfig, "vet-config", g.getenv("GATEHOUSE_VET_CONFIG", ""), "check modes (JSON): which analyzers and rules are enabled, enforced, required (GATEHOUSE_VET_CONFIG)")
	f.StringVar(&licensePolicy, "licenses", g.getenv("GATEHOUSE_LICENSES", ""), `licence policy (JSON): {"allowed": [...], "denied": [...]} (GATEHOUSE_LICENSES)`)
	f.StringVar(&examples, "with-examples", "", "build and submit the example plugins found in this folder (e.g. examples/plugins)")
	return c
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
	var submitted []string
	for _, e := range entries {
		pdir := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(pdir, "manifest.json")); !e.IsDir() || err != nil {
			continue
		}
		buildCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, err := pluginkit.Build(buildCtx, pdir, pluginkit.BuildOptions{})
		cancel()
		if err != nil {
			return fmt.Errorf("building %s: %w", pdir, err)
		}
		pkg := filepath.Join(tmp, e.Name()+".gpkg")
		if _, _, err := packTo(pdir, pkg); err != nil {
			return fmt.Errorf("packing %s: %w", pdir, err)
		}
		f, err := os.Open(pkg)
		if err != nil {
			return err
		}
		sub, _, err := cl.Submit(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("submitting %s: %w", pdir, err)
		}
		submitted = append(submitted, fmt.Sprintf("  %s@%s  %s  %s", sub.Plugin, sub.Version, sub.ID, sub.State))
	}
	fmt.Fprintf(out, "Submitted %d example plugins:\n%s\nCatalog:      curl -H \"Authorization: Bearer $GATEHOUSE_TOKEN\" %s/api/v1/plugins\nReview queue: curl -H \"Authorization: Bearer $GATEHOUSE_TOKEN\" %s/api/v1/reviews   (or: gatehouse review list)\n",
		len(submitted), strings.Join(submitted, "\n"), base, base)
	return nil
}
