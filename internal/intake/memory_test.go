package intake_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/pkgfile"
)

// TestParallelUploadsMemoryIsBounded: eight uploads at once of a package
// that unpacks to 100 MB each read at most DefaultMaxConcurrentReads
// packages into memory at a time (eight at once took gigabytes).
func TestParallelUploadsMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks 800 MB")
	}
	svc, _, _ := newService(t)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte("{}")}, {Path: "zeros.bin", Data: make([]byte, 100<<20)}}); err != nil {
		t.Fatal(err)
	}
	pkg := buf.Bytes()
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, _, err := svc.SubmitSigned(context.Background(), publisher, bytes.NewReader(pkg), nil); err == nil {
				t.Error("a package without a valid manifest was accepted")
			}
		})
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	t.Logf("8 parallel uploads of 100 MB unpacked: peak heap %d MB", peak>>20)
	if peak > 512<<20 {
		t.Errorf("peak heap %d MB; want under 512 MB", peak>>20)
	}
}
