package api

import (
	"encoding/json"
	"time"
)

// VetResult is one analyzer's recorded outcome in a vetting run.
type VetResult struct {
	Analyzer string `json:"analyzer"`
	Version  string `json:"version"` // the analyzer's version
	// Status is passed, failed (a finding of medium or above that is not
	// suppressed), errored (the analyzer could not finish; Reason says why)
	// or skipped (not applicable; Reason says why).
	Status    string            `json:"status"`
	Reason    string            `json:"reason,omitempty"`
	Findings  []Finding         `json:"findings"`
	Detail    json.RawMessage   `json:"detail,omitempty"` // analyzer-specific
	Databases map[string]string `json:"databases,omitempty"`
	Started   time.Time         `json:"started"`
	Duration  time.Duration     `json:"duration"` // nanoseconds
	// Mode is how the result counts, from the marketplace's configuration.
	Mode AnalyzerMode `json:"mode"`
	// Blocking is true when this result stops the version: enforced and
	// failed, or required and errored or missing.
	Blocking bool `json:"blocking"`
}

// Result statuses.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusErrored = "errored"
	StatusSkipped = "skipped"
)

// AnalyzerMode says how an analyzer's result counts.
type AnalyzerMode struct {
	Enabled  bool `json:"enabled"`
	Enforced bool `json:"enforced"` // a failure blocks
	Required bool `json:"required"` // an errored or missing result blocks
}

// Finding is one thing an analyzer found.
type Finding struct {
	Analyzer string   `json:"analyzer"`
	RuleID   string   `json:"ruleId"`   // e.g. "capabilities/undeclared-import"
	Severity string   `json:"severity"` // critical, high, medium, low or info
	Message  string   `json:"message"`  // what is wrong, in a sentence
	Location Location `json:"location"`
	// Fingerprint identifies the finding across versions (same rule, same
	// file, same subject, not the line number); a false-positive decision
	// names it.
	Fingerprint string `json:"fingerprint"`
	Remediation string `json:"remediation"` // how to fix it
	// Properties are rule-specific facts (advisory ids, versions, origins).
	Properties map[string]any `json:"properties,omitempty"`
	// Suppressed is set when a reviewer marked a finding with this
	// fingerprint a false positive; the finding is still shown.
	Suppressed *Suppression `json:"suppressed,omitempty"`
}

// Location is where in the package a finding is.
type Location struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Offset int64  `json:"offset,omitempty"` // byte offset, when Line is 0
	Length int64  `json:"length,omitempty"`
	// Snippet is a short, already-redacted excerpt for reviewers.
	Snippet string `json:"snippet,omitempty"`
}

// Suppression records a reviewer's false-positive decision.
type Suppression struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}
