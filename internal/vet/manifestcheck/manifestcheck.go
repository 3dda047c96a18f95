// Package manifestcheck is the "manifest" analyzer: the manifest's schema
// and semantic checks as findings at the line of the offending field,
// whether the plugin dependencies and the host API range can be satisfied
// by what the marketplace offers, and a metadata completeness score.
//
// The package is not called manifest so that it can import the manifest
// package it checks without renaming it.
package manifestcheck

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
)

// Name is the analyzer's name.
const Name = "manifest"

// Version changes whenever a rule changes.
const Version = "1.0.0"

// Rule ids.
const (
	RuleInvalid             = "manifest/invalid"
	RuleLegacy              = "manifest/legacy-form"
	RuleModuleMissing       = "manifest/module-missing"
	RuleDependencyUnknown   = "manifest/dependency-unknown"
	RuleDependencyUnresolve = "manifest/dependency-unresolved"
	RuleHostAPI             = "manifest/hostapi-unsatisfiable"
	RuleIncomplete          = "manifest/incomplete-metadata"
)

var rules = []vet.Rule{
	{ID: RuleInvalid, Name: "InvalidManifest", Severity: vet.High,
		Description: "The manifest breaks the manifest schema or a semantic rule.",
		Remediation: "Fix the field the finding points at; `gatehouse plugin validate` shows every problem at once, and the manifest JSON Schema is published with the documentation."},
	{ID: RuleLegacy, Name: "LegacyManifest", Severity: vet.Info,
		Description: "The manifest is in the legacy (seed) form and was converted to v1.",
		Remediation: "Rewrite the manifest in the v1 form (manifestVersion 1); the notes say what the conversion assumed."},
	{ID: RuleModuleMissing, Name: "ModuleMissing", Severity: vet.Critical,
		Description: "The package does not hold the WebAssembly module runtime.module names.",
		Remediation: "Build the module and pack it under the path runtime.module names (usually plugin.wasm)."},
	{ID: RuleDependencyUnknown, Name: "DependencyUnknown", Severity: vet.High,
		Description: "A plugin dependency names a plugin the marketplace does not have.",
		Remediation: "Check the dependency's id (namespace/name), or publish that plugin first."},
	{ID: RuleDependencyUnresolve, Name: "DependencyUnresolved", Severity: vet.High,
		Description: "No published version of a dependency satisfies its range.",
		Remediation: "Widen the range to include a published version, or publish a version of the dependency that satisfies it."},
	{ID: RuleHostAPI, Name: "HostAPIUnsatisfiable", Severity: vet.High,
		Description: "No host API version the marketplace offers satisfies runtime.hostApi, so no host can load the plugin.",
		Remediation: "Set runtime.hostApi to a range that includes an offered host API version, such as ^1.0.0."},
	{ID: RuleIncomplete, Name: "IncompleteMetadata", Severity: vet.Info,
		Description: "The listing lacks metadata users rely on to judge a plugin.",
		Remediation: "Add what the finding lists: a description, a homepage, support contacts, the data-handling declaration, a README and a LICENSE."},
}

// Catalog answers which versions of a plugin the marketplace has
// published. The server backs it with its store; `gatehouse vet` without
// a server passes nil.
type Catalog interface {
	Versions(ctx context.Context, pluginID string) ([]string, error)
}

// Options configure the analyzer.
type Options struct {
	// Catalog resolves plugin dependencies; nil skips that check (and says
	// so in Detail).
	Catalog Catalog
	// HostAPIVersions are the host API versions the marketplace's hosts
	// offer; empty means hostapi.Version alone.
	HostAPIVersions []string
	// Manifest are the options manifest.Parse runs with (the legacy
	// signing key and namespace).
	Manifest manifest.Options
}

// Analyzer is the manifest analyzer.
type Analyzer struct {
	opts Options
}

// New returns the manifest analyzer.
func New(opts Options) *Analyzer {
	if len(opts.HostAPIVersions) == 0 {
		opts.HostAPIVersions = []string{hostapi.Version}
	}
	opts.HostAPIVersions = slices.Clone(opts.HostAPIVersions)
	return &Analyzer{opts: opts}
}

func (*Analyzer) Name() string           { return Name }
func (*Analyzer) Version() string        { return Version }
func (*Analyzer) Requires() []string     { return nil }
func (*Analyzer) Timeout() time.Duration { return 30 * time.Second }
func (*Analyzer) Rules() []vet.Rule      { return slices.Clone(rules) }

// Detail is the analyzer's Detail.
type Detail struct {
	// Score is the metadata completeness, 0 to 100.
	Score int `json:"score"`
	// Missing lists what the score lacks.
	Missing []string `json:"missing"`
	// Dependencies is each dependency's resolution; DependencyCheck says
	// "checked" or why it was skipped.
	Dependencies    []DependencyDetail `json:"dependencies"`
	DependencyCheck string             `json:"dependencyCheck"`
	HostAPI         HostAPIDetail      `json:"hostApi"`
	Legacy          bool               `json:"legacy,omitempty"`
}

// DependencyDetail is one dependency's resolution.
type DependencyDetail struct {
	ID    string `json:"id"`
	Range string `json:"range"`
	// Resolved is the newest published version in the range, if any.
	Resolved string `json:"resolved,omitempty"`
}

// HostAPIDetail is the host API range against what is offered.
type HostAPIDetail struct {
	Range       string   `json:"range"`
	Offered     []string `json:"offered"`
	SatisfiedBy []string `json:"satisfiedBy"`
}

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Package == nil {
		return nil, errors.New("no package to check")
	}
	raw := in.Package.Manifest()
	at := func(pointer string) vet.Location {
		l, c, ok := vet.PointerLine(raw, pointer)
		if !ok {
			l, c = 1, 0
		}
		return vet.Location{File: manifest.FileName, Line: l, Column: c}
	}
	rep := &vet.Report{}
	m, err := manifest.Parse(raw, a.opts.Manifest)
	if err != nil {
		var ve *manifest.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("reading the manifest: %w", err)
		}
		for _, p := range ve.Problems {
			where := p.Pointer
			if where == "" {
				where = "the manifest"
			}
			rep.Findings = append(rep.Findings, vet.Finding{
				RuleID: RuleInvalid, Severity: vet.High, Location: at(p.Pointer),
				Message:     fmt.Sprintf("%s: %s", where, p.Message),
				Fingerprint: vet.Fingerprint(RuleInvalid, p.Pointer, p.Message),
				Properties:  map[string]any{"pointer": p.Pointer},
			})
		}
		// Nothing else can be judged on a manifest that does not parse.
		rep.Detail = &Detail{Missing: []string{}, Dependencies: []DependencyDetail{}, DependencyCheck: "skipped: the manifest is invalid"}
		return rep, nil
	}
	d := &Detail{Dependencies: []DependencyDetail{}, Legacy: m.Legacy != nil}
	rep.Detail = d
	if m.Legacy != nil {
		msg := "the manifest is in the legacy form and was converted to v1"
		if len(m.Legacy.Notes) > 0 {
			msg += ": " + strings.Join(m.Legacy.Notes, " ")
		}
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleLegacy, Severity: vet.Info, Location: at(""), Message: msg,
			Fingerprint: vet.Fingerprint(RuleLegacy),
		})
	}
	if _, ok := in.Package.File(m.Runtime.Module); !ok {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleModuleMissing, Severity: vet.Critical, Location: at("/runtime/module"),
			Message:     fmt.Sprintf("runtime.module names %q but the package holds no such file", m.Runtime.Module),
			Fingerprint: vet.Fingerprint(RuleModuleMissing, m.Runtime.Module),
		})
	}

	// Host API.
	d.HostAPI = HostAPIDetail{Range: m.Runtime.HostAPI, Offered: a.opts.HostAPIVersions, SatisfiedBy: []string{}}
	for _, v := range a.opts.HostAPIVersions {
		if ok, err := manifest.HostAPICompatible(m.Runtime.HostAPI, v); err == nil && ok {
			d.HostAPI.SatisfiedBy = append(d.HostAPI.SatisfiedBy, v)
		}
	}
	if len(d.HostAPI.SatisfiedBy) == 0 {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleHostAPI, Severity: vet.High, Location: at("/runtime/hostApi"),
			Message:     fmt.Sprintf("runtime.hostApi %q is not satisfied by any host API version the marketplace offers (%s)", m.Runtime.HostAPI, strings.Join(a.opts.HostAPIVersions, ", ")),
			Fingerprint: vet.Fingerprint(RuleHostAPI, m.Runtime.HostAPI),
		})
	}

	// Dependencies.
	fs, err := a.dependencies(ctx, m, at, d)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, fs...)

	// Completeness.
	d.Score, d.Missing = completeness(m, in)
	if len(d.Missing) > 0 {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleIncomplete, Severity: vet.Info, Location: at(""),
			Message:     fmt.Sprintf("the listing's metadata is %d%% complete; missing: %s", d.Score, strings.Join(d.Missing, ", ")),
			Fingerprint: vet.Fingerprint(RuleIncomplete),
			Properties:  map[string]any{"score": d.Score, "missing": d.Missing},
		})
	}
	return rep, nil
}

func (a *Analyzer) dependencies(ctx context.Context, m *manifest.Manifest, at func(string) vet.Location, d *Detail) ([]vet.Finding, error) {
	if a.opts.Catalog == nil {
		d.DependencyCheck = "skipped: no marketplace catalog to resolve dependencies against"
		for _, dep := range m.Dependencies {
			d.Dependencies = append(d.Dependencies, DependencyDetail{ID: dep.ID, Range: dep.Range})
		}
		return nil, nil
	}
	d.DependencyCheck = "checked"
	var fs []vet.Finding
	for i, dep := range m.Dependencies {
		dd := DependencyDetail{ID: dep.ID, Range: dep.Range}
		versions, err := a.opts.Catalog.Versions(ctx, dep.ID)
		if err != nil {
			return nil, fmt.Errorf("looking up the versions of dependency %s: %w", dep.ID, err)
		}
		ptr := fmt.Sprintf("/dependencies/%d", i)
		if len(versions) == 0 {
			fs = append(fs, vet.Finding{
				RuleID: RuleDependencyUnknown, Severity: vet.High, Location: at(ptr + "/id"),
				Message:     fmt.Sprintf("the dependency %s is not a plugin the marketplace has published", dep.ID),
				Fingerprint: vet.Fingerprint(RuleDependencyUnknown, dep.ID),
				Properties:  map[string]any{"dependency": dep.ID},
			})
			d.Dependencies = append(d.Dependencies, dd)
			continue
		}
		dd.Resolved = newestIn(dep.Range, versions)
		if dd.Resolved == "" {
			fs = append(fs, vet.Finding{
				RuleID: RuleDependencyUnresolve, Severity: vet.High, Location: at(ptr + "/range"),
				Message:     fmt.Sprintf("no published version of %s satisfies %q (published: %s)", dep.ID, dep.Range, summarize(versions)),
				Fingerprint: vet.Fingerprint(RuleDependencyUnresolve, dep.ID, dep.Range),
				Properties:  map[string]any{"dependency": dep.ID, "range": dep.Range},
			})
		}
		d.Dependencies = append(d.Dependencies, dd)
	}
	return fs, nil
}

// newestIn returns the newest version in versions that satisfies rng, or
// "". Versions that are not SemVer are ignored.
func newestIn(rng string, versions []string) string {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return ""
	}
	var best *semver.Version
	for _, s := range versions {
		v, err := semver.StrictNewVersion(s)
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best = v
		}
	}
	if best == nil {
		return ""
	}
	return best.Original()
}

func summarize(versions []string) string {
	const max = 5
	if len(versions) <= max {
		return strings.Join(versions, ", ")
	}
	return strings.Join(versions[:max], ", ") + fmt.Sprintf(" and %d more", len(versions)-max)
}

// completeness scores the metadata users judge a listing by. The weights
// favour what a cautious user needs before installing: how data is handled
// and where to get help count most.
func completeness(m *manifest.Manifest, in *vet.Input) (int, []string) {
	type item struct {
		name   string
		weight int
		ok     bool
	}
	hasFile := func(prefixes ...string) bool {
		for _, e := range in.Package.Files {
			if strings.Contains(e.Path, "/") {
				continue // root files only
			}
			base := strings.ToUpper(path.Base(e.Path))
			for _, p := range prefixes {
				if strings.HasPrefix(base, p) {
					return true
				}
			}
		}
		return false
	}
	ownerEmail := slices.ContainsFunc(m.Owners, func(p manifest.Person) bool { return p.Email != "" })
	items := []item{
		{"description", 15, strings.TrimSpace(m.Description) != ""},
		{"homepage", 10, m.Homepage != ""},
		{"support contact", 15, m.Support != nil && (m.Support.URL != "" || m.Support.Email != "")},
		{"data handling declaration", 20, m.Data != nil && strings.TrimSpace(m.Data.Purpose) != ""},
		{"README", 15, hasFile("README")},
		{"LICENSE file", 15, hasFile("LICENSE", "LICENCE", "COPYING")},
		{"owner e-mail", 10, ownerEmail},
	}
	score := 0
	missing := []string{}
	for _, it := range items {
		if it.ok {
			score += it.weight
		} else {
			missing = append(missing, it.name)
		}
	}
	return score, missing
}
