package marketplace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestSweepRemovesBehaviourFoldersOfDeadProcesses: the behaviour
// analyzer's compilation cache and the public cache's folder of a killed
// server are removed at the next start; a live process's caches and a
// young per-run folder are kept.
func TestSweepRemovesBehaviourFoldersOfDeadProcesses(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no process to outlive:", err)
	}
	dead := cmd.Process.Pid
	if processAlive(dead) {
		t.Skip("the pid was reused")
	}
	dir := t.TempDir()
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(p, "wazero"), 0o700); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		os.Chtimes(p, at, at)
		return p
	}
	gone := []string{
		mk(behaviourCachePrefix+strconv.Itoa(dead)+"-123", 0),
		mk(behaviourCachePrefix+"456", 48*time.Hour), // an old one without a pid
		mk(behaviourRunPrefix+"789", 48*time.Hour),
		mk("gatehouse-source-1", 48*time.Hour),
		mk("gatehouse-rebuild-1", 48*time.Hour),
		mk(publicCachePrefix+strconv.Itoa(dead)+"-123", 0), // the public cache's packages
	}
	kept := []string{
		mk(behaviourCachePrefix+strconv.Itoa(os.Getppid())+"-123", 48*time.Hour),
		mk(publicCachePrefix+strconv.Itoa(os.Getpid())+"-123", 48*time.Hour),
		mk(behaviourCachePrefix+strconv.Itoa(os.Getpid())+"-123", 48*time.Hour),
		mk(behaviourRunPrefix+"young", 0),
		mk("gatehouse-source-young", 0),
		mk("gatehouse-other-1", 48*time.Hour),
	}
	n, err := sweepTemp(dir, time.Now())
	if err != nil || n != len(gone) {
		t.Errorf("sweepTemp = %d, %v; want %d", n, err, len(gone))
	}
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was kept", filepath.Base(p))
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", filepath.Base(p))
		}
	}
}

// TestSweepRemovesDataFolderTempFiles: the temporary files a killed
// process left in the data folder (vulndb, transparency log) are removed
// at the next start; the files they were to replace, and young temporary
// files when others may be writing (grace), are kept.
func TestSweepRemovesDataFolderTempFiles(t *testing.T) {
	data := t.TempDir()
	write := func(rel string, age time.Duration) string {
		p := filepath.Join(data, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		os.Chtimes(p, at, at)
		return p
	}
	gone := []string{
		write("vulndb/.vulndb-123.tmp", time.Hour),
		write("vulndb/.current-456.tmp", time.Hour),
		write(LogDir+"/tile/0/x001/.tmp-789", time.Hour),
		write(LogDir+"/tile/0/.000.p.tmp123", time.Hour),
		write(LogDir+"/.checkpoint.tmp456", time.Hour),
	}
	kept := []string{
		write("vulndb/current", time.Hour),
		write(LogDir+"/checkpoint", time.Hour),
		write(LogDir+"/.tmp-young", 0),
		write("keys/.tmp-other", time.Hour),
	}
	n, err := sweepDataTemp(data, time.Minute, time.Now())
	if err != nil || n != len(gone) {
		t.Errorf("sweepDataTemp = %d, %v; want %d", n, err, len(gone))
	}
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was kept", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
}
