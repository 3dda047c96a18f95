package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// guestDir holds the guest modules built for this test process.
var guestDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guestDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	guestMu    sync.Mutex
	guestBuilt = map[string][]byte{}
)

// guest builds the guest plugin in package dir (relative to this module)
// as a WASI reactor, once per test process, and returns its bytes. Both
// guests are built the same way, from the same transform package.
func guest(tb testing.TB, pkg string) []byte {
	tb.Helper()
	guestMu.Lock()
	defer guestMu.Unlock()
	if wasm, ok := guestBuilt[pkg]; ok {
		return wasm
	}
	out := filepath.Join(guestDir, filepath.Base(filepath.Dir(pkg))+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./"+pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building guest %s: %v\n%s", pkg, err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	guestBuilt[pkg] = wasm
	return wasm
}
