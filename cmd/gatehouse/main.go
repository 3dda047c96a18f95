// Command gatehouse is the Gatehouse marketplace, its author tools and its
// host-side verifier, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"gatehouse.dev/gatehouse/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
