package intake

import (
	"context"
	"sync"

	"gatehouse.dev/gatehouse/pkgfile"
)

// DefaultMaxConcurrentVets is how many vetting runs (the worker's and
// revalidation's) one process holds at once when MaxConcurrentVets is not
// set. A run holds its package in memory (up to pkgfile's MaxTotalBytes)
// while the analyzers read it, so this bounds vetting's memory.
const DefaultMaxConcurrentVets = 2

// DefaultMaxConcurrentReads is how many submitted packages one process
// reads into memory and checks at once when MaxConcurrentReads is not
// set; the bytes of more uploads than that wait on disk, staged. Reading
// is bound by the processor, and one package read holds up to ~2.5 times
// its unpacked size, so one at a time costs little and bounds the most.
const DefaultMaxConcurrentReads = 1

// slots is a counting semaphore made on first use.
type slots struct {
	once sync.Once
	ch   chan struct{}
}

// acquire waits for one of n (or def when n is not positive) slots, or
// for ctx to end.
func (sl *slots) acquire(ctx context.Context, n, def int) (release func(), err error) {
	sl.once.Do(func() {
		if n <= 0 {
			n = def
		}
		sl.ch = make(chan struct{}, n)
	})
	select {
	case sl.ch <- struct{}{}:
		return func() { <-sl.ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// acquireVet waits for a vetting slot, or for ctx to end. Background work
// waits rather than failing: nothing is lost by running later.
func (s *Service) acquireVet(ctx context.Context) (release func(), err error) {
	return s.vets.acquire(ctx, s.MaxConcurrentVets, DefaultMaxConcurrentVets)
}

// acquireRead waits for a slot to read a submitted package into memory.
func (s *Service) acquireRead(ctx context.Context) (release func(), err error) {
	return s.reads.acquire(ctx, s.MaxConcurrentReads, DefaultMaxConcurrentReads)
}

// packageToVet takes one of the vetting slots and loads the package to
// vet in it; the caller runs release when done with both.
func (s *Service) packageToVet(ctx context.Context, digest string) (*pkgfile.Package, func(), error) {
	release, err := s.acquireVet(ctx)
	if err != nil {
		return nil, nil, err
	}
	pkg, err := s.LoadPackage(ctx, digest)
	if err != nil {
		release()
		return nil, nil, err
	}
	return pkg, release, nil
}
