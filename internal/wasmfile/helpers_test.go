package wasmfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtWasm []byte
	buildErr  error
)

// goModule builds testdata/src as a wasip1 reactor once per test binary.
func goModule(tb testing.TB) []byte {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a wasip1 module")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmfile-test")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "src.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./testdata/src")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(msg)}
			return
		}
		builtWasm, buildErr = os.ReadFile(out)
	})
	if buildErr != nil {
		tb.Fatalf("building testdata/src for wasip1: %v", buildErr)
	}
	return builtWasm
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
