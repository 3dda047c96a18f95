package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/hostcompat"
	"gatehouse.dev/gatehouse/manifest"
)

// hostapiCmd is `gatehouse hostapi`: host API versions as first-class
// objects (issue 19 item 6).
func hostapiCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "hostapi",
		Short: "Publish host API versions, read the compatibility matrix and the deprecation calendar",
		Long: `A platform ships host API versions; each lists its host functions and
capabilities (permission kinds), any of them marked deprecated. Publishing
one checks every certified plugin version against it and queues their
revalidation; the matrix shows each plugin version under each published
host API version (compatible, deprecated or broken), and the calendar
lists the announced sunsets. See docs/operations.md, "Shipping a new host
API".`,
	}
	c.AddCommand(hostapiPublishCmd(g), hostapiListCmd(g), hostapiCurrentCmd(), hostapiMatrixCmd(g), hostapiCalendarCmd(g))
	return c
}

func hostapiPublishCmd(g *globals) *cobra.Command {
	var capsFile, deprecates, sunset, migration string
	var o *output
	c := &cobra.Command{
		Use:   "publish VERSION --capabilities FILE [--deprecates OLD --sunset DATE --migration URL]",
		Short: "Publish a host API version with its functions and capabilities (steward)",
		Long: `Publish host API VERSION. FILE is its capabilities file: a JSON object
listing the host functions the version offers and the capabilities
(permission kinds) a plugin may be granted under it, each optionally
"deprecated": true with a "note" saying what to use instead. Start from
this build's own with:

  gatehouse hostapi current > capabilities.json

--deprecates OLD announces that this version replaces the published
version OLD; --sunset DATE (YYYY-MM-DD) is when hosts may stop offering
OLD, and --migration URL is where authors read how to move. Authors of
affected plugins are told 90, 30 and 7 days before the sunset.

Every certified plugin version is checked against VERSION from its
module's imports at once (the output lists the broken and deprecated ones)
and queued for revalidation, which confirms each by running its scenarios
in a sandbox that offers exactly VERSION's functions. A published version
never changes: publish a new one. Needs a steward token.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if capsFile == "" {
				return &exitError{code: 2, msg: "give the capabilities file with --capabilities FILE (start from `gatehouse hostapi current`)"}
			}
			data, err := readLimited(capsFile, hostapi.MaxSpecBytes)
			if err != nil {
				return err
			}
			// Checked here as the server will, so a mistake is named with the
			// file before anything is sent.
			if _, err := hostapi.ParseSpec(data, args[0]); err != nil {
				return &exitError{code: 1, msg: capsFile + ": " + err.Error()}
			}
			if sunset != "" {
				if _, err := time.Parse(time.DateOnly, sunset); err != nil {
					return &exitError{code: 2, msg: fmt.Sprintf("--sunset %q is not a date such as 2027-06-30", sunset)}
				}
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			req := api.HostAPIPublishRequest{Version: args[0], Capabilities: json.RawMessage(data), Deprecates: deprecates, Sunset: sunset, MigrationURL: migration}
			var out api.HostAPIPublishResult
			if err := cl.JSON(cmd.Context(), "POST", "/host-api/versions", req, &out, http.StatusCreated); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return writeJSON(w, out)
			}
			fmt.Fprintf(w, "Published host API %s: %d functions, %d capabilities\n", out.Published.Spec.Version, len(out.Published.Spec.Functions), len(out.Published.Spec.Capabilities))
			if out.Published.Deprecates != "" {
				fmt.Fprintf(w, "It deprecates %s", out.Published.Deprecates)
				if !out.Published.Sunset.IsZero() {
					fmt.Fprintf(w, ", which sunsets on %s", out.Published.Sunset.Format(time.DateOnly))
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Checked %d certified version(s): %d broken, %d deprecated; %d revalidation(s) queued to confirm\n", out.Checked, out.Broken, out.Deprecated, out.Queued)
			for _, c := range out.Cells {
				if c.Status != hostapi.Compatible {
					fmt.Fprintf(w, "  %s@%s: %s: %s\n", c.Plugin, c.Version, c.Status, usageWhy(c.Usages, c.Status))
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&capsFile, "capabilities", "", "the version's capabilities file (JSON)")
	c.Flags().StringVar(&deprecates, "deprecates", "", "the published version this one replaces")
	c.Flags().StringVar(&sunset, "sunset", "", "when hosts may stop offering the deprecated version (YYYY-MM-DD)")
	c.Flags().StringVar(&migration, "migration", "", "URL of the migration notes for authors")
	o = addOutput(c, "text", "json")
	return c
}

func usageWhy(us []hostapi.Usage, status string) string {
	var out []string
	for _, u := range us {
		if u.Status == status && u.Why != "" {
			out = append(out, u.Why)
		}
	}
	return strings.Join(out, "; ")
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("%s is %d bytes; the limit is %d", path, st.Size(), limit)}
	}
	// Read one byte past the limit, in case the file grew since Stat.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("%s is over %d bytes", path, limit)}
	}
	return b, nil
}

func hostapiCurrentCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "current",
		Short: "Print this build's host API as a capabilities file, a starting point for publishing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeJSON(cmd.OutOrStdout(), hostapi.Current())
		},
	}
}

func hostapiListCmd(g *globals) *cobra.Command {
	var o *output
	c := &cobra.Command{
		Use:   "list",
		Short: "List the published host API versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pubs, err := publishedHostAPIs(cmd, g)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return writeJSON(w, pubs)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tFUNCTIONS\tDEPRECATED\tDEPRECATES\tSUNSET\tPUBLISHED")
			for _, p := range pubs {
				dep := 0
				for _, f := range p.Spec.Functions {
					if f.Deprecated {
						dep++
					}
				}
				sun := ""
				if !p.Sunset.IsZero() {
					sun = p.Sunset.Format(time.DateOnly)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", p.Spec.Version, len(p.Spec.Functions), dep, p.Deprecates, sun, p.PublishedAt.Format(time.DateOnly))
			}
			return tw.Flush()
		},
	}
	o = addOutput(c, "text", "json")
	return c
}

func publishedHostAPIs(cmd *cobra.Command, g *globals) ([]hostapi.Published, error) {
	cl, err := g.client()
	if err != nil {
		return nil, err
	}
	var pubs []hostapi.Published
	err = cl.JSON(cmd.Context(), "GET", "/host-api/versions", nil, &pubs)
	return pubs, err
}

func hostapiMatrixCmd(g *globals) *cobra.Command {
	var hostAPI, plugin, namespace string
	var o *output
	c := &cobra.Command{
		Use:   "matrix [--plugin NS/NAME] [--namespace NS] [--host-api VERSION]",
		Short: "Show each plugin version against each published host API version: compatible, deprecated or broken",
		Long: `Show the compatibility matrix: a row per plugin version, a column per
published host API version. A cell is compatible, deprecated (uses a
function or capability the version marks deprecated) or broken (imports
something the version lacks); "?" marks a cell computed from the imports
and not yet confirmed by a sandbox run of the version's scenarios, "!" one
whose run failed. -o json lists every cell with the reasons.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"hostApi": hostAPI, "plugin": plugin, "namespace": namespace} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var m api.CompatMatrix
			if err := cl.JSON(cmd.Context(), "GET", "/host-api/matrix?"+q.Encode(), nil, &m); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return writeJSON(w, m)
			}
			if len(m.HostAPIs) == 0 {
				fmt.Fprintln(w, "No host API version is published yet: gatehouse hostapi publish VERSION --capabilities FILE")
				return nil
			}
			rows, cells := matrixRows(m)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprint(tw, "PLUGIN\tVERSION")
			for _, h := range m.HostAPIs {
				fmt.Fprintf(tw, "\t%s", h)
			}
			fmt.Fprintln(tw)
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s", r[0], r[1])
				for _, h := range m.HostAPIs {
					c, ok := cells[r[0]+"@"+r[1]+"|"+h]
					mark := "-"
					if ok {
						mark = c.Status
						switch c.Confirmed {
						case "":
							mark += "?"
						case "failed":
							mark += "!"
						}
					}
					fmt.Fprintf(tw, "\t%s", mark)
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&hostAPI, "host-api", "", "only this host API version")
	c.Flags().StringVar(&plugin, "plugin", "", "only this plugin (NS/NAME)")
	c.Flags().StringVar(&namespace, "namespace", "", "only this namespace's plugins")
	o = addOutput(c, "text", "json")
	return c
}

// matrixRows lists the matrix's (plugin, version) rows in order, and its
// cells by "plugin@version|hostapi".
func matrixRows(m api.CompatMatrix) ([][2]string, map[string]api.CompatCell) {
	var rows [][2]string
	cells := map[string]api.CompatCell{}
	seen := map[string]bool{}
	for _, c := range m.Cells {
		key := c.Plugin + "@" + c.Version
		if !seen[key] {
			seen[key] = true
			rows = append(rows, [2]string{c.Plugin, c.Version})
		}
		cells[key+"|"+c.HostAPI] = c
	}
	return rows, cells
}

func hostapiCalendarCmd(g *globals) *cobra.Command {
	var o *output
	c := &cobra.Command{
		Use:   "calendar",
		Short: "List the announced host API sunsets, with migration notes and the plugins they affect",
		Long: `List the deprecation calendar: each host API version a newer one
deprecates, the date hosts may stop offering it, the migration notes, and
the plugins you may read whose certified versions do not work with the
replacement. The same calendar is an iCalendar feed at
/api/v1/host-api/calendar.ics, for calendar applications.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var entries []api.SunsetEntry
			if err := cl.JSON(cmd.Context(), "GET", "/host-api/calendar", nil, &entries); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.json() {
				return writeJSON(w, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintln(w, "No sunset is announced.")
			}
			for _, e := range entries {
				fmt.Fprintf(w, "%s  host API %s sunsets (replaced by %s)\n", e.Sunset.Format(time.DateOnly), e.HostAPI, e.ReplacedBy)
				if e.MigrationURL != "" {
					fmt.Fprintf(w, "    migration notes: %s\n", e.MigrationURL)
				}
				for _, a := range e.Affected {
					fmt.Fprintf(w, "    affects %s: %s\n", a.Plugin, strings.Join(a.Versions, ", "))
				}
			}
			return nil
		},
	}
	o = addOutput(c, "text", "json")
	return c
}

// pluginCheckUpgradeCmd is `gatehouse plugin check-upgrade`: which of a
// plugin's imports newer host API versions deprecate or break.
func pluginCheckUpgradeCmd(g *globals) *cobra.Command {
	var to, capsFile string
	var o *output
	c := &cobra.Command{
		Use:   "check-upgrade [DIR] [--to VERSION | --capabilities FILE]",
		Short: "Tell which of the plugin's imports a newer host API version deprecates or breaks",
		Long: `Read the plugin's built module (run gatehouse plugin build first) and its
manifest in DIR (default .), and check its imports and permissions against
the host API versions the marketplace has published that are newer than
this build's (` + hostapi.Version + `), or only --to VERSION. With
--capabilities FILE, check against that capabilities file instead, offline.

For each version it prints every function and capability the plugin uses
that the version deprecates (with the note saying what to use instead) or
lacks, the sunset announced, and the migration notes. It exits 3 when a
version breaks the plugin, so a CI job can watch for it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := argOr(args, 0, ".")
			raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
			if err != nil {
				return fmt.Errorf("reading the manifest: %w", err)
			}
			m, err := manifest.Parse(raw, manifest.Options{})
			if err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(dir, manifest.FileName), err)
			}
			modPath := filepath.Join(dir, filepath.FromSlash(m.Runtime.Module))
			mod, err := readLimited(modPath, 64<<20)
			if err != nil {
				return fmt.Errorf("the module %s cannot be read (run `gatehouse plugin build %s` first): %w", m.Runtime.Module, dir, err)
			}
			var feed []hostapi.Published
			if capsFile != "" {
				data, err := readLimited(capsFile, hostapi.MaxSpecBytes)
				if err != nil {
					return err
				}
				spec, err := hostapi.ParseSpec(data, to)
				if err != nil {
					return &exitError{code: 1, msg: capsFile + ": " + err.Error()}
				}
				feed = []hostapi.Published{{Spec: *spec}}
			} else {
				pubs, err := publishedHostAPIs(cmd, g)
				if err != nil {
					return err
				}
				for _, p := range pubs {
					if (to != "" && p.Spec.Version == to) || (to == "" && newerThanBuild(p.Spec.Version)) {
						feed = append(feed, p)
					}
				}
				if to != "" && len(feed) == 0 {
					return &exitError{code: 1, msg: "host API " + to + " is not published (gatehouse hostapi list shows those that are)"}
				}
			}
			var results []hostapi.Upgrade
			for _, p := range feed {
				st, us, err := hostcompat.Static(&p.Spec, m, mod)
				if err != nil {
					return fmt.Errorf("%s: %w", modPath, err)
				}
				results = append(results, hostapi.Upgrade{To: p.Spec.Version, Status: st, Usages: us, Replaces: p.Deprecates, Sunset: p.Sunset, MigrationURL: p.MigrationURL})
			}
			w := cmd.OutOrStdout()
			broken := false
			for _, r := range results {
				broken = broken || r.Status == hostapi.Broken
			}
			if o.json() {
				if err := writeJSON(w, results); err != nil {
					return err
				}
			} else {
				if len(results) == 0 {
					fmt.Fprintf(w, "No published host API version is newer than %s: nothing to check.\n", hostapi.Version)
				}
				for _, r := range results {
					fmt.Fprintf(w, "%s@%s under host API %s: %s\n", m.ID, m.Version, r.To, r.Status)
					for _, u := range r.Usages {
						if u.Status != hostapi.Compatible {
							fmt.Fprintf(w, "  %s %s: %s: %s\n", u.Kind, u.Name, u.Status, u.Why)
						}
					}
					if r.Replaces != "" && !r.Sunset.IsZero() {
						fmt.Fprintf(w, "  host API %s, which it replaces, sunsets on %s\n", r.Replaces, r.Sunset.Format(time.DateOnly))
					}
					if r.MigrationURL != "" && r.Status != hostapi.Compatible {
						fmt.Fprintf(w, "  migration notes: %s\n", r.MigrationURL)
					}
				}
			}
			if broken {
				return &exitError{code: 3, msg: "a newer host API version breaks the plugin (see above)"}
			}
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "check against this published host API version only")
	c.Flags().StringVar(&capsFile, "capabilities", "", "check against this capabilities file instead of the marketplace's versions")
	o = addOutput(c, "text", "json")
	return c
}

// newerThanBuild reports whether v is above this build's host API.
func newerThanBuild(v string) bool {
	a, err1 := semver.StrictNewVersion(v)
	b, err2 := semver.StrictNewVersion(hostapi.Version)
	return err1 == nil && err2 == nil && a.GreaterThan(b)
}
