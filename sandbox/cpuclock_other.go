//go:build !linux

package sandbox

import "time"

// threadClock is unavailable here: initialisations are timed in wall time.
type threadClock struct{}

func currentThreadClock() (threadClock, bool) { return threadClock{}, false }

func (threadClock) now() (time.Duration, bool) { return 0, false }
