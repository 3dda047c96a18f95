package behaviour

import (
	"context"
	"testing"
)

// BenchmarkAnalyzeExample runs each example plugin's own scenarios (each
// run twice by the scenario runner) with a warm compilation cache, as a
// vetting worker does after its first plugin.
func BenchmarkAnalyzeExample(b *testing.B) {
	a := newAnalyzer(b)
	for _, name := range []string{"counter", "notifier", "templater"} {
		b.Run(name, func(b *testing.B) {
			in := examplePackage(b, name, nil)
			if _, err := a.Analyze(context.Background(), in); err != nil { // compile once
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				rep, err := a.Analyze(context.Background(), in)
				if err != nil {
					b.Fatal(err)
				}
				if d := rep.Detail.(*Detail); d.Failed != 0 {
					b.Fatalf("%d scenarios failed", d.Failed)
				}
			}
		})
	}
}
