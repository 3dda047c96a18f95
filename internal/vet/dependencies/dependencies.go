// Package dependencies is the analyzer of known vulnerabilities in what a
// plugin ships: it lists the components of the package (from the Go
// module information embedded in a Go-built module, and from an SBOM in
// the package) and matches each against an offline OSV database.
package dependencies

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/internal/wasmfile/gobuildinfo"
)

// Name is the analyzer's name.
const Name = "dependencies"

// Version changes whenever a rule changes.
const Version = "1.1.0"

// Rule ids.
const (
	RuleKnownVulnerability = "dependencies/known-vulnerability"
	RuleUnreadableSBOM     = "dependencies/unreadable-sbom"
	RuleUnreadableEntry    = "dependencies/unreadable-sbom-component"
)

// maxEntryFindings caps the unreadable-sbom-component findings of one
// SBOM; past it one more finding counts the rest.
const maxEntryFindings = 20

// ErrNoDatabase is the reason the analyzer is skipped without a database.
var ErrNoDatabase = fmt.Errorf("%w: no vulnerability database imported; run gatehouse vulndb import", vet.ErrSkipped)

var rules = []vet.Rule{
	{ID: RuleKnownVulnerability, Name: "KnownVulnerability", Severity: vulndbSeverity(vulndb.DefaultSeverity),
		Description: "A component the plugin ships (a Go module, the Go standard library, or a package its SBOM lists) is affected by a published advisory. The severity is the advisory's; advisories without one (the Go database rates none) count as medium.",
		Remediation: "Upgrade the component to the fixed version the finding names (for a Go module: go get MODULE@VERSION; for the standard library: rebuild with that Go release), rebuild, and submit a new version. If the vulnerable code cannot be reached, ask a reviewer to mark the finding a false positive with the reason.",
		HelpURI:     "https://osv.dev/"},
	{ID: RuleUnreadableSBOM, Name: "UnreadableSBOM", Severity: vet.Medium,
		Description: "An SBOM file in the package cannot be read as CycloneDX or SPDX 2.x JSON, so the components it should list cannot be checked.",
		Remediation: "Regenerate the SBOM as CycloneDX JSON or SPDX 2.x JSON (for example with syft or cyclonedx-gomod), or remove the file if it is not an SBOM."},
	{ID: RuleUnreadableEntry, Name: "UnreadableSBOMComponent", Severity: vet.Low,
		Description: "One component of an SBOM cannot be read (its package URL is not a valid purl, or it has neither a name nor a package URL), so it alone is not checked; the SBOM's other components are.",
		Remediation: "Give the component a valid package URL (pkg:TYPE/NAMESPACE/NAME@VERSION, each segment percent-encoded) or a name, by fixing the generator's input or regenerating the SBOM, then submit a new version."},
}

// Analyzer is the dependencies analyzer. The zero value is not usable;
// call New.
type Analyzer struct {
	db      func() *vulndb.DB
	timeout time.Duration
}

// New returns the analyzer matching against db. With a nil db every run
// is skipped, with ErrNoDatabase as the reason.
func New(db *vulndb.DB) *Analyzer {
	return NewDynamic(func() *vulndb.DB { return db })
}

// NewDynamic returns the analyzer matching against the database db
// returns at the start of each run, such as a vulndb.Store's DB method, so
// a long-running server uses each newly imported database from the next
// run on. A run uses one database throughout.
func NewDynamic(db func() *vulndb.DB) *Analyzer {
	return &Analyzer{db: db, timeout: 30 * time.Second}
}

func (*Analyzer) Name() string             { return Name }
func (*Analyzer) Version() string          { return Version }
func (*Analyzer) Requires() []string       { return nil }
func (a *Analyzer) Timeout() time.Duration { return a.timeout }

// Rules returns every rule the analyzer reports.
func (*Analyzer) Rules() []vet.Rule { return slices.Clone(rules) }

// Detail is the analyzer's Detail: every component found, whether or not
// an advisory matched it, so later checks (revalidation against a newer
// database, triage) can use the list without reading the package again.
type Detail struct {
	// Database is the vulnerability database's version.
	Database string `json:"database"`
	// GoVersion is the Go toolchain that built the module, when Go did.
	GoVersion  string      `json:"goVersion,omitempty"`
	Components []Component `json:"components"`
}

// Component is a component and where it was found.
type Component struct {
	sbom.Component
	// Sources are the files that list it: the module path for Go module
	// information, or SBOM paths.
	Sources []string `json:"sources"`
	// Advisories are the ids of the advisories that affect it.
	Advisories []string `json:"advisories,omitempty"`
}

// IsSBOMFile reports whether a package file is read as an SBOM.
func IsSBOMFile(name string) bool {
	base := strings.ToLower(path.Base(name))
	return base == "bom.json" || strings.HasSuffix(base, ".cdx.json") || strings.HasSuffix(base, ".spdx.json")
}

// source is where a component was found, for the finding's location.
type source struct {
	loc vet.Location
	doc []byte // the SBOM's text, to find the component's line
}

// Analyze lists the components and reports each advisory that affects one.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	db := a.db()
	if db == nil {
		return nil, ErrNoDatabase
	}
	var (
		rep     = &vet.Report{Databases: map[string]string{"osv": db.Version().String()}}
		detail  = Detail{Database: db.Version().String()}
		order   []string // component keys in the order found
		comps   = map[string]*Component{}
		firstAt = map[string]source{}
	)
	add := func(c sbom.Component, src source) {
		k := key(c)
		if cc, ok := comps[k]; ok {
			if !slices.Contains(cc.Sources, src.loc.File) {
				cc.Sources = append(cc.Sources, src.loc.File)
			}
			return
		}
		comps[k] = &Component{Component: c, Sources: []string{src.loc.File}}
		firstAt[k] = src
		order = append(order, k)
	}

	if len(in.Module) > 0 {
		modPath := modulePath(in)
		m, err := wasmfile.Parse(in.Module)
		if err != nil {
			// The capabilities analyzer reports the malformed module as a
			// finding; here it means the components cannot be listed.
			return nil, fmt.Errorf("the module %s cannot be parsed, so its Go dependencies cannot be listed: %w", modPath, err)
		}
		// Every block, not just the first: a Go binary has one, and a
		// second is a copy whose components ship too (or a decoy placed
		// to hide the real list).
		infos, err := gobuildinfo.ReadAll(m)
		switch {
		case errors.Is(err, gobuildinfo.ErrNotFound):
			// Not built by Go (or built without modules): only an SBOM
			// can say what it contains.
		case err != nil:
			return nil, fmt.Errorf("the module %s: %w", modPath, err)
		default:
			detail.GoVersion = infos[0].GoVersion
			for _, info := range infos {
				src := source{loc: vet.Location{File: modPath, Offset: info.Offset, Length: info.Length}}
				for _, c := range sbom.FromGoBuildInfo(info.BuildInfo) {
					add(c, src)
				}
			}
		}
	}

	if in.Package != nil {
		for _, f := range in.Package.Files {
			if !IsSBOMFile(f.Path) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			doc, _ := in.Package.File(f.Path)
			sb, err := sbom.ParseDocument(doc)
			if err != nil {
				rep.Findings = append(rep.Findings, unreadable(f.Path, doc, err))
				continue
			}
			rep.Findings = append(rep.Findings, unreadableEntries(f.Path, doc, sb.Skipped)...)
			for _, c := range sb.Components {
				add(c, source{loc: vet.Location{File: f.Path}, doc: doc})
			}
		}
	}

	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := comps[k]
		for _, m := range db.Match(c.Component) {
			c.Advisories = append(c.Advisories, m.ID)
			rep.Findings = append(rep.Findings, finding(c, m, firstAt[k]))
		}
		detail.Components = append(detail.Components, *c)
	}
	if detail.Components == nil {
		detail.Components = []Component{}
	}
	vet.SortFindings(rep.Findings)
	rep.Detail = detail
	return rep, nil
}

func key(c sbom.Component) string { return c.Ecosystem + "\x00" + c.Name + "\x00" + c.Version }

// modulePath is the package path of the module, for locations.
func modulePath(in *vet.Input) string {
	if in.Manifest != nil && in.Manifest.Runtime.Module != "" {
		return in.Manifest.Runtime.Module
	}
	return "module.wasm"
}

func unreadable(file string, doc []byte, err error) vet.Finding {
	loc := vet.Location{File: file}
	// A JSON syntax error has a position: the finding points at it.
	var syn *json.SyntaxError
	if errors.As(err, &syn) && syn.Offset >= 0 && syn.Offset <= int64(len(doc)) {
		loc.Line, loc.Column = vet.LineCol(doc, int(syn.Offset))
	}
	return vet.Finding{
		Analyzer:    Name,
		RuleID:      RuleUnreadableSBOM,
		Severity:    vet.Medium,
		Message:     fmt.Sprintf("%s cannot be read as an SBOM, so the components it lists are not checked: %v", file, err),
		Location:    loc,
		Fingerprint: vet.Fingerprint(RuleUnreadableSBOM, file),
		Remediation: rules[1].Remediation,
	}
}

// unreadableEntries reports the components of an SBOM that cannot be
// read, each at its line, up to maxEntryFindings.
func unreadableEntries(file string, doc []byte, skipped []sbom.Skipped) []vet.Finding {
	var out []vet.Finding
	for i, s := range skipped {
		if i == maxEntryFindings {
			out = append(out, vet.Finding{
				Analyzer:    Name,
				RuleID:      RuleUnreadableEntry,
				Severity:    vet.Low,
				Message:     fmt.Sprintf("%s: %d more components cannot be read and are not checked.", file, len(skipped)-i),
				Location:    vet.Location{File: file},
				Fingerprint: vet.Fingerprint(RuleUnreadableEntry, file, "more"),
				Remediation: rules[2].Remediation,
			})
			break
		}
		loc := vet.Location{File: file}
		loc.Line, loc.Column = lineOf(doc, sbom.Component{PURL: s.PURL, Name: s.Name})
		out = append(out, vet.Finding{
			Analyzer: Name,
			RuleID:   RuleUnreadableEntry,
			Severity: vet.Low,
			Message:  fmt.Sprintf("%s: component %s cannot be read, so it is not checked (the SBOM's other components are): %s.", file, s, strings.TrimSuffix(s.Reason, ".")),
			Location: loc,
			// The component's name and package URL, not its position: a
			// reviewer's judgement survives other components moving.
			Fingerprint: vet.Fingerprint(RuleUnreadableEntry, file, s.Name, s.PURL),
			Remediation: rules[2].Remediation,
			Properties:  map[string]any{"component": s.Name, "purl": s.PURL, "index": s.Index, "reason": s.Reason},
		})
	}
	return out
}

func finding(c *Component, m vulndb.Match, src source) vet.Finding {
	ids := m.ID
	if len(m.Aliases) > 0 {
		ids += " (" + strings.Join(m.Aliases, ", ") + ")"
	}
	what := c.Name
	if c.Name == sbom.GoStdlib && c.Ecosystem == "Go" {
		what = "the Go standard library"
	}
	msg := fmt.Sprintf("%s %s is affected by %s", what, c.Version, ids)
	if m.Summary != "" {
		msg += ": " + strings.TrimSuffix(m.Summary, ".")
	}
	var fix string
	switch {
	case m.Fixed == "":
		msg += "; no fixed version is known"
		fix = fmt.Sprintf("No release of %s fixes %s yet: remove the dependency or replace it, or ask a reviewer to mark the finding a false positive if the vulnerable code is unreachable. Details: %s", c.Name, m.ID, m.URL)
	case what != c.Name:
		msg += fmt.Sprintf("; rebuild with Go %s or later (upgrade stdlib from %s to %s or later)", m.Fixed, c.Version, m.Fixed)
		fix = fmt.Sprintf("Rebuild the module with Go %s or later and submit a new version. Details: %s", m.Fixed, m.URL)
	default:
		msg += fmt.Sprintf("; upgrade %s from %s to %s or later", c.Name, c.Version, m.Fixed)
		fix = fmt.Sprintf("Upgrade %s to %s or later", c.Name, m.Fixed)
		if c.Ecosystem == "Go" {
			fix += fmt.Sprintf(" (go get %s@%s), rebuild", c.Name, m.Fixed)
		}
		if src.doc != nil {
			fix += " and regenerate the SBOM"
		}
		fix += fmt.Sprintf(", and submit a new version. Details: %s", m.URL)
	}
	loc := src.loc
	if src.doc != nil {
		loc.Line, loc.Column = lineOf(src.doc, c.Component)
	}
	return vet.Finding{
		Analyzer: Name,
		RuleID:   RuleKnownVulnerability,
		Severity: vulndbSeverity(m.Severity),
		Message:  msg + ".",
		Location: loc,
		// The installed version is not part of the fingerprint: a
		// reviewer's judgement that an advisory does not reach this
		// plugin's use of a package survives an upgrade that is still
		// affected, while a new advisory or package is a new finding.
		Fingerprint: vet.Fingerprint(RuleKnownVulnerability, c.Ecosystem, c.Name, m.ID),
		Remediation: fix,
		Properties: map[string]any{
			"advisory":  m.ID,
			"aliases":   m.Aliases,
			"ecosystem": c.Ecosystem,
			"package":   c.Name,
			"installed": m.Installed,
			"fixed":     m.Fixed,
			"url":       m.URL,
		},
	}
}

// lineOf finds the line of an SBOM that names the component: its package
// URL, else its quoted name.
func lineOf(doc []byte, c sbom.Component) (int, int) {
	for _, needle := range []string{c.PURL, `"` + c.Name + `"`} {
		if needle == "" || needle == `""` {
			continue
		}
		if i := bytes.Index(doc, []byte(needle)); i >= 0 {
			return vet.LineCol(doc, i)
		}
	}
	return 0, 0
}

func vulndbSeverity(s vulndb.Severity) vet.Severity {
	switch s {
	case vulndb.Critical:
		return vet.Critical
	case vulndb.High:
		return vet.High
	case vulndb.Low:
		return vet.Low
	}
	return vet.Medium
}

var _ vet.Analyzer = (*Analyzer)(nil)
