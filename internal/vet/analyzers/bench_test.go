package analyzers

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/behaviour"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// BenchmarkVetExample is full vetting of the clean example plugin (a
// 3.4 MB Go wasip1 module with its manifest, README, LICENSE and source):
// loading the input and running every analyzer. The analyzers are built
// once, as the server and the CLI build them.
func BenchmarkVetExample(b *testing.B) {
	pkg, mod := pluginPackage(b, "clean", "clean")
	as := Default(DefaultOptions{})
	warmUp(b, as, pkg)
	b.ReportMetric(float64(len(mod))/(1<<20), "module-MiB")
	b.ResetTimer()
	for b.Loop() {
		in, err := LoadInput(pkg, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range vet.Run(context.Background(), as, in, vet.Config{}, nil) {
			if r.Status == vet.Errored {
				b.Fatalf("%s errored: %s", r.Analyzer, r.Reason)
			}
		}
	}
}

// BenchmarkVetAnalyzer times each analyzer alone on the clean plugin.
func BenchmarkVetAnalyzer(b *testing.B) {
	pkg, _ := pluginPackage(b, "clean", "clean")
	in, err := LoadInput(pkg, manifest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	as := Default(DefaultOptions{})
	warmUp(b, as, pkg)
	for _, a := range as {
		b.Run(a.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, err := a.Analyze(context.Background(), in); err != nil && !strings.Contains(err.Error(), "skipped") {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVetLargePackage is full vetting of a package of about 20 MB:
// the clean plugin plus real Go source (the standard library's net,
// crypto and encoding trees from GOROOT, as a plugin vendoring its
// dependencies would ship them), up to 2,000 files.
func BenchmarkVetLargePackage(b *testing.B) {
	files := sourcePackage(b, 2000, 20<<20)
	pkg := plugintest.Package(b, files)
	var total int64
	for _, e := range pkg.Files {
		total += e.Size
	}
	as := Default(DefaultOptions{})
	warmUp(b, as, pkg)
	b.ReportMetric(float64(total)/(1<<20), "package-MiB")
	b.ReportMetric(float64(len(pkg.Files)), "files")
	b.ResetTimer()
	for b.Loop() {
		in, err := LoadInput(pkg, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		vet.Run(context.Background(), as, in, vet.Config{}, nil)
	}
}

// warmUp runs vetting once so one-time set-up (licensecheck compiles its
// licence matcher on first use, about a second) is not counted: a server
// or a CLI pays it once per process.
func warmUp(b *testing.B, as []vet.Analyzer, pkg *pkgfile.Package) {
	b.Helper()
	in, err := LoadInput(pkg, manifest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	vet.Run(context.Background(), as, in, vet.Config{}, nil)
}

// sourcePackage is the clean plugin plus real Go source (the standard
// library's net, crypto and encoding trees from GOROOT, as a plugin
// vendoring its dependencies would ship them), up to maxFiles files and
// about maxBytes in all.
func sourcePackage(b *testing.B, maxFiles int, maxBytes int64) map[string][]byte {
	b.Helper()
	mod := plugintest.Build(b, "clean")
	files := map[string][]byte{
		"manifest.json": plugintest.Source(b, "clean", "manifest.json"),
		"plugin.wasm":   mod,
		"LICENSE":       plugintest.Source(b, "clean", "LICENSE"),
		"README.md":     plugintest.Source(b, "clean", "README.md"),
	}
	goroot := runtime.GOROOT()
	size := int64(len(mod))
	for _, tree := range []string{"net", "crypto", "encoding", "go", "text", "image"} {
		root := filepath.Join(goroot, "src", tree)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || len(files) >= maxFiles || size >= maxBytes {
				return err
			}
			if strings.Contains(p, "testdata") || !strings.HasSuffix(p, ".go") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(goroot, "src"), p)
			files["vendor/std/"+filepath.ToSlash(rel)] = data
			size += int64(len(data))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return files
}

// BenchmarkVetUpdate is vetting a low-risk update: each iteration vets a
// new version of a plugin (the 3.4 MB clean plugin and vendored Go source,
// 5 MiB in all) that differs from the last in one source file, with the
// analyzers' per-file caches off and on (warmed by the versions before).
// Building each version's package is not timed. Besides ns/op it reports
// each analyzer's own duration (ms), the stage breakdown.
func BenchmarkVetUpdate(b *testing.B) {
	files := sourcePackage(b, 400, 4<<20+1<<20)
	var changed string
	for p := range files {
		if strings.HasPrefix(p, "vendor/") && (changed == "" || p < changed) {
			changed = p
		}
	}
	var total int64
	for _, f := range files {
		total += int64(len(f))
	}
	version := func(b *testing.B, i int) *vet.Input {
		f := maps.Clone(files)
		f[changed] = fmt.Appendf(slices.Clone(files[changed]), "\n// revision %d\n", i)
		in, err := LoadInput(plugintest.Package(b, f), manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return in
	}
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cache=%v", cached), func(b *testing.B) {
			opts := DefaultOptions{}
			if cached {
				opts.Caches = NewCaches(resultcache.Limits{})
			}
			as := Default(opts)
			vet.Run(context.Background(), as, version(b, -1), vet.Config{}, nil) // warm up, and fill the caches
			stage := map[string]time.Duration{}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				in := version(b, i)
				b.StartTimer()
				for _, r := range vet.Run(context.Background(), as, in, vet.Config{}, nil) {
					if r.Status == vet.Errored {
						b.Fatalf("%s errored: %s", r.Analyzer, r.Reason)
					}
					stage[r.Analyzer] += r.Duration
				}
			}
			for name, d := range stage {
				b.ReportMetric(float64(d.Milliseconds())/float64(b.N), name+"-ms")
			}
			b.ReportMetric(float64(total)/(1<<20), "package-MiB")
		})
	}
}

// BenchmarkVetUpdatePlugin is vetting a low-risk update of a plugin with
// a real Go package graph, every stage included: the acme/counter example
// plus 17 packages of its own copied from the standard library
// (plugintest.GraphSource), built with pluginkit.Build (a 4.5 MB module)
// and packed as an author would. Each iteration vets a new version whose
// main.go differs from the last in one error message, so the module's
// bytes differ too: gosec, the reproducible rebuild (a go build with the
// toolchain's build cache) and the 6 behaviour scenarios all run. Building
// and packing each version is not timed.
//
// mode=baseline has no result caches and runs the scenarios compiled
// only, as vetting did before issue 21; mode=incremental shares
// analyzers.Caches across versions and runs the scenarios on the
// interpreter first. Besides ns/op it reports each analyzer's own
// duration (ms): the stage breakdown.
func BenchmarkVetUpdatePlugin(b *testing.B) {
	if testing.Short() {
		b.Skip("builds WebAssembly modules")
	}
	root := plugintest.ModuleRoot(b)
	work := b.TempDir()
	dir := filepath.Join(work, "counter")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "examples", "plugins", "counter"))); err != nil {
		b.Fatal(err)
	}
	for p, data := range plugintest.GraphSource(b, "plugins.local/acme/counter", "lib", ".") {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	mainGo, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		b.Fatal(err)
	}
	const message = `"saving counter %q: %w"`
	if !bytes.Contains(mainGo, []byte(message)) {
		b.Fatalf("main.go no longer has the message %s the benchmark changes", message)
	}
	var moduleBytes int
	version := func(b *testing.B, i int) *vet.Input {
		src := bytes.Replace(mainGo, []byte(message), fmt.Appendf(nil, `"saving counter %%q (revision %d): %%w"`, i), 1)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "kit")}); err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if _, _, err := pkgfile.PackDir(dir, &buf); err != nil {
			b.Fatal(err)
		}
		pkg, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		in, err := LoadInput(pkg, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		moduleBytes = len(in.Module)
		return in
	}
	for _, incremental := range []bool{false, true} {
		mode := "baseline"
		if incremental {
			mode = "incremental"
		}
		b.Run("mode="+mode, func(b *testing.B) {
			beh, err := behaviour.New(behaviour.Options{CacheDir: b.TempDir(), CompiledOnly: !incremental})
			if err != nil {
				b.Fatal(err)
			}
			defer beh.Close(context.Background())
			opts := DefaultOptions{Behaviour: beh}
			if incremental {
				opts.Caches = NewCaches(resultcache.Limits{})
			}
			as := Default(opts)
			check := func(res []vet.Result) {
				for _, r := range res {
					if r.Status == vet.Errored {
						b.Fatalf("%s errored: %s", r.Analyzer, r.Reason)
					}
					switch r.Analyzer {
					case "source", "provenance", "behaviour":
						if r.Status == vet.Skipped {
							b.Fatalf("%s was skipped: %s", r.Analyzer, r.Reason)
						}
					}
				}
			}
			check(vet.Run(context.Background(), as, version(b, -1), vet.Config{}, nil)) // warm up, and fill the caches
			stage := map[string]time.Duration{}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				in := version(b, i)
				b.StartTimer()
				res := vet.Run(context.Background(), as, in, vet.Config{}, nil)
				b.StopTimer()
				check(res)
				for _, r := range res {
					stage[r.Analyzer] += r.Duration
				}
				b.StartTimer()
			}
			for name, d := range stage {
				b.ReportMetric(float64(d.Milliseconds())/float64(b.N), name+"-ms")
			}
			b.ReportMetric(float64(moduleBytes)/(1<<20), "module-MiB")
		})
	}
}
