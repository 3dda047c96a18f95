package intake

import (
	"context"
	"sync"
)

// DefaultMaxConcurrentVets is how many vetting runs (the worker's and
// revalidation's) one process holds at once when MaxConcurrentVets is not
// set. A run holds its package in memory (up to pkgfile's MaxTotalBytes)
// while the analyzers read it, so this bounds vetting's memory.
const DefaultMaxConcurrentVets = 2

// vetSlots bounds concurrent vetting runs.
type vetSlots struct {
	once sync.Once
	ch   chan struct{}
}

// acquireVet waits for a vetting slot, or for ctx to end. Background work
// waits rather than failing: nothing is lost by running later.
func (s *Service) acquireVet(ctx context.Context) (release func(), err error) {
	s.slots.once.Do(func() {
		n := s.MaxConcurrentVets
		if n <= 0 {
			n = DefaultMaxConcurrentVets
		}
		s.slots.ch = make(chan struct{}, n)
	})
	select {
	case s.slots.ch <- struct{}{}:
		return func() { <-s.slots.ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
