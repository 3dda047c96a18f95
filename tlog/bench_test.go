package tlog

import (
	"context"
	"sync"
	"testing"
)

// BenchmarkAppend measures entries per second with 64 concurrent writers,
// whose appends the log commits in groups; every Append returns only after
// its checkpoint is synced to disk.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	k := newTestKey(b, testOrigin)
	l := openLog(b, b.TempDir(), k)
	e := make([]byte, 300) // about the size of a certificate event
	b.ResetTimer()
	var wg sync.WaitGroup
	const writers = 64
	for w := range writers {
		wg.Go(func() {
			for i := w; i < b.N; i += writers {
				if _, err := l.Append(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendBatch measures entries per second when the caller hands
// over batches of 256.
func BenchmarkAppendBatch(b *testing.B) {
	ctx := context.Background()
	k := newTestKey(b, testOrigin)
	l := openLog(b, b.TempDir(), k)
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = make([]byte, 300)
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += len(batch) {
		if _, err := l.AppendBatch(ctx, batch[:min(len(batch), b.N-done)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
