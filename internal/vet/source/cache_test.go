package source

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
)

// graphFiles is the source of a plugin with a real package graph: the
// acme/counter example (package main, importing the plugin kit) and 17
// packages of its own under lib/, copied from the standard library
// (plugintest.GraphSource), which import one another.
func graphFiles(t *testing.T) map[string][]byte {
	t.Helper()
	if testing.Short() {
		t.Skip("type-checks a plugin of 18 packages")
	}
	dir := filepath.Join(plugintest.ModuleRoot(t), "examples", "plugins", "counter")
	files := plugintest.GraphSource(t, "plugins.local/acme/counter", "lib", ".")
	for _, name := range []string{"go.mod", "main.go", "manifest.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return files
}

func inputOf(t *testing.T, files map[string][]byte) *vet.Input {
	t.Helper()
	return &vet.Input{Package: plugintest.Package(t, files)}
}

// result is the analyzer's report as stored: findings and detail.
func result(t *testing.T, a *Analyzer, in *vet.Input) string {
	t.Helper()
	rep, err := a.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(struct {
		F []vet.Finding
		D any
	}{rep.Findings, rep.Detail})
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// TestCacheKeepsFindings vets a plugin of 18 packages, then updates of it,
// with a cache warmed by the first version and with none: the findings
// and detail are the same, and the cached run analyses only the changed
// package and the packages that import it. A package whose imports did
// not change is type-checked from the export data the cache holds, with
// no go command run: that must change nothing either.
func TestCacheKeepsFindings(t *testing.T) {
	t.Parallel()
	base := graphFiles(t)
	tests := []struct {
		name     string
		change   map[string][]byte
		analysed int // packages analysed again
		typed    int // of those, type-checked from the imports held
		relisted bool
	}{
		{
			// image/color is imported by image, image/png and main.
			name:     "code change in a package others import",
			change:   map[string][]byte{"lib/image/color/color.go": append(slices.Clone(base["lib/image/color/color.go"]), "\nfunc gray(y uint8) Gray { return Gray{y} }\n"...)},
			analysed: 4,
			typed:    1, // image/color itself; the others import it
		},
		{
			name:     "code change in package main",
			change:   map[string][]byte{"main.go": append(slices.Clone(base["main.go"]), "\n// A comment an update added.\n"...)},
			analysed: 1,
			typed:    1,
		},
		{
			// A package with a type or syntax error is loaded by the go
			// command after all: the report quotes its compile error.
			name:     "type error in package main",
			change:   map[string][]byte{"main.go": append(slices.Clone(base["main.go"]), "\nvar _ int = \"not a number\"\n"...)},
			analysed: 1,
		},
		{
			name:     "syntax error in package main",
			change:   map[string][]byte{"main.go": append(slices.Clone(base["main.go"]), "\nfunc broken( {\n"...)},
			analysed: 1,
		},
		{
			// A new file with a new import and a weak hash: the graph is
			// listed again, text/scanner and main are analysed, and the
			// finding is there.
			name: "new file with a new import",
			change: map[string][]byte{"lib/text/scanner/sum.go": []byte(`package scanner

import "crypto/md5"

// Sum is a weak digest.
func Sum(b []byte) [16]byte { return md5.Sum(b) }
`)},
			analysed: 2,
			relisted: true,
		},
	}
	c := NewCache(resultcache.Limits{})
	cached := New().WithCache(c)
	first := result(t, cached, inputOf(t, base))
	if want := result(t, New(), inputOf(t, base)); first != want {
		t.Fatalf("the cold cache changed the result:\n got %s\nwant %s", first, want)
	}
	if s := c.Stats(); s.Hits != 0 || s.Misses != 18 {
		t.Fatalf("first run: %+v, want 18 packages analysed", s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := maps.Clone(base)
			maps.Copy(files, tt.change)
			in := inputOf(t, files)
			before, graphsBefore, typedBefore := c.Stats(), c.GraphStats(), c.typed.Load()
			got := result(t, cached, in)
			after, graphsAfter, typedAfter := c.Stats(), c.GraphStats(), c.typed.Load()
			if want := result(t, New(), in); got != want {
				t.Errorf("with the cache:\n%s\nwith none:\n%s", got, want)
			}
			if n := after.Misses - before.Misses; n != int64(tt.analysed) {
				t.Errorf("%d packages analysed again, want %d", n, tt.analysed)
			}
			if n := after.Hits - before.Hits; n != int64(18-tt.analysed) {
				t.Errorf("%d packages from the cache, want %d", n, 18-tt.analysed)
			}
			if n := typedAfter - typedBefore; n != int64(tt.typed) {
				t.Errorf("%d packages type-checked from the imports held, want %d", n, tt.typed)
			}
			if relisted := graphsAfter.Misses > graphsBefore.Misses; relisted != tt.relisted {
				t.Errorf("package graph listed again: %v, want %v", relisted, tt.relisted)
			}
		})
	}
}

// TestCachedResultNotReusedAfterRulesChange guards the cache against a
// rule-set change: an analyzer with gosec's G401 (weak hash) left out
// caches its results; the full rule set, sharing the cache, analyses
// again and finds the weak hash.
func TestCachedResultNotReusedAfterRulesChange(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	in := pluginInput(t, "gosecpattern", "main.go")
	old := New().withoutRules("G401").WithCache(c)
	rep, err := old.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := find(rep.Findings, "source/G401", 32); ok {
		t.Fatal("the reduced rule set still finds G401; the test needs a rule it lacks")
	}
	before := c.Stats()
	rep, err = New().WithCache(c).Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Stats().Hits - before.Hits; d != 0 {
		t.Errorf("%d results cached under the old rules were reused under the new", d)
	}
	if _, ok := find(rep.Findings, "source/G401", 32); !ok {
		t.Errorf("the weak hash was not found under the full rule set: %s", summary(rep.Findings))
	}
}

// TestCachedResultNotReusedAcrossVersionsOrToolchains: a new version of
// the analyzer's own logic, or another go command, analyses every package
// again.
func TestCachedResultNotReusedAcrossVersionsOrToolchains(t *testing.T) {
	t.Parallel()
	in := pluginInput(t, "gosecpattern", "main.go")
	for name, change := range map[string]func(*Analyzer){
		"analyzer version": func(a *Analyzer) { a.logicVersion = Version + "-next" },
		"toolchain": func(a *Analyzer) {
			a.toolchain = func(context.Context) (string, error) { return "go1.99.0 (another go command)", nil }
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := NewCache(resultcache.Limits{})
			result(t, New().WithCache(c), in)
			if s := c.Stats(); s.Misses == 0 {
				t.Fatalf("first run analysed nothing: %+v", s)
			}
			next := New().WithCache(c)
			change(next)
			before := c.Stats()
			result(t, next, in)
			if d := c.Stats().Hits - before.Hits; d != 0 {
				t.Errorf("%d results were reused after a %s change", d, name)
			}
		})
	}
}

// TestToolchainIDNamesTheGoCommand: the toolchain in the cache's keys is
// the go command's own version.
func TestToolchainIDNamesTheGoCommand(t *testing.T) {
	t.Parallel()
	id, err := New().toolchainID(context.Background())
	if err != nil {
		t.Skip("no go command:", err)
	}
	if len(id) < 4 || id[:4] != "go1." {
		t.Errorf("toolchain id %q does not start with the go version", id)
	}
}
