package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// Plugin is a loaded plugin version. It is safe for concurrent use. Under
// the default IsolationCall no call ever sees another call's memory (see
// the package comment).
type Plugin struct {
	rt       *Runtime
	ref      PluginRef
	manifest *manifest.Manifest
	grants   []manifest.Permission
	limits   Limits
	log      *slog.Logger

	wrt      wazero.Runtime
	compiled wazero.CompiledModule
	// loaded counts the Plugins sharing wrt, the mounts and the fetcher
	// (see Fork); the last one closed releases them.
	loaded    *loadRefs
	modCfg    wazero.ModuleConfig
	exports   map[string]bool
	isolation Isolation
	// interrupt is whether the module carries the rewrite's interrupt
	// checks, which stop its calls (see interrupt.go); otherwise wazero's
	// close-on-context-done does.
	interrupt bool
	// pool holds live instances; nil means a fresh instance per call.
	pool *pool

	fetch   *fetcher
	mounts  mounts
	secrets map[string]bool
	// retention is the manifest's data retention, which the values the
	// plugin stores expire on; nil when it declares none.
	retention *retention
	// leases are the secrets held for the plugin's lifetime
	// (SecretsPerPlugin); lifetime says which set secret_get uses.
	leases   *leaseSet
	lifetime SecretLifetime
	dataR    map[string]bool
	dataW    map[string]bool
	data     DataFunc

	sem     chan struct{}
	bucket  *tokenBucket
	breaker *breaker

	memMu   sync.Mutex
	memHigh uint64

	mu       sync.Mutex
	inflight int
	retired  bool
	closed   bool
	drained  chan struct{}
}

// Ref returns the plugin's id and version.
func (p *Plugin) Ref() PluginRef { return p.ref }

// Manifest returns the plugin's manifest.
func (p *Plugin) Manifest() *manifest.Manifest { return p.manifest }

// Grants returns the permissions the plugin runs with.
func (p *Plugin) Grants() []manifest.Permission {
	return append([]manifest.Permission(nil), p.grants...)
}

// Limits returns the limits the plugin runs under.
func (p *Plugin) Limits() Limits { return p.limits }

// BreakerState returns the state of the plugin's circuit breaker.
func (p *Plugin) BreakerState() BreakerState { return p.breaker.State() }

// Result is what a call produced and how it behaved. Call returns it on
// failure too, as far as the call got.
type Result struct {
	// Output is what the plugin set with output_set (nil on failure).
	Output []byte
	// Duration is the call's wall time, including the initialisation of
	// a new instance when the call had to make one (see Warm).
	Duration time.Duration
	// MemoryBytes is the largest the instance's linear memory grew to.
	MemoryBytes uint64
	// HostCalls lists the capability host calls made (kv, fetch, fs,
	// secret, data), in order.
	HostCalls []HostCall
	// Logs are the lines logged with the log host function; LogsDropped
	// counts those over the limit.
	Logs        []LogLine
	LogsDropped int
	// Stdout and Stderr are what the plugin wrote through WASI, up to the
	// output limit each.
	Stdout, Stderr []byte
}

// HostCall is one capability host call.
type HostCall struct {
	Function string `json:"function"`
	// Target is the key, URL, path, secret name or data scope.
	Target string         `json:"target"`
	Status hostapi.Status `json:"status"`
}

// LogLine is a line logged by the plugin.
type LogLine struct {
	Level     int    `json:"level"`
	Message   string `json:"message"`
	Truncated bool   `json:"truncated,omitempty"`
}

// Call runs export with input and returns its output. Under IsolationCall
// the instance is fresh or reset to its state after initialisation.
//
// On failure the error is a *CallError (or ErrClosed, or an unknown export
// error): KindBreakerOpen and KindThrottled without running; KindTimeout,
// KindOutOfMemory, KindTrap, KindOutputTooLarge or KindThrottled (host
// call budget) when the sandbox stopped the guest; KindPluginError when the
// plugin returned 1; KindDenied when the plugin failed (returned 1 or
// trapped) after a host function refused it something it was not granted.
// A plugin that handles a refusal and succeeds keeps its success; the
// refusal is in Result.HostCalls and the denials metric either way.
//
// A call beyond the plugin's concurrency limit waits up to Config.QueueWait
// for a slot (by default not at all) and is then throttled.
func (p *Plugin) Call(ctx context.Context, export string, input []byte) (Result, error) {
	if !p.acquire() {
		return Result{}, ErrClosed
	}
	defer p.release()
	return p.call(ctx, export, input)
}

// call is Call for a caller that has already registered the call.
func (p *Plugin) call(ctx context.Context, export string, input []byte) (Result, error) {
	if !p.exports[export] {
		return Result{}, fmt.Errorf("plugin %s@%s has no export %q; its manifest lists %s", p.ref.ID, p.ref.Version, export, strings.Join(p.manifest.Runtime.Exports, ", "))
	}
	m := p.rt.metrics
	ok, probe := p.breaker.allow()
	if !ok {
		m.calls.WithLabelValues(p.ref.ID, p.ref.Version, string(KindBreakerOpen)).Inc()
		return Result{}, p.callErr(export, KindBreakerOpen, "the plugin's circuit breaker is open after repeated failures; it will be probed again later", nil)
	}
	throttled := func(reason, msg string) (Result, error) {
		p.breaker.done(probe, outcomeNeutral)
		m.calls.WithLabelValues(p.ref.ID, p.ref.Version, string(KindThrottled)).Inc()
		m.throttles.WithLabelValues(p.ref.ID, p.ref.Version, reason).Inc()
		return Result{}, p.callErr(export, KindThrottled, msg, nil)
	}
	if !p.bucket.allow() {
		return throttled(ThrottleRate, fmt.Sprintf("the plugin is limited to %g calls a second", p.rt.cfg.RatePerSecond))
	}
	if !p.acquireSlot(ctx) {
		return throttled(ThrottleConcurrency, fmt.Sprintf("the plugin already runs %d calls, its limit", cap(p.sem)))
	}
	defer func() { <-p.sem }()

	res, cerr := p.run(ctx, export, input)

	kind := ResultOK
	o := outcomeSuccess
	if cerr != nil {
		kind = string(cerr.Kind)
		switch cerr.Kind {
		case KindPluginError:
			o = outcomeSuccess
		case KindCanceled:
			o = outcomeNeutral
		default:
			o = outcomeFailure
		}
		if cerr.Kind == KindThrottled {
			m.throttles.WithLabelValues(p.ref.ID, p.ref.Version, ThrottleHostCalls).Inc()
		}
	}
	p.breaker.done(probe, o)
	m.calls.WithLabelValues(p.ref.ID, p.ref.Version, kind).Inc()
	m.latency.WithLabelValues(p.ref.ID, p.ref.Version).Observe(res.Duration.Seconds())
	p.noteMemory(res.MemoryBytes)
	if cerr != nil {
		lvl := slog.LevelWarn
		if cerr.Kind == KindPluginError {
			lvl = slog.LevelInfo
		}
		p.log.LogAttrs(ctx, lvl, "plugin call failed", slog.String("export", export),
			slog.String("kind", string(cerr.Kind)), slog.String("error", cerr.Msg),
			slog.Duration("duration", res.Duration), slog.Uint64("memory_bytes", res.MemoryBytes))
		return res, cerr
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "plugin call", slog.String("export", export),
		slog.Duration("duration", res.Duration), slog.Uint64("memory_bytes", res.MemoryBytes),
		slog.Int("host_calls", len(res.HostCalls)))
	return res, nil
}

func (p *Plugin) acquireSlot(ctx context.Context) bool {
	select {
	case p.sem <- struct{}{}:
		return true
	default:
	}
	wait := p.rt.cfg.QueueWait
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case p.sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (p *Plugin) noteMemory(n uint64) {
	p.memMu.Lock()
	defer p.memMu.Unlock()
	if n > p.memHigh {
		p.memHigh = n
		p.rt.metrics.memory.WithLabelValues(p.ref.ID, p.ref.Version).Set(float64(n))
	}
}

func (p *Plugin) callErr(export string, kind ErrorKind, msg string, err error) *CallError {
	return &CallError{Kind: kind, Plugin: p.ref.ID, Version: p.ref.Version, Export: export, Msg: msg, Err: err}
}

// errAbort is the panic a host function raises to end a call after it has
// recorded the breach in the call's state.
var errAbort = errors.New("call aborted by the host")

// begin sets up the state of a call (or of Warm's initialisation) under
// a wall-time limit, timeout: the returned context ends at the deadline,
// when the caller's context ends, or when the sandbox cancels it (output
// over its limit), and wazero then stops the guest; host functions reach
// st through it. end releases the context.
func (p *Plugin) begin(ctx context.Context, export string, input []byte, timeout time.Duration) (context.Context, *callState, func()) {
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	ctx, cancel := context.WithCancelCause(ctx)
	st := &callState{p: p, export: export, input: input, cancel: cancel, done: ctx.Done(), leases: &leaseSet{}}
	st.stdout = &capWriter{max: p.limits.OutputBytes, name: "stdout", st: st}
	st.stderr = &capWriter{max: p.limits.OutputBytes, name: "stderr", st: st}
	ctx = context.WithValue(ctx, callStateKey{}, st)
	return ctx, st, func() {
		cancel(nil)
		cancelTimeout()
		// A call's leases end with it, whatever became of the call; the
		// revocation must not depend on the call's own (ended) context.
		st.leases.release(context.WithoutCancel(ctx), p.rt.cfg.Secrets, p.log)
	}
}

// run calls export in a fresh, reset or (IsolationPlugin) warm instance and
// classifies the end.
func (p *Plugin) run(ctx context.Context, export string, input []byte) (Result, *CallError) {
	start := time.Now()
	ctx, st, end := p.begin(ctx, export, input, p.limits.Timeout)
	defer end()

	var (
		mod  api.Module
		inst *instance
		intr *interrupter
		err  error
	)
	if p.pool != nil {
		inst, err = p.takeInstance(ctx, st)
		if inst != nil {
			mod = inst.mod
		}
	} else {
		cfg := p.modCfg.WithStdout(st.stdout).WithStderr(st.stderr).
			// wazero's own nanosleep cannot be interrupted, so a guest
			// asleep in poll_oneoff would outlive its deadline; this one
			// wakes when the call's context ends.
			WithNanosleep(func(ns int64) { sleep(time.Duration(ns), st.done) })
		mod, intr, err = p.instantiate(ctx, st, cfg, true)
	}
	var status uint64
	var memBytes uint64
	if err == nil {
		var results []uint64
		fn := mod.ExportedFunction(export)
		if inst != nil {
			fn, intr = inst.function(export), inst.intr
		}
		var disarm func() bool
		if intr != nil {
			disarm = intr.arm(ctx)
		}
		results, err = fn.Call(ctx)
		if disarm != nil && disarm() {
			st.stopped = true
		}
		if err == nil && len(results) == 1 {
			status = results[0]
		}
		memBytes = memorySize(mod)
		if inst != nil {
			s := api.DecodeI32(status)
			p.putInstance(inst, st, err == nil && st.breach == nil && (s == 0 || s == 1))
		} else {
			mod.Close(context.Background())
		}
	}
	st.scrub()
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
		return res, st.breach
	}
	if err != nil {
		return res, p.classify(ctx, export, err, st, false)
	}
	switch api.DecodeI32(status) {
	case 0:
		res.Output = st.output
		return res, nil
	case 1:
		msg := st.errMsg
		if msg == "" {
			msg = "the plugin reported an error without a message"
		}
		if st.denied > 0 {
			return res, p.callErr(export, KindDenied, "the plugin failed after being refused "+st.firstDenial+": "+msg, nil)
		}
		return res, p.callErr(export, KindPluginError, msg, nil)
	default:
		return res, p.callErr(export, KindTrap, fmt.Sprintf("the export returned status %d; exports return 0 (success) or 1 (error)", api.DecodeI32(status)), nil)
	}
}

// classify turns the error of an instantiation or call into a CallError.
// With initialising, the error is of a new instance's initialisation
// (Warm), and the message says so. A trap after a refused host call is
// KindDenied.
func (p *Plugin) classify(ctx context.Context, export string, err error, st *callState, initialising bool) *CallError {
	ce := p.classifyErr(ctx, export, err, st, initialising)
	if ce.Kind == KindTrap && st.denied > 0 {
		ce.Kind = KindDenied
		ce.Msg = "the plugin failed after being refused " + st.firstDenial + ": " + ce.Msg
	}
	return ce
}

func (p *Plugin) classifyErr(ctx context.Context, export string, err error, st *callState, initialising bool) *CallError {
	what, while := "the call", ""
	if initialising {
		what, while = "the plugin's initialisation", " while initialising"
	}
	if st.stopped {
		// The interrupt checks stopped the guest because the call's
		// context ended (see interrupt.go).
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return p.callErr(export, KindTimeout, fmt.Sprintf("%s ran longer than its %s limit and was stopped", what, p.limits.Timeout), err)
		}
		return p.callErr(export, KindCanceled, "the caller canceled "+what+"; the plugin was stopped", err)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return p.callErr(export, KindTimeout, fmt.Sprintf("%s ran longer than its %s limit and was stopped", what, p.limits.Timeout), err)
		case sys.ExitCodeContextCanceled:
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return p.callErr(export, KindTimeout, fmt.Sprintf("%s ran longer than its %s limit and was stopped", what, p.limits.Timeout), err)
			}
			return p.callErr(export, KindCanceled, "the caller canceled "+what+"; the plugin was stopped", err)
		}
	}
	stderr := st.stderr.buf.String()
	// Go's runtime reports a failed memory.grow as a fatal "out of memory"
	// and exits; other guests trap when they touch memory they could not
	// get. Either way the memory is at (or within a growth step of) the cap.
	if strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory") {
		return p.callErr(export, KindOutOfMemory, fmt.Sprintf("the plugin needed more than its %d MiB of memory%s", p.limits.MemoryBytes>>20, while), err)
	}
	msg := "the plugin crashed" + while + ": " + firstLine(err.Error())
	if exit != nil {
		msg = fmt.Sprintf("the plugin exited with code %d%s", exit.ExitCode(), while)
	}
	if tail := lastLines(stderr, 3); tail != "" {
		msg += " (stderr: " + tail + ")"
	}
	return p.callErr(export, KindTrap, msg, err)
}

// memorySize returns the size of mod's memory. wazero returns a typed nil
// for a module without memory, which a plain nil check misses.
func memorySize(mod api.Module) uint64 {
	mem := mod.Memory()
	if mem == nil || reflect.ValueOf(mem).IsNil() {
		return 0
	}
	return uint64(mem.Size())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// lastLines returns up to n of the first meaningful lines of a Go panic
// report (the "panic:" or "fatal error:" line and what follows), or the
// last n lines of anything else, bounded in length.
func lastLines(s string, n int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
			lines = lines[i:]
			break
		}
	}
	if len(lines) > n {
		lines = lines[:n]
	}
	out := strings.Join(lines, " | ")
	if len(out) > 512 {
		out = out[:512] + "…"
	}
	return out
}

// capWriter captures stdout or stderr up to max bytes. Going over ends the
// call with KindOutputTooLarge: it cancels the call's context, and wazero
// then stops the guest.
type capWriter struct {
	buf  bytes.Buffer
	max  int
	name string
	st   *callState
	over bool
}

var errOutputLimit = errors.New("output limit exceeded")

func (w *capWriter) Write(b []byte) (int, error) {
	if w.over {
		return 0, errOutputLimit
	}
	if w.buf.Len()+len(b) > w.max {
		n := w.max - w.buf.Len()
		w.buf.Write(b[:n])
		w.over = true
		w.st.breachWith(KindOutputTooLarge, fmt.Sprintf("the plugin wrote more than %d bytes to %s", w.max, w.name))
		w.st.cancel(errOutputLimit)
		return n, errOutputLimit
	}
	return w.buf.Write(b)
}

// acquire registers a call in flight; it fails once the plugin is retired.
func (p *Plugin) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired {
		return false
	}
	p.inflight++
	return true
}

func (p *Plugin) release() {
	p.mu.Lock()
	p.inflight--
	done := p.retired && p.inflight == 0 && !p.closed
	if done {
		p.closed = true
	}
	p.mu.Unlock()
	if done {
		p.closeNow()
	}
}

// retire stops new calls and closes the plugin once the calls in flight
// have finished (at once if there are none). It does not wait.
func (p *Plugin) retire() {
	p.mu.Lock()
	if p.retired {
		p.mu.Unlock()
		return
	}
	p.retired = true
	done := p.inflight == 0 && !p.closed
	if done {
		p.closed = true
	}
	p.mu.Unlock()
	if done {
		p.closeNow()
	}
}

// Close stops new calls, waits (up to ctx) for the calls in flight, and
// releases the plugin's resources. Calls after Close return ErrClosed.
func (p *Plugin) Close(ctx context.Context) error {
	p.retire()
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing plugin %s@%s: calls still in flight: %w", p.ref.ID, p.ref.Version, ctx.Err())
	}
}

func (p *Plugin) closeNow() {
	if p.pool != nil {
		// No call is in flight, so every live instance is idle in the
		// pool. They are closed here, not with the wazero runtime, which
		// a fork may still be using; then their mappings are gone and
		// the image is no longer needed.
		for done := false; !done; {
			select {
			case inst := <-p.pool.free:
				inst.mod.Close(context.Background())
			default:
				done = true
			}
		}
		if s := p.pool.snap.Load(); s != nil {
			s.image.close()
		}
	}
	if p.loaded.release() {
		p.wrt.Close(context.Background())
		p.mounts.close()
		p.fetch.close()
	}
	p.leases.release(context.Background(), p.rt.cfg.Secrets, p.log)
	p.log.Info("plugin closed")
	close(p.drained)
}

// loadRefs counts the Plugins that share one load's wazero runtime,
// compiled module, mounts and fetcher.
type loadRefs struct {
	mu   sync.Mutex
	refs int
}

// hold adds a Plugin; it fails once the last one has released the load.
func (l *loadRefs) hold() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refs == 0 {
		return false
	}
	l.refs++
	return true
}

// release drops a Plugin and reports whether it was the last.
func (l *loadRefs) release() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refs--
	return l.refs == 0
}

// Fork returns another Plugin of p's version, loaded as p was (same
// module, grants, mounts, network leg and data source) but sharing none
// of its state: its instances and snapshot, and so its initialisation,
// are its own, as are its concurrency slots, rate limit, circuit breaker
// and secret leases. It is what Load with p's request would return,
// without decoding, validating and compiling the module again: the
// scenario runner compares two initialisations of one version this way.
// Each must be closed; what they share is released with the last. Fork
// fails with ErrClosed once p is closed or unloaded.
func (p *Plugin) Fork() (*Plugin, error) {
	if !p.acquire() {
		return nil, ErrClosed
	}
	defer p.release()
	if !p.loaded.hold() {
		return nil, ErrClosed
	}
	f := &Plugin{
		rt: p.rt, ref: p.ref, manifest: p.manifest, grants: p.grants, limits: p.limits, log: p.log,
		wrt: p.wrt, compiled: p.compiled, loaded: p.loaded, modCfg: p.modCfg, exports: p.exports,
		isolation: p.isolation, interrupt: p.interrupt,
		fetch: p.fetch, mounts: p.mounts, secrets: p.secrets, retention: p.retention,
		leases: &leaseSet{}, lifetime: p.lifetime,
		dataR: p.dataR, dataW: p.dataW, data: p.data,
		sem:     make(chan struct{}, p.limits.MaxConcurrent),
		bucket:  newTokenBucket(p.rt.cfg.RatePerSecond, p.rt.cfg.RateBurst, p.rt.cfg.Now),
		drained: make(chan struct{}),
	}
	if pl := p.pool; pl != nil {
		f.pool = &pool{free: make(chan *instance, cap(pl.free)), globals: pl.globals, snapshots: pl.snapshots, reset: pl.reset}
	}
	f.breaker = newBreaker(p.rt.cfg.Breaker, p.rt.cfg.Now, func(s BreakerState) {
		p.rt.metrics.breaker.WithLabelValues(f.ref.ID, f.ref.Version).Set(float64(s))
		f.log.Warn("plugin circuit breaker changed state", "state", s.String())
	})
	return f, nil
}
