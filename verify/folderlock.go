// Folder locks serialise the commands that read, change and write one
// folder: installs, rollbacks and syncs of an install folder, and the
// verifications that advance a host's state folder. Each of them reads
// the folder's files, decides, and writes them back; two at once would
// each write what it read, and the one that wrote last would silently
// undo the other (a lost install, or a state that forgets a newer log
// checkpoint).
//
// The lock is an advisory lock held by the operating system on a file in
// the folder (flock on Unix, LockFileEx on Windows), so it is released
// when the process ends however it ends: a crashed command never leaves
// the folder locked.

package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FolderLockFile is the lock file's name in a locked folder.
const FolderLockFile = ".gatehouse-writing"

// folderLockWait is how long LockFolder waits for another command to
// finish when ctx has no earlier deadline.
const folderLockWait = 2 * time.Minute

// folderLockPoll is how often a waiting LockFolder tries again.
const folderLockPoll = 25 * time.Millisecond

// ErrFolderBusy is returned when another command held the folder for the
// whole wait.
var ErrFolderBusy = errors.New("another gatehouse command is changing this folder")

// LockFolder takes dir's lock, waiting up to two minutes (or ctx's
// deadline) for a command holding it; unlock releases it. The folder must
// exist. A host that shares its install or state folder between processes
// holds it around its own reads and writes of the folder.
func LockFolder(ctx context.Context, dir string) (unlock func(), err error) {
	if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the folder %s does not exist: %w", dir, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("locking %s: not a folder", dir)
	}
	f, err := os.OpenFile(filepath.Join(dir, FolderLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	ctx, cancel := context.WithTimeout(ctx, folderLockWait)
	defer cancel()
	for {
		locked, err := tryLockFile(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		if locked {
			return func() {
				unlockFileLock(f)
				f.Close()
			}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%w (%s): wait for it to finish, then run this again: %w", ErrFolderBusy, dir, context.Cause(ctx))
		case <-time.After(folderLockPoll):
		}
	}
}
