package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// DecisionRef is the rule a policy defines for the engine to evaluate.
const DecisionRef = "data.gatehouse.decision"

var decisionRef = ast.MustParseRef(DecisionRef)

// Engine is a compiled policy, ready to decide. It is immutable and safe for
// concurrent use; replacing the active policy means compiling a new Engine
// and swapping the pointer.
type Engine struct {
	query rego.PreparedEvalQuery
	// quorum is the health_quorum query, nil when the policy defines none.
	quorum  *rego.PreparedEvalQuery
	release releaseQueries
	policy  Policy
}

// CompileError is one problem that stops a policy from compiling, at a
// place in one of its files.
type CompileError struct {
	File    string
	Line    int // 1-based; 0 when unknown
	Col     int // 1-based; 0 when unknown
	Message string
}

func (e *CompileError) Error() string {
	switch {
	case e.File == "":
		return e.Message
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
}

// CompileErrors is every problem found in a policy, in file and line order.
// errors.As finds it, or the first *CompileError.
type CompileErrors []*CompileError

func (es CompileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return fmt.Sprintf("the policy does not compile (%d problem(s)):\n%s", len(es), strings.Join(lines, "\n"))
}

// Unwrap returns the single problems, for errors.As and errors.Is.
func (es CompileErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Compile parses and compiles a policy and prepares its decision query. A
// policy that does not parse or compile, or defines no
// data.gatehouse.decision, is refused with CompileErrors naming every
// problem found (file, line and column).
//
// Policies may not use built-in functions whose results vary between calls
// (http.send, time.now_ns, rand.intn, net.lookup_ip_addr, …): a decision is a
// function of the policy and the input alone, so it can be stored, explained
// and re-run by DryRun with the same result.
func Compile(ctx context.Context, p Policy) (*Engine, error) {
	c, err := compiler(p)
	if err != nil {
		return nil, err
	}
	if len(c.GetRulesExact(decisionRef)) == 0 {
		return nil, CompileErrors{{Message: fmt.Sprintf("the policy defines no decision: it needs a rule `decision` in package gatehouse (%s)", DecisionRef)}}
	}
	q, err := rego.New(
		rego.Compiler(c),
		rego.Store(inmem.New()),
		rego.Query(DecisionRef),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		if ce := compileErrors(err); ce != nil {
			return nil, ce
		}
		return nil, fmt.Errorf("preparing the policy's decision query: %w", err)
	}
	quorum, err := prepareQuorum(ctx, c)
	if err != nil {
		return nil, err
	}
	rq, err := prepareReleaseQueries(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Engine{query: q, quorum: quorum, release: rq, policy: p}, nil
}

// compiler parses every file of p, then compiles them together, gathering
// all problems rather than stopping at the first.
func compiler(p Policy) (*ast.Compiler, error) {
	mods, err := parse(p)
	if err != nil {
		return nil, err
	}
	c := newCompiler()
	if c.Compile(mods); c.Failed() {
		return nil, compileErrors(c.Errors)
	}
	return c, nil
}

// parse parses every file of p as Rego v1, reporting the problems of all
// files at once.
func parse(p Policy) (map[string]*ast.Module, error) {
	if err := p.check(); err != nil {
		return nil, CompileErrors{{Message: err.Error()}}
	}
	var problems CompileErrors
	mods := make(map[string]*ast.Module, len(p.Modules))
	for _, name := range sortedNames(p.Modules) {
		m, err := ast.ParseModuleWithOpts(name, p.Modules[name], ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			problems = append(problems, compileErrors(err)...)
			continue
		}
		mods[name] = m
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return mods, nil
}

func newCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1).
		SetErrorLimit(0)
}

// capabilities are OPA's built-ins less those whose result is not a function
// of their arguments, and with no network access for the compiler either.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0:0]
	for _, b := range caps.Builtins {
		if b.Nondeterministic || b.Name == "opa.runtime" || b.Name == "trace" {
			continue
		}
		kept = append(kept, b)
	}
	caps.Builtins = kept
	caps.AllowNet = []string{}
	return caps
}

// compileErrors converts OPA's errors to CompileErrors, or returns nil when
// err holds none.
func compileErrors(err error) CompileErrors {
	var aerrs ast.Errors
	if errors.As(err, &aerrs) {
		out := make(CompileErrors, 0, len(aerrs))
		for _, e := range aerrs {
			ce := &CompileError{Message: e.Message}
			if e.Location != nil {
				ce.File, ce.Line, ce.Col = e.Location.File, e.Location.Row, e.Location.Col
				if ce.Line > 0 && ce.Col < 1 {
					ce.Col = 1 // OPA reports column 0 at the end of a file
				}
			}
			out = append(out, ce)
		}
		return out
	}
	var aerr *ast.Error
	if errors.As(err, &aerr) {
		return compileErrors(ast.Errors{aerr})
	}
	return nil
}

// Digest returns the digest of the engine's policy.
func (e *Engine) Digest() string { return e.policy.Digest }

// Policy returns the engine's policy source (a copy of its file map).
func (e *Engine) Policy() Policy { return New(e.policy.Modules) }

// Decide evaluates the policy for one input. The input is validated first;
// a policy that leaves the decision undefined (a rule it needs did not
// apply) or answers out of range is an error, never a default.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("policy decision for %s@%s: %w", in.Plugin.ID, in.Plugin.Version, err)
	}
	if err := in.Validate(); err != nil {
		return Decision{}, err
	}
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(in.value()))
	if err != nil {
		return Decision{}, fmt.Errorf("policy %s: evaluating the decision for %s@%s: %w", short(e.policy.Digest), in.Plugin.ID, in.Plugin.Version, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{}, fmt.Errorf("policy %s made no decision for %s@%s: %s is undefined for this input, so a rule it depends on did not apply", short(e.policy.Digest), in.Plugin.ID, in.Plugin.Version, DecisionRef)
	}
	d, err := decodeDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return Decision{}, fmt.Errorf("policy %s: %w", short(e.policy.Digest), err)
	}
	return d, nil
}

func decodeDecision(v any) (Decision, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Decision{}, fmt.Errorf("encoding the decision: %w", err)
	}
	var d Decision
	if err := json.Unmarshal(b, &d); err != nil {
		return Decision{}, fmt.Errorf("the decision does not have the shape policy.Decision documents: %w", err)
	}
	if err := d.check(); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// short abbreviates a digest for messages.
func short(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12]
	}
	return digest
}
