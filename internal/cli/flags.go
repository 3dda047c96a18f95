package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envString registers a string flag whose default is the environment
// variable env, else def. Help says where the default comes from and never
// shows the variable's value: GATEHOUSE_TOKEN and GATEHOUSE_DATABASE hold
// secrets, and --help output ends up in terminals, logs and bug reports.
func (g *globals) envString(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	fs.StringVar(p, name, def, usage+envNote(env, def))
	fs.Lookup(name).DefValue = ""
	*p = g.getenv(env, def)
}

// envBool is envString for a boolean flag: env set to "true" turns it on.
func (g *globals) envBool(fs *pflag.FlagSet, p *bool, name, env, usage string) {
	fs.BoolVar(p, name, false, usage+envNote(env, ""))
	*p = g.env.Getenv(env) == "true"
}

func envNote(env, def string) string {
	if def == "" {
		return fmt.Sprintf(" (default from $%s)", env)
	}
	return fmt.Sprintf(" (default from $%s, else %q)", env, def)
}

// durationValue is a duration flag that refuses zero and negative values:
// a deadline, an age or a timeout of -5s is a mistake, never a setting.
type durationValue struct {
	p   *time.Duration
	max time.Duration // 0: no upper bound
}

func (d *durationValue) String() string {
	if *d.p == 0 {
		return "0s"
	}
	return d.p.String()
}

func (d *durationValue) Type() string { return "duration" }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration; use a number with a unit, such as 90s, 30m or 168h")
	}
	if err := checkDuration(v, d.max); err != nil {
		return err
	}
	*d.p = v
	return nil
}

func checkDuration(v, max time.Duration) error {
	if v <= 0 || (max > 0 && v > max) {
		return fmt.Errorf("must be %s", durationRange(max))
	}
	return nil
}

func durationRange(max time.Duration) string {
	if max > 0 {
		return fmt.Sprintf("more than 0s and at most %s", hours(max))
	}
	return "more than 0s, such as 90s, 30m or 168h"
}

// hours writes a whole number of hours as 720h rather than 720h0m0s.
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// positiveDuration registers a duration flag that refuses zero, negative
// values and values over max (when max > 0). def 0 means "not given".
func positiveDuration(fs *pflag.FlagSet, p *time.Duration, name string, def, max time.Duration, usage string) {
	*p = def
	fs.Var(&durationValue{p: p, max: max}, name, usage)
	if def == 0 {
		fs.Lookup(name).DefValue = "" // "not given": help prints no default
	}
}

// groupRun makes a command that only groups subcommands refuse an unknown
// subcommand with a non-zero exit, instead of printing its help and
// succeeding; without arguments it prints its help.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return fmt.Errorf("%s; run '%s --help' for its commands", msg, cmd.CommandPath())
}

// finishTree applies the rules every command follows: groups refuse unknown
// subcommands, and their short help lists the subcommands they have.
func finishTree(c *cobra.Command) {
	if c.HasSubCommands() {
		if c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = groupRun
		}
		for _, sub := range c.Commands() {
			finishTree(sub)
		}
	}
}

// subcommandNames lists c's available subcommands, for its help text.
func subcommandNames(c *cobra.Command) string {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return strings.Join(names, ", ")
}

// output is the -o/--output flag of commands that print data: text (tables
// for lists) for people, json for programs, and sarif where findings are
// printed.
type output struct {
	format  string
	allowed []string
}

func (o *output) String() string { return o.format }
func (o *output) Type() string   { return "format" }

func (o *output) Set(s string) error {
	for _, a := range o.allowed {
		if s == a {
			o.format = s
			return nil
		}
	}
	return fmt.Errorf("must be %s", orList(o.allowed))
}

// addOutput registers -o/--output on c with the allowed formats, the
// first being the default.
func addOutput(c *cobra.Command, allowed ...string) *output {
	o := &output{format: allowed[0], allowed: allowed}
	c.Flags().VarP(o, "output", "o", "output format: "+orList(allowed))
	return o
}

// withOutput registers -o text|json on c and returns c, for commands
// built inside a literal; the command's RunE finds the flag with outputOf.
func withOutput(c *cobra.Command) *cobra.Command {
	addOutput(c, "text", "json")
	return c
}

// outputOf returns the -o flag withOutput or addOutput registered on cmd.
func outputOf(cmd *cobra.Command) *output {
	return cmd.Flags().Lookup("output").Value.(*output)
}

// deprecatedJSON keeps an old --json switch working as -o json.
func (o *output) deprecatedJSON(c *cobra.Command) {
	c.Flags().Var(&aliasBool{o: o, to: "json", cmd: c}, "json", "print JSON")
	c.Flags().Lookup("json").NoOptDefVal = "true"
	c.Flags().Lookup("json").Hidden = true
}

// deprecatedFormat keeps an old --format flag working as -o.
func (o *output) deprecatedFormat(c *cobra.Command) {
	c.Flags().Var(&aliasFormat{o: o, cmd: c}, "format", "output format")
	c.Flags().Lookup("format").Hidden = true
}

// The deprecation notes go to standard error, never into the output a
// script parses (cobra's own go to the command's output).
func deprecated(c *cobra.Command, old, use string) {
	fmt.Fprintf(c.ErrOrStderr(), "Flag %s is deprecated: use %s\n", old, use)
}

type aliasFormat struct {
	o   *output
	cmd *cobra.Command
}

func (a *aliasFormat) String() string { return a.o.String() }
func (a *aliasFormat) Type() string   { return "format" }
func (a *aliasFormat) Set(s string) error {
	if err := a.o.Set(s); err != nil {
		return err
	}
	deprecated(a.cmd, "--format", "-o "+s)
	return nil
}

func (o *output) json() bool { return o.format == "json" }

// writeJSON prints v indented, the -o json form of every command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type aliasBool struct {
	o   *output
	to  string
	cmd *cobra.Command
}

func (a *aliasBool) String() string   { return "false" }
func (a *aliasBool) Type() string     { return "bool" }
func (a *aliasBool) IsBoolFlag() bool { return true }
func (a *aliasBool) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if on {
		a.o.format = a.to
		deprecated(a.cmd, "--json", "-o "+a.to)
	}
	return nil
}

// orList writes a, b or c.
func orList(ss []string) string {
	switch len(ss) {
	case 0:
		return ""
	case 1:
		return ss[0]
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
}
