package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Isolation says what one call of a plugin may see of its earlier calls.
type Isolation int

const (
	// IsolationCall, the default, starts every call from the state the
	// module had right after its initialisation: nothing a call writes
	// reaches a later call. Instances are pooled and reset to a snapshot
	// before each call when the module allows it (see Plugin.Call), and
	// made fresh for each call otherwise.
	IsolationCall Isolation = iota
	// IsolationPlugin reuses instances across calls of the same plugin
	// version without resetting them, so the plugin's memory persists
	// between its own calls, as a process's would. Calls of other plugins
	// and other versions never share an instance. An instance is still
	// thrown away after any call that breached a limit or failed.
	IsolationPlugin
)

func (i Isolation) String() string {
	switch i {
	case IsolationCall:
		return "call"
	case IsolationPlugin:
		return "plugin"
	}
	return fmt.Sprintf("Isolation(%d)", int(i))
}

// instance is a live module instance of a pool. At most one call uses it
// at a time; cur is that call's state, which the instance's stdout, stderr
// and sleep reach through.
type instance struct {
	mod  api.Module
	intr *interrupter // nil without the rewrite's interrupt checks
	// mapped is the instance's memory when it is a mapping that can be
	// reset page by page (see memimage_linux.go); nil otherwise.
	mapped  *mappedMemory
	mem     api.Memory // nil for a module without memory
	globals []api.MutableGlobal
	cur     *callState
	// fns caches the exports called so far: wazero gives each
	// api.Function its own stack, which is most of an empty call's cost
	// if made anew for every call.
	fns map[string]api.Function
}

// function returns the export called name.
func (inst *instance) function(name string) api.Function {
	fn, ok := inst.fns[name]
	if !ok {
		fn = inst.mod.ExportedFunction(name)
		if inst.fns == nil {
			inst.fns = map[string]api.Function{}
		}
		inst.fns[name] = fn
	}
	return fn
}

// instanceOut routes an instance's stdout or stderr to the current call.
type instanceOut struct {
	inst   *instance
	stderr bool
}

func (w instanceOut) Write(b []byte) (int, error) {
	st := w.inst.cur
	if st == nil {
		// Written outside a call (wazero flushes nothing on its own);
		// dropped rather than kept for a later call to see.
		return len(b), nil
	}
	if w.stderr {
		return st.stderr.Write(b)
	}
	return st.stdout.Write(b)
}

// snapshot is the state of an instance right after its initialisation:
// the bytes of its memory up to the size it had then, and the value of
// every mutable global.
type snapshot struct {
	memory  []byte
	globals []uint64
	// image is memory as a copy-on-write image, nil where there is none
	// (see memimage_linux.go); memory is kept as well, for copying.
	image *memImage
	// cloneable is whether a new instance can start from the snapshot
	// instead of running _initialize: true unless the initialisation
	// changed WASI descriptors (opened a file, say), which a copy of
	// memory and globals would not carry.
	cloneable bool
}

// pool keeps the live instances of one plugin version; its size is the
// plugin's concurrency limit, so it never holds more instances than can
// run at once.
type pool struct {
	free chan *instance
	// snapshots is whether the module's instances can be reset (see
	// prepareModule); then snap is taken from the first instance made,
	// and later instances start from it. reset is whether instances are
	// reset to snap before each call (IsolationCall).
	snapshots bool
	reset     bool
	snap      atomic.Pointer[snapshot]
	// globals are the export names of the module's mutable globals.
	globals []string
}

// newInstance instantiates the module for a pool under st. The first
// instance runs _initialize; once there is a snapshot, a new instance
// starts from it instead (instantiated without start functions, then
// given the snapshot's memory and globals), which is the same state at a
// fraction of the cost.
func (p *Plugin) newInstance(ctx context.Context, st *callState) (*instance, error) {
	inst := &instance{cur: st}
	cfg := p.modCfg.
		WithStdout(instanceOut{inst: inst}).
		WithStderr(instanceOut{inst: inst, stderr: true}).
		WithNanosleep(func(ns int64) {
			var done <-chan struct{}
			if st := inst.cur; st != nil {
				done = st.done
			}
			sleep(time.Duration(ns), done)
		})
	snap := p.pool.snap.Load()
	clone := snap != nil && snap.cloneable
	ictx := ctx
	var mapped *mappedAllocator
	switch {
	case copyOnWrite && !p.rt.cfg.copyReset && p.pool.snapshots && (snap == nil || snap.image != nil):
		// A mapping: of the snapshot's image (its pages are the
		// snapshot's until written), or anonymous for the first
		// instance, which the image is mapped over once it exists.
		mapped = &mappedAllocator{}
		if clone {
			mapped.img = snap.image
		}
		ictx = experimental.WithMemoryAllocator(ctx, mapped)
	case clone:
		// Allocate the memory at the snapshot's size up front, so that
		// growing it to that size does not copy it.
		ictx = experimental.WithMemoryAllocator(ctx, presized(len(snap.memory)))
	}
	mod, intr, err := p.instantiate(ictx, st, cfg, !clone)
	if err != nil {
		return nil, err
	}
	inst.mod, inst.intr = mod, intr
	if mapped != nil {
		inst.mapped = mapped.made
	}
	if mem := mod.Memory(); mem != nil && memorySize(mod) > 0 {
		inst.mem = mem
	}
	for _, name := range p.pool.globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			mod.Close(context.Background())
			return nil, setupError{fmt.Errorf("the module's global %s is not exported as mutable", name)}
		}
		inst.globals = append(inst.globals, g)
	}
	if clone {
		if inst.mem != nil {
			if want := uint32(len(snap.memory) / 65536); inst.mem.Size()/65536 < want {
				inst.mem.Grow(want - inst.mem.Size()/65536)
			}
		}
		if !inst.resetTo(snap) {
			mod.Close(context.Background())
			return nil, setupError{fmt.Errorf("a new instance could not take the snapshot's %d bytes of memory", len(snap.memory))}
		}
	}
	return inst, nil
}

// instantiate makes an instance of the module under cfg, running
// _initialize if init, under st's call. With the rewrite's interrupt
// checks, wazero runs no start function: _initialize is called here with
// the interrupter armed, so a runaway initialisation stops at the
// deadline like a runaway call.
func (p *Plugin) instantiate(ctx context.Context, st *callState, cfg wazero.ModuleConfig, init bool) (api.Module, *interrupter, error) {
	if !p.interrupt {
		if !init {
			cfg = cfg.WithStartFunctions()
		}
		mod, err := p.wrt.InstantiateModule(ctx, p.compiled, cfg)
		return mod, nil, err
	}
	mod, err := p.wrt.InstantiateModule(ctx, p.compiled, cfg.WithStartFunctions())
	if err != nil {
		return nil, nil, err
	}
	intr := newInterrupter(mod)
	if intr == nil {
		mod.Close(context.Background())
		return nil, nil, setupError{fmt.Errorf("the module lacks the sandbox's interrupt globals")}
	}
	if fn := mod.ExportedFunction("_initialize"); init && fn != nil {
		disarm := intr.arm(ctx)
		_, err := fn.Call(ctx)
		if disarm() {
			st.stopped = true
		}
		if err != nil {
			mod.Close(context.Background())
			return nil, nil, err
		}
	}
	return mod, intr, nil
}

// takeSnapshot records inst's state; the pool's first instance, right
// after its initialisation, is the snapshot every later call starts from.
func (pl *pool) takeSnapshot(inst *instance, cloneable bool) *snapshot {
	s := &snapshot{globals: make([]uint64, len(inst.globals)), cloneable: cloneable}
	if inst.mem != nil {
		b, _ := inst.mem.Read(0, inst.mem.Size())
		s.memory = bytes.Clone(b)
		if inst.mapped != nil {
			s.image = newMemImage(s.memory)
		}
	}
	for i, g := range inst.globals {
		s.globals[i] = g.Get()
	}
	return s
}

// resetTo puts inst back into the state s recorded: memory bytes copied
// back and globals set back. It reports false if that is impossible (the
// memory is not the size it was), and the instance must be discarded.
func (inst *instance) resetTo(s *snapshot) bool {
	if inst.mem != nil {
		if inst.mem.Size() != uint32(len(s.memory)) {
			return false
		}
		// Only the pages the instance wrote, where the kernel says
		// which (see memimage_linux.go); everything otherwise.
		if inst.mapped == nil || s.image == nil || !s.image.resetPages(inst.mapped, s.memory) {
			b, ok := inst.mem.Read(0, uint32(len(s.memory)))
			if !ok {
				return false
			}
			copy(b, s.memory)
		}
	} else if len(s.memory) != 0 {
		return false
	}
	for i, g := range inst.globals {
		g.Set(s.globals[i])
	}
	return true
}

// presized allocates linear memories with room for n bytes from the start.
type presized uint64

func (n presized) Allocate(capacity, max uint64) experimental.LinearMemory {
	return &linearMemory{buf: make([]byte, capacity, min(max, uint64(n)))}
}

// linearMemory is a wazero linear memory backed by a Go slice. Bytes past
// its length are always zero: memory never shrinks, so nothing is written
// there before the memory grows over them.
type linearMemory struct{ buf []byte }

func (m *linearMemory) Reallocate(size uint64) []byte {
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
	} else {
		m.buf = append(m.buf, make([]byte, size-uint64(len(m.buf)))...)
	}
	return m.buf
}

func (m *linearMemory) Free() { m.buf = nil }

func sleep(d time.Duration, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// wasiState is a function listener on the WASI functions that change an
// instance's descriptor table or a descriptor's position: closing,
// opening, renumbering, changing flags, seeking, reading a file or a
// directory. A call that uses one leaves state a reset of memory and
// globals would not undo, so its instance is discarded afterwards rather
// than reused. Go plugins that read their mounts through the host API's
// fs_read never trigger it; reading through os.Open does.
type wasiState struct{}

// wasiStateful lists those functions; for the ones marked true only a
// descriptor above stderr counts. The sandbox's stdio keeps no state:
// stdin is wazero's empty reader, stdout and stderr are writers routed to
// the current call, and none of them takes flags (Go's runtime sets
// non-blocking on all three while it initialises, and wazero ignores it).
var wasiStateful = map[string]bool{
	"fd_close": false, "fd_renumber": false, "path_open": false,
	"fd_fdstat_set_flags": true, "fd_fdstat_set_rights": false,
	"fd_seek": true, "fd_read": true, "fd_readdir": true, "fd_pread": true,
	"fd_write": true, "fd_pwrite": true, "fd_allocate": false,
	"fd_filestat_set_size": false, "fd_filestat_set_times": false,
	"path_create_directory": false, "path_filestat_set_times": false, "path_link": false,
	"path_remove_directory": false, "path_rename": false, "path_symlink": false,
	"path_unlink_file": false,
	"sock_accept":      false, "sock_recv": false, "sock_send": false, "sock_shutdown": false,
}

func (wasiState) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if _, ok := wasiStateful[def.Name()]; !ok {
		return nil
	}
	return wasiState{}
}

func (wasiState) Before(ctx context.Context, _ api.Module, def api.FunctionDefinition, params []uint64, _ experimental.StackIterator) {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		return
	}
	if fdOnly := wasiStateful[def.Name()]; fdOnly && len(params) > 0 && int32(params[0]) <= 2 {
		return
	}
	st.wasiState = true
}

func (wasiState) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (wasiState) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}

// takeInstance returns an instance ready for st's call: a pooled one,
// reset to the snapshot first under IsolationCall, or a new one. The reset
// happens here, before the call, so whatever an earlier call left in an
// instance is gone before the next call's code runs.
func (p *Plugin) takeInstance(ctx context.Context, st *callState) (*instance, error) {
	pl := p.pool
	for {
		var inst *instance
		select {
		case inst = <-pl.free:
		default:
		}
		if inst == nil {
			break
		}
		if !pl.reset {
			inst.cur = st
			return inst, nil
		}
		if inst.resetTo(pl.snap.Load()) {
			inst.cur = st
			return inst, nil
		}
		inst.mod.Close(context.Background())
	}

	// A new instance initialises under this call's limits (Warm made
	// one ahead of the call, under limits of its own, if it could).
	return p.initInstance(ctx, st)
}

// initInstance makes a new instance for a pool under st, the state of a
// call (takeInstance) or of Warm: it initialises without st's input and
// leaves a clean result afterwards, since what _initialize did becomes the
// snapshot every later call starts from and must not hold anything of the
// call's. The first instance of a pool that snapshots takes the snapshot.
func (p *Plugin) initInstance(ctx context.Context, st *callState) (*instance, error) {
	pl := p.pool
	input := st.input
	st.input = nil
	inst, err := p.newInstance(ctx, st)
	initWASI := st.wasiState
	st.input, st.output, st.errMsg, st.result, st.wasiState = input, nil, "", nil, false
	if err != nil {
		return nil, err
	}
	if pl.snapshots && pl.snap.Load() == nil {
		s := pl.takeSnapshot(inst, !initWASI)
		switch {
		case !pl.snap.CompareAndSwap(nil, s):
			s.image.close()
		case s.image != nil && !s.image.mapOver(inst.mapped):
			// This instance keeps its anonymous memory and is reset
			// by copying; later ones map the image.
		}
	}
	return inst, nil
}

// putInstance returns inst to the pool after st's call, or discards it.
// An instance is discarded after a call that failed or breached a limit
// (wazero may have stopped it mid-way, and its memory is suspect), and
// under IsolationCall also after a call whose effects a reset cannot undo:
// its memory grew past the snapshot (memory cannot shrink) or it changed
// its WASI descriptors.
func (p *Plugin) putInstance(inst *instance, st *callState, clean bool) {
	inst.cur = nil
	pl := p.pool
	keep := clean
	if keep && pl.reset {
		s := pl.snap.Load()
		keep = s != nil && !st.wasiState &&
			(inst.mem == nil || inst.mem.Size() == uint32(len(s.memory)))
	}
	if keep {
		select {
		case pl.free <- inst:
			return
		default:
		}
	}
	inst.mod.Close(context.Background())
}
