package vet

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// estimated is an analyzer with an expected duration, for the scheduler.
type estimated struct {
	name     string
	requires []string
	expected time.Duration
}

func (e estimated) Name() string                                   { return e.name }
func (estimated) Version() string                                  { return "1" }
func (e estimated) Requires() []string                             { return e.requires }
func (estimated) Timeout() time.Duration                           { return time.Minute }
func (estimated) Rules() []Rule                                    { return nil }
func (e estimated) ExpectedDuration() time.Duration                { return e.expected }
func (estimated) Analyze(context.Context, *Input) (*Report, error) { return &Report{}, nil }

// TestLongestPathCountsWhatWaits: an analyzer's priority is its own
// estimate plus the longest chain of analyzers that wait for it, so a
// quick analyzer that a slow one requires starts before a slow loner.
func TestLongestPathCountsWhatWaits(t *testing.T) {
	as := map[string]estimated{
		"source":     {name: "source", expected: 900 * time.Millisecond},
		"manifest":   {name: "manifest", expected: 5 * time.Millisecond},
		"behaviour":  {name: "behaviour", requires: []string{"manifest"}, expected: 2 * time.Second},
		"provenance": {name: "provenance", requires: []string{"manifest"}, expected: 1500 * time.Millisecond},
		"licenses":   {name: "licenses"}, // no estimate: the default
	}
	nodes := map[string]*node{}
	var order []*node
	for _, name := range []string{"source", "manifest", "behaviour", "provenance", "licenses"} {
		n := &node{a: as[name], name: name}
		nodes[name] = n
		order = append(order, n)
	}
	for _, n := range order {
		for _, d := range n.a.Requires() {
			n.deps = append(n.deps, nodes[d])
		}
	}
	got := longestPaths(order)
	want := map[string]time.Duration{
		"source":     900 * time.Millisecond,
		"manifest":   5*time.Millisecond + 2*time.Second,
		"behaviour":  2 * time.Second,
		"provenance": 1500 * time.Millisecond,
		"licenses":   defaultExpected,
	}
	for name, w := range want {
		if got[nodes[name]] != w {
			t.Errorf("longest path from %s = %s, want %s", name, got[nodes[name]], w)
		}
	}
}

// waitFor blocks until n callers wait at g.
func waitFor(t *testing.T, g *gate, n int) {
	t.Helper()
	for {
		g.mu.Lock()
		k := len(g.waiters)
		g.mu.Unlock()
		if k == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGateServesTheLongestPathFirst: with every slot taken, a freed slot
// goes to the waiter with the longest path, whatever order they came in;
// equals go in arrival order.
func TestGateServesTheLongestPathFirst(t *testing.T) {
	g := newGate(1)
	if err := g.acquire(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	for i, w := range []struct {
		name string
		prio time.Duration
	}{{"quick", 1}, {"longest", 30}, {"middle-a", 20}, {"middle-b", 20}} {
		go func() {
			if err := g.acquire(context.Background(), w.prio); err != nil {
				t.Error(err)
				return
			}
			got <- w.name
			g.release()
		}()
		waitFor(t, g, i+1)
	}
	g.release()
	var order []string
	for range 4 {
		order = append(order, <-got)
	}
	want := []string{"longest", "middle-a", "middle-b", "quick"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("slots went to %v, want %v", order, want)
		}
	}
}

// TestGateWaiterCanceled: a waiter whose context ends leaves the queue and
// takes no slot.
func TestGateWaiterCanceled(t *testing.T) {
	g := newGate(1)
	if err := g.acquire(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.acquire(ctx, 5) }()
	waitFor(t, g, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled waiter: %v", err)
	}
	g.release()
	if g.free != 1 || len(g.waiters) != 0 {
		t.Errorf("after the cancel and a release: %d free, %d waiting; want 1 and 0", g.free, len(g.waiters))
	}
}

// started is an estimated analyzer that reports its start and waits to be
// let go.
type started struct {
	estimated
	starts chan<- string
	finish <-chan struct{}
}

func (s started) Analyze(ctx context.Context, _ *Input) (*Report, error) {
	s.starts <- s.name
	select {
	case <-s.finish:
	case <-ctx.Done():
	}
	return &Report{}, nil
}

// TestRunStartsLongestFirst: with more analyzers ready than cores, the
// first to start are those with the longest expected durations, whatever
// order they were given in.
func TestRunStartsLongestFirst(t *testing.T) {
	slots := runtime.GOMAXPROCS(0)
	n := slots + 3
	starts := make(chan string, n)
	finish := make(chan struct{})
	var as []Analyzer
	for i := range n { // given shortest first
		as = append(as, started{
			estimated: estimated{name: fmt.Sprintf("a%02d", i), expected: time.Duration(i+1) * time.Second},
			starts:    starts, finish: finish,
		})
	}
	done := make(chan []Result)
	go func() { done <- Run(context.Background(), as, &Input{}, Config{}, nil) }()
	var first []string
	for range slots {
		first = append(first, <-starts)
	}
	close(finish)
	res := <-done
	slices.Sort(first)
	var want []string
	for i := n - slots; i < n; i++ {
		want = append(want, fmt.Sprintf("a%02d", i))
	}
	if !slices.Equal(first, want) {
		t.Errorf("the first %d to start were %v, want the longest %v", slots, first, want)
	}
	for _, r := range res {
		if r.Status != Passed {
			t.Errorf("%s: %s %s", r.Analyzer, r.Status, r.Reason)
		}
	}
}
