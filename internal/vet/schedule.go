package vet

import (
	"context"
	"sync"
	"time"
)

// Estimator is implemented by an analyzer that knows roughly how long it
// runs. The runner starts the analyzers on the longest path first, so
// that the slowest chain (source analysis, the rebuild, the scenarios)
// does not wait behind quick ones; the estimate orders, it never limits.
type Estimator interface {
	ExpectedDuration() time.Duration
}

// defaultExpected is the estimate of an analyzer that gives none: the
// quick checks (manifest, licences) take milliseconds.
const defaultExpected = 10 * time.Millisecond

// longestPaths returns, for each node, the expected duration of the
// longest chain that starts with it: its own estimate plus the longest of
// those that require it. Edges on a cycle were dropped before this runs.
func longestPaths(order []*node) map[*node]time.Duration {
	dependents := make(map[*node][]*node, len(order))
	for _, n := range order {
		for _, d := range n.deps {
			dependents[d] = append(dependents[d], n)
		}
	}
	memo := make(map[*node]time.Duration, len(order))
	var path func(n *node) time.Duration
	path = func(n *node) time.Duration {
		if p, ok := memo[n]; ok {
			return p
		}
		memo[n] = 0 // guards a cycle that slipped through
		own := defaultExpected
		if e, ok := n.a.(Estimator); ok && e.ExpectedDuration() > 0 {
			own = e.ExpectedDuration()
		}
		var longest time.Duration
		for _, m := range dependents[n] {
			longest = max(longest, path(m))
		}
		memo[n] = own + longest
		return memo[n]
	}
	for _, n := range order {
		path(n)
	}
	return memo
}

// gate lets at most slots holders in at once; a freed slot goes to the
// waiter with the highest priority (the longest path), and among equals
// to the first that asked.
type gate struct {
	mu      sync.Mutex
	free    int
	waiters []*waiter
}

type waiter struct {
	prio  time.Duration
	ready chan struct{}
}

func newGate(slots int) *gate { return &gate{free: max(1, slots)} }

// acquire waits for a slot; it fails only when ctx ends first.
func (g *gate) acquire(ctx context.Context, prio time.Duration) error {
	g.mu.Lock()
	if g.free > 0 && len(g.waiters) == 0 {
		g.free--
		g.mu.Unlock()
		return nil
	}
	w := &waiter{prio: prio, ready: make(chan struct{})}
	g.waiters = append(g.waiters, w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		for i, x := range g.waiters {
			if x == w {
				g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// The slot was handed over as ctx ended: give it back.
		g.releaseLocked()
		return ctx.Err()
	}
}

// release frees a slot, handing it to the highest-priority waiter.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

func (g *gate) releaseLocked() {
	if len(g.waiters) == 0 {
		g.free++
		return
	}
	best := 0
	for i, w := range g.waiters {
		if w.prio > g.waiters[best].prio {
			best = i
		}
	}
	w := g.waiters[best]
	g.waiters = append(g.waiters[:best], g.waiters[best+1:]...)
	close(w.ready)
}
