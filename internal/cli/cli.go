// Package cli is the `gatehouse` command line: flags, environment and
// output. The work itself is done by the packages it calls.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/client"
)

// Env is what a command sees of its process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	root := New(env)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(env.Stderr, "gatehouse:", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintln(env.Stderr, "gatehouse:", hint(err, root.PersistentFlags().Lookup("server").Value.String()))
		return 1
	}
	return 0
}

// exitError ends the command with a specific code (e.g. 2 for a failed
// verification) after printing msg.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

type globals struct {
	env       Env
	server    string
	token     string
	logLevel  string
	logFormat string
}

func (g *globals) getenv(name, def string) string {
	if v := g.env.Getenv(name); v != "" {
		return v
	}
	return def
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(g.env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.env.Stderr, opts))
}

func (g *globals) client() (*client.Client, error) {
	if g.token == "" {
		return nil, errors.New("no token: set GATEHOUSE_TOKEN (or --token) to a token an admin made with `gatehouse token create`; the first admin token is in gatehouse-data/admin.token, as `gatehouse serve` printed")
	}
	return client.New(g.server, g.token)
}

// New builds the command tree.
func New(env Env) *cobra.Command {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	g := &globals{env: env}
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "A self-hosted marketplace that vets, certifies and sandboxes third-party plugins",
		Long: `Gatehouse takes a WebAssembly plugin from its author's first submission to
sandboxed execution inside a host platform, and keeps proving it is safe.

Client commands talk to a server named by GATEHOUSE_SERVER (default
http://127.0.0.1:8080) with the token in GATEHOUSE_TOKEN.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	pf := root.PersistentFlags()
	g.envString(pf, &g.server, "server", "GATEHOUSE_SERVER", "http://127.0.0.1:8080", "server URL")
	g.envString(pf, &g.token, "token", "GATEHOUSE_TOKEN", "", "API token")
	g.envString(pf, &g.logLevel, "log-level", "GATEHOUSE_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	g.envString(pf, &g.logFormat, "log-format", "GATEHOUSE_LOG_FORMAT", "text", "log format: text or json")

	root.AddCommand(serveCmd(g), workerCmd(g), migrateCmd(g), pluginCmd(g), tokenCmd(g), auditCmd(g), vetCmd(g), vulndbCmd(g), runCmd(g), reviewCmd(g), policyCmd(g), releaseCmd(g), privacyCmd(g))
	root.AddCommand(trustCmds(g)...)   // internal/cli/trust.go: keys, namespace, verify, install, log
	root.AddCommand(monitorCmds(g)...) // internal/cli/monitor.go: revalidate
	root.AddCommand(notifyCmds(g)...)  // internal/cli/notify.go: incident, webhook
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	finishTree(root)
	addExamples(root)
	return root
}

func stringsJoin(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return strings.Join(ss, ", ")
}
