package provenance

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
)

// BenchmarkAnalyzeWithoutSource is the common case: a package with no Go
// source costs no toolchain run.
func BenchmarkAnalyzeWithoutSource(b *testing.B) {
	mf := []byte(`{"manifestVersion":1,"id":"acme/tiny","version":"1.0.0","name":"Tiny","owners":[{"name":"Acme","email":"a@acme.example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":[]}`)
	in := input(b, map[string][]byte{"manifest.json": mf, "plugin.wasm": plugintest.Module(nil, []string{"run"}, 1, -1, nil)})
	a := New(Options{})
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebuildExample is a reproducible rebuild of the counter example
// with a warm build cache (the example was just built on this machine).
func BenchmarkRebuildExample(b *testing.B) {
	in := input(b, counter(b))
	a := New(Options{})
	for b.Loop() {
		rep, err := a.Analyze(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Findings) != 0 {
			b.Fatal(rep.Findings)
		}
	}
}
