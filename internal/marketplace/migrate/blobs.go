package migrate

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// copyBlobs copies every blob of the source's folder that the target does
// not have, streamed (never whole in memory): the target stages the bytes,
// hashing them, and the blob is committed only when they hash to its
// name. The source's reader checks the digest too, so a damaged source
// blob stops the migration, naming it.
func (m *migration) copyBlobs(ctx context.Context) error {
	m.prog.Step("blobs: listing %s", m.srcBlobs.String())
	var digests []string
	err := m.srcBlobs.List(ctx, func(d string, _ time.Time) error {
		digests = append(digests, d)
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the source's blobs: %w", err)
	}
	var mu sync.Mutex
	err = m.parallel(ctx, len(digests), func(ctx context.Context, i int) error {
		copied, n, err := m.copyBlob(ctx, digests[i])
		if err != nil {
			return err
		}
		mu.Lock()
		if copied {
			m.report.Blobs++
			m.report.Bytes += n
		} else {
			m.report.BlobsSkipped++
		}
		done := m.report.Blobs + m.report.BlobsSkipped
		mu.Unlock()
		m.tick("blobs: %d of %d", done, len(digests))
		return nil
	})
	if err != nil {
		return err
	}
	m.prog.Finish("Copied %d blobs (%d bytes), each digest checked; %d the target had already", m.report.Blobs, m.report.Bytes, m.report.BlobsSkipped)
	return nil
}

// copyBlob copies one blob unless the target has it, and reports whether
// it copied it and how many bytes.
func (m *migration) copyBlob(ctx context.Context, digest string) (bool, int64, error) {
	if ok, err := m.dstBlobs.Exists(ctx, digest); err != nil {
		return false, 0, fmt.Errorf("blob %s: asking the target whether it has it: %w", digest, err)
	} else if ok {
		return false, 0, nil
	}
	rc, size, err := m.srcBlobs.Open(ctx, digest)
	if err != nil {
		return false, 0, fmt.Errorf("opening the source's blob %s: %w", digest, err)
	}
	defer rc.Close()
	st, err := m.dstBlobs.Stage(ctx, rc, size)
	if err != nil {
		return false, 0, fmt.Errorf("copying the source's blob %s (restore a damaged blob from a backup; nothing of it was kept): %w", digest, err)
	}
	defer st.Abort()
	if st.Digest() != digest {
		return false, 0, fmt.Errorf("the source's blob %s is damaged: its bytes hash to %s; restore it from a backup (nothing of it was kept)", digest, st.Digest())
	}
	if err := st.Commit(ctx); err != nil {
		return false, 0, fmt.Errorf("storing blob %s in the target: %w", digest, err)
	}
	return true, st.Size(), nil
}

// parallel runs fn for 0..n-1 on at most Config.Concurrency goroutines
// and returns the first error, after which no new call starts.
func (m *migration) parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range min(m.cfg.Concurrency, max(n, 1)) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
