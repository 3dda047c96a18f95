//go:build unix

package marketplace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockData takes an exclusive advisory lock on the data folder, held while
// the embedded marketplace (SQLite and a local folder) serves it: a second
// process would sweep files the first is writing. The kernel drops the lock
// when the process dies, so a crash leaves no stale lock.
func lockData(data string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(data, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("the data folder %s is in use by another gatehouse process: stop it first, or run several processes on PostgreSQL (see docs/operations.md): %w", data, ErrDataInUse)
		}
		return nil, fmt.Errorf("locking the data folder: %w", err)
	}
	return f, nil
}
