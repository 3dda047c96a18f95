package sandbox

import (
	"context"
	"fmt"
	"strings"
)

// RunOnce is `gatehouse run`: it makes a Runtime from cfg, loads req,
// calls export once with input, and closes everything. The Result carries
// what the command prints besides the output (see Summary).
func RunOnce(ctx context.Context, cfg Config, req LoadRequest, export string, input []byte) (Result, error) {
	rt, err := NewRuntime(cfg)
	if err != nil {
		return Result{}, err
	}
	defer rt.Close(context.Background())
	p, err := rt.Load(ctx, req)
	if err != nil {
		return Result{}, err
	}
	defer p.Close(context.Background())
	return p.Call(ctx, export, input)
}

// Summary describes how a call behaved, for people: time, memory, host
// calls (each with its target and status), log lines and anything written
// to stdout or stderr. It never includes the output.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "time %s, memory %s, %d host call(s)\n", r.Duration.Round(10_000), formatBytes(r.MemoryBytes), len(r.HostCalls))
	for _, hc := range r.HostCalls {
		fmt.Fprintf(&b, "  %s %s: %s\n", hc.Function, hc.Target, hc.Status)
	}
	for _, l := range r.Logs {
		fmt.Fprintf(&b, "  log[%d] %s\n", l.Level, l.Message)
	}
	if r.LogsDropped > 0 {
		fmt.Fprintf(&b, "  (%d log lines dropped over the limit)\n", r.LogsDropped)
	}
	if len(r.Stdout) > 0 {
		fmt.Fprintf(&b, "stdout (%d bytes):\n%s\n", len(r.Stdout), strings.TrimRight(string(r.Stdout), "\n"))
	}
	if len(r.Stderr) > 0 {
		fmt.Fprintf(&b, "stderr (%d bytes):\n%s\n", len(r.Stderr), strings.TrimRight(string(r.Stderr), "\n"))
	}
	return b.String()
}

func formatBytes(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
