//go:build !unix && !windows

package verify

import "os"

// Elsewhere (wasip1, plan9) there is no advisory lock: commands are not
// serialised, as before this package.
func tryLockFile(*os.File) (bool, error) { return true, nil }

func unlockFileLock(*os.File) {}
