// Package licenses checks that a package's licence files say what its
// manifest declares, and that the declared licence is one the marketplace
// accepts.
//
// Licence texts are identified with github.com/google/licensecheck (the
// classifier pkg.go.dev uses), in LICENSE*, LICENCE* and COPYING* files,
// and source files' headers are read for SPDX-License-Identifier lines and
// licence notices. The manifest's license is an SPDX expression (already
// validated by the manifest package); expressions are compared with
// github.com/github/go-spdx.
package licenses

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/google/licensecheck"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
)

// Name is the analyzer's name.
const Name = "licenses"

// Version changes whenever a rule changes.
const Version = "1.1.0"

// Rule ids.
const (
	RuleMismatch     = "licenses/mismatch"
	RuleDenied       = "licenses/denied"
	RuleNotAllowed   = "licenses/not-allowed"
	RuleMissingFile  = "licenses/missing-file"
	RuleUnrecognized = "licenses/unrecognized-file"
)

var rules = []vet.Rule{
	{ID: RuleMismatch, Name: "LicenseMismatch", Severity: vet.Medium,
		Description: "A licence file or source header names a licence the manifest's license expression does not.",
		Remediation: "Make the manifest's license match the licence the code is really under (for example \"MIT OR Apache-2.0\" when both apply), or replace the licence file with the licence you declare."},
	{ID: RuleDenied, Name: "LicenseDenied", Severity: vet.High,
		Description: "The plugin is under a licence the marketplace's policy denies.",
		Remediation: "Publish the plugin under a licence the marketplace accepts, or ask the operators for an exception."},
	{ID: RuleNotAllowed, Name: "LicenseNotAllowed", Severity: vet.Medium,
		Description: "The declared licence is not on the marketplace's list of allowed licences.",
		Remediation: "Publish the plugin under one of the allowed licences, or ask a reviewer to approve this one."},
	{ID: RuleMissingFile, Name: "LicenseFileMissing", Severity: vet.Low,
		Description: "The package holds no licence file, so users cannot read the terms the manifest names.",
		Remediation: "Add the full licence text as LICENSE at the package root."},
	{ID: RuleUnrecognized, Name: "LicenseFileUnrecognized", Severity: vet.Low,
		Description: "A licence file does not read as any licence text the classifier knows.",
		Remediation: "Use the licence's standard text unchanged (copyright lines aside), so tools and people can identify it."},
}

// Policy is the marketplace's licence policy: SPDX licence ids. An empty
// Allowed list allows every licence not denied.
type Policy struct {
	Allowed []string `json:"allowed,omitempty"`
	Denied  []string `json:"denied,omitempty"`
}

// Analyzer is the licences analyzer.
type Analyzer struct {
	policy Policy
}

// New returns the licences analyzer applying policy.
func New(policy Policy) *Analyzer {
	return &Analyzer{policy: Policy{Allowed: slices.Clone(policy.Allowed), Denied: slices.Clone(policy.Denied)}}
}

func (*Analyzer) Name() string           { return Name }
func (*Analyzer) Version() string        { return Version }
func (*Analyzer) Requires() []string     { return nil }
func (*Analyzer) Timeout() time.Duration { return 2 * time.Minute } // classifying vendored licence files under load
func (*Analyzer) Rules() []vet.Rule      { return slices.Clone(rules) }

// Detail is the analyzer's Detail.
type Detail struct {
	Declared    string     `json:"declared"`
	DeclaredIDs []string   `json:"declaredIds"`
	Files       []FileInfo `json:"files"`
	// Dependencies are the licence files of the modules the package
	// carries in vendor/ (`gatehouse plugin build` vendors every
	// dependency with its licence files). A dependency's licence need not
	// be the plugin's, so it is checked against the deny list only.
	Dependencies []DependencyLicense `json:"dependencies,omitempty"`
}

// DependencyLicense is what was found in one vendored licence file.
type DependencyLicense struct {
	// Module is the folder under vendor/ that holds the file: the module
	// path, or a package path inside the module.
	Module string `json:"module"`
	FileInfo
}

// vendorPrefix is where a package carries its dependencies' source.
const vendorPrefix = "vendor/"

// FileInfo is what was found in one file.
type FileInfo struct {
	File     string   `json:"file"`
	Licenses []string `json:"licenses"`
	// Coverage is the percentage of a licence file's text the matched
	// licences account for; source headers have none.
	Coverage float64 `json:"coverage,omitempty"`
}

// maxHeaderBytes is how much of a source file is read for its licence
// header.
const maxHeaderBytes = 4 << 10

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Manifest == nil {
		return nil, fmt.Errorf("the manifest did not parse, so there is no declared licence to compare with: %w", vet.ErrSkipped)
	}
	declared := in.Manifest.License
	ids, err := spdxexp.ExtractLicenses(declared)
	if err != nil {
		return nil, fmt.Errorf("the manifest's license %q is not an SPDX expression (see the manifest analyzer): %v: %w", declared, err, vet.ErrSkipped)
	}
	raw := in.Package.Manifest()
	licenseLoc := vet.Location{File: manifest.FileName, Line: 1}
	if l, c, ok := vet.PointerLine(raw, "/license"); ok {
		licenseLoc.Line, licenseLoc.Column = l, c
	}
	d := &Detail{Declared: declared, DeclaredIDs: ids, Files: []FileInfo{}}
	rep := &vet.Report{Detail: d, Databases: map[string]string{"licensecheck": "v0.3.1"}}
	declaredSet := map[string]bool{}
	for _, id := range ids {
		declaredSet[strings.ToLower(id)] = true
	}

	sawLicenseFile := false
	detected := map[string]bool{}
	for _, e := range in.Package.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, _ := in.Package.File(e.Path)
		switch {
		case strings.HasPrefix(e.Path, vendorPrefix):
			if licenseFile(e.Path) {
				dl, fs := a.dependencyLicense(e.Path, data)
				d.Dependencies = append(d.Dependencies, dl)
				rep.Findings = append(rep.Findings, fs...)
			}
		case licenseFile(e.Path):
			sawLicenseFile = true
			cov := licensecheck.Scan(data)
			fi := FileInfo{File: e.Path, Licenses: []string{}, Coverage: round1(cov.Percent)}
			for _, m := range cov.Match {
				if m.IsURL || slices.Contains(fi.Licenses, m.ID) {
					continue
				}
				fi.Licenses = append(fi.Licenses, m.ID)
				detected[m.ID] = true
				if !declaredSet[strings.ToLower(m.ID)] {
					line, _ := vet.LineCol(data, m.Start)
					rep.Findings = append(rep.Findings, mismatch(e.Path, line, m.ID, declared))
				}
			}
			d.Files = append(d.Files, fi)
			if len(fi.Licenses) == 0 {
				rep.Findings = append(rep.Findings, vet.Finding{
					RuleID: RuleUnrecognized, Severity: vet.Low, Location: vet.Location{File: e.Path, Line: 1},
					Message:     fmt.Sprintf("%s does not read as a known licence text, so it cannot be checked against the declared %s", e.Path, declared),
					Fingerprint: vet.Fingerprint(RuleUnrecognized, e.Path),
				})
			}
		case sourceFile(e.Path) && vet.IsText(data):
			head := data[:min(len(data), maxHeaderBytes)]
			fi := FileInfo{File: e.Path, Licenses: []string{}}
			for _, h := range headerLicenses(head) {
				if slices.Contains(fi.Licenses, h.id) {
					continue
				}
				fi.Licenses = append(fi.Licenses, h.id)
				detected[h.id] = true
				if !declaredSet[strings.ToLower(h.id)] {
					rep.Findings = append(rep.Findings, mismatch(e.Path, h.line, h.id, declared))
				}
			}
			if len(fi.Licenses) > 0 {
				d.Files = append(d.Files, fi)
			}
		}
	}
	if !sawLicenseFile {
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleMissingFile, Severity: vet.Low, Location: licenseLoc,
			Message:     fmt.Sprintf("the manifest declares %s but the package holds no LICENSE, LICENCE or COPYING file with its text", declared),
			Fingerprint: vet.Fingerprint(RuleMissingFile),
		})
	}
	rep.Findings = append(rep.Findings, a.policyFindings(declared, ids, detected, licenseLoc)...)
	return rep, nil
}

// dependencyLicense identifies a vendored licence file and applies the
// deny list to it.
func (a *Analyzer) dependencyLicense(file string, data []byte) (DependencyLicense, []vet.Finding) {
	module := strings.TrimPrefix(path.Dir(file), vendorPrefix)
	cov := licensecheck.Scan(data)
	dl := DependencyLicense{Module: module, FileInfo: FileInfo{File: file, Licenses: []string{}, Coverage: round1(cov.Percent)}}
	var fs []vet.Finding
	for _, m := range cov.Match {
		if m.IsURL || slices.Contains(dl.Licenses, m.ID) {
			continue
		}
		dl.Licenses = append(dl.Licenses, m.ID)
		if containsFold(a.policy.Denied, m.ID) {
			line, _ := vet.LineCol(data, m.Start)
			fs = append(fs, vet.Finding{
				RuleID: RuleDenied, Severity: vet.High, Location: vet.Location{File: file, Line: max(line, 1)},
				Message:     fmt.Sprintf("the dependency %s is under %s, which the marketplace denies", module, m.ID),
				Fingerprint: vet.Fingerprint(RuleDenied, "dependency", module, m.ID),
				Properties:  map[string]any{"detected": m.ID, "dependency": module},
			})
		}
	}
	if len(dl.Licenses) == 0 {
		fs = append(fs, vet.Finding{
			RuleID: RuleUnrecognized, Severity: vet.Low, Location: vet.Location{File: file, Line: 1},
			Message:     fmt.Sprintf("%s, the licence of the dependency %s, does not read as a known licence text, so it cannot be checked against the marketplace's policy", file, module),
			Fingerprint: vet.Fingerprint(RuleUnrecognized, file),
		})
	}
	return dl, fs
}

func mismatch(file string, line int, found, declared string) vet.Finding {
	return vet.Finding{
		RuleID: RuleMismatch, Severity: vet.Medium, Location: vet.Location{File: file, Line: max(line, 1)},
		Message:     fmt.Sprintf("%s is under %s, but the manifest declares %s", file, found, declared),
		Fingerprint: vet.Fingerprint(RuleMismatch, file, found, declared),
		Properties:  map[string]any{"detected": found, "declared": declared},
	}
}

// policyFindings applies the allow and deny lists to the declared
// expression and to the licences the files are under. An expression with
// alternatives ("MIT OR GPL-3.0-only") passes when one alternative does.
func (a *Analyzer) policyFindings(declared string, ids []string, detected map[string]bool, loc vet.Location) []vet.Finding {
	var fs []vet.Finding
	if len(a.policy.Denied) > 0 {
		var notDenied []string
		for _, id := range ids {
			if !containsFold(a.policy.Denied, id) {
				notDenied = append(notDenied, id)
			}
		}
		ok := len(notDenied) > 0
		if ok && len(notDenied) < len(ids) {
			ok, _ = spdxexp.Satisfies(declared, notDenied)
		}
		if !ok {
			fs = append(fs, vet.Finding{
				RuleID: RuleDenied, Severity: vet.High, Location: loc,
				Message:     fmt.Sprintf("the declared licence %s cannot be used without a licence the marketplace denies (%s)", declared, strings.Join(a.policy.Denied, ", ")),
				Fingerprint: vet.Fingerprint(RuleDenied, declared),
				Properties:  map[string]any{"declared": declared},
			})
		}
		for _, id := range sortedKeys(detected) {
			if containsFold(a.policy.Denied, id) && !containsFold(ids, id) {
				fs = append(fs, vet.Finding{
					RuleID: RuleDenied, Severity: vet.High, Location: loc,
					Message:     fmt.Sprintf("the package's files are under %s, which the marketplace denies", id),
					Fingerprint: vet.Fingerprint(RuleDenied, "detected", id),
					Properties:  map[string]any{"detected": id},
				})
			}
		}
	}
	if len(a.policy.Allowed) > 0 {
		ok, err := spdxexp.Satisfies(declared, a.policy.Allowed)
		if err != nil || !ok {
			fs = append(fs, vet.Finding{
				RuleID: RuleNotAllowed, Severity: vet.Medium, Location: loc,
				Message:     fmt.Sprintf("the declared licence %s is not satisfied by the allowed licences (%s)", declared, strings.Join(a.policy.Allowed, ", ")),
				Fingerprint: vet.Fingerprint(RuleNotAllowed, declared),
				Properties:  map[string]any{"declared": declared},
			})
		}
	}
	return fs
}

// licenseFile reports the files that hold a licence's text.
func licenseFile(p string) bool {
	base := strings.ToUpper(path.Base(p))
	for _, prefix := range []string{"LICENSE", "LICENCE", "COPYING", "UNLICENSE"} {
		if strings.HasPrefix(base, prefix) {
			return true
		}
	}
	return false
}

var sourceExts = map[string]bool{
	".go": true, ".rs": true, ".c": true, ".h": true, ".cc": true, ".cpp": true, ".hpp": true,
	".js": true, ".mjs": true, ".ts": true, ".py": true, ".zig": true, ".java": true, ".kt": true,
	".swift": true, ".cs": true, ".rb": true, ".as": true, ".wat": true,
}

func sourceFile(p string) bool { return sourceExts[strings.ToLower(path.Ext(p))] }

type headerLicense struct {
	id   string
	line int
}

// headerLicenses reads the licences a source file's header names: its
// SPDX-License-Identifier lines (each licence of the expression), or else a
// licence notice licensecheck recognises.
func headerLicenses(head []byte) []headerLicense {
	var out []headerLicense
	sc := bufio.NewScanner(bytes.NewReader(head))
	for line := 1; sc.Scan(); line++ {
		_, expr, ok := bytes.Cut(sc.Bytes(), []byte("SPDX-License-Identifier:"))
		if !ok {
			continue
		}
		e := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(expr)), "*/"))
		ids, err := spdxexp.ExtractLicenses(e)
		if err != nil {
			continue
		}
		for _, id := range ids {
			out = append(out, headerLicense{id: id, line: line})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range licensecheck.Scan(head).Match {
		if m.IsURL {
			continue
		}
		line, _ := vet.LineCol(head, m.Start)
		out = append(out, headerLicense{id: m.ID, line: line})
	}
	return out
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
