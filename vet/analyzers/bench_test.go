package analyzers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/vet"
	"gatehouse.dev/gatehouse/vet/internal/plugintest"
)

// BenchmarkVetExample is full vetting of the clean example plugin (a
// 3.4 MB Go wasip1 module with its manifest, README, LICENSE and source):
// loading the input and running every analyzer. The analyzers are built
// once, as the server and the CLI build them.
func BenchmarkVetExample(b *testing.B) {
	pkg, mod := pluginPackage(b, "clean", "clean")
	as := Default(DefaultOptions{})
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
	for _, a := range Default(DefaultOptions{}) {
		b.Run(a.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, err := a.Analyze(context.Background(), in); err != nil && !strings.Contains(err.Error(), "skipped") {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVetLargePackage is full vetting of a 20 MB package: the clean
// plugin plus 2,000 source and documentation files of 8 KiB each.
func BenchmarkVetLargePackage(b *testing.B) {
	mod := plugintest.Build(b, "clean")
	files := map[string][]byte{
		"manifest.json": plugintest.Source(b, "clean", "manifest.json"),
		"plugin.wasm":   mod,
		"LICENSE":       plugintest.Source(b, "clean", "LICENSE"),
		"README.md":     plugintest.Source(b, "clean", "README.md"),
	}
	line := "\t// The forecast service answers with JSON; see https://api.example.com/docs for its fields.\n"
	for i := range 2000 {
		body := "package forecast\n\n" + strings.Repeat(line, 8<<10/len(line))
		files[fmt.Sprintf("src/pkg%02d/file%04d.go", i%50, i)] = []byte(body)
	}
	pkg := plugintest.Package(b, files)
	var total int64
	for _, e := range pkg.Files {
		total += e.Size
	}
	as := Default(DefaultOptions{})
	b.ReportMetric(float64(total)/(1<<20), "package-MiB")
	b.ResetTimer()
	for b.Loop() {
		in, err := LoadInput(pkg, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		vet.Run(context.Background(), as, in, vet.Config{}, nil)
	}
}
