package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

func pluginCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "plugin", Long: "Author commands: scaffold a plugin, build, pack, inspect, sign and submit it, follow its status and appeal a rejection."}
	c.AddCommand(pluginInitCmd(g), pluginBuildCmd(g), pluginTestCmd(g), pluginPackCmd(g), pluginInspectCmd(g), pluginSignCmd(g), pluginSubmitCmd(g), pluginStatusCmd(g), appealCmd(g), pluginKillCmd(g), pluginCheckUpgradeCmd(g))
	c.Short = "Author commands: " + subcommandNames(c)
	return c
}

func pluginInitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init NAMESPACE/NAME [DIR]",
		Short: "Scaffold a buildable plugin (Go, wasip1) in DIR (default: NAME)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			_, name, ok := strings.Cut(id, "/")
			if !ok {
				return fmt.Errorf("plugin id %q must be NAMESPACE/NAME, like acme/hello", id)
			}
			dir := name
			if len(args) == 2 {
				dir = args[1]
			}
			if err := pluginkit.Init(dir, id, pluginkit.InitOptions{}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Created %s in %s\nNext: gatehouse plugin build %s && gatehouse vet %s; then sign and submit as %s shows\n", id, dir, dir, dir, filepath.Join(dir, "README.md"))
			return nil
		},
	}
}

func pluginBuildCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "build [DIR]",
		Short: "Compile the plugin in DIR to its WebAssembly module (GOOS=wasip1, -trimpath)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := argOr(args, 0, ".")
			out, err := pluginkit.Build(cmd.Context(), dir, pluginkit.BuildOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Built %s\n", out)
			return nil
		},
	}
}

func argOr(args []string, i int, def string) string {
	if len(args) > i {
		return args[i]
	}
	return def
}

func pluginPackCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "pack [DIR]",
		Short: "Write the plugin in DIR as a deterministic package (same folder, same bytes)",
		Args:  cobra.MaximumNArgs(1),
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
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(m.Runtime.Module))); err != nil {
				return fmt.Errorf("the module %s is missing: run `gatehouse plugin build %s` first", m.Runtime.Module, dir)
			}
			if out == "" {
				out = fmt.Sprintf("%s-%s-%s.gpkg", m.Namespace(), m.PluginName(), m.Version)
			}
			digest, files, err := packTo(dir, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Packed %s@%s: %d files\n%s  %s\n", m.ID, m.Version, len(files), digest, out)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "package file to write (default NAMESPACE-NAME-VERSION.gpkg)")
	return c
}

// packTo writes the package next to out and renames it into place, so a
// failed pack never leaves a partial file under the final name.
func packTo(dir, out string) (string, []pkgfile.Entry, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".pack-*")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	digest, files, err := pkgfile.PackDir(dir, tmp)
	if err != nil {
		tmp.Close()
		return "", nil, err
	}
	if err := tmp.Close(); err != nil {
		return "", nil, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", nil, err
	}
	return digest, files, os.Rename(tmp.Name(), out)
}

func pluginInspectCmd(g *globals) *cobra.Command {
	var out *output
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Check a package and print its manifest and every file's SHA-256",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := pkgfile.ReadFile(args[0], pkgfile.DefaultLimits())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.json() {
				return writeJSON(w, map[string]any{"digest": p.Digest, "size": p.Size, "manifest": json.RawMessage(p.Manifest()), "files": p.Files})
			}
			fmt.Fprintf(w, "Package %s (%d bytes)\n\nManifest:\n", p.Digest, p.Size)
			var pretty any
			if err := json.Unmarshal(p.Manifest(), &pretty); err == nil {
				b, _ := json.MarshalIndent(pretty, "  ", "  ")
				fmt.Fprintf(w, "  %s\n", b)
			}
			fmt.Fprintln(w, "\nFiles:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, f := range p.Files {
				fmt.Fprintf(tw, "  %s\t%d\t%s\n", f.SHA256, f.Size, f.Path)
			}
			return tw.Flush()
		},
	}
	out = addOutput(c, "text", "json")
	out.deprecatedJSON(c)
	return c
}

func pluginSubmitCmd(g *globals) *cobra.Command {
	var sigFile string
	c := &cobra.Command{
		Use:   "submit FILE",
		Short: "Submit a package with its signature (FILE.sig from `gatehouse plugin sign`, or FILE.sigstore.json from `cosign sign-blob --bundle`); prints the submission id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			sig, err := readSignature(args[0], sigFile)
			if err != nil {
				return fmt.Errorf("reading the signature: %w", err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			sub, created, err := cl.SubmitSigned(cmd.Context(), f, sig)
			if err != nil {
				return err
			}
			if !created {
				fmt.Fprintf(cmd.ErrOrStderr(), "These bytes were submitted before as %s@%s; here is that submission.\n", sub.Plugin, sub.Version)
			}
			fmt.Fprintln(cmd.OutOrStdout(), sub.ID)
			return nil
		},
	}
	c.Flags().StringVar(&sigFile, "signature", "", "the signature file: a DSSE envelope or a Sigstore bundle (default FILE.sig or FILE.sigstore.json, whichever exists)")
	return c
}

// automatic states are those a version leaves without a person.
func automatic(state string) bool {
	switch lifecycle.State(state) {
	case lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved:
		return true
	}
	return false
}

func pluginStatusCmd(g *globals) *cobra.Command {
	var (
		wait    bool
		out     *output
		timeout time.Duration
	)
	c := versionCmd(g, "status VERSION", "Show a version's state, reasons, findings and history", func(cmd *cobra.Command, cl *client.Client, id, ref string) error {
		deadline := time.Now().Add(timeout)
		var sub api.Submission
		for {
			var err error
			sub, err = cl.Submission(cmd.Context(), id)
			if err != nil {
				return notFound(err, ref, "")
			}
			if !wait || !automatic(sub.State) {
				break
			}
			if time.Now().After(deadline) {
				return &exitError{code: 3, msg: fmt.Sprintf("still %s after %s", sub.State, timeout)}
			}
			select {
			case <-cmd.Context().Done():
				return cmd.Context().Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		w := cmd.OutOrStdout()
		if out.json() {
			return writeJSON(w, sub)
		}
		fmt.Fprintf(w, "%s  %s@%s\nState:     %s\nReason:    %s\nNext:      %s\nDigest:    %s\nSubmitted: %s by %s\n",
			sub.ID, sub.Plugin, sub.Version, sub.State, sub.Reason, sub.Next, sub.Digest, sub.CreatedAt.Format(time.RFC3339), sub.Submitter)
		if rv := sub.Review; rv != nil && rv.Open {
			fmt.Fprintf(w, "Review:    tier %s, %d of %d approval(s), due %s\n", rv.Tier, rv.Approvals, rv.ApprovalsRequired, rv.Deadline.Format(time.RFC3339))
		}
		if sub.Vetting != nil {
			fmt.Fprintf(w, "\nVetting (run %d, %s): %s\n", sub.Vetting.Run, sub.Vetting.At.Format(time.RFC3339), sub.Vetting.Summary)
			printResults(w, sub.Vetting.Results)
		}
		if len(sub.Thread) > 0 {
			fmt.Fprintln(w, "\nReview thread:")
			for _, m := range sub.Thread {
				fmt.Fprintf(w, "  %s %s (%s): %s\n", m.At.Format(time.RFC3339), m.Author, m.Kind, m.Body)
			}
		}
		fmt.Fprintln(w, "\nHistory:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, e := range sub.History {
			move := e.NewState
			if e.OldState != "" {
				move = e.OldState + " → " + e.NewState
			}
			fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, move, e.Reason)
		}
		return tw.Flush()
	})
	c.Flags().BoolVar(&wait, "wait", false, "wait until the submission leaves the automatic states")
	out = addOutput(c, "text", "json")
	out.deprecatedJSON(c)
	positiveDuration(c.Flags(), &timeout, "timeout", 2*time.Minute, 0, "how long --wait waits")
	return c
}
