// Package vet is the analyzer framework: what an analyzer is, what it
// finds, and how a run of all of them over one package version is recorded.
// The analyzers themselves live in sub-packages; the runner (runner.go)
// runs independent ones in parallel and turns panics and timeouts into
// errored results. The server's background jobs and `gatehouse vet` share
// this code path.
package vet

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Severity ranks a finding. Findings of Medium and above fail their
// analyzer's result; Low and Info are advice.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Rank orders severities: Critical is 4, Info 0, unknown -1.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	case Info:
		return 0
	}
	return -1
}

// Fails reports whether a finding of this severity fails its result.
func (s Severity) Fails() bool { return s.Rank() >= Medium.Rank() }

// Location is where a finding is: a package file, and a line (1-based, for
// text) or a byte offset (for binaries such as the module). Zero values
// mean unknown.
type Location struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Offset int64  `json:"offset,omitempty"` // byte offset, when Line is 0
	Length int64  `json:"length,omitempty"`
	// Snippet is a short, already-redacted excerpt for reviewers.
	Snippet string `json:"snippet,omitempty"`
}

// Finding is one thing an analyzer found.
type Finding struct {
	Analyzer string   `json:"analyzer"`
	RuleID   string   `json:"ruleId"` // e.g. "capabilities/undeclared-import"
	Severity Severity `json:"severity"`
	Message  string   `json:"message"` // what is wrong, in a sentence; never a secret's value
	Location Location `json:"location"`
	// Fingerprint identifies the finding across versions (same rule, same
	// file, same subject, not the line number), so a reviewer's
	// false-positive decision carries forward.
	Fingerprint string `json:"fingerprint"`
	Remediation string `json:"remediation"` // how to fix it
	// Properties are rule-specific facts (advisory ids, versions, origins).
	Properties map[string]any `json:"properties,omitempty"`
	// Suppressed is set by the runner when a reviewer marked a finding
	// with this fingerprint a false positive; the finding is still shown.
	Suppressed *Suppression `json:"suppressed,omitempty"`
}

// Suppression records a reviewer's false-positive decision.
type Suppression struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Rule describes a rule for reports and SARIF.
type Rule struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Severity    Severity `json:"severity"`
	Remediation string   `json:"remediation"`
	HelpURI     string   `json:"helpUri,omitempty"`
}

// Input is what an analyzer sees: one package version, and the results of
// the analyzers it requires.
type Input struct {
	Package  *pkgfile.Package
	Manifest *manifest.Manifest
	// Module is the WebAssembly module's bytes (the manifest's
	// runtime.module).
	Module []byte
	// Previous is the last approved version of the same plugin, or nil.
	Previous *Previous
	// Results holds the results of the analyzers named in Requires.
	Results map[string]*Result
}

// Previous is the last approved version, for analyzers that compare.
type Previous struct {
	Version  string
	Package  *pkgfile.Package
	Manifest *manifest.Manifest
	Module   []byte
}

// Report is what an analyzer returns.
type Report struct {
	Findings []Finding
	// Detail is analyzer-specific data other parts read (the diff summary,
	// the component list, the completeness score).
	Detail any
	// Databases names the versions of rule sets and databases used, e.g.
	// {"gitleaks": "8.30.1", "osv": "sha256:…"}.
	Databases map[string]string
}

// ErrSkipped, returned (wrapped, with the reason) by Analyze, records the
// result as skipped rather than errored.
var ErrSkipped = errors.New("skipped")

// Analyzer checks one aspect of a package version.
type Analyzer interface {
	Name() string
	// Version changes whenever the analyzer's rules change, so stored
	// results say which rules produced them.
	Version() string
	// Requires names analyzers whose results this one reads.
	Requires() []string
	// Timeout bounds one run.
	Timeout() time.Duration
	// Rules lists every rule the analyzer can report.
	Rules() []Rule
	Analyze(ctx context.Context, in *Input) (*Report, error)
}

// Status is the outcome of one analyzer on one version.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"  // a finding of Medium or above that is not suppressed
	Errored Status = "errored" // the analyzer could not finish: its cause is in Reason
	Skipped Status = "skipped" // not applicable, with the reason
)

// Result is one analyzer's recorded outcome.
type Result struct {
	Analyzer  string            `json:"analyzer"`
	Version   string            `json:"version"`
	Status    Status            `json:"status"`
	Reason    string            `json:"reason,omitempty"`
	Findings  []Finding         `json:"findings"`
	Detail    json.RawMessage   `json:"detail,omitempty"`
	Databases map[string]string `json:"databases,omitempty"`
	Started   time.Time         `json:"started"`
	Duration  time.Duration     `json:"duration"`
	// Mode is how the result counts, from configuration.
	Mode Mode `json:"mode"`
	// Blocking is true when this result stops the version: enforced and
	// failed, or required and errored or missing.
	Blocking bool `json:"blocking"`
}

// Mode says how an analyzer or a rule counts.
type Mode struct {
	Enabled  bool `json:"enabled"`
	Enforced bool `json:"enforced"` // a failure blocks
	Required bool `json:"required"` // an errored or missing result blocks
}
