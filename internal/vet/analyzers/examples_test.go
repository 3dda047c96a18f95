package analyzers

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

var exampleNames = []string{"counter", "notifier", "templater"}

var (
	examplesOnce sync.Once
	examplePkgs  map[string]*pkgfile.Package
	examplesErr  error
)

// examplePackages builds and packs examples/plugins/* as an author would
// (pluginkit.Build, then pkgfile.PackDir), once per test binary.
func examplePackages(tb testing.TB) map[string]*pkgfile.Package {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds WebAssembly modules")
	}
	root := filepath.Join(plugintest.ModuleRoot(tb), "examples", "plugins")
	examplesOnce.Do(func() {
		work, err := os.MkdirTemp("", "vet-examples-")
		if err != nil {
			examplesErr = err
			return
		}
		defer os.RemoveAll(work)
		examplePkgs = map[string]*pkgfile.Package{}
		for _, name := range exampleNames {
			dir := filepath.Join(work, name)
			if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, name))); err != nil {
				examplesErr = err
				return
			}
			if _, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
				examplesErr = err
				return
			}
			var buf bytes.Buffer
			if _, _, err := pkgfile.PackDir(dir, &buf); err != nil {
				examplesErr = err
				return
			}
			p, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
			if err != nil {
				examplesErr = err
				return
			}
			examplePkgs[name] = p
		}
	})
	if examplesErr != nil {
		tb.Fatal(examplesErr)
	}
	return examplePkgs
}

// TestExamplesPassVetting: the marketplace's own examples, built and
// packed as an author would, pass every analyzer with no finding of
// medium severity or above.
func TestExamplesPassVetting(t *testing.T) {
	for name, pkg := range examplePackages(t) {
		results := vetPackage(t, pkg)
		if fs := failing(results); len(fs) > 0 {
			t.Errorf("example %s has failing findings:%s", name, describe(fs))
		}
		if blocked, reasons := vet.Summary(results); blocked {
			t.Errorf("example %s is blocked: %q", name, reasons)
		}
	}
}

// BenchmarkVetExamples is full vetting of each example plugin.
func BenchmarkVetExamples(b *testing.B) {
	pkgs := examplePackages(b)
	as := Default(DefaultOptions{})
	for _, name := range exampleNames {
		pkg := pkgs[name]
		warmUp(b, as, pkg)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				in, err := LoadInput(pkg, manifest.Options{})
				if err != nil {
					b.Fatal(err)
				}
				vet.Run(context.Background(), as, in, vet.Config{}, nil)
			}
		})
	}
}
