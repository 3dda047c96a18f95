package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/internal/plugindeps"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/sandbox/scenario"
	"gatehouse.dev/gatehouse/verify"
)

// testReport is what `plugin test` found, and its -o json form.
type testReport struct {
	Plugin       string                    `json:"plugin"`
	Version      string                    `json:"version"`
	Passed       bool                      `json:"passed"`
	Scenarios    []scenario.Result         `json:"scenarios"`
	Workflows    []scenario.WorkflowResult `json:"workflows"`
	Dependencies []testDependency          `json:"dependencies"`
	// DependencySource says where the dependencies came from.
	DependencySource string               `json:"dependencySource,omitempty"`
	Load             *scenario.LoadReport `json:"load,omitempty"`
	// Problems are workflows that could not run at all.
	Problems []string `json:"problems,omitempty"`
}

type testDependency struct {
	ID       string `json:"id"`
	Version  string `json:"version"`
	Digest   string `json:"digest,omitempty"`
	Verified bool   `json:"verified"`
}

func pluginTestCmd(g *globals) *cobra.Command {
	var (
		deps, depsDir, trustRoot, only string
		calls, conc                    int
		update                         bool
		out                            *output
	)
	c := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the plugin's scenarios, its integration workflows with its dependencies, and a load run, in the production sandbox",
		Long: `Test the plugin in DIR (default .) as a host runs it: the package
` + "`gatehouse plugin pack`" + ` would write (built first with ` + "`gatehouse plugin build`" + `),
loaded in the sandbox with the host's default limits and the manifest's.

Unit scenarios: tests/*.json, each run twice, as vetting runs them.

Integration workflows: tests/workflows/*.json chain calls across plugins,
the output of each step the input of the next (see the README). The
dependencies the manifest declares are resolved by SemVer range as
` + "`gatehouse install`" + ` resolves them: from --deps DIR, a folder of package files
(your own builds, not verified), or else from the marketplace (--server),
downloaded, verified and pinned as install does into --deps-dir (a
temporary folder unless given; with one, its gatehouse.lock keeps the same
versions on the next run until --update). Installed dependencies get only
the permissions their certificates grant. The marketplace runs the same
workflows against certified versions when the plugin is submitted.

Load run: --load N replays one scenario (--scenario NAME, default the
first) N times, --concurrency C at once, on one loaded plugin with the
production limits (the host lets 8 calls of a plugin run at once and
throttles the rest; a plugin that keeps failing trips the circuit breaker).
It reports the p50 and p99 latency, the errors by kind (timeout, trap,
out_of_memory, output_too_large, throttled, denied, bad_output, ...) and
the peak memory, with a progress bar on a terminal. N is at most 100000
and C at most 64.

Exits 1 when a scenario or workflow fails or a load call does not end as
its scenario expects, and 2 when a dependency from the marketplace does
not verify.`,
		Example: `  gatehouse plugin test ./notifier
  gatehouse plugin test ./notifier --deps ./packages
  gatehouse plugin test ./notifier --load 2000 --concurrency 8`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := argOr(args, 0, ".")
			lopts := scenario.LoadOptions{Calls: calls, Concurrency: conc}
			switch {
			case calls == 0 && (cmd.Flags().Changed("concurrency") || only != ""):
				return errors.New("--concurrency and --scenario go with --load N: say how many calls to make")
			case calls != 0:
				if err := lopts.Validate(); err != nil {
					return fmt.Errorf("--load %d --concurrency %d: %w", calls, conc, err)
				}
			}
			if deps != "" && (depsDir != "" || trustRoot != "" || update) {
				return errors.New("--deps reads packages from a folder; --deps-dir, --trust-root and --update are for dependencies from the marketplace")
			}
			pkg, m, module, err := loadPluginUnderTest(dir)
			if err != nil {
				return err
			}
			tmp, err := os.MkdirTemp("", "gatehouse-plugin-test-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			cache := compiledCacheDir()
			if cache != "" {
				if err := os.MkdirAll(cache, 0o700); err != nil {
					cache = ""
				}
			}
			quiet := slog.New(slog.DiscardHandler)
			// Scenarios and workflows expect errors on purpose, so the
			// circuit breaker stays out of their way; every other limit is
			// the host's default.
			rt, err := sandbox.NewRuntime(sandbox.Config{CacheDir: cache, KV: scenario.KV{}, Breaker: sandbox.BreakerConfig{Disabled: true}, Logger: quiet})
			if err != nil {
				return err
			}
			defer rt.Close(context.Background())
			ctx := cmd.Context()
			rep := &testReport{Plugin: m.ID, Version: m.Version, Scenarios: []scenario.Result{}, Workflows: []scenario.WorkflowResult{}, Dependencies: []testDependency{}}
			self := sandbox.LoadRequest{Manifest: m, Module: module}

			scenarios, err := packageScenarios(pkg)
			if err != nil {
				return err
			}
			if len(scenarios) > 0 {
				if rep.Scenarios, err = scenario.RunIn(ctx, rt, self, scenarios, dir); err != nil {
					return err
				}
			}
			if err := runWorkflows(ctx, cmd, g, rt, tmp, pkg, m, self, rep, workflowDeps{local: deps, dir: depsDir, trustRoot: trustRoot, update: update}); err != nil {
				return err
			}
			if calls > 0 {
				var s *scenario.Scenario
				for i := range scenarios {
					if only == "" || scenarios[i].Name == only {
						s = &scenarios[i]
						break
					}
				}
				switch {
				case s == nil && only != "":
					return fmt.Errorf("--scenario %q: no scenario in %s/tests/*.json has that name", only, dir)
				case s == nil:
					return fmt.Errorf("--load replays a scenario, and %s has none: add one to tests/*.json", dir)
				}
				// The load run uses the production configuration whole,
				// circuit breaker included.
				lrt, err := sandbox.NewRuntime(sandbox.Config{CacheDir: cache, KV: scenario.KV{}, Logger: quiet})
				if err != nil {
					return err
				}
				defer lrt.Close(context.Background())
				bar := newProgress(cmd.ErrOrStderr(), calls)
				label := fmt.Sprintf("calls of %q", s.Name)
				lopts.Progress = func(done, _ int) { bar.Set(done, label) }
				lr, err := scenario.LoadTest(ctx, lrt, self, *s, dir, lopts)
				bar.Clear()
				if err != nil {
					return err
				}
				rep.Load = &lr
			}
			rep.Passed = reportPassed(rep)
			w := cmd.OutOrStdout()
			if out.json() {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				printTestReport(w, rep, m)
			}
			if !rep.Passed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&deps, "deps", "", "a folder of package files (*.gpkg) to resolve the declared dependencies from, unverified, instead of the marketplace")
	f.StringVar(&depsDir, "deps-dir", "", "install the dependencies from the marketplace into this folder and keep them (and their pins) there (default: a temporary folder)")
	f.StringVar(&trustRoot, "trust-root", "", "the marketplace's trust root, obtained out of band (default: the --deps-dir folder's, or fetched on first use)")
	f.BoolVar(&update, "update", false, "resolve the dependencies again instead of keeping --deps-dir's pins")
	f.IntVar(&calls, "load", 0, fmt.Sprintf("make this many calls of one scenario (at most %d) and report latency, errors and memory", scenario.MaxLoadCalls))
	f.IntVar(&conc, "concurrency", 1, fmt.Sprintf("with --load, how many calls run at once (at most %d)", scenario.MaxLoadConcurrency))
	f.StringVar(&only, "scenario", "", "with --load, the scenario to replay (default: the first)")
	out = addOutput(c, "text", "json")
	return c
}

// loadPluginUnderTest packs dir in memory, as `plugin pack` would, and
// reads its manifest and module.
func loadPluginUnderTest(dir string) (*pkgfile.Package, *manifest.Manifest, []byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the manifest: %w", err)
	}
	m, err := manifest.Parse(raw, manifest.Options{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifest.FileName), err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(m.Runtime.Module))); err != nil {
		return nil, nil, nil, fmt.Errorf("the module %s is missing: run `gatehouse plugin build %s` first", m.Runtime.Module, dir)
	}
	pkg, err := loadPackage(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	module, ok := pkg.File(m.Runtime.Module)
	if !ok {
		return nil, nil, nil, fmt.Errorf("the module %s is left out of the package (see .gatehouseignore)", m.Runtime.Module)
	}
	return pkg, m, module, nil
}

// packageScenarios parses tests/*.json of the package, in path order.
func packageScenarios(pkg *pkgfile.Package) ([]scenario.Scenario, error) {
	var all []scenario.Scenario
	for _, e := range pkg.Files {
		if ok, _ := path.Match("tests/*.json", e.Path); !ok {
			continue
		}
		data, _ := pkg.File(e.Path)
		list, err := scenario.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
		all = append(all, list...)
		if len(all) > scenario.MaxScenarios {
			return nil, fmt.Errorf("more than %d scenarios; the limit is %d", scenario.MaxScenarios, scenario.MaxScenarios)
		}
	}
	return all, nil
}

type workflowDeps struct {
	local, dir, trustRoot string
	update                bool
}

// runWorkflows runs the package's workflows with its dependencies,
// resolved from a local folder or installed from the marketplace.
func runWorkflows(ctx context.Context, cmd *cobra.Command, g *globals, rt *sandbox.Runtime, tmp string, pkg *pkgfile.Package, m *manifest.Manifest, self sandbox.LoadRequest, rep *testReport, wd workflowDeps) error {
	files, err := plugindeps.WorkflowFiles(pkg)
	if err != nil || len(files) == 0 {
		return err
	}
	var workflows []scenario.Workflow
	for _, f := range files {
		data, _ := pkg.File(f)
		list, err := scenario.ParseWorkflows(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		workflows = append(workflows, list...)
	}
	selfPlugin := plugindeps.Plugin{ID: m.ID, Version: m.Version, Package: pkg, Manifest: m}
	plugins := []plugindeps.Plugin{selfPlugin}
	base := map[string]sandbox.LoadRequest{m.ID: self}
	if len(m.Dependencies) > 0 {
		var resolved []plugindeps.Plugin
		if wd.local != "" {
			local, err := plugindeps.OpenLocal(wd.local)
			if err != nil {
				return fmt.Errorf("--deps: %w", err)
			}
			if resolved, err = plugindeps.Resolve(ctx, local, m); err != nil {
				return fmt.Errorf("resolving the dependencies from %s (%s): %w", wd.local, local.Describe(), err)
			}
			rep.DependencySource = wd.local + " (local packages, not verified)"
			for _, p := range resolved {
				rep.Dependencies = append(rep.Dependencies, testDependency{ID: p.ID, Version: p.Version})
			}
		} else {
			if resolved, err = installDependencies(ctx, cmd, g, tmp, m, base, rep, wd); err != nil {
				return err
			}
		}
		plugins = append(plugins, resolved...)
	}
	reqs, err := plugindeps.Requests(tmp, plugins, base)
	if err != nil {
		return err
	}
	for _, w := range workflows {
		if err := plugindeps.CheckPlugins(w, m.ID, reqs); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("workflow %q: %v", w.Name, err))
			continue
		}
		res, err := scenario.RunWorkflow(ctx, rt, reqs, w)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("workflow %q could not run: %v", w.Name, err))
			continue
		}
		rep.Workflows = append(rep.Workflows, res)
	}
	return nil
}

// installDependencies installs the declared dependencies from the
// marketplace as `gatehouse install` does (resolved together, every
// package verified before anything is written) and loads each from the
// verified bytes with the grants its certificate allows.
func installDependencies(ctx context.Context, cmd *cobra.Command, g *globals, tmp string, m *manifest.Manifest, base map[string]sandbox.LoadRequest, rep *testReport, wd workflowDeps) ([]plugindeps.Plugin, error) {
	src, err := install.NewHTTP(g.server, nil)
	if err != nil {
		return nil, err
	}
	dir := wd.dir
	if dir == "" {
		dir = filepath.Join(tmp, "deps")
	}
	var reqs []install.Request
	for _, d := range m.Dependencies {
		reqs = append(reqs, install.Request{ID: d.ID, Range: d.Range})
	}
	opts := install.Options{Source: src, Marketplace: src.URL(), Dir: dir, Update: wd.update,
		Policy: verify.Policy{Allow: []string{"*"}}, Reason: "plugin test of " + m.ID + "@" + m.Version, By: byOrUser(g, "")}
	if wd.trustRoot != "" {
		if opts.TrustRoot, err = os.ReadFile(wd.trustRoot); err != nil {
			return nil, fmt.Errorf("--trust-root: %w", err)
		}
	}
	res, err := install.InstallAll(ctx, reqs, opts)
	if err != nil {
		var ve *verify.Error
		if errors.As(err, &ve) {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("installing the dependencies of %s from %s: %v", m.ID, src.URL(), err)}
		}
		return nil, fmt.Errorf("installing the dependencies of %s from %s (or pass --deps DIR, a folder of their packages): %w", m.ID, src.URL(), err)
	}
	if res.TrustRootFetched {
		fmt.Fprintf(cmd.ErrOrStderr(), "trusting %s on first use for the dependencies (pass --trust-root to supply its trust root)\n", src.URL())
	}
	rep.DependencySource = src.URL() + " (installed and verified into " + dir + ")"
	var out []plugindeps.Plugin
	for _, p := range res.Plugins {
		data, b, vopts, err := install.Load(install.Beside(p.Package), install.Check{Policy: opts.Policy})
		if err != nil {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("%s@%s did not verify: %v", p.ID, p.Version, err)}
		}
		req, vres, err := sandbox.VerifiedRequest(ctx, data, b, vopts, sandbox.LoadRequest{})
		if err != nil {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("%s@%s did not verify: %v", p.ID, p.Version, err)}
		}
		pk, err := pkgfile.Read(bytes.NewReader(data), pkgfile.DefaultLimits())
		if err != nil {
			return nil, err
		}
		base[p.ID] = sandbox.LoadRequest{Grants: req.Grants}
		out = append(out, plugindeps.Plugin{ID: vres.PluginID, Version: vres.Version, Package: pk, Manifest: req.Manifest})
		rep.Dependencies = append(rep.Dependencies, testDependency{ID: p.ID, Version: p.Version, Digest: vres.Digest, Verified: true})
	}
	return out, nil
}

func reportPassed(r *testReport) bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, s := range r.Scenarios {
		if !s.Passed {
			return false
		}
	}
	for _, w := range r.Workflows {
		if !w.Passed {
			return false
		}
	}
	return r.Load == nil || r.Load.Failed() == 0
}

func printTestReport(w io.Writer, r *testReport, m *manifest.Manifest) {
	fmt.Fprintf(w, "Testing %s@%s\n", r.Plugin, r.Version)
	if len(r.Scenarios) > 0 {
		fmt.Fprintf(w, "\nScenarios (tests/*.json): %s\n", counts(len(r.Scenarios), func(i int) bool { return r.Scenarios[i].Passed }))
		for _, s := range r.Scenarios {
			fmt.Fprintf(w, "  %s  %s (%s, %s)\n", passText(s.Passed), s.Name, round(s.Duration), mib(s.MemoryBytes))
			if !s.Passed {
				fmt.Fprintf(w, "        %s\n", firstOf(s.Mismatch, s.Difference))
			}
		}
	}
	if len(r.Workflows)+len(r.Problems) > 0 {
		fmt.Fprintf(w, "\nWorkflows (tests/workflows/*.json): %s\n", counts(len(r.Workflows)+len(r.Problems), func(i int) bool { return i < len(r.Workflows) && r.Workflows[i].Passed }))
		if len(r.Dependencies) > 0 {
			var ds []string
			for _, d := range r.Dependencies {
				ds = append(ds, d.ID+"@"+d.Version)
			}
			fmt.Fprintf(w, "  with %s from %s\n", strings.Join(ds, ", "), r.DependencySource)
		}
		for _, wf := range r.Workflows {
			var steps []string
			for _, s := range wf.Steps {
				steps = append(steps, fmt.Sprintf("%s %s", s.Plugin, s.Export))
			}
			fmt.Fprintf(w, "  %s  %s: %s (%s)\n", passText(wf.Passed), wf.Name, strings.Join(steps, " → "), round(wf.Duration))
			if !wf.Passed {
				fmt.Fprintf(w, "        %s\n", firstOf(wf.Mismatch, wf.Difference))
			}
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  FAIL  %s\n", p)
		}
	}
	if l := r.Load; l != nil {
		fmt.Fprintf(w, "\nLoad: %d calls of %q (%s), %d at a time, in %s\n", l.Calls, l.Scenario, l.Export, l.Concurrency, round(l.Wall))
		fmt.Fprintf(w, "  latency  p50 %s  p99 %s  max %s\n", round(l.P50), round(l.P99), round(l.Max))
		if len(l.Errors) == 0 {
			fmt.Fprintf(w, "  errors   none (%d of %d as expected)\n", l.OK, l.Calls)
		} else {
			var es []string
			for _, k := range slices.Sorted(maps.Keys(l.Errors)) {
				es = append(es, fmt.Sprintf("%s %d", k, l.Errors[k]))
			}
			fmt.Fprintf(w, "  errors   %s (%d of %d as expected)\n", strings.Join(es, ", "), l.OK, l.Calls)
		}
		limit := "the host's default"
		if m.Limits != nil && m.Limits.MemoryMiB > 0 {
			limit = fmt.Sprintf("%d MiB", m.Limits.MemoryMiB)
		}
		fmt.Fprintf(w, "  memory   peak %s a call (limit %s); host heap peak %s\n", mib(l.PeakMemoryBytes), limit, mib(l.PeakHostHeapBytes))
	}
	if r.Passed {
		fmt.Fprintln(w, "\nPASS")
	} else {
		fmt.Fprintln(w, "\nFAIL")
	}
}

func counts(n int, passed func(int) bool) string {
	p := 0
	for i := range n {
		if passed(i) {
			p++
		}
	}
	return fmt.Sprintf("%d passed, %d failed", p, n-p)
}

func passText(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func mib(b uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
