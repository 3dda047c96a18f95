package verify

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFolderSecondWriterWaits: while one command holds the folder, a second
// one waits; it is told the folder is busy, naming it, if the first never
// finishes, and gets the lock once the first is done.
func TestFolderSecondWriterWaits(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockFolder(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := LockFolder(ctx, dir); !errors.Is(err, ErrFolderBusy) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a second Lock while the first is held: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := LockFolder(context.Background(), dir)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("a waiting Lock after the first was released: %v", err)
	}
}

// TestFolderLockDiesWithItsProcess: the operating system drops the lock of a
// process that ends without unlocking, so a crashed command never leaves
// the folder locked.
func TestFolderLockDiesWithItsProcess(t *testing.T) {
	if os.Getenv("GATEHOUSE_TEST_FOLDERLOCK_HOLD") != "" {
		if _, err := LockFolder(context.Background(), os.Getenv("GATEHOUSE_TEST_FOLDERLOCK_HOLD")); err != nil {
			os.Exit(3)
		}
		os.Exit(0) // without unlocking
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFolderLockDiesWithItsProcess$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_FOLDERLOCK_HOLD="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the holding process: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := LockFolder(ctx, dir)
	if err != nil {
		t.Fatalf("the lock outlived its process: %v", err)
	}
	unlock()
}

func TestFolderLockNeedsTheFolder(t *testing.T) {
	_, err := LockFolder(context.Background(), filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Lock of a missing folder: %v", err)
	}
}
