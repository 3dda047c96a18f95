package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
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
