package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Warm makes one instance of a pooled plugin ahead of its first call and
// puts it in the plugin's pool, so that the next call starts from it
// instead of paying for the module's initialisation (for a Go plugin, its
// runtime's _initialize and package init functions). The first instance
// also takes the snapshot later instances start from (see the package
// comment), so those are cheap either way.
//
// Without Warm, the first call of a plugin (and of every version Host.Swap
// loads) initialises an instance within its own time limit: a plugin
// whose calls are quick but whose start-up is slow, or a busy machine,
// can make that call time out although the export itself is well within
// its limit. A host should call Warm after Load (and after Host.Swap or
// Host.Rollback, which load a version) so that no user call pays for
// initialisation; the scenario runner, and through it the behaviour
// analyzer, calls it after each Load so that a scenario times the
// plugin's call, not its start-up.
//
// The initialisation is bounded all the same: it runs under the plugin's
// own limits, time (Limits.Timeout, a budget of its own rather than the
// next call's, and of CPU time on Linux, so that a busy host does not
// make a plugin fail to start; see warm), memory, output and host calls,
// with no input, and is stopped as a call would be. On failure the error is a *CallError whose
// Msg says the initialisation failed: KindTimeout, KindOutOfMemory,
// KindTrap, KindOutputTooLarge, KindThrottled (host-call budget),
// KindDenied (the plugin failed after a refused host call), KindCanceled
// (ctx ended), or KindLoadFailed (the host could not set the instance
// up). A plugin that fails to initialise under Warm would fail its calls
// the same way, each call trying anew; Warm does not change that.
//
// The Result reports what the initialisation did, as Call's does for a
// call: its duration, the memory it left, the host calls it made (those
// refused included), its logs, stdout and stderr. They belong to no call:
// a call that starts from the warmed instance does not report them again.
//
// Warm does nothing, and returns a zero Result and nil, when the pool
// already holds an idle instance, and for a plugin without a pool: a
// module whose instances cannot be reset (see the package comment) is
// instantiated afresh for every call, so there is nothing to keep warm.
// It returns ErrClosed once the plugin is closed or unloaded.
//
// Warm is not a call: it is not counted in the calls, latency or memory
// metrics, does not consult or move the circuit breaker, the rate limit
// or the concurrency limit (it never makes a call throttled), and is safe
// to call concurrently with calls. If calls are running, the instance it
// made may find the pool full and be discarded, which is harmless.
func (p *Plugin) Warm(ctx context.Context) (Result, error) {
	if !p.acquire() {
		return Result{}, ErrClosed
	}
	defer p.release()
	if p.pool == nil || len(p.pool.free) > 0 {
		return Result{}, nil
	}
	res, cerr := p.warm(ctx)
	if cerr != nil {
		p.log.LogAttrs(ctx, slog.LevelWarn, "plugin initialisation failed",
			slog.String("kind", string(cerr.Kind)), slog.String("error", cerr.Msg),
			slog.Duration("duration", res.Duration), slog.Uint64("memory_bytes", res.MemoryBytes))
		return res, cerr
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "plugin warmed",
		slog.Duration("duration", res.Duration), slog.Uint64("memory_bytes", res.MemoryBytes),
		slog.Int("host_calls", len(res.HostCalls)))
	return res, nil
}

// setupError is a failure of the host to set up a new instance (as
// opposed to the module's initialisation failing).
type setupError struct{ error }

func (e setupError) Unwrap() error { return e.error }

// errInitCPU is the cause with which an initialisation is stopped once
// it has used its CPU time limit.
var errInitCPU = fmt.Errorf("the initialisation used its CPU time limit: %w", context.DeadlineExceeded)

// warm initialises a new instance under the plugin's limits, as run does
// for a call that finds the pool empty, and puts it in the pool.
//
// The time limit bounds the CPU time the initialisation uses, not its
// wall time. Starting a plugin (for a Go plugin, its runtime and package
// init functions) is tens of milliseconds of work, which a busy machine
// can stretch past a short limit meant for the plugin's calls; a plugin
// must not fail its vetting, or a host's warm-up, because the host was
// busy. The initialisation runs on this goroutine's thread, locked to it,
// so the thread's CPU clock counts the plugin's work (and that of the
// host functions it calls) and nothing else. Waiting uses no CPU time, so
// the wall time is bounded as well, by the host's ceiling on any call
// (Config.MaxTimeout). Where threads have no CPU clock (outside Linux),
// the limit is wall time, as for a call.
func (p *Plugin) warm(ctx context.Context) (Result, *CallError) {
	start := time.Now()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock, cpu := currentThreadClock()
	wall := p.limits.Timeout
	if cpu {
		wall = max(p.rt.cfg.MaxTimeout, p.limits.Timeout)
	}
	ctx, st, end := p.begin(ctx, "", nil, wall)
	defer end()
	if cpu {
		defer watchCPU(clock, p.limits.Timeout, st.cancel)()
	}

	inst, err := p.initInstance(ctx, st)
	var memBytes uint64
	if inst != nil {
		memBytes = memorySize(inst.mod)
		if st.breach != nil {
			inst.cur = nil
			inst.mod.Close(context.Background())
		} else {
			p.putInstance(inst, st, true)
		}
	}
	res := Result{
		Duration:    time.Since(start),
		MemoryBytes: memBytes,
		HostCalls:   st.hostCalls,
		Logs:        st.logs,
		LogsDropped: st.logsDropped,
		Stdout:      st.stdout.buf.Bytes(),
		Stderr:      st.stderr.buf.Bytes(),
	}
	if st.breach != nil {
		ce := *st.breach
		ce.Msg += " while initialising"
		return res, &ce
	}
	if err != nil {
		var se setupError
		if errors.As(err, &se) {
			return res, p.callErr("", KindLoadFailed, "a new instance of the plugin could not be set up: "+se.Error(), err)
		}
		ce := p.classify(ctx, "", err, st, true)
		if ce.Kind == KindTimeout && cpu {
			if errors.Is(context.Cause(ctx), errInitCPU) {
				ce.Msg = fmt.Sprintf("the plugin's initialisation ran longer than its %s limit of CPU time and was stopped", p.limits.Timeout)
			} else {
				ce.Msg = fmt.Sprintf("the plugin's initialisation was not done after %s, the host's longest wait for a plugin, and was stopped", wall)
			}
		}
		return res, ce
	}
	return res, nil
}

// watchCPU calls cancel with errInitCPU once the thread behind clock has
// used limit of CPU time from now on; the returned stop ends the watch
// and waits for it. A thread uses at most a second of CPU time a second,
// so the clock is read only when the limit could have been reached:
// first after limit of wall time, then after whatever of it is left.
func watchCPU(clock threadClock, limit time.Duration, cancel context.CancelCauseFunc) (stop func()) {
	start, _ := clock.now()
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(limit)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			now, ok := clock.now()
			used := now - start
			if !ok || used >= limit {
				cancel(errInitCPU)
				return
			}
			// Not less than a millisecond, so that the last microseconds
			// do not become a busy loop.
			t.Reset(max(limit-used, time.Millisecond))
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}
