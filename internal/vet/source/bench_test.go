package source

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/manifest"
)

// BenchmarkAnalyzeExample analyses the source of each example plugin as
// its package ships it (main.go, go.mod, manifest). The module is left
// out: the analyzer never reads it. The first load of a run compiles the
// standard library's export data into the Go build cache; later ones
// reuse it, as a long-running server does.
func BenchmarkAnalyzeExample(b *testing.B) {
	root := plugintest.ModuleRoot(b)
	for _, name := range []string{"counter", "notifier", "templater"} {
		b.Run(name, func(b *testing.B) {
			dir := filepath.Join(root, "examples", "plugins", name)
			files := map[string][]byte{}
			for _, f := range []string{"manifest.json", "main.go", "go.mod"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					b.Fatal(err)
				}
				files[f] = data
			}
			m, err := manifest.Parse(files["manifest.json"], manifest.Options{})
			if err != nil {
				b.Fatal(err)
			}
			in := &vet.Input{Package: plugintest.Package(b, files), Manifest: m}
			a := New()
			if _, err := a.Analyze(context.Background(), in); err != nil { // warm the build cache
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				rep, err := a.Analyze(context.Background(), in)
				if err != nil {
					b.Fatal(err)
				}
				if d := rep.Detail.(*Detail); d.Loader != LoaderPackages {
					b.Fatalf("loaded with %s: %s", d.Loader, d.Note)
				}
			}
		})
	}
}

// BenchmarkAnalyzeUpdate analyses updates of a plugin of 18 Go packages
// (the counter example and 17 packages of its own copied from the
// standard library, plugintest.GraphSource), each version differing from
// the last in one function added to one file: with no cache, and with a
// cache warmed by the versions before. A change to image/color, which
// image, image/png and main import, has 4 of the 18 packages analysed
// again, 3 of them loaded by the go command (image/color is type-checked
// from the imports held); a change to main has main alone analysed, with
// no go command run. Building each version's package is not timed.
func BenchmarkAnalyzeUpdate(b *testing.B) {
	files := benchGraphFiles(b)
	for _, change := range []struct{ name, file, add string }{
		{"image-color", "lib/image/color/color.go", "\nfunc gray%d(y uint8) Gray { return Gray{y} }\n"},
		{"main", "main.go", "\nfunc answer%d() int { return 42 }\n"},
	} {
		for _, cached := range []bool{false, true} {
			b.Run(fmt.Sprintf("change=%s/cache=%v", change.name, cached), func(b *testing.B) {
				a := New()
				if cached {
					a.WithCache(NewCache(resultcache.Limits{}))
				}
				version := func(i int) *vet.Input {
					f := maps.Clone(files)
					f[change.file] = fmt.Appendf(slices.Clone(files[change.file]), change.add, i)
					return &vet.Input{Package: plugintest.Package(b, f)}
				}
				if _, err := a.Analyze(context.Background(), version(-1)); err != nil { // warm the build cache and the result cache
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					in := version(i)
					b.StartTimer()
					rep, err := a.Analyze(context.Background(), in)
					if err != nil {
						b.Fatal(err)
					}
					if d := rep.Detail.(*Detail); d.Loader != LoaderPackages || len(d.Packages) != 18 {
						b.Fatalf("loaded with %s, %d packages: %s", d.Loader, len(d.Packages), d.Note)
					}
				}
			})
		}
	}
}

func benchGraphFiles(b *testing.B) map[string][]byte {
	dir := filepath.Join(plugintest.ModuleRoot(b), "examples", "plugins", "counter")
	files := plugintest.GraphSource(b, "plugins.local/acme/counter", "lib", ".")
	for _, name := range []string{"go.mod", "main.go", "manifest.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		files[name] = data
	}
	return files
}
