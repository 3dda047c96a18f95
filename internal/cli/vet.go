package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vet/licenses"
	"gatehouse.dev/gatehouse/internal/vet/manifestcheck"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

func vetCmd(g *globals) *cobra.Command {
	var (
		out                               *output
		vulnPath, configPath, licensePath string
		vulnCache                         string
	)
	c := &cobra.Command{
		Use:   "vet PACKAGE_OR_DIR",
		Short: "Run the marketplace's analyzers locally, before submitting",
		Long: `Run the same analyzers the marketplace runs on every submission, on a
package file or a plugin folder (packed in memory first), with no server.
Exits 1 when an enforced check fails or a required check cannot run.

--vulndb takes an OSV all.zip (or a database written by a server) to match
known vulnerabilities; without it the dependencies check is skipped. The
first run with an all.zip keeps a prepared index of it in the cache
directory (--vulndb-cache; by default $XDG_CACHE_HOME/gatehouse/vulndb, or
~/.cache/gatehouse/vulndb), so
later runs with the same file start in milliseconds; the index is checked
against the file's SHA-256 on every run and rebuilt when it does not match.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pkg, err := loadPackage(args[0])
			if err != nil {
				return err
			}
			opts := analyzers.DefaultOptions{}
			if vulnPath != "" {
				if opts.VulnDB, err = loadVulnDB(g, vulnPath, vulnCache, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			if licensePath != "" {
				if opts.Licenses, err = readLicensePolicy(licensePath); err != nil {
					return err
				}
			}
			mopts := manifest.Options{}
			if k := g.env.Getenv("PLUGIN_SIGNING_KEY"); k != "" {
				mopts.LegacyKey = []byte(k)
			}
			opts.Manifest = manifestcheck.Options{Manifest: mopts}
			beh, release := vetBehaviour()
			defer release()
			opts.Behaviour = beh
			as := analyzers.Default(opts)
			var cfg vet.Config
			if configPath != "" {
				b, err := os.ReadFile(configPath)
				if err != nil {
					return err
				}
				if cfg, err = vet.ParseConfig(b); err != nil {
					return err
				}
				if err := cfg.Check(as); err != nil {
					return err
				}
			}
			in, err := analyzers.LoadInput(pkg, mopts)
			if err != nil {
				return err
			}
			results := vet.Run(cmd.Context(), as, in, cfg, nil)
			blocked, reasons := vet.Summary(results)
			w := cmd.OutOrStdout()
			switch out.format {
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"digest": pkg.Digest, "blocked": blocked, "reasons": reasons, "results": results}); err != nil {
					return err
				}
			case "sarif":
				if err := sarif.Write(w, results, analyzers.Rules(as), sarif.ToolInfo{Name: "gatehouse"}); err != nil {
					return err
				}
			case "text":
				fmt.Fprintf(w, "Vetting %s (%s)\n", args[0], pkg.Digest)
				printResults(w, vet.Wire(results))
				if blocked {
					fmt.Fprintln(w, "\nBlocked:")
					for _, r := range reasons {
						fmt.Fprintf(w, "  - %s\n", r)
					}
				} else {
					fmt.Fprintln(w, "\nEvery enforced check passed.")
				}
			}
			if blocked {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := c.Flags()
	out = addOutput(c, "text", "json", "sarif")
	out.deprecatedFormat(c)
	f.StringVar(&vulnPath, "vulndb", "", "OSV all.zip or imported database to match vulnerabilities against")
	f.StringVar(&vulnCache, "vulndb-cache", "", `directory for prepared vulnerability indexes (default $XDG_CACHE_HOME/gatehouse/vulndb); "off" imports the all.zip on every run`)
	f.StringVar(&configPath, "config", "", "check modes (JSON): which analyzers and rules are enabled, enforced, required")
	f.StringVar(&licensePath, "licenses", "", `licence policy (JSON): {"allowed": [...], "denied": [...]}`)
	return c
}

// loadVulnDB reads the --vulndb file through the prepared-index cache,
// unless the cache is off or there is no cache directory.
func loadVulnDB(g *globals, path, cacheDir string, stderr io.Writer) (*vulndb.DB, error) {
	if cacheDir == "off" {
		return vulndb.Load(path)
	}
	if cacheDir == "" {
		base := g.env.Getenv("XDG_CACHE_HOME")
		if base == "" {
			if home := g.env.Getenv("HOME"); home != "" {
				base = filepath.Join(home, ".cache")
			}
		}
		if base == "" || !filepath.IsAbs(base) {
			// No usable cache directory: correct, only slower.
			return vulndb.Load(path)
		}
		cacheDir = filepath.Join(base, "gatehouse", "vulndb")
	}
	db, _, err := vulndb.Cache{Dir: cacheDir}.Load(path, func(msg string) {
		fmt.Fprintln(stderr, "warning:", msg)
	})
	return db, err
}

// loadPackage reads a package file, or packs a plugin folder in memory.
func loadPackage(path string) (*pkgfile.Package, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return pkgfile.ReadFile(path, pkgfile.DefaultLimits())
	}
	var buf bytes.Buffer
	if _, _, err := pkgfile.PackDir(path, &buf); err != nil {
		return nil, err
	}
	return pkgfile.Read(&buf, pkgfile.DefaultLimits())
}

// readBounded reads a file the user named, refusing one over max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d bytes", path, max)
	}
	return b, nil
}

func readLicensePolicy(path string) (licenses.Policy, error) {
	var p licenses.Policy
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func vulndbCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "vulndb", Short: "Manage the offline vulnerability database (OSV)"}
	var data, database string
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import an OSV all.zip; a corrupt or partial file changes nothing",
		Long: `Import an OSV all.zip (for example the Go vulnerability database) as the
database every vetting run matches components against. Through the API
(steward token) by default, so a running server switches at once; with
--data, directly into a stopped server's data folder.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if data != "" {
				m, err := marketplace.Open(cmd.Context(), marketplace.Config{Data: data, DatabaseURL: database, Log: g.logger()})
				if err != nil {
					return err
				}
				defer m.Close()
				db, affected, err := m.ImportVulnDB(cmd.Context(), args[0], "cli")
				if db != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "Imported %s\n", db.Version())
				}
				if len(affected) > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Queued revalidation of %d certified versions with new advisories; it runs when the server starts.\n", len(affected))
				}
				return err
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			v, err := cl.ImportVulnDB(cmd.Context(), f)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Imported %s\n", v)
			return nil
		},
	}
	imp.Flags().StringVar(&data, "data", "", "import directly into this data folder (the server must be stopped); revalidation of affected versions is queued")
	g.envString(imp.Flags(), &database, "database", "GATEHOUSE_DATABASE", "", "with --data: the server's PostgreSQL URL, if it uses one")
	c.AddCommand(imp)
	return c
}
