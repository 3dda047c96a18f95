//go:build linux

package sandbox

import (
	"syscall"
	"time"
	"unsafe"
)

// threadClock reads the CPU time of one OS thread: the time it actually
// ran on a processor, which a busy machine does not inflate the way it
// inflates wall time.
type threadClock struct{ id int32 }

// currentThreadClock returns the clock of the calling goroutine's thread.
// The caller must hold runtime.LockOSThread for as long as it uses the
// clock, so that the thread runs its goroutine alone.
func currentThreadClock() (threadClock, bool) {
	// The clock id of thread tid, as glibc's pthread_getcpuclockid
	// computes it: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED).
	c := threadClock{id: int32(^syscall.Gettid()<<3 | 6)}
	if _, ok := c.now(); !ok {
		return threadClock{}, false
	}
	return c, true
}

// now returns the CPU time the thread has used so far; any goroutine may
// read it.
func (c threadClock) now() (time.Duration, bool) {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, uintptr(c.id), uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
