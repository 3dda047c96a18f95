// Package goenv asks the go command for its settings (`go env`) once, and
// again only when the command or what decides its answers changes.
// Starting the go command costs tens of milliseconds of CPU, which the
// analyzers that ask it on every vetting run (the source analyzer for its
// cache keys, the rebuild for its toolchain and build cache) would pay on
// every update; an identity costs a few stats.
package goenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxOutput bounds what `go env` may print.
const maxOutput = 64 << 10

// Memo remembers one answer of the go command. The zero Memo is ready;
// it is safe for concurrent use.
type Memo struct {
	mu   sync.Mutex
	key  string
	vals []string
	id   string
}

// Get returns the values of vars as the go command goCmd (a path, or a
// name looked up on PATH) prints them under env, one per variable, and
// the command's identity (see Identity). The command runs when this Memo
// has no answer for the same identity, env and vars. An error that
// starting the command returns (exec.ErrNotFound, fs.ErrNotExist) is
// wrapped, so a caller can tell a missing toolchain.
func (m *Memo) Get(ctx context.Context, goCmd string, env []string, vars ...string) (vals []string, id string, err error) {
	id, err = Identity(goCmd)
	if err != nil {
		return nil, "", err
	}
	key := strings.Join(slices.Concat([]string{id}, env, []string{"vars"}, vars), "\x00")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == key {
		return slices.Clone(m.vals), m.id, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, append([]string{"env"}, vars...)...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("go env: %w", err)
	}
	if len(out) > maxOutput {
		return nil, "", fmt.Errorf("go env printed %d bytes, more than %d", len(out), maxOutput)
	}
	vals = strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(vals) != len(vars) {
		return nil, "", fmt.Errorf("go env printed %d lines for %d variables: %q", len(vals), len(vars), out)
	}
	for i := range vals {
		vals[i] = strings.TrimSpace(vals[i])
	}
	m.key, m.vals, m.id = key, vals, id
	return slices.Clone(vals), id, nil
}

// Identity names the go command goCmd and what decides its answers: the
// binary's path, size and modification time, the variables `go env`
// reads its settings from, and the go env file's size and modification
// time (`go env -w` writes it). A toolchain replaced while the process
// runs, or its settings changed, gives another identity.
func Identity(goCmd string) (string, error) {
	bin, err := exec.LookPath(goCmd)
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s size %d modified %d", bin, fi.Size(), fi.ModTime().UnixNano())
	for _, k := range []string{"GOROOT", "GOCACHE", "GOENV", "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "LOCALAPPDATA", "APPDATA"} {
		fmt.Fprintf(&b, " %s=%q", k, os.Getenv(k))
	}
	envFile := os.Getenv("GOENV")
	if envFile == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			envFile = filepath.Join(dir, "go", "env")
		}
	}
	if envFile != "" && envFile != "off" {
		if fi, err := os.Stat(envFile); err == nil {
			fmt.Fprintf(&b, " env file size %d modified %d", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String(), nil
}
