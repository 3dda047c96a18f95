package goenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestAskedOnceUntilTheCommandChanges: the go command is asked once, not
// on every Get, and again once the binary is replaced or the variables
// asked differ. The "go command" is a script standing in for it, which
// counts how often it runs (the real one cannot be swapped in a test).
func TestAskedOnceUntilTheCommandChanges(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	goCmd := filepath.Join(dir, "go")
	script := func(version string) []byte {
		return []byte("#!/bin/sh\necho x >> " + calls + "\necho " + version + "\necho " + filepath.Join(dir, "cache") + "\n")
	}
	if err := os.WriteFile(goCmd, script("go1.26.0"), 0o700); err != nil {
		t.Fatal(err)
	}
	asked := func() int {
		b, _ := os.ReadFile(calls)
		return bytes.Count(b, []byte("x"))
	}
	var m Memo
	get := func(vars ...string) []string {
		t.Helper()
		vals, _, err := m.Get(context.Background(), goCmd, nil, vars...)
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	for range 3 {
		if got := get("GOVERSION", "GOCACHE"); !slices.Equal(got, []string{"go1.26.0", filepath.Join(dir, "cache")}) {
			t.Fatalf("Get = %q", got)
		}
	}
	if n := asked(); n != 1 {
		t.Errorf("the go command ran %d times for three Gets, want once", n)
	}
	// A new toolchain in its place (another size, another time).
	if err := os.WriteFile(goCmd, script("go1.26.10"), 0o700); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(goCmd, later, later); err != nil {
		t.Fatal(err)
	}
	if got := get("GOVERSION", "GOCACHE"); got[0] != "go1.26.10" {
		t.Errorf("after the toolchain changed: %q, want go1.26.10", got)
	}
	if n := asked(); n != 2 {
		t.Errorf("the go command ran %d times, want twice", n)
	}
	// Another question is asked anew; here the script prints two lines
	// for one variable, which Get refuses.
	if _, _, err := m.Get(context.Background(), goCmd, nil, "GOROOT"); err == nil {
		t.Error("two lines for one variable were taken")
	}
}

// TestMissingCommandIsNotFound: a go command that does not exist is
// reported so that a caller can tell (fs.ErrNotExist or exec.ErrNotFound).
func TestMissingCommandIsNotFound(t *testing.T) {
	var m Memo
	_, _, err := m.Get(context.Background(), filepath.Join(t.TempDir(), "no-such-go"), nil, "GOVERSION")
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("err = %v, want one that says the command is missing", err)
	}
}
