// Package diff compares a plugin version with the last approved version
// of the same plugin, so triage and reviewers see what changed in what the
// plugin can do, not only in its code: permissions added or removed, new
// network origins, new imports, the module's size, and the files.
//
// # Detail
//
// The analyzer's Detail (JSON) is what triage reads:
//
//	{
//	  "previousVersion": "1.2.0",
//	  "permissions": {"added": ["kv:write"], "removed": []},
//	  "origins":     {"added": ["https://api.example.org"], "removed": []},
//	  "imports":     {"added": ["gatehouse_v1.kv_set"], "removed": []},
//	  "exports":     {"added": [], "removed": []},
//	  "module": {"path": "plugin.wasm", "previousBytes": 3400000, "bytes": 3500000, "changePercent": 2.9},
//	  "files":  {"added": ["docs/x.md"], "removed": [], "changed": ["plugin.wasm"], "unchanged": 3}
//	}
//
// Lists are sorted and never null. Imports are "module.name"; origins are
// as package origins reports them (canonical scheme://host[:port], or a
// bare host). changePercent is relative to the previous size, rounded to
// one decimal.
package diff

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/origins"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Name is the analyzer's name.
const Name = "diff"

// Version changes whenever a rule changes.
const Version = "1.0.0"

// Rule ids.
const (
	RulePermissionAdded   = "diff/permission-added"
	RulePermissionRemoved = "diff/permission-removed"
	RuleOriginAdded       = "diff/origin-added"
	RuleImportAdded       = "diff/import-added"
	RuleModuleSize        = "diff/module-size"
	RuleFilesChanged      = "diff/files-changed"
)

// Every diff rule reports a change, not a defect, so none fails vetting: a
// new permission or origin is for the triage policy's gates to route to a
// person, not a reason to reject the version outright.
var rules = []vet.Rule{
	{ID: RulePermissionAdded, Name: "PermissionAdded", Severity: vet.Low,
		Description: "The version asks for a permission the last approved version did not have.",
		Remediation: "A reviewer confirms the new permission is needed; authors say why in the release notes."},
	{ID: RulePermissionRemoved, Name: "PermissionRemoved", Severity: vet.Info,
		Description: "The version drops a permission the last approved version had.",
		Remediation: "Nothing to do: asking for less is good."},
	{ID: RuleOriginAdded, Name: "OriginAdded", Severity: vet.Low,
		Description: "The version mentions a network origin the last approved version did not.",
		Remediation: "Check that the origin is one the plugin is meant to contact, and that a net: permission covers it."},
	{ID: RuleImportAdded, Name: "ImportAdded", Severity: vet.Low,
		Description: "The module imports a function the last approved version's module did not.",
		Remediation: "Check that the new host function is needed and covered by a declared permission."},
	{ID: RuleModuleSize, Name: "ModuleSizeChanged", Severity: vet.Info,
		Description: "The module's size changed by a quarter or more.",
		Remediation: "A large change in size usually means new dependencies; check the dependencies analyzer's component list."},
	{ID: RuleFilesChanged, Name: "FilesChanged", Severity: vet.Info,
		Description: "Files were added, removed or changed since the last approved version.",
		Remediation: "Review the changed files; the result's detail lists them."},
}

// sizeChangeThreshold is the relative module size change (in percent)
// from which a finding is reported; smaller changes are in Detail only.
const sizeChangeThreshold = 25.0

// Analyzer is the diff analyzer.
type Analyzer struct{}

// New returns the diff analyzer.
func New() *Analyzer { return &Analyzer{} }

func (*Analyzer) Name() string           { return Name }
func (*Analyzer) Version() string        { return Version }
func (*Analyzer) Requires() []string     { return nil }
func (*Analyzer) Timeout() time.Duration { return 30 * time.Second }
func (*Analyzer) Rules() []vet.Rule      { return slices.Clone(rules) }

// Change is what was added and removed.
type Change struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
}

// ModuleChange is the module's size, before and after.
type ModuleChange struct {
	Path          string  `json:"path"`
	PreviousBytes int64   `json:"previousBytes"`
	Bytes         int64   `json:"bytes"`
	ChangePercent float64 `json:"changePercent"`
}

// FileChange lists files by what happened to them (by SHA-256).
type FileChange struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged int      `json:"unchanged"`
}

// Detail is the analyzer's Detail; see the package documentation.
type Detail struct {
	PreviousVersion string       `json:"previousVersion"`
	Permissions     Change       `json:"permissions"`
	Origins         Change       `json:"origins"`
	Imports         Change       `json:"imports"`
	Exports         Change       `json:"exports"`
	Module          ModuleChange `json:"module"`
	Files           FileChange   `json:"files"`
}

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Previous == nil {
		return nil, fmt.Errorf("first version: there is no approved version to compare with: %w", vet.ErrSkipped)
	}
	if in.Manifest == nil {
		return nil, fmt.Errorf("the manifest did not parse: %w", vet.ErrSkipped)
	}
	prev := in.Previous
	prevMan := prev.Manifest
	if prevMan == nil && prev.Package != nil {
		m, err := manifest.Parse(prev.Package.Manifest(), manifest.Options{})
		if err != nil {
			return nil, fmt.Errorf("reading the manifest of the previous version %s: %w", prev.Version, err)
		}
		prevMan = m
	}
	if prevMan == nil || prev.Package == nil {
		return nil, fmt.Errorf("the previous version %s was given without its package and manifest", prev.Version)
	}
	d := &Detail{PreviousVersion: prev.Version}
	rep := &vet.Report{Detail: d}
	raw := in.Package.Manifest()
	at := func(pointer string) vet.Location {
		l, c, ok := vet.PointerLine(raw, pointer)
		if !ok {
			l, c = 1, 0
		}
		return vet.Location{File: manifest.FileName, Line: l, Column: c}
	}

	// Permissions, compared in canonical form so that spelling changes
	// ("HTTPS://Api.example.com" → "https://api.example.com") are no change.
	cur, curIdx := canonicalPermissions(in.Manifest.Permissions)
	old, _ := canonicalPermissions(prevMan.Permissions)
	d.Permissions = compare(old, cur)
	for _, p := range d.Permissions.Added {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RulePermissionAdded, Severity: vet.Low, Location: at(fmt.Sprintf("/permissions/%d", curIdx[p])),
			Message:     fmt.Sprintf("version %s asks for %s, which the approved version %s did not have", in.Manifest.Version, p, prev.Version),
			Fingerprint: vet.Fingerprint(RulePermissionAdded, p),
			Properties:  map[string]any{"permission": p, "previousVersion": prev.Version},
		})
	}
	for _, p := range d.Permissions.Removed {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RulePermissionRemoved, Severity: vet.Info, Location: at("/permissions"),
			Message:     fmt.Sprintf("version %s no longer asks for %s", in.Manifest.Version, p),
			Fingerprint: vet.Fingerprint(RulePermissionRemoved, p),
			Properties:  map[string]any{"permission": p},
		})
	}

	// Module: imports, exports, origins in its data, size.
	curMod, curErr := parseModule(in.Module)
	prevModPath := prevMan.Runtime.Module
	prevModBytes := prev.Module
	if prevModBytes == nil {
		prevModBytes, _ = prev.Package.File(prevModPath)
	}
	oldMod, oldErr := parseModule(prevModBytes)
	if curErr == nil && oldErr == nil {
		d.Imports = compare(importSet(oldMod), importSet(curMod))
		d.Exports = compare(exportSet(oldMod), exportSet(curMod))
	} else {
		d.Imports, d.Exports = Change{Added: []string{}, Removed: []string{}}, Change{Added: []string{}, Removed: []string{}}
	}
	modPath := in.Manifest.Runtime.Module
	for _, im := range d.Imports.Added {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleImportAdded, Severity: vet.Low, Location: vet.Location{File: modPath, Offset: importOffset(curMod, im)},
			Message:     fmt.Sprintf("the module now imports %s, which the approved version %s did not", im, prev.Version),
			Fingerprint: vet.Fingerprint(RuleImportAdded, im),
			Properties:  map[string]any{"import": im},
		})
	}
	d.Module = ModuleChange{Path: modPath, PreviousBytes: int64(len(prevModBytes)), Bytes: int64(len(in.Module))}
	if len(prevModBytes) > 0 {
		d.Module.ChangePercent = math.Round(1000*float64(len(in.Module)-len(prevModBytes))/float64(len(prevModBytes))) / 10
		if math.Abs(d.Module.ChangePercent) >= sizeChangeThreshold {
			rep.Findings = append(rep.Findings, vet.Finding{
				RuleID: RuleModuleSize, Severity: vet.Info, Location: vet.Location{File: modPath},
				Message:     fmt.Sprintf("the module is %d bytes, %+.1f%% against the approved version's %d", len(in.Module), d.Module.ChangePercent, len(prevModBytes)),
				Fingerprint: vet.Fingerprint(RuleModuleSize),
				Properties:  map[string]any{"changePercent": d.Module.ChangePercent},
			})
		}
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	curOrigins, firstSeen, scans := originSet(in.Package.Files, in.Package.File, modPath, curMod, nil)
	oldOrigins, _, _ := originSet(prev.Package.Files, prev.Package.File, prevModPath, oldMod, scans)
	d.Origins = compare(oldOrigins, curOrigins)
	for _, o := range d.Origins.Added {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleOriginAdded, Severity: vet.Low, Location: firstSeen[o],
			Message:     fmt.Sprintf("the package now mentions the origin %s, which the approved version %s did not", o, prev.Version),
			Fingerprint: vet.Fingerprint(RuleOriginAdded, o),
			Properties:  map[string]any{"origin": o},
		})
	}

	// Files, by SHA-256.
	d.Files = compareFiles(prev.Package.Files, in.Package.Files)
	if n := len(d.Files.Added) + len(d.Files.Removed) + len(d.Files.Changed); n > 0 {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleFilesChanged, Severity: vet.Info, Location: vet.Location{File: manifest.FileName},
			Message: fmt.Sprintf("%d file(s) added, %d removed and %d changed since the approved version %s",
				len(d.Files.Added), len(d.Files.Removed), len(d.Files.Changed), prev.Version),
			Fingerprint: vet.Fingerprint(RuleFilesChanged),
			Properties:  map[string]any{"added": len(d.Files.Added), "removed": len(d.Files.Removed), "changed": len(d.Files.Changed)},
		})
	}
	return rep, nil
}

type pkgEntry = pkgfile.Entry

func parseModule(b []byte) (*wasmfile.Module, error) {
	if b == nil {
		return nil, fmt.Errorf("no module")
	}
	return wasmfile.Parse(b)
}

// canonicalPermissions returns the permissions in canonical text form and
// where each is listed. One that does not parse is kept as written: the
// manifest analyzer reports it.
func canonicalPermissions(list []string) ([]string, map[string]int) {
	out := make([]string, 0, len(list))
	idx := make(map[string]int, len(list))
	for i, s := range list {
		if p, err := manifest.ParsePermission(s); err == nil {
			s = p.String()
		}
		out = append(out, s)
		idx[s] = i
	}
	return out, idx
}

func compare(old, cur []string) Change {
	o := make(map[string]bool, len(old))
	for _, s := range old {
		o[s] = true
	}
	c := make(map[string]bool, len(cur))
	for _, s := range cur {
		c[s] = true
	}
	ch := Change{Added: []string{}, Removed: []string{}}
	for s := range c {
		if !o[s] {
			ch.Added = append(ch.Added, s)
		}
	}
	for s := range o {
		if !c[s] {
			ch.Removed = append(ch.Removed, s)
		}
	}
	slices.Sort(ch.Added)
	slices.Sort(ch.Removed)
	return ch
}

func importSet(m *wasmfile.Module) []string {
	var s []string
	for _, im := range m.Imports {
		s = append(s, im.Module+"."+im.Name)
	}
	return s
}

func importOffset(m *wasmfile.Module, name string) int64 {
	for _, im := range m.Imports {
		if im.Module+"."+im.Name == name {
			return im.Offset
		}
	}
	return 0
}

func exportSet(m *wasmfile.Module) []string {
	var s []string
	for _, e := range m.Exports {
		s = append(s, e.Name)
	}
	return s
}

// originSet returns the origins in a module's data and a package's text
// files (but not the manifest or licence texts), with where each was first
// seen. It looks where the capabilities analyzer looks, with the same
// scanner, so the two agree on what an origin is.
//
// An update shares most of its bytes with the version before it (every
// unchanged file, most of the module's data segments), and the scanner's
// hits depend on the bytes alone: given prior, what a first call scanned,
// a file or data segment with the same bytes as there (compared in full)
// takes its hits from there instead of being scanned again. What it
// returns is the same as without prior.
func originSet(files []pkgEntry, file func(string) ([]byte, bool), modPath string, mod *wasmfile.Module, prior *scanned) ([]string, map[string]vet.Location, *scanned) {
	seen := map[string]vet.Location{}
	var list []string
	sc := &scanned{files: map[string]scannedFile{}, segHits: map[int][]origins.Hit{}}
	// first reports whether the hit names an origin not seen before, which
	// the caller then places (a location is worked out only for those).
	first := func(h origins.Hit) bool {
		if origins.Wellknown(h.Host) {
			return false
		}
		if _, ok := seen[h.Origin]; ok {
			return false
		}
		list = append(list, h.Origin)
		return true
	}
	if mod != nil {
		sc.segments = mod.Data
		for i, seg := range mod.Data {
			var hits []origins.Hit
			if prior != nil && i < len(prior.segments) && bytes.Equal(prior.segments[i].Data, seg.Data) {
				hits = prior.segHits[i]
			} else {
				hits = origins.Scan(seg.Data)
			}
			if len(hits) > 0 {
				sc.segHits[i] = hits
			}
			for _, h := range hits {
				if first(h) {
					seen[h.Origin] = vet.Location{File: modPath, Offset: seg.Offset + int64(h.Offset)}
				}
			}
		}
	}
	for _, e := range files {
		if e.Path == modPath || e.Path == manifest.FileName || origins.LicenseFile(e.Path) {
			continue
		}
		data, _ := file(e.Path)
		var s scannedFile
		if p, ok := prior.file(e.Path); ok && bytes.Equal(p.data, data) {
			s = p
		} else {
			s = scannedFile{data: data, text: vet.IsText(data)}
			if s.text {
				s.hits = origins.Scan(data)
			}
		}
		sc.files[e.Path] = s
		if !s.text {
			continue
		}
		for _, h := range s.hits {
			if first(h) {
				line, col := vet.LineCol(data, h.Offset)
				seen[h.Origin] = vet.Location{File: e.Path, Line: line, Column: col}
			}
		}
	}
	return list, seen, sc
}

// scanned is what one originSet call scanned: each file's bytes, whether
// they are text and the scanner's hits in them, by path; the module's data
// segments and the hits in those that have any, by index (a module holds
// tens of thousands of small segments, few with an origin).
type scanned struct {
	files    map[string]scannedFile
	segments []wasmfile.DataSegment
	segHits  map[int][]origins.Hit
}

type scannedFile struct {
	data []byte
	text bool
	hits []origins.Hit
}

func (sc *scanned) file(path string) (scannedFile, bool) {
	if sc == nil {
		return scannedFile{}, false
	}
	s, ok := sc.files[path]
	return s, ok
}

func compareFiles(old, cur []pkgEntry) FileChange {
	fc := FileChange{Added: []string{}, Removed: []string{}, Changed: []string{}}
	o := make(map[string]string, len(old))
	for _, e := range old {
		o[e.Path] = e.SHA256
	}
	c := make(map[string]bool, len(cur))
	for _, e := range cur {
		c[e.Path] = true
		sum, ok := o[e.Path]
		switch {
		case !ok:
			fc.Added = append(fc.Added, e.Path)
		case sum != e.SHA256:
			fc.Changed = append(fc.Changed, e.Path)
		default:
			fc.Unchanged++
		}
	}
	for _, e := range old {
		if !c[e.Path] {
			fc.Removed = append(fc.Removed, e.Path)
		}
	}
	return fc
}
