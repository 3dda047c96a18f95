package behaviour

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
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

// BenchmarkAnalyzeUpdate runs the counter example's 6 scenarios (each
// run twice) on a new version each iteration, as vetting an update does:
// the module's bytes differ from every earlier version's (a custom
// section names the version, so the code is the same size and the
// compilation cache misses, as it does for a real update), on one
// analyzer whose sandbox runtimes live across versions. "same-module"
// runs the same bytes every time (the compilation cache hits): the
// difference is the compile. engine=interpreter is the default (the
// interpreter first, compiled again only when a run hits a limit);
// engine=compiler is Options.CompiledOnly.
func BenchmarkAnalyzeUpdate(b *testing.B) {
	base := examplePackage(b, "counter", nil)
	for _, compiledOnly := range []bool{true, false} {
		for _, fresh := range []bool{true, false} {
			engine, module := "interpreter", "new-module"
			if compiledOnly {
				engine = "compiler"
			}
			if !fresh {
				module = "same-module"
			}
			b.Run("engine="+engine+"/"+module, func(b *testing.B) {
				a, err := New(Options{CacheDir: b.TempDir(), CompiledOnly: compiledOnly})
				if err != nil {
					b.Fatal(err)
				}
				defer a.Close(context.Background())
				version := func(i int) *vet.Input {
					if !fresh {
						return base
					}
					return withModule(b, base, withCustomSection(base.Module, fmt.Sprintf("version-%d-%d", i, time.Now().UnixNano())))
				}
				if _, err := a.Analyze(context.Background(), version(-1)); err != nil { // the runtime's first module
					b.Fatal(err)
				}
				var cpu time.Duration
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					in := version(i)
					before := processCPU()
					b.StartTimer()
					rep, err := a.Analyze(context.Background(), in)
					cpu += processCPU() - before
					if err != nil {
						b.Fatal(err)
					}
					if d := rep.Detail.(*Detail); d.Failed != 0 || d.Passed == 0 || (d.Engine != engine && !raceBuild) {
						b.Fatalf("%d scenarios passed, %d failed on %s: %s", d.Passed, d.Failed, d.Engine, messages(rep.Findings))
					}
				}
				// CPU time, less swayed than wall time by the other
				// processes of a shared machine.
				b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}

// withCustomSection appends a custom section holding payload to a module.
func withCustomSection(mod []byte, payload string) []byte {
	const name = "gatehouse.bench"
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out := append(slices.Clone(mod), 0)
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}

// withModule is in with its module replaced.
func withModule(t testing.TB, in *vet.Input, mod []byte) *vet.Input {
	t.Helper()
	files := map[string][]byte{}
	for _, e := range in.Package.Files {
		data, _ := in.Package.File(e.Path)
		files[e.Path] = data
	}
	files[in.Manifest.Runtime.Module] = mod
	return input(t, plugintest.Package(t, files))
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
