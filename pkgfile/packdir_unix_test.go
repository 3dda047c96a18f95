//go:build unix

package pkgfile

import (
	"bytes"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPackDirRefusesFIFO(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"manifest.json": "{}", "plugin.wasm": "\x00asm"})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("mkfifo unavailable:", err)
	}
	_, _, err := PackDir(dir, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "pipe is not a regular file") {
		t.Fatalf("got %v; want an error naming the FIFO", err)
	}
}
