package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"gatehouse.dev/gatehouse/manifest"
)

const secret = "s3cr3t-7f1c-do-not-carry"

// loadIsolation loads the isolation test plugin with a pool of one
// instance, so that consecutive calls use the same instance.
func loadIsolation(t *testing.T, iso Isolation, version string) (*testEnv, *Plugin) {
	t.Helper()
	env := newEnv(t, func(c *Config) { c.MaxConcurrent = 1 })
	m := testManifest("acme/isolation", []string{"remember", "recall", "grow", "zeroed"})
	m.Version = version
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "isolation"), Isolation: iso})
	return env, p
}

func recall(t *testing.T, p *Plugin) string {
	t.Helper()
	res, err := p.Call(context.Background(), "recall", nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Output)
}

// pooled takes the one pooled instance out of p's pool, failing if there
// is none; put it back with p.pool.free <- inst.
func pooled(t *testing.T, p *Plugin) *instance {
	t.Helper()
	select {
	case inst := <-p.pool.free:
		return inst
	default:
		t.Fatal("the pool holds no instance after a clean call")
		return nil
	}
}

func memoryOf(t *testing.T, inst *instance) []byte {
	t.Helper()
	b, ok := inst.mem.Read(0, inst.mem.Size())
	if !ok {
		t.Fatal("cannot read the instance's memory")
	}
	return b
}

const initial = `{"global":"initial","heap":"initial-heap"}`

func TestIsolationCallResetsInstance(t *testing.T) {
	_, p := loadIsolation(t, IsolationCall, "1.0.0")
	if p.pool == nil || !p.pool.reset {
		t.Fatal("a Go plugin should get pooled instances reset to a snapshot")
	}
	if got := recall(t, p); got != initial {
		t.Fatalf("first recall = %s, want %s", got, initial)
	}
	if _, err := p.Call(context.Background(), "remember", []byte(secret)); err != nil {
		t.Fatal(err)
	}

	// The secret is in the pooled instance now (so the checks below can
	// fail), and a reset removes every trace of it.
	inst := pooled(t, p)
	if !bytes.Contains(memoryOf(t, inst), []byte(secret)) {
		t.Fatal("the secret is not in the instance's memory after remember; the test would prove nothing")
	}
	snap := p.pool.snap.Load()
	changed := false
	for i, g := range inst.globals {
		changed = changed || g.Get() != snap.globals[i]
	}
	if !inst.resetTo(snap) {
		t.Fatal("reset refused an instance whose memory did not grow")
	}
	if !bytes.Equal(memoryOf(t, inst), snap.memory) {
		t.Fatal("memory after the reset differs from the snapshot")
	}
	for i, g := range inst.globals {
		if g.Get() != snap.globals[i] {
			t.Errorf("global %s = %d after the reset, snapshot %d", p.pool.globals[i], g.Get(), snap.globals[i])
		}
	}
	if !changed {
		t.Log("no mutable global changed during the call")
	}
	p.pool.free <- inst

	// The next call runs on the same instance and sees the state after
	// initialisation, not the secret.
	if got := recall(t, p); got != initial {
		t.Fatalf("recall after remember = %s, want %s", got, initial)
	}
	if again := pooled(t, p); again != inst {
		t.Error("the call did not reuse the pooled instance")
	} else {
		p.pool.free <- again
	}
}

// TestIsolationCallResetsBeforeTheCall: the reset happens when a call
// takes an instance, so an instance returned by a call that stored a
// secret never serves another call without being reset.
func TestIsolationCallResetsBeforeTheCall(t *testing.T) {
	_, p := loadIsolation(t, IsolationCall, "1.0.0")
	for i := range 3 {
		if _, err := p.Call(context.Background(), "remember", []byte(secret+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
		if got := recall(t, p); got != initial {
			t.Fatalf("round %d: recall = %s, want %s", i, got, initial)
		}
	}
}

func TestIsolationPluginPersists(t *testing.T) {
	_, p := loadIsolation(t, IsolationPlugin, "1.0.0")
	if _, err := p.Call(context.Background(), "remember", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	want := `{"global":"` + secret + `","heap":"` + secret + `"}`
	if got := recall(t, p); got != want {
		t.Fatalf("warm recall = %s, want %s (a warm instance keeps its memory)", got, want)
	}
	// Another version of the same plugin has instances of its own.
	_, p2 := loadIsolation(t, IsolationPlugin, "1.0.1")
	if got := recall(t, p2); got != initial {
		t.Fatalf("recall in another version = %s, want %s", got, initial)
	}
}

// TestForkSharesNoState: a fork runs the same module but nothing of its
// parent's state crosses to it, even under IsolationPlugin where a
// plugin's own memory persists; it keeps working once the parent is
// closed, and calls on either fail once each is closed.
func TestForkSharesNoState(t *testing.T) {
	_, p := loadIsolation(t, IsolationPlugin, "1.0.0")
	if _, err := p.Call(context.Background(), "remember", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	f, err := p.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	if got := recall(t, f); got != initial {
		t.Fatalf("recall in the fork = %s, want %s", got, initial)
	}
	if _, err := f.Call(context.Background(), "remember", []byte(secret+"f")); err != nil {
		t.Fatal(err)
	}
	want := `{"global":"` + secret + `","heap":"` + secret + `"}`
	if got := recall(t, p); got != want {
		t.Fatalf("recall in the parent after the fork's call = %s, want %s", got, want)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fork(); !errors.Is(err, ErrClosed) {
		t.Errorf("Fork of a closed plugin: %v, want ErrClosed", err)
	}
	wantF := `{"global":"` + secret + `f","heap":"` + secret + `f"}`
	if got := recall(t, f); got != wantF {
		t.Fatalf("recall in the fork after its parent closed = %s, want %s", got, wantF)
	}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Call(context.Background(), "recall", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("a call on a closed fork: %v, want ErrClosed", err)
	}
}

// TestBreachedInstanceDiscarded: an instance that breached a limit is
// never reused, under either isolation.
func TestBreachedInstanceDiscarded(t *testing.T) {
	for _, iso := range []Isolation{IsolationCall, IsolationPlugin} {
		t.Run(iso.String(), func(t *testing.T) {
			env := newEnv(t, func(c *Config) { c.MaxConcurrent = 1; roomy(c) })
			m := testManifest("evil/flood", []string{"stdout", "output"})
			m.Limits = &manifest.Limits{OutputBytes: 4 << 10, TimeoutMillis: unreachableMillis}
			p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/flood"), Isolation: iso})
			_, err := p.Call(context.Background(), "output", nil)
			wantKind(t, err, KindOutputTooLarge)
			if n := len(p.pool.free); n != 0 {
				t.Fatalf("%d instances pooled after a breach, want 0", n)
			}
			_, err = p.Call(context.Background(), "stdout", nil)
			wantKind(t, err, KindOutputTooLarge)
			if n := len(p.pool.free); n != 0 {
				t.Fatalf("%d instances pooled after a breach, want 0", n)
			}
		})
	}
}

// TestWASIDescriptorChangeDiscards: a call that opens a file through WASI
// changes the instance's descriptor table, which a reset cannot restore,
// so under IsolationCall its instance is discarded.
func TestWASIDescriptorChangeDiscards(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, func(c *Config) { c.MaxConcurrent = 1 })
	m := testManifest("acme/escape", []string{"hostread", "wasiread"}, "fs:read:/data")
	p := env.load(t, LoadRequest{Manifest: m, Module: buildPlugin(t, "hostile/escape"), Mounts: map[string]string{"/data": dir}})
	call := func(export string) {
		t.Helper()
		res, err := p.Call(context.Background(), export, []byte(`{"path":"/data/hello.txt"}`))
		if err != nil || !strings.Contains(string(res.Output), "hello") {
			t.Fatalf("%s: %s, %v", export, res.Output, err)
		}
	}
	call("hostread")
	if n := len(p.pool.free); n != 1 {
		t.Fatalf("%d instances pooled after a host-API read, want 1", n)
	}
	call("wasiread")
	if n := len(p.pool.free); n != 0 {
		t.Fatalf("%d instances pooled after a WASI open, want 0", n)
	}
}

func TestPrepareModule(t *testing.T) {
	// Reserved export names are refused.
	bad := wasmModuleExporting(globalExportPrefix + "0")
	if _, _, err := prepareModule(bad, true); err == nil || !strings.Contains(err.Error(), globalExportPrefix) {
		t.Errorf("a module exporting the reserved prefix: err = %v", err)
	}

	// A Go module: every mutable global exported, reset possible, and
	// the result still compiles and exports what it did.
	goMod := buildPlugin(t, "isolation")
	out, info, err := prepareModule(goMod, true)
	if err != nil {
		t.Fatal(err)
	}
	if info.unsafe != "" || len(info.globals) == 0 {
		t.Fatalf("Go module: unsafe %q, %d globals", info.unsafe, len(info.globals))
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, out)
	if err != nil {
		t.Fatalf("the rewritten module does not compile: %v", err)
	}
	for _, name := range []string{"remember", "recall", "_initialize"} {
		if _, ok := cm.ExportedFunctions()[name]; !ok {
			t.Errorf("the rewritten module lost the export %s", name)
		}
	}
	again, _, _ := prepareModule(goMod, true)
	if !bytes.Equal(out, again) {
		t.Error("the rewrite is not deterministic, so the compilation cache would miss")
	}

	// A module that changes a table cannot be reset.
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"table.set", []byte{0x41, 0x00, 0xd0, 0x70, 0x26, 0x00}},
		{"table.grow", []byte{0xd0, 0x70, 0x41, 0x01, 0xfc, 0x0f, 0x00, 0x1a}},
		{"data.drop", []byte{0xfc, 0x09, 0x00}},
		{"SIMD", []byte{0xfd, 0x0c}},
	} {
		body := append([]byte{0x00}, tc.code...) // no locals
		body = append(body, 0x41, 0x00, 0x0b)
		code := append([]byte{0x01}, binary.AppendUvarint(nil, uint64(len(body)))...)
		code = append(code, body...)
		if why := stateOutsideMemory(code); why == "" {
			t.Errorf("%s: a module using it was judged resettable", tc.name)
		}
	}
	plain := []byte{0x01, 0x04, 0x00, 0x41, 0x00, 0x0b}
	if why := stateOutsideMemory(plain); why != "" {
		t.Errorf("a function returning a constant was judged not resettable: %s", why)
	}
}

// TestResetRestoresEveryWrittenPage: whatever pages of an instance's
// memory were written (the last page, the first, a few scattered, all of
// them), a reset puts back exactly the snapshot, and the next call sees
// the state after initialisation. The writes are made from the host, so
// they can land anywhere; on Linux the reset under test is the
// copy-on-write one, which restores only the pages it finds written.
func TestResetRestoresEveryWrittenPage(t *testing.T) {
	const page = 65536
	every := func(stride int) func(int) []int {
		return func(size int) []int {
			var at []int
			for off := stride / 3; off+len(secret) <= size; off += stride {
				at = append(at, off)
			}
			return at
		}
	}
	cases := []struct {
		name string
		at   func(size int) []int // byte offsets to write the secret at
	}{
		{"last bytes of the last page", func(size int) []int { return []int{size - len(secret)} }},
		{"first byte", func(int) []int { return []int{0} }},
		{"a few scattered", func(size int) []int { return []int{page + 1, size / 3, size / 2, size - page - 7} }},
		// Many pages: past the share at which the copy-on-write reset
		// gives all pages back at once instead of copying each.
		{"every wasm page", every(page)},
		{"every 4 KiB page", every(4096)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p := loadIsolation(t, IsolationCall, "1.0.0")
			if got := recall(t, p); got != initial {
				t.Fatalf("first recall = %s", got)
			}
			inst := pooled(t, p)
			snap := p.pool.snap.Load()
			if copyOnWrite && (inst.mapped == nil || snap.image == nil) {
				t.Fatal("on Linux the pooled instance should be a copy-on-write mapping of the snapshot's image")
			}
			// Twice: the second round starts from pages the first left
			// as the instance's own.
			for round := range 2 {
				for _, off := range c.at(int(inst.mem.Size())) {
					if !inst.mem.Write(uint32(off), []byte(secret)) {
						t.Fatalf("cannot write at %d", off)
					}
				}
				if !inst.resetTo(snap) {
					t.Fatal("reset refused")
				}
				if mem := memoryOf(t, inst); !bytes.Equal(mem, snap.memory) {
					i := 0
					for i < len(mem) && mem[i] == snap.memory[i] {
						i++
					}
					t.Fatalf("round %d: memory differs from the snapshot at byte %d", round, i)
				}
			}
			p.pool.free <- inst
			if got := recall(t, p); got != initial {
				t.Fatalf("recall after the reset = %s, want %s", got, initial)
			}
		})
	}
}

// TestIsolationCallAfterMemoryGrew: a call that grows the memory (here
// storing the secret all over a 16 MiB buffer) leaves an instance that
// cannot be reset (memory does not shrink); it is discarded and the next
// call sees nothing of it.
func TestIsolationCallAfterMemoryGrew(t *testing.T) {
	_, p := loadIsolation(t, IsolationCall, "1.0.0")
	if got := recall(t, p); got != initial {
		t.Fatalf("first recall = %s", got)
	}
	snap := p.pool.snap.Load()
	res, err := p.Call(context.Background(), "grow", []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if res.MemoryBytes <= uint64(len(snap.memory)) {
		t.Fatalf("memory after grow is %d bytes, not more than the snapshot's %d; the test would prove nothing", res.MemoryBytes, len(snap.memory))
	}
	if got := recall(t, p); got != initial {
		t.Fatalf("recall after grow = %s, want %s", got, initial)
	}
	inst := pooled(t, p)
	if mem := memoryOf(t, inst); len(mem) != len(snap.memory) || bytes.Contains(mem, []byte(secret)) {
		t.Fatalf("the pooled instance has %d bytes of memory (snapshot %d) or holds the secret", len(mem), len(snap.memory))
	}
	p.pool.free <- inst
}

// TestGrownMemoryNeverReachesANewInstance: memory a call grew into and
// wrote is never what a later instance finds when it grows its own (a
// memory reused across instances would have to be cleared past the
// snapshot first). Go's runtime trusts new memory to be zero, so a leak
// would show in the guest's own fresh allocation.
func TestGrownMemoryNeverReachesANewInstance(t *testing.T) {
	_, p := loadIsolation(t, IsolationCall, "1.0.0")
	for round := range 3 {
		if _, err := p.Call(context.Background(), "grow", []byte(secret)); err != nil {
			t.Fatal(err)
		}
		res, err := p.Call(context.Background(), "zeroed", nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Output) != "zero" {
			t.Fatalf("round %d: a new instance's grown memory held an earlier call's bytes (%s)", round, res.Output)
		}
	}
}

// TestNewInstanceFromSnapshot: once a pool has its snapshot, a new
// instance starts from it without running _initialize, and works as the
// first one did, under both isolations.
func TestNewInstanceFromSnapshot(t *testing.T) {
	for _, iso := range []Isolation{IsolationCall, IsolationPlugin} {
		t.Run(iso.String(), func(t *testing.T) {
			_, p := loadIsolation(t, iso, "1.0.0")
			if got := recall(t, p); got != initial {
				t.Fatalf("recall = %s", got)
			}
			snap := p.pool.snap.Load()
			if snap == nil || !snap.cloneable {
				t.Fatal("no snapshot to start new instances from")
			}
			first := pooled(t, p)
			first.mod.Close(context.Background())

			if got := recall(t, p); got != initial {
				t.Fatalf("recall in an instance made from the snapshot = %s, want %s", got, initial)
			}
			inst := pooled(t, p)
			if inst == first {
				t.Fatal("the closed instance was reused")
			}
			if iso == IsolationCall && !bytes.Equal(memoryOf(t, inst), snap.memory) {
				// recall allocates, so compare after a reset.
				inst.resetTo(snap)
				if !bytes.Equal(memoryOf(t, inst), snap.memory) {
					t.Fatal("an instance made from the snapshot does not reset to it")
				}
			}
			p.pool.free <- inst
			if _, err := p.Call(context.Background(), "remember", []byte(secret)); err != nil {
				t.Fatal(err)
			}
			want := initial
			if iso == IsolationPlugin {
				want = `{"global":"` + secret + `","heap":"` + secret + `"}`
			}
			if got := recall(t, p); got != want {
				t.Fatalf("recall after remember = %s, want %s", got, want)
			}
		})
	}
}

// withMutableGlobal returns mod (from wasmModule) with a global section of
// one mutable i32 and one immutable i64 inserted before its exports.
func withMutableGlobal(t testing.TB, mod []byte) []byte {
	secs, err := splitSections(mod)
	if err != nil {
		t.Fatal(err)
	}
	globals := []byte{0x02, 0x7f, 0x01, 0x41, 0x2a, 0x0b, 0x7e, 0x00, 0x42, 0x07, 0x0b}
	out := append([]byte(nil), mod[:8]...)
	for _, s := range secs {
		if s.id == 7 {
			out = append(out, 6, byte(len(globals)))
			out = append(out, globals...)
		}
		out = append(out, s.id)
		out = binary.AppendUvarint(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out
}

func TestPrepareModuleExportsMutableGlobals(t *testing.T) {
	mod := withMutableGlobal(t, wasmModule())
	out, info, err := prepareModule(mod, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.globals) != 1 || info.globals[0] != globalExportPrefix+"0" || info.unsafe != "" {
		t.Fatalf("info = %+v, want the one mutable global", info)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	m, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := m.ExportedGlobal(info.globals[0]).(api.MutableGlobal)
	if !ok || g.Get() != 42 {
		t.Fatalf("exported global = %v (mutable %v), want the mutable i32 42", g, ok)
	}
}

// FuzzPrepareModule: the load-time rewrite never panics, and a module
// wazero accepts stays one it accepts, with every added export naming a
// mutable global, and the interrupt checks' globals exported when it
// added the checks.
func FuzzPrepareModule(f *testing.F) {
	f.Add(wasmModule())
	f.Add(sockAcceptModule(2))
	f.Add(withMutableGlobal(f, wasmModule()))
	f.Add(withMutableGlobal(f, sockAcceptModule(1)))
	f.Add(sumModule())
	f.Add(fibModule())
	f.Fuzz(func(t *testing.T, mod []byte) {
		out, info, err := prepareModule(mod, true)
		if err != nil {
			return
		}
		// With the checks, the instrumenting pass says whether state
		// lives outside memory; without, a pass of its own does. They
		// must agree.
		if _, plain, err := prepareModule(mod, false); err != nil || plain.unsafe != info.unsafe {
			t.Fatalf("with interrupt checks the reset is unsafe because %q; without, %q (%v)", info.unsafe, plain.unsafe, err)
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer rt.Close(ctx)
		if _, errA := rt.CompileModule(ctx, mod); errA != nil {
			return
		}
		if _, err := rt.CompileModule(ctx, out); err != nil {
			t.Fatalf("the original compiles, the rewrite does not: %v", err)
		}
		if len(info.globals) == 0 && !info.interrupt {
			return
		}
		secs, err := splitSections(out)
		if err != nil {
			t.Fatal(err)
		}
		exported := map[string]bool{}
		for _, s := range secs {
			if s.id == 7 {
				names, _ := exportNames(s.body)
				for _, n := range names {
					exported[n] = true
				}
			}
		}
		for _, name := range info.globals {
			if !exported[name] {
				t.Fatalf("the rewrite did not export %s", name)
			}
		}
		if info.interrupt && (!exported[countdownExport] || !exported[stopExport]) {
			t.Fatal("the rewrite added the interrupt checks without exporting their globals")
		}
	})
}

// TestLoadRefusesInflatedVectors: a vector inside a section that claims
// far more entries than it has bytes is refused before wazero allocates
// room for them (found by FuzzPrepareModule: the fuzzing process ran out of
// memory on a function declaring four billion locals, on a 17-byte
// element section claiming a hundred million entries, and on one whose
// count hid behind a GC reference type the sandbox's reader did not know).
func TestLoadRefusesInflatedVectors(t *testing.T) {
	env := newEnv(t, nil)
	header := []byte("\x00asm\x01\x00\x00\x00")
	withCode := func(locals []byte) []byte {
		mod := wasmModule()
		code := bytes.LastIndex(mod, []byte{0x0a}) // the code section is last
		body := append(append([]byte{}, locals...), 0x41, 0x00, 0x0b)
		return append(mod[:code:code], section(10, append(uleb(uint32(len(body))), body...))...)
	}
	raw := func(id byte, body ...byte) []byte {
		return append(append(append([]byte{}, header...), id), append(uleb(uint32(len(body))), body...)...)
	}
	cases := []struct {
		name string
		mod  []byte
		want string // empty: the module loads
	}{
		{"four billion locals", withCode([]byte{0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f}), "more than 50000 locals"},
		{"locals just over the limit", withCode(append(append([]byte{0x02}, append(uleb(maxLocals), 0x7f)...), 0x01, 0x7e)), "more than 50000 locals"},
		{"locals at the limit", withCode(append([]byte{0x01}, append(uleb(maxLocals), 0x7f)...)), ""},
		{"element vector", append(header, "\t\a\x01\x01\x00\x9d\x9d\x9d7"...), "claims more entries"},
		{"element vector behind a GC reference type", append(header, "\t\v\x05\ac\a\xa2\xa2\xa28000"...), "form the sandbox does not accept"},
		{"data segment length", raw(11, 0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f), "claims more entries"},
		{"function type parameters", raw(1, 0x01, 0x60, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00), "claims more entries"},
		{"import name", raw(2, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f), "claims more entries"},
		{"custom section name", raw(0, 0xff, 0xff, 0xff, 0xff, 0x0f), "claims more entries"},
		{"name section's function names", raw(0, append(wasmName("name"), 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f)...), "claims more entries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.rt.Load(context.Background(), LoadRequest{Manifest: testManifest("evil/vectors", []string{"run"}), Module: tc.mod})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ce := wantKind(t, err, KindLoadFailed)
			if !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("load error = %v, want it to say %q", ce, tc.want)
			}
		})
	}
	env.stillServes(t)
}

// withTables returns wasmModule with a table section of the given tables
// (each its type byte, limits flags, minimum and, with flags 1, maximum)
// and run's body replaced by body (no locals).
func withTables(tables [][]byte, body []byte) []byte {
	mod := wasmModule()
	secs, _ := splitSections(mod)
	var out []wasmSection
	for _, s := range secs {
		switch s.id {
		case 10:
			fn := append([]byte{0x00}, body...)
			s.body = append(append([]byte{0x01}, uleb(uint32(len(fn)))...), fn...)
		}
		out = append(out, s)
		if s.id == 3 {
			tb := uleb(uint32(len(tables)))
			for _, t := range tables {
				tb = append(tb, t...)
			}
			out = append(out, wasmSection{id: 4, body: tb})
		}
	}
	return joinSections(mod[:8], out)
}

func table(min uint32, max ...uint32) []byte {
	if len(max) == 0 {
		return append([]byte{0x70, 0x00}, uleb(min)...)
	}
	return append(append([]byte{0x70, 0x01}, uleb(min)...), uleb(max[0])...)
}

// TestTablesCannotExhaustMemory: wazero gives every table entry eight
// bytes outside the memory cap. A sixty-byte table section asking for
// eight tables of 2^27 entries made the host allocate 8 GiB, and
// table.grow on a table without a maximum could ask for 32 GiB more. The
// sandbox refuses minimums past maxTableEntries and gives every table a
// maximum, so growth past it fails with -1 instead of allocating.
func TestTablesCannotExhaustMemory(t *testing.T) {
	env := newEnv(t, nil)
	ret0 := []byte{0x41, 0x00, 0x0b}
	huge := make([][]byte, 8)
	for i := range huge {
		huge[i] = table(1<<27 - 1)
	}
	cases := []struct {
		name   string
		tables [][]byte
		want   string
	}{
		{"eight tables of 2^27", huge, "ask for more than 1048576 entries"},
		{"one just over the bound", [][]byte{table(maxTableEntries + 1)}, "ask for more than 1048576 entries"},
		{"a table of 64-bit limits", [][]byte{{0x70, 0x04, 0x01}}, "form the sandbox does not know"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.rt.Load(context.Background(), LoadRequest{Manifest: testManifest("evil/tables", []string{"run"}), Module: withTables(tc.tables, ret0)})
			ce := wantKind(t, err, KindLoadFailed)
			if !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("load error = %v, want it to say %q", ce, tc.want)
			}
		})
	}
	// Go's own shape, one table without a maximum, loads; growing it by
	// 2^27 entries fails inside the plugin instead of allocating a GiB.
	grow := []byte{0xd0, 0x70, 0x41}
	grow = append(grow, sleb(1<<27)...)
	grow = append(grow, 0xfc, 0x0f, 0x00, 0x1a, 0x41, 0x00, 0x0b) // table.grow 0; drop; i32.const 0
	p := env.load(t, LoadRequest{Manifest: testManifest("evil/grow", []string{"run"}), Module: withTables([][]byte{table(5000)}, grow)})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		if _, err := p.Call(context.Background(), "run", nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("four calls growing a table allocated %d MiB; growth past the bound must fail instead", grew>>20)
	}
	env.stillServes(t)
}

// TestLoadRefusesInflatedCounts: a module whose section claims a billion
// entries in a few bytes is refused before wazero sizes a table by it
// (found by FuzzPrepareModule: wazero alone runs out of memory on it).
func TestLoadRefusesInflatedCounts(t *testing.T) {
	env := newEnv(t, nil)
	mod := []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01`\x00\x01\x7f\x02\x01\xa6\xa6\xa6\xa6\x03")
	_, err := env.rt.Load(context.Background(), LoadRequest{Manifest: testManifest("evil/inflated", []string{"run"}), Module: mod})
	ce := wantKind(t, err, KindLoadFailed)
	if !strings.Contains(ce.Msg, "not valid WebAssembly") {
		t.Errorf("load error = %v", ce)
	}
	mod = append(wasmModule()[:8:8], 0x02, 0x02, 0xff, 0x7f) // imports: 16383 claimed in 1 byte
	_, err = env.rt.Load(context.Background(), LoadRequest{Manifest: testManifest("evil/inflated", []string{"run"}), Module: mod})
	ce = wantKind(t, err, KindLoadFailed)
	if !strings.Contains(ce.Msg, "claims 16383 entries") {
		t.Errorf("load error = %v", ce)
	}
	env.stillServes(t)
}
