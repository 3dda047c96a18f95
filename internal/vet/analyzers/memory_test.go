package analyzers

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// maxVetHeap is the bound on the heap vetting one package may reach,
// the package itself included.
const maxVetHeap = 512 << 20

// peakHeap runs fn and returns the highest HeapInuse seen while it ran,
// sampled every few milliseconds.
func peakHeap(fn func()) uint64 {
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	sample()
	return peak
}

const memManifest = `{"manifestVersion":1,"id":"acme/mem","version":"1.0.0","name":"M","description":"M.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":[]}`

// hostilePackages returns packages up to the size limits whose content
// has made an analyzer's memory grow with it.
func hostilePackages() map[string]func() map[string][]byte {
	mod := func() []byte { return plugintest.Module(nil, []string{"handle"}, 1, -1, nil) }
	lim := pkgfile.DefaultLimits()
	return map[string]func() map[string][]byte{
		"zeros up to the total limit": func() map[string][]byte {
			n := int(lim.MaxTotalBytes/2 - 1<<20)
			return map[string][]byte{"manifest.json": []byte(memManifest), "plugin.wasm": mod(), "a.bin": make([]byte, n), "b.bin": make([]byte, n)}
		},
		"one 20 MB line": func() map[string][]byte {
			return map[string][]byte{"manifest.json": []byte(memManifest), "plugin.wasm": mod(), "notes.txt": bytes.Repeat([]byte("token=abcdefgh"), 20<<20/14)}
		},
		"as many tiny files as allowed": func() map[string][]byte {
			files := map[string][]byte{"manifest.json": []byte(memManifest), "plugin.wasm": mod()}
			for i := 0; len(files) < lim.MaxFiles-1; i++ {
				files[fmt.Sprintf("f/%d/%d.txt", i/100, i)] = []byte("api_key = x\n")
			}
			return files
		},
		"deeply nested JSON": func() map[string][]byte {
			deep := []byte(strings.Repeat("[", 8<<20) + strings.Repeat("]", 8<<20))
			return map[string][]byte{"manifest.json": []byte(memManifest), "plugin.wasm": mod(), "bom.json": deep, "tests/deep.json": deep, "package.json": deep}
		},
		"a module with a 16 MB data section": func() map[string][]byte {
			data := bytes.Repeat([]byte("password secret token key "), 16<<20/26)
			return map[string][]byte{"manifest.json": []byte(memManifest), "plugin.wasm": plugintest.Module(nil, []string{"handle"}, 300, -1, data)}
		},
	}
}

// TestVettingMemoryIsBounded vets hostile packages up to the size limits
// with every standard analyzer and checks the heap stays under
// maxVetHeap, whatever the content.
func TestVettingMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds packages of hundreds of MB")
	}
	as := Default(DefaultOptions{})
	defer func() {
		for _, a := range as {
			if c, ok := a.(interface{ Close(context.Context) error }); ok {
				c.Close(context.Background())
			}
		}
	}()
	for name, build := range hostilePackages() {
		t.Run(name, func(t *testing.T) {
			pkg := plugintest.Package(t, build())
			runtime.GC()
			var results []vet.Result
			peak := peakHeap(func() {
				in, err := LoadInput(pkg, manifest.Options{})
				if err != nil {
					t.Fatal(err)
				}
				results = vet.Run(context.Background(), as, in, vet.Config{}, nil)
			})
			var size int64
			for _, f := range pkg.Files {
				size += f.Size
			}
			t.Logf("%d MB in %d files: peak heap %d MB", size>>20, len(pkg.Files), peak>>20)
			for _, r := range results {
				if r.Status == vet.Errored {
					t.Logf("%s errored: %s", r.Analyzer, r.Reason)
				}
			}
			if peak > maxVetHeap {
				t.Errorf("vetting reached a heap of %d MB; the bound is %d MB", peak>>20, maxVetHeap>>20)
			}
		})
	}
}
