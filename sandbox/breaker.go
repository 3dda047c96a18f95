package sandbox

import (
	"sync"
	"time"
)

// BreakerState is the state of a plugin's circuit breaker.
type BreakerState int

const (
	// BreakerClosed: calls run.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen: the cool-down has passed; one probe call at a time
	// runs, the others are refused.
	BreakerHalfOpen
	// BreakerOpen: calls are refused with KindBreakerOpen.
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half_open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// BreakerConfig configures the circuit breaker of every plugin.
//
// The breaker counts a call as a failure when the sandbox had to stop or
// refuse the guest: a timeout, out of memory, a trap, output too large or
// a failed call after a denial. A plugin error (status 1 with error_set)
// is a success here: the plugin worked and rejected its input, and if
// those counted, any caller could switch a plugin off for everyone by
// sending it bad input. Throttled calls never ran and are not counted.
type BreakerConfig struct {
	// Disabled turns the breaker off.
	Disabled bool
	// Window is the sliding window the error rate is measured over
	// (default 1 minute), in Buckets slices (default 10).
	Window  time.Duration
	Buckets int
	// MinCalls is the number of calls in the window before the breaker may
	// open (default 20).
	MinCalls int
	// FailureRate opens the breaker when failures/calls reaches it
	// (default 0.5).
	FailureRate float64
	// Cooldown is how long the breaker stays open before a probe (default
	// 30 seconds).
	Cooldown time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.Buckets <= 0 {
		c.Buckets = 10
	}
	if c.MinCalls <= 0 {
		c.MinCalls = 20
	}
	if c.FailureRate <= 0 {
		c.FailureRate = 0.5
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 30 * time.Second
	}
	return c
}

type outcome int

const (
	outcomeNeutral outcome = iota // did not run: not counted
	outcomeSuccess
	outcomeFailure
)

type bucket struct {
	start         time.Time
	calls, failed int
}

// breaker is a sliding-window circuit breaker.
type breaker struct {
	cfg      BreakerConfig
	now      func() time.Time
	onChange func(BreakerState)

	mu       sync.Mutex
	state    BreakerState
	openedAt time.Time
	probing  bool
	buckets  []bucket
}

func newBreaker(cfg BreakerConfig, now func() time.Time, onChange func(BreakerState)) *breaker {
	cfg = cfg.withDefaults()
	return &breaker{cfg: cfg, now: now, onChange: onChange, buckets: make([]bucket, cfg.Buckets)}
}

// State returns the current state, moving from open to half-open when the
// cool-down has passed.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick()
	return b.state
}

func (b *breaker) setState(s BreakerState) {
	if b.state == s {
		return
	}
	b.state = s
	if b.onChange != nil {
		b.onChange(s)
	}
}

func (b *breaker) tick() {
	if b.state == BreakerOpen && b.now().Sub(b.openedAt) >= b.cfg.Cooldown {
		b.setState(BreakerHalfOpen)
		b.probing = false
	}
}

// allow reports whether a call may run, and whether it is the probe of a
// half-open breaker (whose outcome must then be reported with done).
func (b *breaker) allow() (ok, probe bool) {
	if b.cfg.Disabled {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick()
	switch b.state {
	case BreakerOpen:
		return false, false
	case BreakerHalfOpen:
		if b.probing {
			return false, false
		}
		b.probing = true
		return true, true
	}
	return true, false
}

// done records a call's outcome.
func (b *breaker) done(probe bool, o outcome) {
	if b.cfg.Disabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		switch o {
		case outcomeSuccess:
			b.reset()
			b.setState(BreakerClosed)
		case outcomeFailure:
			b.openedAt = b.now()
			b.setState(BreakerOpen)
		}
		return
	}
	if o == outcomeNeutral || b.state != BreakerClosed {
		return
	}
	now := b.now()
	width := b.cfg.Window / time.Duration(b.cfg.Buckets)
	start := now.Truncate(width)
	cur := &b.buckets[int(start.UnixNano()/int64(width))%len(b.buckets)]
	if !cur.start.Equal(start) {
		*cur = bucket{start: start}
	}
	cur.calls++
	if o == outcomeFailure {
		cur.failed++
	}
	var calls, failed int
	for _, bk := range b.buckets {
		if now.Sub(bk.start) < b.cfg.Window {
			calls += bk.calls
			failed += bk.failed
		}
	}
	if calls >= b.cfg.MinCalls && float64(failed) >= b.cfg.FailureRate*float64(calls) {
		b.openedAt = now
		b.setState(BreakerOpen)
	}
}

func (b *breaker) reset() {
	for i := range b.buckets {
		b.buckets[i] = bucket{}
	}
}
