// Package dataflow is the "dataflow" analyzer: it derives a plugin
// version's data flows (which category of user data goes to which
// destination, for which purpose, kept how long) from the manifest's data
// section, its permissions and the origins the module names, and reports
// where these contradict each other. It also checks that the secrets a
// plugin asks for by name are the ones its manifest declares.
//
// The flows are the analyzer's Detail. Triage hands them to the policy
// (which judges retention and purposes against its maxima), reviewers
// approve or refuse them one by one, the certificate lists the approved
// ones, and hosts withhold every permission a refused flow rests on.
package dataflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/capabilities"
	"gatehouse.dev/gatehouse/internal/vet/origins"
	"gatehouse.dev/gatehouse/manifest"
)

// Name is the analyzer's name.
const Name = "dataflow"

// Version changes whenever a rule changes.
const Version = "1.0.0"

// Rule ids.
const (
	RuleUndeclaredCategory    = Name + "/undeclared-category"
	RuleDestinationNotNamed   = Name + "/destination-not-named"
	RuleUndeclaredDestination = Name + "/undeclared-destination"
	RuleInvalidRetention      = Name + "/invalid-retention"
	RuleSecretNotDeclared     = Name + "/secret-not-declared"
	RuleSecretNeverRequested  = Name + "/secret-never-requested"
)

var rules = []vet.Rule{
	{ID: RuleUndeclaredCategory, Name: "UndeclaredCategory", Severity: vet.High,
		Description: "A data scope the plugin asks for reads a category of user data that the manifest's data section does not declare.",
		Remediation: "Declare the category in data.categories (with the purpose and retention), or drop the data: permission."},
	{ID: RuleDestinationNotNamed, Name: "DestinationNotNamed", Severity: vet.Medium,
		Description: "A flow declares a destination origin that the module never names, or that no net: permission lets the plugin reach.",
		Remediation: "Declare only the destinations the plugin sends data to, each with its net: permission; remove the others."},
	{ID: RuleUndeclaredDestination, Name: "UndeclaredDestination", Severity: vet.Medium,
		Description: "The module names a network origin the plugin may reach, but no declared data flow goes there.",
		Remediation: "Add a data.flows entry for what the plugin sends to the origin (category, purpose, retention), or remove the origin and its permission."},
	{ID: RuleInvalidRetention, Name: "InvalidRetention", Severity: vet.High,
		Description: "A retention is not \"none\" or a valid ISO 8601 duration, so no policy can judge it.",
		Remediation: "Write none, or an ISO 8601 duration such as P30D (30 days), P6M or P1Y."},
	{ID: RuleSecretNotDeclared, Name: "SecretNotDeclared", Severity: vet.Medium,
		Description: "The module asks for a secret by a name its manifest does not declare; the host will refuse it, and the secret's existence is hidden from reviewers.",
		Remediation: "Declare the secret as secret:NAME in the manifest's permissions, or stop asking for it."},
	{ID: RuleSecretNeverRequested, Name: "SecretNeverRequested", Severity: vet.Medium,
		Description: "The manifest declares a secret the module never asks for by name; the host would hand out a credential nothing uses.",
		Remediation: "Remove the secret:NAME permission, or check the name the plugin asks for (names are case-sensitive)."},
}

// Analyzer is the dataflow analyzer.
type Analyzer struct{}

// New returns the dataflow analyzer.
func New() *Analyzer { return &Analyzer{} }

func (*Analyzer) Name() string           { return Name }
func (*Analyzer) Version() string        { return Version }
func (*Analyzer) Requires() []string     { return []string{capabilities.Name} }
func (*Analyzer) Timeout() time.Duration { return 30 * time.Second }
func (*Analyzer) Rules() []vet.Rule      { return slices.Clone(rules) }

// Detail is the analyzer's Detail.
type Detail struct {
	Flows []Flow `json:"flows"`
	// Secrets are the secret names the module asks for and the manifest
	// declares.
	SecretsDeclared  []string `json:"secretsDeclared"`
	SecretsRequested []string `json:"secretsRequested"`
}

// Flow is one flow of user data.
type Flow struct {
	// ID is "category>destination", stable across versions, so reviewers'
	// decisions and the diff between versions can name it.
	ID          string `json:"id"`
	Category    string `json:"category"`
	Destination string `json:"destination"` // manifest.DestinationPlatform or an origin
	Purpose     string `json:"purpose"`
	Retention   string `json:"retention"`
	// RetentionDays is the retention in days (a year is 365, a month 30),
	// 0 for none, and -1 when the retention is missing or invalid.
	RetentionDays int64 `json:"retentionDays"`
	// RetentionPointer is where the manifest sets the retention.
	RetentionPointer string `json:"retentionPointer,omitempty"`
	// Access is how the plugin reaches the category: "read", "write", or
	// "declared" when only the data section names it.
	Access []string `json:"access"`
	// Permissions are the permissions the flow rests on: its data scopes
	// and, for an origin, its net: permission. A host withholds every one
	// of them when the flow is refused.
	Permissions []string `json:"permissions"`
	// Declared is true when the data section declares the category (and,
	// for an explicit flow, the flow); false for a flow inferred from a
	// permission alone.
	Declared bool `json:"declared"`
	// Named is true when the module names the destination origin (always
	// true for the platform).
	Named    bool       `json:"named"`
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one fact a flow rests on, with where it is.
type Evidence struct {
	// Source is "manifest", "module" or "scenario".
	Source string `json:"source"`
	File   string `json:"file"`
	// Pointer is the JSON pointer in the manifest.
	Pointer string `json:"pointer,omitempty"`
	Line    int    `json:"line,omitempty"`
	Offset  int64  `json:"offset,omitempty"`
	Detail  string `json:"detail"`
}

// Category returns the category a data scope reads: the scope up to its
// first dot ("contacts.emails" reads contacts).
func Category(scope string) string {
	c, _, _ := strings.Cut(scope, ".")
	return c
}

// FlowID names a flow.
func FlowID(category, destination string) string { return category + ">" + destination }

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Manifest == nil || in.Package == nil {
		return nil, fmt.Errorf("%w: the manifest did not parse (the manifest analyzer says why)", vet.ErrSkipped)
	}
	perms, err := in.Manifest.ParsedPermissions()
	if err != nil {
		return nil, fmt.Errorf("%w: the manifest's permissions do not parse: %v", vet.ErrSkipped, err)
	}
	var capd capabilities.Detail
	if r := in.Results[capabilities.Name]; r != nil && len(r.Detail) > 0 {
		if err := json.Unmarshal(r.Detail, &capd); err != nil {
			return nil, fmt.Errorf("reading the capabilities analyzer's detail: %w", err)
		}
	}
	d := &Derivation{Manifest: in.Manifest, Raw: in.Package.Manifest(), Permissions: perms, Module: in.Module}
	for _, o := range capd.Origins {
		if o.File == in.Manifest.Runtime.Module && !o.Toolchain {
			d.ModuleOrigins = append(d.ModuleOrigins, o)
		}
	}
	for _, im := range capd.Imports {
		if im.Module == hostapi.Module && im.Name == "secret_get" {
			d.ImportsSecretGet = true
		}
	}
	detail, findings := d.Derive()
	return &vet.Report{Findings: findings, Detail: detail}, ctx.Err()
}

// Derivation is what flows are derived from.
type Derivation struct {
	Manifest    *manifest.Manifest
	Raw         []byte // the manifest's bytes, for locations
	Permissions []manifest.Permission
	// ModuleOrigins are the origins the capabilities analyzer found in the
	// module, with their offsets.
	ModuleOrigins    []capabilities.OriginDetail
	Module           []byte
	ImportsSecretGet bool
}

func (d *Derivation) at(pointer string) vet.Location {
	l, c, ok := vet.PointerLine(d.Raw, pointer)
	if !ok {
		l, c = 1, 0
	}
	return vet.Location{File: manifest.FileName, Line: l, Column: c}
}

func (d *Derivation) evidence(pointer, detail string) Evidence {
	loc := d.at(pointer)
	return Evidence{Source: "manifest", File: manifest.FileName, Pointer: pointer, Line: loc.Line, Detail: detail}
}

// Derive returns the flows and the contradictions found.
func (d *Derivation) Derive() (*Detail, []vet.Finding) {
	m := d.Manifest
	var fs []vet.Finding
	out := &Detail{Flows: []Flow{}, SecretsDeclared: []string{}, SecretsRequested: []string{}}
	data := m.Data
	declared := map[string]int{} // category → index in data.categories
	if data != nil {
		for i, c := range data.Categories {
			declared[c] = i
		}
	}
	// The net: origins the plugin may reach, by origin, with their index.
	netIdx := map[string]int{}
	var netOrigins []string
	// Data scopes by category, with permission index and access.
	type scopeUse struct {
		perm   string
		index  int
		access string
	}
	scopes := map[string][]scopeUse{}
	var scopeOrder []string
	for i, p := range d.Permissions {
		switch p.Kind {
		case hostapi.PermNet:
			netIdx[p.Scope] = i
			netOrigins = append(netOrigins, p.Scope)
		case hostapi.PermDataRead, hostapi.PermDataWrite:
			c := Category(p.Scope)
			access := "read"
			if p.Kind == hostapi.PermDataWrite {
				access = "write"
			}
			if _, ok := scopes[c]; !ok {
				scopeOrder = append(scopeOrder, c)
			}
			scopes[c] = append(scopes[c], scopeUse{perm: p.String(), index: i, access: access})
			if _, ok := declared[c]; !ok {
				fs = append(fs, d.undeclaredCategory(p, i, c))
			}
		}
	}

	// Categories: declared ones first, in order, then those only a scope
	// reads.
	var cats []string
	if data != nil {
		cats = append(cats, data.Categories...)
	}
	for _, c := range scopeOrder {
		if _, ok := declared[c]; !ok {
			cats = append(cats, c)
		}
	}

	type proto struct {
		category, destination, purpose, retention string
		pointer                                   string // where the flow is declared ("" when inferred)
		retentionPointer                          string
	}
	var protos []proto
	explicit := data != nil && len(data.Flows) > 0
	if explicit {
		covered := map[string]bool{}
		for i, f := range data.Flows {
			p := proto{category: f.Category, destination: f.Destination, purpose: f.Purpose, retention: f.Retention,
				pointer: fmt.Sprintf("/data/flows/%d", i), retentionPointer: fmt.Sprintf("/data/flows/%d/retention", i)}
			if p.purpose == "" {
				p.purpose = data.Purpose
			}
			if p.retention == "" {
				p.retention, p.retentionPointer = data.Retention, "/data/retention"
			}
			covered[f.Category] = true
			protos = append(protos, p)
		}
		// A category with no flow of its own stays on the platform.
		for _, c := range cats {
			if !covered[c] {
				protos = append(protos, proto{category: c, destination: manifest.DestinationPlatform, purpose: data.Purpose, retention: data.Retention, retentionPointer: "/data/retention"})
			}
		}
	} else {
		// Every category goes to the platform, and to every origin the
		// plugin may reach unless the manifest says data stays (a plugin
		// with no data section at all said nothing, so it may leave).
		leaves := data == nil || data.LeavesPlatform
		purpose, retention := "", ""
		if data != nil {
			purpose, retention = data.Purpose, data.Retention
		}
		for _, c := range cats {
			protos = append(protos, proto{category: c, destination: manifest.DestinationPlatform, purpose: purpose, retention: retention, retentionPointer: "/data/retention"})
			if leaves {
				for _, o := range netOrigins {
					protos = append(protos, proto{category: c, destination: o, purpose: purpose, retention: retention, retentionPointer: "/data/retention"})
				}
			}
		}
	}

	seen := map[string]bool{}
	badRetention := map[string]bool{}
	for _, p := range protos {
		id := FlowID(p.category, p.destination)
		if seen[id] {
			continue
		}
		seen[id] = true
		f := Flow{ID: id, Category: p.category, Destination: p.destination, Purpose: p.purpose, Retention: p.retention,
			RetentionPointer: p.retentionPointer, Access: []string{}, Permissions: []string{}, Evidence: []Evidence{}}
		if i, ok := declared[p.category]; ok {
			f.Declared = p.pointer != "" || !explicit || p.destination == manifest.DestinationPlatform
			f.Evidence = append(f.Evidence, d.evidence(fmt.Sprintf("/data/categories/%d", i), "the data section declares the category "+p.category))
		}
		if p.pointer != "" {
			f.Evidence = append(f.Evidence, d.evidence(p.pointer, "the manifest declares this flow"))
		}
		for _, s := range scopes[p.category] {
			f.Permissions = append(f.Permissions, s.perm)
			if !slices.Contains(f.Access, s.access) {
				f.Access = append(f.Access, s.access)
			}
			f.Evidence = append(f.Evidence, d.evidence(fmt.Sprintf("/permissions/%d", s.index), "the permission "+s.perm+" reaches "+p.category+" data"))
		}
		if len(f.Access) == 0 {
			f.Access = append(f.Access, "declared")
		}
		// Retention.
		switch r, err := manifest.ParseRetention(p.retention); {
		case p.retention == "":
			f.RetentionDays = -1
		case err != nil:
			f.RetentionDays = -1
			if !badRetention[p.retentionPointer] {
				badRetention[p.retentionPointer] = true
				fs = append(fs, vet.Finding{RuleID: RuleInvalidRetention, Severity: vet.High, Location: d.at(p.retentionPointer),
					Message:     fmt.Sprintf("%s %s: %v", manifest.FileName, p.retentionPointer, err),
					Fingerprint: vet.Fingerprint(RuleInvalidRetention, p.retentionPointer, p.retention),
					Properties:  map[string]any{"pointer": p.retentionPointer, "retention": p.retention}})
			}
		default:
			f.RetentionDays = r.ApproxDays()
		}
		if p.retention != "" {
			f.Evidence = append(f.Evidence, d.evidence(p.retentionPointer, "retention "+p.retention))
		}
		// Destination.
		if p.destination == manifest.DestinationPlatform {
			f.Named = true
		} else {
			i, permitted := netIdx[p.destination]
			if permitted {
				f.Permissions = append(f.Permissions, "net:"+p.destination)
				f.Evidence = append(f.Evidence, d.evidence(fmt.Sprintf("/permissions/%d", i), "the permission net:"+p.destination+" lets the plugin reach the destination"))
			}
			for _, o := range d.ModuleOrigins {
				if covers(p.destination, o.Origin) {
					f.Named = true
					f.Evidence = append(f.Evidence, Evidence{Source: "module", File: o.File, Offset: o.Offset, Detail: fmt.Sprintf("the module names %s (%d time(s))", o.Origin, o.Count)})
					break
				}
			}
			if p.pointer != "" && (!f.Named || !permitted) {
				why := "the module never names it"
				if !permitted {
					why = "no net: permission lets the plugin reach it"
				}
				fs = append(fs, vet.Finding{RuleID: RuleDestinationNotNamed, Severity: vet.Medium, Location: d.at(p.pointer + "/destination"),
					Message:     fmt.Sprintf("%s %s/destination declares that %s data goes to %s, but %s", manifest.FileName, p.pointer, p.category, p.destination, why),
					Fingerprint: vet.Fingerprint(RuleDestinationNotNamed, p.category, p.destination),
					Properties:  map[string]any{"flow": id, "destination": p.destination}})
			}
		}
		out.Flows = append(out.Flows, f)
	}

	// A named origin no flow declares: only judged against explicit flows,
	// where the author said exactly where data goes.
	if explicit {
		reported := map[string]bool{}
		for _, o := range d.ModuleOrigins {
			var perm string
			for _, n := range netOrigins {
				if covers(n, o.Origin) {
					perm = n
				}
			}
			if perm == "" || reported[perm] {
				continue // not reachable: the capabilities analyzer reports it
			}
			if slices.ContainsFunc(data.Flows, func(f manifest.DataFlow) bool { return f.Destination == perm }) {
				continue
			}
			reported[perm] = true
			fs = append(fs, vet.Finding{RuleID: RuleUndeclaredDestination, Severity: vet.Medium,
				Location:    vet.Location{File: o.File, Offset: o.Offset},
				Message:     fmt.Sprintf("the module names %s, which net:%s (permissions[%d]) lets the plugin reach, but no entry of data.flows declares what data goes there", o.Origin, perm, netIdx[perm]),
				Fingerprint: vet.Fingerprint(RuleUndeclaredDestination, perm),
				Properties:  map[string]any{"origin": o.Origin, "permission": "net:" + perm}})
		}
	}

	fs = append(fs, d.secrets(out)...)
	return out, fs
}

func (d *Derivation) undeclaredCategory(p manifest.Permission, i int, c string) vet.Finding {
	var said string
	switch {
	case d.Manifest.Data == nil:
		said = "the manifest has no data section, so it says the plugin touches no user data"
	case len(d.Manifest.Data.Categories) == 0:
		said = "data.categories (/data/categories) is empty, so the manifest says the plugin touches no user data"
	default:
		said = fmt.Sprintf("data.categories (/data/categories) declares only %s", strings.Join(d.Manifest.Data.Categories, ", "))
	}
	return vet.Finding{RuleID: RuleUndeclaredCategory, Severity: vet.High, Location: d.at(fmt.Sprintf("/permissions/%d", i)),
		Message:     fmt.Sprintf("permission %s (/permissions/%d) reads %s data, but %s", p, i, c, said),
		Fingerprint: vet.Fingerprint(RuleUndeclaredCategory, p.String()),
		Remediation: fmt.Sprintf("Declare %q in data.categories with its purpose and retention, or remove the permission %s.", c, p),
		Properties:  map[string]any{"permission": p.String(), "category": c, "pointers": []string{fmt.Sprintf("/permissions/%d", i), "/data/categories"}}}
}

// secretName matches what reads as the name of a secret in a module's
// data: upper-case words joined by underscores and ending in a word that
// says it is one. Go packs string constants back to back, so the match
// must start where an upper-case run starts (checked by the caller).
var secretName = regexp.MustCompile(`[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:TOKEN|KEY|SECRET|PASSWORD|CREDENTIALS)`)

// maxSecretNames bounds the names reported from one module.
const maxSecretNames = 100

func (d *Derivation) secrets(out *Detail) []vet.Finding {
	var fs []vet.Finding
	declared := map[string]int{}
	for i, p := range d.Permissions {
		if p.Kind == hostapi.PermSecret {
			declared[p.Scope] = i
			out.SecretsDeclared = append(out.SecretsDeclared, p.Scope)
		}
	}
	if d.Module == nil {
		return nil
	}
	requested := map[string]bool{}
	if d.ImportsSecretGet {
		for _, loc := range secretName.FindAllIndex(d.Module, -1) {
			if loc[0] > 0 && isNameByte(d.Module[loc[0]-1]) {
				continue
			}
			name := string(d.Module[loc[0]:loc[1]])
			if requested[name] || len(requested) >= maxSecretNames {
				continue
			}
			requested[name] = true
			out.SecretsRequested = append(out.SecretsRequested, name)
			if _, ok := declared[name]; ok {
				continue
			}
			fs = append(fs, vet.Finding{RuleID: RuleSecretNotDeclared, Severity: vet.Medium,
				Location:    vet.Location{File: d.Manifest.Runtime.Module, Offset: int64(loc[0]), Length: int64(loc[1] - loc[0])},
				Message:     fmt.Sprintf("the module imports secret_get and names the secret %s, which the manifest does not declare", name),
				Fingerprint: vet.Fingerprint(RuleSecretNotDeclared, name),
				Remediation: fmt.Sprintf("Declare secret:%s in the manifest's permissions, or stop asking for it.", name),
				Properties:  map[string]any{"secret": name}})
		}
	}
	for name, i := range declared {
		if !d.ImportsSecretGet {
			continue // the capabilities analyzer reports the unused permission
		}
		if requested[name] || bytes.Contains(d.Module, []byte(name)) {
			if !requested[name] {
				requested[name] = true
				out.SecretsRequested = append(out.SecretsRequested, name)
			}
			continue
		}
		fs = append(fs, vet.Finding{RuleID: RuleSecretNeverRequested, Severity: vet.Medium, Location: d.at(fmt.Sprintf("/permissions/%d", i)),
			Message:     fmt.Sprintf("the manifest declares secret:%s (/permissions/%d), but the module never names that secret", name, i),
			Fingerprint: vet.Fingerprint(RuleSecretNeverRequested, name),
			Properties:  map[string]any{"secret": name}})
	}
	slices.Sort(out.SecretsDeclared)
	slices.Sort(out.SecretsRequested)
	return fs
}

func isNameByte(b byte) bool { return b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' }

// covers reports whether the net: origin perm covers a named origin.
func covers(perm, named string) bool {
	hs := origins.Scan([]byte(named))
	if len(hs) == 0 {
		return perm == named
	}
	return origins.Covered(hs[0], []string{perm})
}

// Declared derives the flows of a manifest alone, without the module:
// the same ids and permissions as the analyzer's, for comparing versions.
func Declared(m *manifest.Manifest, raw []byte) ([]Flow, error) {
	perms, err := m.ParsedPermissions()
	if err != nil {
		return nil, err
	}
	d, _ := (&Derivation{Manifest: m, Raw: raw, Permissions: perms}).Derive()
	return d.Flows, nil
}

// ErrNoFlows is returned by FromResults when no dataflow result is there.
var ErrNoFlows = errors.New("no dataflow result")

// FromResults returns the flows of a vetting run, from the dataflow
// analyzer's Detail.
func FromResults(results []vet.Result) (*Detail, error) {
	for _, r := range results {
		if r.Analyzer != Name {
			continue
		}
		if len(r.Detail) == 0 {
			return nil, fmt.Errorf("%w: the dataflow analyzer was %s: %s", ErrNoFlows, r.Status, r.Reason)
		}
		var d Detail
		if err := json.Unmarshal(r.Detail, &d); err != nil {
			return nil, fmt.Errorf("reading the dataflow analyzer's detail: %w", err)
		}
		return &d, nil
	}
	return nil, ErrNoFlows
}
