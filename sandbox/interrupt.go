package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// How a runaway guest is stopped
//
// wazero's WithCloseOnContextDone(true) compiles a call out to Go at the
// head of every loop, where Go checks whether the module was closed: it
// makes a deadline stop any guest, and it slowed the 1 KB JSON transform
// about 4×. Without it, compiled guest code never looks at anything the
// host changes, and it is not preemptible either: Go's scheduler cannot
// stop a thread in wazero's machine code, so a guest that never leaves
// it holds its core, and the garbage collector's stop-the-world waits for
// it. Closing the module from another goroutine
// (api.Module.CloseWithExitCode) marks it closed and nothing more; the
// loop runs on (TestCloseFromAnotherGoroutineDoesNotStopALoop).
//
// The load-time rewrite therefore adds its own check, far cheaper than a
// call out to Go: two mutable globals, a countdown and a stop flag, and at
// the start of every function and the head of every loop
//
//	countdown -= 1
//	if countdown == 0 {
//		countdown = interruptInterval
//		memory.grow 0      ;; leaves the machine code for Go and back
//		if stop { unreachable }
//	}
//
// Most iterations pay a load, a subtraction, a store and a branch. One in
// interruptInterval leaves for Go, where the scheduler can preempt the
// goroutine (so the collector and the timers run) and then reads the stop
// flag. The host sets the flag when the call's context ends (deadline,
// caller's cancel, output over its limit) from a context.AfterFunc, with
// no goroutine per call. A loop that only calls host functions goes
// through its loop head like any other; recursion without loops through
// the function entries. A module the rewrite cannot instrument (an
// instruction it does not know, or no memory to grow) keeps wazero's
// WithCloseOnContextDone instead.

// interruptInterval is how many loop iterations and function entries a
// guest runs between two visits to Go: often enough that a stop or a
// stop-the-world waits for at most a few thousand iterations, rarely
// enough that the visits cost nothing measurable.
const interruptInterval = 4096

// The export names of the two globals the rewrite adds, under the prefix
// a module may not use.
const (
	countdownExport = globalExportPrefix + "countdown"
	stopExport      = globalExportPrefix + "stop"
)

// interruptCheck is the code inserted at function entries and loop heads,
// for the countdown global at index countdown and the stop flag at stop.
func interruptCheck(countdown, stop uint32) []byte {
	var b []byte
	getC := append([]byte{0x23}, binary.AppendUvarint(nil, uint64(countdown))...)
	setC := append([]byte{0x24}, binary.AppendUvarint(nil, uint64(countdown))...)
	b = append(b, getC...)
	b = append(b, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	b = append(b, setC...)
	b = append(b, getC...)
	b = append(b, 0x45, 0x04, 0x40) // i32.eqz; if
	b = append(b, 0x41)
	b = appendSLEB32(b, int64(interruptInterval))
	b = append(b, setC...)
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	b = append(b, 0x23)
	b = binary.AppendUvarint(b, uint64(stop))
	b = append(b, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end
	b = append(b, 0x0b)                   // end
	return b
}

// instrumentCode returns the code section with interruptCheck inserted
// at the start of every function body and after every loop's block type,
// or false if a body holds an instruction the reader does not know. The
// check leaves the operand stack as it found it and closes its own
// blocks, so branch depths and loop parameters are unchanged. It reads
// every instruction, so it also returns what stateOutsideMemory would say
// of the code, saving the load a second pass.
func instrumentCode(code []byte, countdown, stop uint32) (out []byte, why string, ok bool) {
	check := interruptCheck(countdown, stop)
	r := &reader{p: code}
	n := r.count()
	out = binary.AppendUvarint(make([]byte, 0, len(code)+len(code)/4), n)
	var body bytes.Buffer
	for ; n > 0 && r.err == nil; n-- {
		size := r.uleb()
		if size > uint64(len(r.p)) {
			return nil, "", false
		}
		fn := &reader{p: r.p[:size]}
		r.skip(size)
		start := fn.p
		for k := fn.count(); k > 0 && fn.err == nil; k-- {
			fn.uleb()
			fn.byte()
		}
		body.Reset()
		body.Write(start[:len(start)-len(fn.p)])
		body.Write(check)
		// Instructions are copied in runs, up to each loop's block
		// type, where a check goes.
		run := fn.p
		for len(fn.p) > 0 && fn.err == nil {
			op := fn.p[0]
			if op == 0x23 || op == 0x24 {
				// A module that names a global it does not have would
				// reach the countdown or the flag once they exist (and
				// could keep the countdown from ever running out); it
				// is invalid, and is left for wazero to refuse.
				if idx, n := binary.Uvarint(fn.p[1:]); n <= 0 || idx >= uint64(countdown) {
					return nil, "", false
				}
			}
			w, unknown := instruction(fn)
			if unknown {
				return nil, "", false
			}
			if why == "" {
				why = w
			}
			if op == 0x03 { // loop
				body.Write(run[:len(run)-len(fn.p)])
				body.Write(check)
				run = fn.p
			}
		}
		if fn.err != nil {
			return nil, "", false
		}
		body.Write(run[:len(run)-len(fn.p)])
		out = binary.AppendUvarint(out, uint64(body.Len()))
		out = append(out, body.Bytes()...)
	}
	if r.err != nil || len(r.p) != 0 {
		return nil, "", false
	}
	return out, why, true
}

// hasOwnMemory reports whether a memory section declares a memory.
func hasOwnMemory(body []byte) bool {
	r := &reader{p: body}
	return r.count() > 0 && r.err == nil
}

// interrupter stops one instance's guest code when a call's context ends,
// by setting the stop flag the rewrite's checks read. At most one call
// uses an instance at a time; arm and disarm bracket it.
type interrupter struct {
	countdown, stop api.MutableGlobal

	mu    sync.Mutex
	armed bool
	fired bool
}

// newInterrupter finds the rewrite's globals in mod; nil if it has none
// (the module was not instrumented).
func newInterrupter(mod api.Module) *interrupter {
	c, ok1 := mod.ExportedGlobal(countdownExport).(api.MutableGlobal)
	s, ok2 := mod.ExportedGlobal(stopExport).(api.MutableGlobal)
	if !ok1 || !ok2 {
		return nil
	}
	return &interrupter{countdown: c, stop: s}
}

// arm clears the flag and restarts the countdown (so that one call cannot
// learn how far the previous one counted), and sets the flag once ctx
// ends. The returned disarm must be called when the guest code has
// returned; after it, the flag is never set for this call.
func (it *interrupter) arm(ctx context.Context) (disarm func() (fired bool)) {
	it.mu.Lock()
	it.stop.Set(0)
	it.countdown.Set(interruptInterval)
	it.armed, it.fired = true, false
	it.mu.Unlock()
	unregister := context.AfterFunc(ctx, func() {
		it.mu.Lock()
		if it.armed {
			it.stop.Set(1)
			it.fired = true
		}
		it.mu.Unlock()
	})
	return func() bool {
		unregister()
		it.mu.Lock()
		defer it.mu.Unlock()
		it.armed = false
		return it.fired
	}
}
