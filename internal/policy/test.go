package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/tester"
)

// TestTimeout bounds one Rego test.
const TestTimeout = 10 * time.Second

// TestReport is the outcome of a policy's Rego unit tests.
type TestReport struct {
	Results []TestResult
	Passed  int
	Failed  int // failed or errored
	Skipped int
}

// TestResult is one Rego test (a rule named test_*).
type TestResult struct {
	Package string // e.g. "data.gatehouse_test"
	Name    string // e.g. "test_http_origin_denied"
	File    string
	Line    int
	Outcome string // "pass", "fail", "error" or "skip"
	// Error is the evaluation error of an errored test.
	Error    string
	Duration time.Duration
}

func (r TestResult) String() string {
	s := fmt.Sprintf("%s:%d: %s.%s: %s", r.File, r.Line, r.Package, r.Name, strings.ToUpper(r.Outcome))
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

// Err returns nil when every test passed and at least one ran, else an
// error naming each failing test with its file and line. A policy without
// tests is refused: nothing would show that its rules do what they say.
func (r TestReport) Err() error {
	if r.Passed+r.Failed == 0 {
		return fmt.Errorf("the policy has no tests: add rules named test_* in a file ending in _test.rego")
	}
	if r.Failed == 0 {
		return nil
	}
	var lines []string
	for _, t := range r.Results {
		if t.Outcome == "fail" || t.Outcome == "error" {
			lines = append(lines, t.String())
		}
	}
	return fmt.Errorf("%d of %d policy test(s) failed:\n%s", r.Failed, r.Passed+r.Failed, strings.Join(lines, "\n"))
}

// Test compiles a policy and runs its Rego unit tests (rules named test_*,
// by convention in files ending in _test.rego), as `opa test` would. A
// policy that does not compile returns CompileErrors; failing tests are in
// the report (see TestReport.Err), not in the error.
func Test(ctx context.Context, p Policy) (TestReport, error) {
	mods, err := parse(p)
	if err != nil {
		return TestReport{}, err
	}
	// The runner compiles the modules itself, with its test stages added to
	// a compiler configured as Compile's is.
	ch, err := tester.NewRunner().
		SetCompiler(newCompiler()).
		SetModules(mods).
		SetTimeout(TestTimeout).
		SetParallel(1).
		RaiseBuiltinErrors(true).
		RunTests(ctx, nil)
	if err != nil {
		if ce := compileErrors(err); ce != nil {
			return TestReport{}, ce
		}
		return TestReport{}, fmt.Errorf("running the policy's tests: %w", err)
	}
	var rep TestReport
	for r := range ch {
		tr := TestResult{Package: r.Package, Name: r.Name, Duration: r.Duration}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Skip:
			tr.Outcome = "skip"
			rep.Skipped++
		case r.Error != nil:
			tr.Outcome, tr.Error = "error", r.Error.Error()
			rep.Failed++
		case r.Fail:
			tr.Outcome = "fail"
			rep.Failed++
		default:
			tr.Outcome = "pass"
			rep.Passed++
		}
		rep.Results = append(rep.Results, tr)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("running the policy's tests: %w", err)
	}
	slices.SortFunc(rep.Results, func(a, b TestResult) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), strings.Compare(a.Name, b.Name))
	})
	return rep, nil
}
