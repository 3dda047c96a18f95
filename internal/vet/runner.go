package vet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// Suppressions answers whether a reviewer marked a finding a false
// positive. The fingerprint is stable across versions, so a decision made
// on one version carries forward to the next.
type Suppressions interface {
	Lookup(fingerprint string) (*Suppression, bool)
}

// SuppressionMap is a Suppressions held in memory, keyed by fingerprint.
type SuppressionMap map[string]Suppression

// Lookup implements Suppressions.
func (m SuppressionMap) Lookup(fp string) (*Suppression, bool) {
	s, ok := m[fp]
	if !ok {
		return nil, false
	}
	return &s, true
}

// DefaultTimeout bounds an analyzer whose Timeout is not positive.
const DefaultTimeout = time.Minute

// MaxFindings bounds the findings kept in one result. A package that
// trips a rule thousands of times needs fixing, not a longer list; the
// most severe findings are kept and the result's Reason says how many
// were left out.
const MaxFindings = 1000

// Run runs analyzers over in and returns one result per analyzer (and one
// per analyzer the configuration requires but that is not among
// analyzers), sorted by analyzer name.
//
// An analyzer runs once every analyzer it requires has finished; analyzers
// that do not depend on each other run in parallel, at most GOMAXPROCS at
// a time, those that start the longest expected chain first (Estimator).
// Each run is bounded by the analyzer's Timeout; a panic, a timeout or an error becomes an errored result and never stops the
// others. An analyzer whose requirement errored or was skipped is skipped
// with that reason; one that requires an unknown analyzer or sits on a
// dependency cycle is errored, naming it.
//
// Run does not modify in; each analyzer gets a shallow copy whose Results
// hold exactly the analyzers it requires. sup may be nil.
func Run(ctx context.Context, analyzers []Analyzer, in *Input, cfg Config, sup Suppressions) []Result {
	r := &run{cfg: cfg, sup: sup, in: in, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r.all(ctx, analyzers)
}

type run struct {
	cfg Config
	sup Suppressions
	in  *Input
	log *slog.Logger
}

type node struct {
	a      Analyzer
	name   string
	deps   []*node
	done   chan struct{}
	result Result
	// pre, when set, is the result decided before running (disabled,
	// unknown requirement, cycle).
	pre *Result
}

func (r *run) all(ctx context.Context, analyzers []Analyzer) []Result {
	nodes := make(map[string]*node, len(analyzers))
	var order []*node
	var dupResults []Result
	for _, a := range analyzers {
		name := a.Name()
		if _, dup := nodes[name]; dup {
			// Two analyzers with one name would overwrite each other's
			// stored results; the second is refused, loudly.
			res := r.preResult(name, a.Version(), Errored, fmt.Sprintf("a second analyzer named %q was given; analyzer names must be unique", name))
			dupResults = append(dupResults, res)
			continue
		}
		n := &node{a: a, name: name, done: make(chan struct{})}
		nodes[name] = n
		order = append(order, n)
	}

	// Resolve requirements into edges, recording unknown ones.
	for _, n := range order {
		mode := r.cfg.AnalyzerMode(n.name)
		if !mode.Enabled {
			res := r.preResult(n.name, n.a.Version(), Skipped, "disabled in the vet configuration")
			n.pre = &res
			continue
		}
		var unknown []string
		for _, dep := range n.a.Requires() {
			d, ok := nodes[dep]
			if !ok {
				unknown = append(unknown, dep)
				continue
			}
			n.deps = append(n.deps, d)
		}
		if len(unknown) > 0 {
			res := r.preResult(n.name, n.a.Version(), Errored, fmt.Sprintf("requires analyzer %s, which is not available", quoteList(unknown)))
			n.pre = &res
		}
	}
	for _, cyc := range findCycles(order) {
		reason := "dependency cycle: " + strings.Join(cyc, " → ")
		for _, name := range cyc[:len(cyc)-1] {
			n := nodes[name]
			if n.pre == nil {
				res := r.preResult(n.name, n.a.Version(), Errored, reason)
				n.pre = &res
			}
			// Drop the edges so no goroutine waits on the cycle.
			n.deps = nil
		}
	}

	// As many at once as there are cores, the longest path first. The
	// analyzers that wait for nothing take their slots here, in that
	// order, so the first wave does not depend on which goroutine the
	// scheduler runs first; the rest queue at the gate as they become
	// ready. A node's requirements have longer paths, so they are
	// launched before it.
	slots, paths := newGate(runtime.GOMAXPROCS(0)), longestPaths(order)
	launch := slices.Clone(order)
	slices.SortStableFunc(launch, func(a, b *node) int { return cmp.Compare(paths[b], paths[a]) })
	var wg sync.WaitGroup
	for _, n := range launch {
		var held bool
		var early error
		if n.pre == nil && len(n.deps) == 0 {
			early = slots.acquire(ctx, paths[n])
			held = early == nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.done)
			if n.pre != nil {
				n.result = *n.pre
				return
			}
			for _, d := range n.deps {
				<-d.done
			}
			if res, ok := r.blockedByDeps(n); ok {
				n.result = res
				return
			}
			err := early
			if !held && err == nil {
				err = slots.acquire(ctx, paths[n])
			}
			if err != nil {
				n.result = r.preResult(n.name, n.a.Version(), Errored, "vetting was canceled before the analyzer started: "+err.Error())
				return
			}
			n.result = r.one(ctx, n)
			slots.release()
		}()
	}
	wg.Wait()

	results := make([]Result, 0, len(order)+len(dupResults))
	for _, n := range order {
		results = append(results, n.result)
	}
	results = append(results, dupResults...)
	// A required analyzer the configuration names but nobody supplied is a
	// missing result, and a missing required result blocks.
	for _, name := range sortedKeys(r.cfg.Analyzers) {
		m := r.cfg.Analyzers[name]
		if _, ok := nodes[name]; !ok && m.Enabled && m.Required {
			results = append(results, r.preResult(name, "", Errored, fmt.Sprintf("the configuration requires analyzer %q, but this build does not provide it", name)))
		}
	}
	slices.SortStableFunc(results, func(a, b Result) int { return strings.Compare(a.Analyzer, b.Analyzer) })
	return results
}

// blockedByDeps returns a skipped result when a requirement did not
// produce a usable result.
func (r *run) blockedByDeps(n *node) (Result, bool) {
	for _, d := range n.deps {
		switch d.result.Status {
		case Errored, Skipped:
			reason := fmt.Sprintf("requires %s, which was %s", d.name, d.result.Status)
			if d.result.Reason != "" {
				reason += ": " + d.result.Reason
			}
			res := r.preResult(n.name, n.a.Version(), Skipped, reason)
			// A required analyzer that could not run because its
			// requirement failed is a missing result: it fails closed
			// even though it did nothing wrong. One skipped because its
			// requirement did not apply (or was disabled) is not.
			res.Blocking = res.Mode.Required && (d.result.Status == Errored || d.result.Blocking)
			return res, true
		}
	}
	return Result{}, false
}

// preResult is a result decided without running the analyzer.
func (r *run) preResult(name, version string, st Status, reason string) Result {
	mode := r.cfg.AnalyzerMode(name)
	res := Result{
		Analyzer: name,
		Version:  version,
		Status:   st,
		Reason:   reason,
		Findings: []Finding{},
		Started:  time.Now().UTC(),
		Mode:     mode,
	}
	res.Blocking = st == Errored && mode.Enabled && mode.Required
	return res
}

// outcome is what the analyzer's goroutine hands back.
type outcome struct {
	rep *Report
	err error
}

// one runs a single analyzer under its timeout.
func (r *run) one(ctx context.Context, n *node) Result {
	a := n.a
	timeout := a.Timeout()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	in := r.inputFor(n)
	res := Result{
		Analyzer: n.name,
		Version:  a.Version(),
		Findings: []Finding{},
		Started:  time.Now().UTC(),
		Mode:     r.cfg.AnalyzerMode(n.name),
	}
	ctx, span := startSpan(ctx, n.name, res.Version)
	defer func() { endSpan(span, &res) }()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The analyzer runs on its own goroutine so that one which ignores its
	// context cannot hold up the run: after the deadline its result is
	// abandoned (the goroutine finishes in the background).
	ch := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("vet: analyzer panicked", "analyzer", n.name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				ch <- outcome{err: &panicError{value: p}}
			}
		}()
		rep, err := a.Analyze(actx, in)
		ch <- outcome{rep: rep, err: err}
	}()

	var out outcome
	select {
	case out = <-ch:
	case <-actx.Done():
		// Prefer a result that raced the deadline.
		select {
		case out = <-ch:
		default:
			out.err = actx.Err()
		}
	}
	res.Duration = time.Since(res.Started)
	r.finish(&res, a, out)
	r.log.Debug("vet: analyzer finished", "analyzer", n.name, "status", res.Status, "findings", len(res.Findings), "duration", res.Duration)
	return res
}

type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// inputFor is in with Results limited to what n requires.
func (r *run) inputFor(n *node) *Input {
	var in Input
	if r.in != nil {
		in = *r.in
	}
	in.Results = make(map[string]*Result, len(n.deps))
	for _, d := range n.deps {
		res := d.result
		in.Results[d.name] = &res
	}
	return &in
}

// finish turns an analyzer's return values into res.
func (r *run) finish(res *Result, a Analyzer, out outcome) {
	var pe *panicError
	switch {
	case out.err != nil && errors.As(out.err, &pe):
		r.errored(res, pe.Error())
		return
	case errors.Is(out.err, context.DeadlineExceeded):
		r.errored(res, fmt.Sprintf("timed out after %s", res.Duration.Round(time.Millisecond)))
		return
	case errors.Is(out.err, context.Canceled):
		r.errored(res, "vetting was canceled while the analyzer ran")
		return
	case errors.Is(out.err, ErrSkipped):
		res.Status = Skipped
		res.Reason = skipReason(out.err)
		return
	case out.err != nil:
		r.errored(res, out.err.Error())
		return
	case out.rep == nil:
		r.errored(res, "the analyzer returned neither a report nor an error")
		return
	}
	rep := out.rep
	if rep.Detail != nil {
		d, err := json.Marshal(rep.Detail)
		if err != nil {
			r.errored(res, "encoding the analyzer's detail: "+err.Error())
			return
		}
		res.Detail = d
	}
	if len(rep.Databases) > 0 {
		res.Databases = make(map[string]string, len(rep.Databases))
		for k, v := range rep.Databases {
			res.Databases[k] = v
		}
	}
	rules := make(map[string]Rule)
	for _, rule := range a.Rules() {
		rules[rule.ID] = rule
	}
	findings := make([]Finding, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		if f.Severity.Rank() < 0 {
			r.errored(res, fmt.Sprintf("the analyzer reported a %s finding with the unknown severity %q", f.RuleID, f.Severity))
			return
		}
		if !r.cfg.RuleMode(res.Analyzer, f.RuleID).Enabled {
			continue
		}
		f.Analyzer = res.Analyzer
		if f.Remediation == "" {
			f.Remediation = rules[f.RuleID].Remediation
		}
		if f.Fingerprint == "" {
			f.Fingerprint = Fingerprint(f.RuleID, f.Location.File, f.Message)
		}
		f.Suppressed = nil
		if r.sup != nil {
			if s, ok := r.sup.Lookup(f.Fingerprint); ok && s != nil {
				c := *s
				f.Suppressed = &c
			}
		}
		if f.Properties != nil {
			f.Properties = cloneMap(f.Properties)
		}
		findings = append(findings, f)
	}
	if len(findings) > MaxFindings {
		slices.SortStableFunc(findings, func(a, b Finding) int {
			return cmp.Compare(b.Severity.Rank(), a.Severity.Rank())
		})
		res.Reason = fmt.Sprintf("%d findings were left out; only the %d most severe are kept", len(findings)-MaxFindings, MaxFindings)
		findings = findings[:MaxFindings]
	}
	SortFindings(findings)
	res.Findings = findings
	res.Status = Passed
	for _, f := range findings {
		if f.Suppressed != nil || !f.Severity.Fails() {
			continue
		}
		res.Status = Failed
		if r.cfg.RuleMode(res.Analyzer, f.RuleID).Enforced {
			res.Blocking = true
		}
	}
}

func (r *run) errored(res *Result, reason string) {
	res.Status = Errored
	res.Reason = reason
	res.Findings = []Finding{}
	res.Detail = nil
	res.Blocking = res.Mode.Required
}

// skipReason strips the ErrSkipped sentinel from a wrapped error, leaving
// the analyzer's reason ("first version" rather than "first version:
// skipped").
func skipReason(err error) string {
	msg := err.Error()
	for _, suffix := range []string{": " + ErrSkipped.Error(), ErrSkipped.Error()} {
		if s, ok := strings.CutSuffix(msg, suffix); ok && s != "" {
			return s
		}
	}
	if s, ok := strings.CutPrefix(msg, ErrSkipped.Error()+": "); ok {
		return s
	}
	return msg
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// findCycles returns each dependency cycle once, as the names along it
// with the first repeated at the end ("a → b → a").
func findCycles(order []*node) [][]string {
	const (
		white = iota
		grey
		black
	)
	color := make(map[*node]int, len(order))
	var stack []*node
	var cycles [][]string
	var visit func(n *node)
	visit = func(n *node) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range n.deps {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := slices.Index(stack, d)
				var cyc []string
				for _, s := range stack[i:] {
					cyc = append(cyc, s.name)
				}
				cycles = append(cycles, append(cyc, d.name))
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range order {
		if color[n] == white {
			visit(n)
		}
	}
	return cycles
}

// Summary says whether results block the version and why, one sentence
// per blocking result, in result order.
func Summary(results []Result) (blocked bool, reasons []string) {
	for _, res := range results {
		if !res.Blocking {
			continue
		}
		blocked = true
		switch res.Status {
		case Failed:
			var ids []string
			n := 0
			for _, f := range res.Findings {
				if f.Suppressed == nil && f.Severity.Fails() {
					n++
					if !slices.Contains(ids, f.RuleID) {
						ids = append(ids, f.RuleID)
					}
				}
			}
			reasons = append(reasons, fmt.Sprintf("%s failed: %d finding(s) of medium severity or above (%s)", res.Analyzer, n, strings.Join(ids, ", ")))
		case Errored:
			reasons = append(reasons, fmt.Sprintf("%s is required and errored: %s", res.Analyzer, res.Reason))
		default:
			reasons = append(reasons, fmt.Sprintf("%s is required and was %s: %s", res.Analyzer, res.Status, res.Reason))
		}
	}
	return blocked, reasons
}
