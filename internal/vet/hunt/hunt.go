// Package hunt is the analyzer that joins the stewards' hunting rules to
// the vetting pipeline: every new submission is searched for every active
// rule, and a match is a critical finding, so an enforced check blocks it.
// The rules are read from the store at the start of each run, so a rule
// added during an incident applies to the very next submission.
package hunt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	hunting "gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
)

// Name is the analyzer's name.
const Name = "hunt"

// Version changes whenever the analyzer's logic changes; the rule set's
// own version is reported in the result's databases ("hunt-rules").
const Version = "1.1.0"

// Rule ids, one per rule kind.
const (
	RuleContent = "hunt/content"
	RuleModule  = "hunt/module"
	RuleImport  = "hunt/import"
	RuleOrigin  = "hunt/origin"
)

const remediation = "The package matches a pattern the marketplace's stewards are hunting for after an incident. Remove what matched (the file content, the component, the import or the origin), rebuild and submit a new version; if you believe the match is wrong, reply in the review thread and a steward will look at it."

var rules = []vet.Rule{
	{ID: RuleContent, Name: "HuntedContent", Severity: vet.Critical, Remediation: remediation,
		Description: "A file of the package matches a steward's hunting pattern (a regular expression over file contents)."},
	{ID: RuleModule, Name: "HuntedModule", Severity: vet.Critical, Remediation: remediation,
		Description: "The package ships a banned Go module, package or SBOM component."},
	{ID: RuleImport, Name: "HuntedImport", Severity: vet.Critical, Remediation: remediation,
		Description: "The WebAssembly module imports a banned host function."},
	{ID: RuleOrigin, Name: "HuntedOrigin", Severity: vet.Critical, Remediation: remediation,
		Description: "The package asks for or embeds a banned network origin."},
}

// Rules is where the analyzer reads the rules (a store.Store is one).
type Rules interface {
	ListHuntRules(ctx context.Context, activeOnly bool) ([]domain.HuntRule, error)
}

// Analyzer is the hunt analyzer.
type Analyzer struct {
	src Rules
}

// New returns the analyzer reading its rules from src on every run.
func New(src Rules) *Analyzer { return &Analyzer{src: src} }

func (*Analyzer) Name() string           { return Name }
func (*Analyzer) Version() string        { return Version }
func (*Analyzer) Requires() []string     { return nil }
func (*Analyzer) Timeout() time.Duration { return 30 * time.Second }

// Rules returns the rule ids the analyzer reports.
func (*Analyzer) Rules() []vet.Rule { return slices.Clone(rules) }

// Detail is the analyzer's Detail.
type Detail struct {
	Rules   int             `json:"rules"`
	Matches []hunting.Match `json:"matches"`
}

// Analyze searches the package for every active rule. A rule set that
// cannot be read is an error, so that while the check is required the
// version waits rather than passing unchecked.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	stored, err := a.src.ListHuntRules(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("reading the hunting rules: %w", err)
	}
	compiled, err := hunting.CompileAll(stored)
	if err != nil {
		return nil, err
	}
	byID := map[string]domain.HuntRule{}
	for _, r := range stored {
		byID[r.ID] = r
	}
	matches := hunting.Find(compiled, in)
	rep := &vet.Report{Databases: map[string]string{"hunt-rules": ruleSetVersion(stored)}}
	for _, m := range matches {
		r := byID[m.RuleID]
		// A content rule's pattern may be the very secret it hunts, so
		// findings show it redacted, as they show the match (hunt.Find
		// redacts it); the digest keeps fingerprints apart.
		pattern, subject := r.Pattern, m.Subject
		if r.Kind == domain.HuntContent {
			pattern, subject = secrets.Redact(r.Pattern), m.Digest
		}
		msg := fmt.Sprintf("%s matches hunting rule %s (%s %q)", m.Subject, r.ID, r.Kind, pattern)
		if r.Description != "" {
			msg += ": " + r.Description
		}
		if r.IncidentID != "" {
			msg += fmt.Sprintf(" (incident %s)", r.IncidentID)
		}
		loc := vet.Location{File: m.File, Line: m.Line, Offset: m.Offset}
		if r.Kind == domain.HuntContent {
			loc.Snippet = m.Subject
		}
		rep.Findings = append(rep.Findings, vet.Finding{
			Analyzer:    Name,
			RuleID:      "hunt/" + r.Kind,
			Severity:    vet.Critical,
			Message:     msg + ".",
			Location:    loc,
			Fingerprint: vet.Fingerprint("hunt/"+r.Kind, r.ID, m.File, subject),
			Remediation: remediation,
			Properties:  map[string]any{"huntRule": r.ID, "incident": r.IncidentID, "pattern": pattern},
		})
	}
	vet.SortFindings(rep.Findings)
	if matches == nil {
		matches = []hunting.Match{}
	}
	rep.Detail = Detail{Rules: len(compiled), Matches: matches}
	return rep, nil
}

// ruleSetVersion names the rule set a result was produced with.
func ruleSetVersion(rs []domain.HuntRule) string {
	h := sha256.New()
	for _, r := range rs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.ID, r.Kind, r.Pattern)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}
