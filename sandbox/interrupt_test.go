package sandbox

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"gatehouse.dev/gatehouse/manifest"
)

// codeModule is a hand-written module with one memory page, the function
// types types, the functions funcs (each a type index) with bodies
// bodies (locals included), and exports naming functions.
func codeModule(types [][]byte, imports [][]byte, funcs []byte, bodies [][]byte, exports map[string]uint32) []byte {
	mod := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	mod = append(mod, section(1, types...)...)
	if len(imports) > 0 {
		mod = append(mod, section(2, imports...)...)
	}
	fs := make([][]byte, len(funcs))
	for i, f := range funcs {
		fs[i] = uleb(uint32(f))
	}
	mod = append(mod, section(3, fs...)...)
	mod = append(mod, section(5, []byte{0x00, 0x01})...) // one memory, min 1 page
	var exps [][]byte
	for name, idx := range exports {
		exps = append(exps, append(append(wasmName(name), 0x00), uleb(idx)...))
	}
	mod = append(mod, section(7, exps...)...)
	code := make([][]byte, len(bodies))
	for i, b := range bodies {
		code[i] = append(uleb(uint32(len(b))), b...)
	}
	return append(mod, section(10, code...)...)
}

// fibModule exports run () -> i32, which computes fib(90) by naive
// recursion: about 2^62 calls and not a single loop, so only a check at
// function entries can stop it.
func fibModule() []byte {
	run := append(append([]byte{0x00, 0x41}, sleb(90)...), 0x10, 0x01, 0x1a, 0x41, 0x00, 0x0b) // fib(90); drop; i32.const 0
	fib := []byte{0x00,
		0x20, 0x00, 0x41, 0x02, 0x48, // n < 2
		0x04, 0x7f, 0x20, 0x00, // if (result i32) n
		0x05,                                     // else
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01, // fib(n-1)
		0x20, 0x00, 0x41, 0x02, 0x6b, 0x10, 0x01, // fib(n-2)
		0x6a, 0x0b, 0x0b} // add; end; end
	return codeModule([][]byte{functype(nil, []byte{0x7f}), functype([]byte{0x7f}, []byte{0x7f})}, nil,
		[]byte{0, 1}, [][]byte{run, fib}, map[string]uint32{"run": 0})
}

// sumBody is sum(n i32) -> i32: n + (n-1) + ... + 1 in a loop.
var sumBody = []byte{0x01, 0x01, 0x7f, // one i32 local, the sum
	0x02, 0x40, 0x03, 0x40, // block; loop
	0x20, 0x00, 0x45, 0x0d, 0x01, // br_if 1 (n == 0)
	0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01, // sum += n
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, // n--
	0x0c, 0x00, 0x0b, 0x0b, // br 0; end; end
	0x20, 0x01, 0x0b}

func sumModule() []byte {
	return codeModule([][]byte{functype([]byte{0x7f}, []byte{0x7f})}, nil, []byte{0}, [][]byte{sumBody}, map[string]uint32{"sum": 0})
}

// TestInterruptChecksKeepResults: the rewrite's checks do not change what
// a function computes, across many turns of the countdown (the loop runs
// 20000 times, so the check's branch out to Go is taken several times).
func TestInterruptChecksKeepResults(t *testing.T) {
	ctx := context.Background()
	out, info, err := prepareModule(sumModule(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !info.interrupt {
		t.Fatal("the rewrite did not instrument a module with a memory and a loop")
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{0, 1, 100, interruptInterval, 20000} {
		res, err := mod.ExportedFunction("sum").Call(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if want := n * (n + 1) / 2; res[0] != want {
			t.Errorf("sum(%d) = %d, want %d", n, res[0], want)
		}
	}
	if got := mod.ExportedGlobal(stopExport).Get(); got != 0 {
		t.Errorf("stop flag = %d after calls nobody stopped", got)
	}
	// Set, the flag stops the guest at its next visit to Go.
	intr := newInterrupter(mod)
	if intr == nil {
		t.Fatal("the instrumented module has no interrupt globals")
	}
	intr.stop.Set(1)
	if _, err := mod.ExportedFunction("sum").Call(ctx, 20000); err == nil {
		t.Error("a guest with the stop flag set ran to the end")
	}
}

// TestGuestCannotReachTheInterruptGlobals: a module whose code sets a
// global it does not declare (the index the countdown would get) is not
// instrumented, so it cannot hold the countdown off, and it does not load.
func TestGuestCannotReachTheInterruptGlobals(t *testing.T) {
	// run: loop { countdown := 1000; br 0 } written as global.set 0 in a
	// module that declares no global.
	run := []byte{0x00, 0x03, 0x40, 0x41, 0xe8, 0x07, 0x24, 0x00, 0x0c, 0x00, 0x0b, 0x41, 0x00, 0x0b}
	mod := codeModule([][]byte{functype(nil, []byte{0x7f})}, nil, []byte{0}, [][]byte{run}, map[string]uint32{"run": 0})
	_, info, err := prepareModule(mod, true)
	if err != nil {
		t.Fatal(err)
	}
	if info.interrupt {
		t.Fatal("the rewrite instrumented a module that sets the global the countdown would become")
	}
	env := newEnv(t, nil)
	if _, err := env.rt.Load(context.Background(), LoadRequest{Manifest: testManifest("evil/countdown", []string{"run"}), Module: mod}); KindOf(err) != KindLoadFailed {
		t.Fatalf("load = %v, want a load failure", err)
	}
}

// TestGoPluginsUseInterruptChecks: Go plugins get the cheap checks, not
// wazero's close-on-context-done, and the benchmark's floor (no way to
// stop a guest) is never what a plugin gets by default.
func TestGoPluginsUseInterruptChecks(t *testing.T) {
	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{Manifest: testManifest("acme/echo", []string{"echo"}), Module: buildPlugin(t, "echo")})
	if !p.interrupt {
		t.Fatal("a Go plugin was not instrumented with the interrupt checks")
	}
	if env.rt.cfg.stopWith != stopChecks {
		t.Fatal("the default stop mechanism is not the interrupt checks")
	}
}

// TestHostileRecursionWithoutLoops: exponential recursion with no loop is
// stopped at its deadline, and by its caller's cancel.
func TestHostileRecursionWithoutLoops(t *testing.T) {
	env := newEnv(t, nil)
	m := testManifest("evil/fib", []string{"run"})
	m.Limits = &manifest.Limits{TimeoutMillis: 200}
	p := env.load(t, LoadRequest{Manifest: m, Module: fibModule()})
	if !p.interrupt {
		t.Fatal("the module was not instrumented")
	}
	_, err := p.Call(context.Background(), "run", nil)
	wantKind(t, err, KindTimeout)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the call is running (a call started with a done
		// context would prove nothing).
		for p.inflightCalls() == 0 {
			runtime.Gosched()
		}
		cancel()
	}()
	_, err = p.Call(ctx, "run", nil)
	wantKind(t, err, KindCanceled)
}

// TestCloseFromAnotherGoroutineDoesNotStopALoop records why the sandbox
// has its own checks: without WithCloseOnContextDone, closing a module
// from another goroutine while its guest code runs does not stop a loop;
// the loop runs to its end. (Were this to change in wazero, closing from a
// timer would be a candidate mechanism again.)
func TestCloseFromAnotherGoroutineDoesNotStopALoop(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	const iterations = 50_000_000
	var mod api.Module
	var finished uint32
	_, err := rt.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(ctx context.Context) {
		// Closed before the loop starts, and from another goroutine.
		done := make(chan struct{})
		go func() { mod.CloseWithExitCode(ctx, 7); close(done) }()
		<-done
	}).Export("started").
		NewFunctionBuilder().WithFunc(func(n uint32) { finished = n }).Export("finished").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	imports := [][]byte{
		append(append(wasmName("env"), wasmName("started")...), 0x00, 0x00),
		append(append(wasmName("env"), wasmName("finished")...), 0x00, 0x01),
	}
	// run: started(); i := 0; loop { i++; br_if i < iterations }; finished(i)
	run := []byte{0x01, 0x01, 0x7f, 0x10, 0x00,
		0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x22, 0x00, 0x41}
	run = append(run, sleb(iterations)...)
	run = append(run, 0x49, 0x0d, 0x00, 0x0b, 0x20, 0x00, 0x10, 0x01, 0x0b)
	mod, err = rt.Instantiate(ctx, codeModule(
		[][]byte{functype(nil, nil), functype([]byte{0x7f}, nil)}, imports,
		[]byte{0}, [][]byte{run}, map[string]uint32{"run": 2}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.ExportedFunction("run").Call(ctx)
	if finished != iterations {
		t.Fatalf("the loop stopped after the close (finished = %d, err %v); wazero now stops a closed module's loop", finished, err)
	}
	if err == nil {
		t.Error("the call of a closed module reported no error")
	}
}

// inflightCalls returns how many calls have been registered and not ended.
func (p *Plugin) inflightCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight
}

// TestRunawayGuestsDoNotStallTheProcess: with more runaway guests than
// cores, so that every thread the scheduler has is in guest code, the
// collector still completes a cycle (it must stop the world, which a guest
// that never left its machine code would block) and every call still
// ends at its deadline.
func TestRunawayGuestsDoNotStallTheProcess(t *testing.T) {
	env := newEnv(t, nil)
	p := hostile(t, env, "loop", []string{"run"}, &manifest.Limits{TimeoutMillis: 500})
	n := runtime.GOMAXPROCS(0) + 1
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := p.Call(context.Background(), "run", nil)
			errs <- err
		}()
	}
	for p.inflightCalls() < n {
		runtime.Gosched()
	}
	runtime.GC()
	for range n {
		wantKind(t, <-errs, KindTimeout)
	}
}

// TestLoadRefusesFunctionTypePastTypes: a module declaring a function of
// type 48 with two types (and a call to it) made wazero's validator panic,
// which would have taken the host down at Load; it is refused first
// (found by FuzzPrepareModule).
func TestLoadRefusesFunctionTypePastTypes(t *testing.T) {
	mod := []byte("\x00asm\x01\x00\x00\x00\x01\n\x02`\x00\x01\x7f`\x01\x7f\x01\x7f\x03\x03\x02\x000\x05\x03\x01\x000\a\a\x01\x03000\x00\x00\n)\x02\n\x00A0\x00\x10\x01000\v\x1c\x0000000000000000000000000000\v")
	if _, _, err := prepareModule(mod, true); err == nil || !strings.Contains(err.Error(), "type index") {
		t.Fatalf("prepareModule = %v, want the type index refused", err)
	}
	env := newEnv(t, nil)
	_, err := env.rt.Load(context.Background(), LoadRequest{Manifest: testManifest("evil/types", []string{"000"}), Module: mod})
	if KindOf(err) != KindLoadFailed {
		t.Fatalf("load = %v, want a load failure", err)
	}
}
