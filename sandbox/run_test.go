package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
)

func TestRunOnce(t *testing.T) {
	cfg := Config{CacheDir: filepath.Join(workDir, "cache")}
	req := LoadRequest{Manifest: testManifest("acme/echo", []string{"log"}), Module: buildPlugin(t, "echo")}
	res, err := RunOnce(context.Background(), cfg, req, "log", []byte(`{"message":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Output) != `{"message":"hi"}` {
		t.Errorf("output = %s", res.Output)
	}
	s := res.Summary()
	for _, want := range []string{"time ", "memory ", "MiB", "0 host call(s)", "log[1] hi", "stdout (11 bytes)"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	s = Result{HostCalls: []HostCall{{"kv_get", "k", hostapi.StatusNotFound}}}.Summary()
	if !strings.Contains(s, "kv_get k: not_found") {
		t.Errorf("summary does not list host calls:\n%s", s)
	}
}

// FuzzMountRead checks that no path a plugin can hand to fs_read reads a
// file outside its mount.
func FuzzMountRead(f *testing.F) {
	base := f.TempDir()
	in := filepath.Join(base, "mnt")
	os.MkdirAll(filepath.Join(in, "sub"), 0o755)
	os.WriteFile(filepath.Join(in, "sub", "in.txt"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(base, "secret.txt"), []byte("outside"), 0o644)
	os.Symlink("../secret.txt", filepath.Join(in, "link"))
	os.Symlink("..", filepath.Join(in, "up"))
	ms, err := openMounts([]string{"/m"}, map[string]string{"/m": in})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(ms.close)
	for _, s := range []string{"/m/sub/in.txt", "/m/link", "/m/up/secret.txt", "/m/../secret.txt", "../secret.txt", "/m/sub/../../secret.txt", "/m//sub/./in.txt", "/m/sub/in.txt\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		status, b := ms.read(p, 1<<10)
		if status == hostapi.StatusOK && string(b) != "inside" {
			t.Fatalf("read %q returned %q", p, b)
		}
	})
}
