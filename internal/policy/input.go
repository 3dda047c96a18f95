package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Input is everything a policy decides on: the document Rego sees as
// `input`. Triage builds it (triage.NewInput) and stores it with the
// decision, so a decision can be explained and re-run under another policy
// later. Field names are the JSON names a policy author writes.
type Input struct {
	Plugin      Plugin       `json:"plugin"`
	Permissions []Permission `json:"permissions"`
	Data        Data         `json:"data"`
	// Flows are the version's data flows, as the dataflow analyzer
	// derived them: which category goes where, why and for how long.
	Flows   []Flow  `json:"flows"`
	License License `json:"license"`
	// HostAPI is the manifest's SemVer range of host API versions.
	HostAPI string `json:"host_api"`

	// Findings are every finding of every check, suppressed ones included
	// (marked), so a policy can tell a silenced finding from none.
	Findings []Finding `json:"findings"`
	// Checks are the per-analyzer outcomes of vetting.
	Checks []Check `json:"checks"`

	// Diff compares the version with the last approved version of the same
	// plugin; nil when there is none.
	Diff *Diff `json:"diff"`

	Publisher       Publisher       `json:"publisher"`
	AutoApprovalOff AutoApprovalOff `json:"auto_approval_off"`
	// HostErrorRate is the share of calls that failed in hosts running
	// earlier versions of the plugin, from 0 to 1.
	HostErrorRate float64 `json:"host_error_rate"`

	// Provenance is what vetting found of how the module was built; all
	// false and empty when the provenance analyzer did not run.
	Provenance Provenance `json:"provenance"`

	// Weight is the additive risk weight (triage.Weigh), which the policy
	// maps to a tier.
	Weight Weight `json:"weight"`
}

// Provenance is the provenance analyzer's outcome as a policy reads it,
// so that a rule can require provenance per tier or namespace.
type Provenance struct {
	// Present: the package carries a SLSA provenance attestation.
	Present bool `json:"present"`
	// Verified: its subject is the module and its builder one the
	// marketplace trusts (signed by the builder's key where keys are
	// listed).
	Verified bool `json:"verified"`
	// Builder, BuildType and SourceRepository are as the attestation
	// states them (empty without one).
	Builder          string `json:"builder"`
	BuildType        string `json:"build_type"`
	SourceRepository string `json:"source_repository"`
	// Reproducible: the marketplace rebuilt the module from the source
	// in the package, byte for byte.
	Reproducible bool `json:"reproducible"`
}

// Plugin names the version being decided.
type Plugin struct {
	ID        string `json:"id"` // namespace/name
	Namespace string `json:"namespace"`
	Version   string `json:"version"`
	// FirstVersion is true when no version of the plugin was approved
	// before.
	FirstVersion bool `json:"first_version"`
	// PreviousVersion is the last approved version, empty for a first
	// version.
	PreviousVersion string `json:"previous_version"`
}

// Permission is a parsed manifest permission (manifest.Permission).
type Permission struct {
	Kind  string `json:"kind"`  // hostapi.Perm*: "net", "fs:read", "kv:write", …
	Scope string `json:"scope"` // origin, mount path, secret name, data scope; empty for kv
}

// Data is the manifest's data handling.
type Data struct {
	Categories     []string `json:"categories"`
	LeavesPlatform bool     `json:"leaves_platform"`
}

// Flow is one data flow (the dataflow analyzer's Flow) as policy reads it.
type Flow struct {
	ID          string `json:"id"` // "category>destination"
	Category    string `json:"category"`
	Destination string `json:"destination"` // "platform" or an origin
	Purpose     string `json:"purpose"`
	Retention   string `json:"retention"`
	// RetentionDays is the retention in days (a year 365, a month 30), 0
	// for none, -1 when it is missing or invalid.
	RetentionDays int64 `json:"retention_days"`
	// RetentionPointer is where the manifest sets the retention, for the
	// message.
	RetentionPointer string `json:"retention_pointer"`
}

// License is the manifest's SPDX expression and the ways to satisfy it.
type License struct {
	Expression string `json:"expression"`
	// Choices is the expression in disjunctive normal form: the licence
	// must be accepted under every id of at least one choice. "MIT OR
	// (Apache-2.0 AND BSD-3-Clause)" is [["MIT"], ["Apache-2.0",
	// "BSD-3-Clause"]]. Empty when the expression could not be read.
	Choices [][]string `json:"choices"`
}

// Finding is a vetting finding as policy sees it.
type Finding struct {
	Analyzer string `json:"analyzer"`
	RuleID   string `json:"rule_id"`
	Severity string `json:"severity"` // vet.Severity
	// Suppressed is true when a reviewer marked the finding a false
	// positive.
	Suppressed bool `json:"suppressed"`
	// Enforced is false for findings of a rule or analyzer in shadow mode,
	// which are shown but never block.
	Enforced bool `json:"enforced"`
}

// Check is one analyzer's outcome.
type Check struct {
	Analyzer string `json:"analyzer"`
	Status   string `json:"status"` // vet.Status: passed, failed, errored, skipped
	Required bool   `json:"required"`
	Enforced bool   `json:"enforced"`
	// Blocking is the vetting runner's verdict on the result (vet.Result).
	Blocking bool `json:"blocking"`
}

// Diff is the change since the last approved version. The permission,
// origin, data and host API parts come from the two manifests; imports,
// size and files from the diff analyzer.
type Diff struct {
	PermissionsAdded    []string `json:"permissions_added"` // canonical permission text
	PermissionsRemoved  []string `json:"permissions_removed"`
	OriginsAdded        []string `json:"origins_added"`
	DataCategoriesAdded []string `json:"data_categories_added"`
	// FlowsAdded are the ids of data flows the last approved version did
	// not have.
	FlowsAdded      []string `json:"flows_added"`
	HostAPIChanged  bool     `json:"host_api_changed"`
	PreviousHostAPI string   `json:"previous_host_api"`
	// ImportsAdded are host imports ("module.name") the new module has and
	// the previous one did not.
	ImportsAdded []string `json:"imports_added"`
	// SizeChangePercent is the change of the module's size, signed.
	SizeChangePercent float64 `json:"size_change_percent"`
	FilesChanged      int     `json:"files_changed"`
}

// Publisher is what the marketplace knows of the namespace's publisher.
type Publisher struct {
	InGoodStanding bool `json:"in_good_standing"`
	AccountAgeDays int  `json:"account_age_days"`
	// OwnershipChangedDaysAgo and KeyChangedDaysAgo are nil when the
	// namespace's ownership or signing key never changed.
	OwnershipChangedDaysAgo *int `json:"ownership_changed_days_ago"`
	KeyChangedDaysAgo       *int `json:"key_changed_days_ago"`
	PriorRejections         int  `json:"prior_rejections"`
}

// AutoApprovalOff records a steward's switches that keep a plugin or a whole
// namespace out of auto-approval.
type AutoApprovalOff struct {
	Plugin    bool `json:"plugin"`
	Namespace bool `json:"namespace"`
}

// Weight is the additive risk weight: the sum of capped factors, each shown
// to reviewers.
type Weight struct {
	Total   int      `json:"total"`
	Factors []Factor `json:"factors"`
}

// Factor is one capped part of the risk weight.
type Factor struct {
	Name  string `json:"name"`
	Value int    `json:"value"` // after capping; 0 ≤ Value ≤ Cap
	Cap   int    `json:"cap"`
	// Reason says what the value is made of, and that it was capped when it
	// was.
	Reason string `json:"reason"`
}

// Limits on an input, so a stored or uploaded input cannot make evaluation
// arbitrarily expensive.
const (
	MaxInputBytes   = 1 << 20
	MaxListLen      = 1024 // permissions, data categories, checks, diff lists, licence choices
	MaxFindings     = 4096
	MaxStringLen    = 1024
	maxLicenseIDs   = 64
	maxFactorsCount = 32
)

// ParseInput reads an input from JSON, such as one stored with an earlier
// decision. Unknown fields are refused (they would be a typo the policy
// silently ignores), and the result is validated.
func ParseInput(data []byte) (Input, error) {
	if len(data) > MaxInputBytes {
		return Input{}, fmt.Errorf("policy input is %d bytes; the limit is %d", len(data), MaxInputBytes)
	}
	var in Input
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Input{}, fmt.Errorf("reading policy input: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Input{}, errors.New("reading policy input: unexpected data after the JSON object")
	}
	if err := in.Validate(); err != nil {
		return Input{}, err
	}
	return in, nil
}

// Validate checks an input's sizes and values. Decide refuses an input that
// does not validate rather than guess.
func (in *Input) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	list := func(name string, n, limit int) {
		if n > limit {
			add("%s has %d entries; the limit is %d", name, n, limit)
		}
	}
	str := func(name, s string) {
		if len(s) > MaxStringLen {
			add("%s is %d bytes long; the limit is %d", name, len(s), MaxStringLen)
		}
	}
	strs := func(name string, ss []string) {
		list(name, len(ss), MaxListLen)
		for _, s := range ss {
			str(name+" entry", s)
		}
	}

	if in.Plugin.ID == "" || in.Plugin.Version == "" {
		add("the plugin id and version are required")
	}
	str("plugin.id", in.Plugin.ID)
	str("plugin.namespace", in.Plugin.Namespace)
	str("plugin.version", in.Plugin.Version)
	str("plugin.previous_version", in.Plugin.PreviousVersion)
	if in.Plugin.FirstVersion != (in.Plugin.PreviousVersion == "") {
		add("plugin.first_version must be true exactly when there is no previous_version")
	}
	list("permissions", len(in.Permissions), MaxListLen)
	for _, p := range in.Permissions {
		if p.Kind == "" {
			add("a permission has no kind")
		}
		str("permission kind", p.Kind)
		str("permission scope", p.Scope)
	}
	strs("data.categories", in.Data.Categories)
	list("flows", len(in.Flows), MaxListLen)
	for _, f := range in.Flows {
		if f.ID == "" || f.Category == "" || f.Destination == "" {
			add("a flow needs an id, a category and a destination")
		}
		for _, s := range []string{f.ID, f.Category, f.Destination, f.Purpose, f.Retention, f.RetentionPointer} {
			str("flow field", s)
		}
		if f.RetentionDays < -1 {
			add("flow %q has retention_days %d; -1 (unknown) is the least", f.ID, f.RetentionDays)
		}
	}
	str("license.expression", in.License.Expression)
	list("license.choices", len(in.License.Choices), MaxListLen)
	for _, c := range in.License.Choices {
		strs("license choice", c)
		list("license choice", len(c), maxLicenseIDs)
	}
	str("host_api", in.HostAPI)
	list("findings", len(in.Findings), MaxFindings)
	for _, f := range in.Findings {
		switch f.Severity {
		case "critical", "high", "medium", "low", "info":
		default:
			add("finding %q has the unknown severity %q", f.RuleID, f.Severity)
		}
		str("finding analyzer", f.Analyzer)
		str("finding rule_id", f.RuleID)
	}
	list("checks", len(in.Checks), MaxListLen)
	for _, c := range in.Checks {
		switch c.Status {
		case "passed", "failed", "errored", "skipped":
		default:
			add("check %q has the unknown status %q", c.Analyzer, c.Status)
		}
		str("check analyzer", c.Analyzer)
	}
	if d := in.Diff; d != nil {
		strs("diff.permissions_added", d.PermissionsAdded)
		strs("diff.permissions_removed", d.PermissionsRemoved)
		strs("diff.origins_added", d.OriginsAdded)
		strs("diff.data_categories_added", d.DataCategoriesAdded)
		strs("diff.flows_added", d.FlowsAdded)
		strs("diff.imports_added", d.ImportsAdded)
		str("diff.previous_host_api", d.PreviousHostAPI)
		if math.IsNaN(d.SizeChangePercent) || math.IsInf(d.SizeChangePercent, 0) {
			add("diff.size_change_percent is not a number")
		}
		if d.FilesChanged < 0 {
			add("diff.files_changed is negative")
		}
	}
	if in.Publisher.AccountAgeDays < 0 || in.Publisher.PriorRejections < 0 {
		add("publisher account age and prior rejections cannot be negative")
	}
	for name, d := range map[string]*int{"ownership_changed_days_ago": in.Publisher.OwnershipChangedDaysAgo, "key_changed_days_ago": in.Publisher.KeyChangedDaysAgo} {
		if d != nil && *d < 0 {
			add("publisher.%s cannot be negative", name)
		}
	}
	if !(in.HostErrorRate >= 0 && in.HostErrorRate <= 1) { // also refuses NaN
		add("host_error_rate must be between 0 and 1")
	}
	if err := in.Weight.validate(); err != nil {
		add("%v", err)
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return fmt.Errorf("invalid policy input: %s", joinSentences(problems))
	}
	return nil
}

func (w Weight) validate() error {
	if len(w.Factors) == 0 {
		return errors.New("the input has no risk weight; compute it with triage.Weigh")
	}
	if len(w.Factors) > maxFactorsCount {
		return fmt.Errorf("the risk weight has %d factors; the limit is %d", len(w.Factors), maxFactorsCount)
	}
	sum := 0
	for _, f := range w.Factors {
		if f.Value < 0 || f.Value > f.Cap {
			return fmt.Errorf("risk factor %q is %d, outside 0 to its cap %d", f.Name, f.Value, f.Cap)
		}
		if len(f.Name) > MaxStringLen || len(f.Reason) > MaxStringLen {
			return fmt.Errorf("risk factor %q has a name or reason longer than %d bytes", f.Name, MaxStringLen)
		}
		sum += f.Value
	}
	if sum != w.Total {
		return fmt.Errorf("the risk weight's total %d is not the sum of its factors, %d", w.Total, sum)
	}
	return nil
}

func joinSentences(ss []string) string {
	var b bytes.Buffer
	for i, s := range ss {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s)
	}
	return b.String()
}
