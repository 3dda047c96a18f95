// Package sarif writes vetting results as a SARIF 2.1.0 log, the format
// code-scanning tools (GitHub code scanning, IDE viewers, DefectDojo) read.
//
// # Layout
//
// The log holds one run per analyzer. A SARIF run is one invocation of one
// tool, and each analyzer is versioned, succeeds or fails, and owns its
// rules on its own: as separate runs, each analyzer's version is its
// driver's version, its rules are its driver's rules, and an errored
// analyzer is an invocation with executionSuccessful false and a
// notification saying why, without marking the other analyzers' runs
// unsuccessful. A single run would need one driver with a tool extension
// per analyzer and a shared invocation whose success means nothing.
//
// Severities map to SARIF levels as critical and high → error, medium →
// warning, low and info → note; the numeric properties.security-severity
// (9.5, 8.0, 5.5, 2.0, 0.0) is what GitHub uses to rank security findings.
// A finding's stable fingerprint is its partialFingerprints entry
// "gatehouse/v1", so viewers track it across versions; a suppressed finding
// keeps its result, with an external, accepted suppression carrying the
// reviewer's justification.
package sarif

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
)

// Version and SchemaURI identify the SARIF version written.
const (
	Version   = "2.1.0"
	SchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"
)

// FingerprintKey names the partial fingerprint holding vet.Finding's
// Fingerprint.
const FingerprintKey = "gatehouse/v1"

// InformationURI is the project's home, each driver's informationUri
// when ToolInfo names none.
const InformationURI = "https://gatehouse.dev"

// ToolInfo names the tool that produced the results.
type ToolInfo struct {
	Name           string // "gatehouse"
	Version        string
	InformationURI string // optional; InformationURI when empty
}

// Write writes results as a SARIF 2.1.0 log to w. rules maps an analyzer
// name to its rules (Analyzer.Rules); a finding whose rule is not listed
// gets a rule entry built from the finding.
func Write(w io.Writer, results []vet.Result, rules map[string][]vet.Rule, tool ToolInfo) error {
	l := Build(results, rules, tool)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("sarif: writing the log: %w", err)
	}
	return nil
}

// Build returns the SARIF log of results, for callers that embed it.
func Build(results []vet.Result, rules map[string][]vet.Rule, tool ToolInfo) *Log {
	name := tool.Name
	if name == "" {
		name = "gatehouse"
	}
	if tool.InformationURI == "" {
		tool.InformationURI = InformationURI
	}
	l := &Log{Schema: SchemaURI, Version: Version, Runs: make([]Run, 0, len(results))}
	for _, res := range results {
		l.Runs = append(l.Runs, buildRun(res, rules[res.Analyzer], name, tool))
	}
	return l
}

func buildRun(res vet.Result, rules []vet.Rule, name string, tool ToolInfo) Run {
	driver := ToolComponent{
		Name:           name + "-" + res.Analyzer,
		FullName:       fmt.Sprintf("%s %s analyzer", name, res.Analyzer),
		Version:        res.Version,
		InformationURI: tool.InformationURI,
		Rules:          []ReportingDescriptor{},
		Properties:     map[string]any{"analyzer": res.Analyzer},
	}
	if tool.Version != "" {
		driver.Properties["toolVersion"] = tool.Version
	}
	if driver.Version == "" {
		driver.Version = "unknown"
	}
	index := make(map[string]int)
	addRule := func(r vet.Rule) int {
		if i, ok := index[r.ID]; ok {
			return i
		}
		index[r.ID] = len(driver.Rules)
		driver.Rules = append(driver.Rules, descriptor(r))
		return index[r.ID]
	}
	for _, r := range rules {
		addRule(r)
	}

	run := Run{Tool: Tool{Driver: driver}, Results: make([]Result, 0, len(res.Findings))}
	for _, f := range res.Findings {
		i, ok := index[f.RuleID]
		if !ok {
			i = addRule(vet.Rule{ID: f.RuleID, Name: f.RuleID, Description: f.Message, Severity: f.Severity, Remediation: f.Remediation})
		}
		run.Results = append(run.Results, result(f, i))
	}
	run.Tool.Driver.Rules = driver.Rules

	inv := Invocation{
		ExecutionSuccessful: res.Status != vet.Errored,
		Properties: map[string]any{
			"status":   string(res.Status),
			"blocking": res.Blocking,
			"mode":     res.Mode,
		},
	}
	if !res.Started.IsZero() {
		inv.StartTimeUTC = res.Started.UTC().Format(time.RFC3339Nano)
		inv.EndTimeUTC = res.Started.Add(res.Duration).UTC().Format(time.RFC3339Nano)
	}
	if len(res.Databases) > 0 {
		inv.Properties["databases"] = res.Databases
	}
	switch res.Status {
	case vet.Errored:
		inv.ToolExecutionNotifications = []Notification{{
			Level:   "error",
			Message: Message{Text: nonEmpty(res.Reason, "the analyzer did not finish")},
		}}
	case vet.Skipped:
		inv.ToolExecutionNotifications = []Notification{{
			Level:   "note",
			Message: Message{Text: "skipped: " + nonEmpty(res.Reason, "not applicable")},
		}}
	default:
		if res.Reason != "" {
			inv.ToolExecutionNotifications = []Notification{{Level: "warning", Message: Message{Text: res.Reason}}}
		}
	}
	run.Invocations = []Invocation{inv}
	return run
}

func descriptor(r vet.Rule) ReportingDescriptor {
	d := ReportingDescriptor{
		ID:   r.ID,
		Name: r.Name,
		DefaultConfiguration: &ReportingConfiguration{
			Level: Level(r.Severity),
		},
		HelpURI: r.HelpURI,
		Properties: map[string]any{
			"security-severity": SecuritySeverity(r.Severity),
			"tags":              []string{"security"},
		},
	}
	if r.Description != "" {
		d.ShortDescription = &MultiformatMessage{Text: r.Description}
		d.FullDescription = &MultiformatMessage{Text: r.Description}
	}
	if r.Remediation != "" {
		d.Help = &MultiformatMessage{Text: r.Remediation}
	}
	return d
}

func result(f vet.Finding, ruleIndex int) Result {
	r := Result{
		RuleID:              f.RuleID,
		RuleIndex:           ruleIndex,
		Level:               Level(f.Severity),
		Message:             Message{Text: nonEmpty(f.Message, f.RuleID)},
		PartialFingerprints: map[string]string{FingerprintKey: f.Fingerprint},
		Properties: map[string]any{
			"security-severity": SecuritySeverity(f.Severity),
			"severity":          string(f.Severity),
		},
	}
	if f.Remediation != "" {
		r.Properties["remediation"] = f.Remediation
	}
	if len(f.Properties) > 0 {
		keys := make([]string, 0, len(f.Properties))
		for k := range f.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// The finding's own facts go under one key so they can never
			// overwrite the ones SARIF consumers read.
			if r.Properties["facts"] == nil {
				r.Properties["facts"] = map[string]any{}
			}
			r.Properties["facts"].(map[string]any)[k] = f.Properties[k]
		}
	}
	if loc, ok := location(f.Location); ok {
		r.Locations = []Location{loc}
	}
	if s := f.Suppressed; s != nil {
		sup := Suppression{Kind: "external", Status: "accepted", Justification: s.Reason}
		if s.By != "" || !s.At.IsZero() {
			sup.Properties = map[string]any{}
			if s.By != "" {
				sup.Properties["by"] = s.By
			}
			if !s.At.IsZero() {
				sup.Properties["at"] = s.At.UTC().Format(time.RFC3339)
			}
		}
		r.Suppressions = []Suppression{sup}
	}
	return r
}

func location(l vet.Location) (Location, bool) {
	if l.File == "" {
		return Location{}, false
	}
	u := url.URL{Path: l.File}
	pl := PhysicalLocation{ArtifactLocation: ArtifactLocation{URI: u.String()}}
	switch {
	case l.Line > 0:
		pl.Region = &Region{StartLine: l.Line}
		if l.Column > 0 {
			pl.Region.StartColumn = l.Column
		}
	case l.Offset > 0 || l.Length > 0:
		off := l.Offset
		pl.Region = &Region{ByteOffset: &off}
		if l.Length > 0 {
			pl.Region.ByteLength = l.Length
		}
	}
	if l.Snippet != "" && pl.Region != nil {
		pl.Region.Snippet = &ArtifactContent{Text: l.Snippet}
	}
	return Location{PhysicalLocation: pl}, true
}

// Level maps a severity to a SARIF result level.
func Level(s vet.Severity) string {
	switch s {
	case vet.Critical, vet.High:
		return "error"
	case vet.Medium:
		return "warning"
	}
	return "note"
}

// SecuritySeverity maps a severity to the CVSS-like score (as a string,
// which is how GitHub reads it) of properties.security-severity.
func SecuritySeverity(s vet.Severity) string {
	var v float64
	switch s {
	case vet.Critical:
		v = 9.5
	case vet.High:
		v = 8.0
	case vet.Medium:
		v = 5.5
	case vet.Low:
		v = 2.0
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
