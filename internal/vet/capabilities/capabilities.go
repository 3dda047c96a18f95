// Package capabilities is the core static analysis of what a plugin can
// reach: it reads the WebAssembly module's imports, exports, memory and
// data, and compares them with what the manifest declares.
//
// A module can only act on the world through its imports, so the import
// section is the complete list of the plugin's capabilities: each
// gatehouse_v1 import needs a declared permission, WASI imports must stay
// in the allowed set, and nothing else may be imported. The network
// origins a plugin talks to are arguments, not imports, so they are found
// in the module's data segments and the package's text files (package
// origins) and compared with the net: permissions.
package capabilities

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/origins"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/manifest"
)

// Name is the analyzer's name.
const Name = "capabilities"

// Version changes whenever a rule changes.
const Version = "1.1.0"

// Rule ids.
const (
	RuleMalformedModule   = "capabilities/malformed-module"
	RuleUndeclaredImport  = "capabilities/undeclared-import"
	RuleUnknownHostFunc   = "capabilities/unknown-host-function"
	RuleSignatureMismatch = "capabilities/signature-mismatch"
	RuleWASISocket        = "capabilities/wasi-socket"
	RuleWASINotAllowed    = "capabilities/wasi-not-allowed"
	RuleUnknownImport     = "capabilities/unknown-import-module"
	RuleMissingExport     = "capabilities/missing-export"
	RuleMemoryLimit       = "capabilities/memory-limit"
	RuleUnusedPermission  = "capabilities/unused-permission"
	RuleUndeclaredOrigin  = "capabilities/undeclared-origin"
)

var rules = []vet.Rule{
	{ID: RuleMalformedModule, Name: "MalformedModule", Severity: vet.Critical,
		Description: "The WebAssembly module cannot be parsed, so nothing it does can be checked.",
		Remediation: "Rebuild the module with a supported toolchain (for Go: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared) and pack the file the build wrote."},
	{ID: RuleUndeclaredImport, Name: "UndeclaredImport", Severity: vet.High,
		Description: "The module imports a host function that needs a permission the manifest does not declare; the sandbox will refuse to load it.",
		Remediation: "Add the permission the host function needs to the manifest's permissions (for example kv:read for kv_get), or stop calling the function so the compiler drops the import."},
	{ID: RuleUnknownHostFunc, Name: "UnknownHostFunction", Severity: vet.High,
		Description: "The module imports a gatehouse_v1 function the host API does not have.",
		Remediation: "Build against the current plugin kit (gatehouse.dev/gatehouse/pdk); the host API lists every function a plugin may import."},
	{ID: RuleSignatureMismatch, Name: "SignatureMismatch", Severity: vet.High,
		Description: "A gatehouse_v1 import's signature differs from the host API's, so the sandbox cannot link it.",
		Remediation: "Declare the import with the host API's parameter and result types, or use the plugin kit, which does."},
	{ID: RuleWASISocket, Name: "WASISocket", Severity: vet.Critical,
		Description: "The module imports a WASI socket function. Plugins reach the network only through http_fetch and their net: permissions.",
		Remediation: "Remove the socket code (for Go: do not import net, or packages that open connections) and fetch with the plugin kit's Fetch under a net: permission."},
	{ID: RuleWASINotAllowed, Name: "WASINotAllowed", Severity: vet.High,
		Description: "The module imports a WASI function outside the allowed set.",
		Remediation: "Remove the code that needs this WASI call; the host provides only the WASI functions Go's wasip1 runtime needs, with read-only mounts."},
	{ID: RuleUnknownImport, Name: "UnknownImportModule", Severity: vet.High,
		Description: "The module imports from a module other than gatehouse_v1 and wasi_snapshot_preview1, or imports something other than a function.",
		Remediation: "Remove the import; a plugin may import only host API functions and the allowed WASI functions."},
	{ID: RuleMissingExport, Name: "MissingExport", Severity: vet.High,
		Description: "A function the manifest lists in runtime.exports is not exported by the module.",
		Remediation: "Export the function (for Go: //go:wasmexport NAME on a func() int32) or remove it from runtime.exports."},
	{ID: RuleMemoryLimit, Name: "MemoryLimit", Severity: vet.Low,
		Description: "The module's memory limits and the manifest's limits.memoryMiB disagree, or neither bounds the memory.",
		Remediation: "Set limits.memoryMiB in the manifest to what the plugin needs; the host stops the plugin at that limit."},
	{ID: RuleUnusedPermission, Name: "UnusedPermission", Severity: vet.Low,
		Description: "A declared permission is not needed by any host function the module imports.",
		Remediation: "Remove the permission from the manifest: plugins should ask for no more than they use, and reviewers look harder at wide requests."},
	{ID: RuleUndeclaredOrigin, Name: "UndeclaredOrigin", Severity: vet.Medium,
		Description: "A URL or host name in the module's data or the package's files is not covered by a net: permission.",
		Remediation: "If the plugin contacts this origin, add net:ORIGIN to the manifest's permissions; if it is documentation or dead code, remove it or ask a reviewer to mark the finding a false positive."},
}

// Analyzer is the capabilities analyzer. The zero value is not usable;
// call New.
type Analyzer struct {
	timeout time.Duration
}

// New returns the capabilities analyzer.
func New() *Analyzer { return &Analyzer{timeout: 30 * time.Second} }

func (*Analyzer) Name() string             { return Name }
func (*Analyzer) Version() string          { return Version }
func (*Analyzer) Requires() []string       { return nil }
func (a *Analyzer) Timeout() time.Duration { return a.timeout }

// Rules returns every rule the analyzer reports.
func (*Analyzer) Rules() []vet.Rule { return slices.Clone(rules) }

// Detail is the analyzer's Detail: what the module imports and exports,
// its memory, and every origin found.
type Detail struct {
	Imports []ImportDetail `json:"imports"`
	Exports []string       `json:"exports"`
	Memory  *MemoryDetail  `json:"memory,omitempty"`
	Origins []OriginDetail `json:"origins"`
	// OriginsOmitted counts (file, origin) pairs left out of Origins once
	// it holds maxDetailOrigins; their findings are still reported.
	OriginsOmitted  int      `json:"originsOmitted,omitempty"`
	PermissionsUsed []string `json:"permissionsUsed"`
}

// maxDetailOrigins bounds Detail.Origins, which is stored with every
// result.
const maxDetailOrigins = 1000

// ImportDetail is one import.
type ImportDetail struct {
	Module     string `json:"module"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Signature  string `json:"signature,omitempty"`
	Permission string `json:"permission,omitempty"`
	Offset     int64  `json:"offset"`
}

// MemoryDetail is the module's memory, in 64 KiB pages.
type MemoryDetail struct {
	InitialPages uint64 `json:"initialPages"`
	MaxPages     uint64 `json:"maxPages,omitempty"`
	HasMax       bool   `json:"hasMax"`
	LimitMiB     int    `json:"limitMiB,omitempty"` // the manifest's limits.memoryMiB
}

// OriginDetail is one origin found, with where it was first seen.
type OriginDetail struct {
	Origin    string `json:"origin"`
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
	Offset    int64  `json:"offset,omitempty"`
	Count     int    `json:"count"`
	Covered   bool   `json:"covered"`
	Toolchain bool   `json:"toolchain,omitempty"` // a Go toolchain origin, ignored
}

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Manifest == nil {
		// Not skipped: a required capabilities check that could not run
		// must fail closed, whatever mode the manifest analyzer is in.
		return nil, errors.New("the manifest did not parse, so the module cannot be checked against its declarations (see the manifest analyzer's findings)")
	}
	modPath := in.Manifest.Runtime.Module
	if in.Module == nil {
		return nil, fmt.Errorf("the package does not hold the module %q that runtime.module names", modPath)
	}
	granted, err := in.Manifest.ParsedPermissions()
	if err != nil {
		// The manifest analyzer reports the permission itself.
		return nil, fmt.Errorf("the manifest's permissions do not parse: %v: %w", err, vet.ErrSkipped)
	}
	rep := &vet.Report{Databases: map[string]string{"hostapi": hostapi.Version}}
	raw := in.Package.Manifest()
	manifestAt := func(pointer string) vet.Location {
		l, c, ok := vet.PointerLine(raw, pointer)
		if !ok {
			l, c = 1, 0
		}
		return vet.Location{File: manifest.FileName, Line: l, Column: c}
	}

	mod, err := wasmfile.Parse(in.Module)
	if err != nil {
		var pe *wasmfile.Error
		loc := vet.Location{File: modPath}
		if errors.As(err, &pe) {
			loc.Offset = pe.Offset
		}
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleMalformedModule, Severity: vet.Critical, Location: loc,
			Message:     fmt.Sprintf("the module %s cannot be parsed: %v", modPath, err),
			Fingerprint: vet.Fingerprint(RuleMalformedModule, modPath),
		})
		return rep, nil
	}

	d := &Detail{Imports: []ImportDetail{}, Exports: []string{}, Origins: []OriginDetail{}, PermissionsUsed: []string{}}
	used := map[string]bool{}
	rep.Findings = append(rep.Findings, checkImports(mod, modPath, granted, used, d)...)
	rep.Findings = append(rep.Findings, checkExports(mod, in.Manifest, manifestAt, d)...)
	rep.Findings = append(rep.Findings, checkMemory(mod, modPath, in.Manifest, manifestAt, d)...)
	for i, p := range granted {
		if p.Kind == hostapi.PermNet || used[p.Kind] {
			continue
		}
		// net: permissions are also judged by the origins the plugin
		// holds, below; an unused net kind is reported there.
		rep.Findings = append(rep.Findings, vet.Finding{
			RuleID: RuleUnusedPermission, Severity: vet.Low, Location: manifestAt(fmt.Sprintf("/permissions/%d", i)),
			Message:     fmt.Sprintf("the permission %s is declared but the module imports no host function that needs it", p),
			Fingerprint: vet.Fingerprint(RuleUnusedPermission, p.String()),
			Properties:  map[string]any{"permission": p.String()},
		})
	}
	for p := range used {
		d.PermissionsUsed = append(d.PermissionsUsed, p)
	}
	slices.Sort(d.PermissionsUsed)

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var allowed []string
	netIdx := map[string]int{}
	for i, p := range granted {
		if p.Kind == hostapi.PermNet {
			allowed = append(allowed, p.Scope)
			netIdx[p.Scope] = i
		}
	}
	of, err := scanOrigins(ctx, in, mod, modPath, allowed, d)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, of...)
	if len(allowed) > 0 && !used[hostapi.PermNet] {
		for _, o := range allowed {
			rep.Findings = append(rep.Findings, vet.Finding{
				RuleID: RuleUnusedPermission, Severity: vet.Low, Location: manifestAt(fmt.Sprintf("/permissions/%d", netIdx[o])),
				Message:     fmt.Sprintf("the permission net:%s is declared but the module does not import http_fetch", o),
				Fingerprint: vet.Fingerprint(RuleUnusedPermission, "net:"+o),
				Properties:  map[string]any{"permission": "net:" + o},
			})
		}
	}
	rep.Detail = d
	return rep, nil
}

func checkImports(mod *wasmfile.Module, modPath string, granted []manifest.Permission, used map[string]bool, d *Detail) []vet.Finding {
	var fs []vet.Finding
	at := func(im wasmfile.Import) vet.Location { return vet.Location{File: modPath, Offset: im.Offset} }
	add := func(rule string, sev vet.Severity, im wasmfile.Import, msg string) {
		fs = append(fs, vet.Finding{
			RuleID: rule, Severity: sev, Location: at(im), Message: msg,
			Fingerprint: vet.Fingerprint(rule, modPath, im.Module, im.Name),
			Properties:  map[string]any{"module": im.Module, "name": im.Name},
		})
	}
	for _, im := range mod.Imports {
		id := ImportDetail{Module: im.Module, Name: im.Name, Kind: im.Kind.String(), Offset: im.Offset}
		if im.Type != nil {
			id.Signature = im.Type.String()
		}
		switch {
		case im.Module == hostapi.Module && im.Kind == wasmfile.KindFunc:
			f, ok := hostapi.Lookup(im.Name)
			if !ok {
				add(RuleUnknownHostFunc, vet.High, im, fmt.Sprintf("the module imports %s.%s, which the host API %s does not have", im.Module, im.Name, hostapi.Version))
				break
			}
			id.Permission = f.Permission
			if want := hostSignature(f); !im.Type.Equal(want) {
				add(RuleSignatureMismatch, vet.High, im, fmt.Sprintf("the module imports %s.%s as %s but the host API defines it as %s", im.Module, im.Name, im.Type, want))
			}
			if f.Permission == "" {
				break
			}
			used[f.Permission] = true
			if !manifest.Grants(granted, f.Permission) {
				fs = append(fs, vet.Finding{
					RuleID: RuleUndeclaredImport, Severity: vet.High, Location: at(im),
					Message:     fmt.Sprintf("the module imports the host function %s, which needs a %s permission the manifest does not declare", im.Name, hostapi.PermissionExample(f.Permission)),
					Fingerprint: vet.Fingerprint(RuleUndeclaredImport, modPath, im.Name),
					Remediation: fmt.Sprintf("Add %s to the manifest's permissions, or stop calling %s so the compiler drops the import.", hostapi.PermissionExample(f.Permission), im.Name),
					Properties:  map[string]any{"import": im.Name, "permission": f.Permission},
				})
			}
		case im.Module == hostapi.WASIModule && im.Kind == wasmfile.KindFunc:
			switch hostapi.ClassifyWASI(im.Name) {
			case hostapi.WASIInertSocket:
				// These act only on a socket the host hands over, and the
				// host never preopens one; Go's linker keeps sock_accept
				// and sock_shutdown in any module that reaches os.File's
				// methods through reflection (text/template does). They
				// are reported, but low.
				add(RuleWASISocket, vet.Low, im, fmt.Sprintf("the module imports the WASI socket function %s, which can do nothing as the host provides no sockets; Go keeps it in modules that use reflection over os.File", im.Name))
			case hostapi.WASISocket:
				// The plugin asking for networking of its own.
				add(RuleWASISocket, vet.Critical, im, fmt.Sprintf("the module imports the WASI socket function %s; plugins may reach the network only through http_fetch", im.Name))
			case hostapi.WASIForbidden:
				add(RuleWASINotAllowed, vet.High, im, fmt.Sprintf("the module imports the WASI function %s, which is outside the set the host provides", im.Name))
			}
		default:
			add(RuleUnknownImport, vet.High, im, fmt.Sprintf("the module imports %s %s.%s; plugins may import only %s and %s functions", im.Kind, im.Module, im.Name, hostapi.Module, hostapi.WASIModule))
		}
		d.Imports = append(d.Imports, id)
	}
	return fs
}

func hostSignature(f hostapi.Function) wasmfile.FuncType {
	var ft wasmfile.FuncType
	for _, p := range f.Params {
		ft.Params = append(ft.Params, wasmfile.ValType(p))
	}
	for _, r := range f.Results {
		ft.Results = append(ft.Results, wasmfile.ValType(r))
	}
	return ft
}

func checkExports(mod *wasmfile.Module, m *manifest.Manifest, manifestAt func(string) vet.Location, d *Detail) []vet.Finding {
	funcs := map[string]bool{}
	for _, e := range mod.Exports {
		d.Exports = append(d.Exports, e.Name)
		if e.Kind == wasmfile.KindFunc {
			funcs[e.Name] = true
		}
	}
	slices.Sort(d.Exports)
	var fs []vet.Finding
	for i, name := range m.Runtime.Exports {
		if funcs[name] {
			continue
		}
		fs = append(fs, vet.Finding{
			RuleID: RuleMissingExport, Severity: vet.High, Location: manifestAt(fmt.Sprintf("/runtime/exports/%d", i)),
			Message:     fmt.Sprintf("runtime.exports lists %q but the module exports no function of that name", name),
			Fingerprint: vet.Fingerprint(RuleMissingExport, name),
			Properties:  map[string]any{"export": name},
		})
	}
	return fs
}

const pagesPerMiB = 16 // 64 KiB pages

func checkMemory(mod *wasmfile.Module, modPath string, m *manifest.Manifest, manifestAt func(string) vet.Location, d *Detail) []vet.Finding {
	if len(mod.Memories) == 0 {
		return nil
	}
	mem := mod.Memories[0]
	md := &MemoryDetail{InitialPages: mem.Min, HasMax: mem.HasMax}
	if mem.HasMax {
		md.MaxPages = mem.Max
	}
	limit := 0
	if m.Limits != nil {
		limit = m.Limits.MemoryMiB
	}
	md.LimitMiB = limit
	d.Memory = md
	finding := func(sev vet.Severity, loc vet.Location, key, msg string) vet.Finding {
		return vet.Finding{RuleID: RuleMemoryLimit, Severity: sev, Location: loc, Message: msg,
			Fingerprint: vet.Fingerprint(RuleMemoryLimit, key),
			Properties:  map[string]any{"initialPages": mem.Min, "maxPages": md.MaxPages, "limitMiB": limit}}
	}
	switch {
	case limit > 0 && mem.Min > uint64(limit)*pagesPerMiB:
		// The host could not even instantiate the module.
		return []vet.Finding{finding(vet.High, manifestAt("/limits/memoryMiB"), "initial",
			fmt.Sprintf("the module needs %d MiB of memory to start but limits.memoryMiB is %d; the host cannot run it", ceilMiB(mem.Min), limit))}
	case limit > 0 && mem.HasMax && mem.Max > uint64(limit)*pagesPerMiB:
		return []vet.Finding{finding(vet.Low, manifestAt("/limits/memoryMiB"), "max",
			fmt.Sprintf("the module may grow its memory to %d MiB but limits.memoryMiB is %d; the host stops it at %d MiB", ceilMiB(mem.Max), limit, limit))}
	case limit == 0 && !mem.HasMax:
		return []vet.Finding{finding(vet.Low, vet.Location{File: modPath}, "unbounded",
			"neither the module nor the manifest bounds the plugin's memory; the host applies its own ceiling, which the plugin may not expect")}
	}
	return nil
}

func ceilMiB(pages uint64) uint64 { return (pages + pagesPerMiB - 1) / pagesPerMiB }

// docFile reports files that document the plugin rather than configure or
// implement it: an origin there is a link for people to read, so it is
// reported as information only.
func docFile(name string) bool {
	base := strings.ToUpper(path.Base(name))
	for _, p := range []string{"README", "CHANGELOG", "AUTHORS", "CONTRIBUTING", "SECURITY"} {
		if strings.HasPrefix(base, p) {
			return true
		}
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".md", ".txt", ".rst", ".adoc", ".html":
		return true
	}
	return false
}

// vendorPrefix is where a package carries its dependencies' source
// (`gatehouse plugin build` vendors them).
const vendorPrefix = "vendor/"

// scanOrigins finds origins in the module's data segments and in every
// text file of the package except the manifest (whose URLs are metadata
// about the author: homepage, support), the provenance attestation (whose
// URLs name the builder and the source), licence texts, and the module
// (scanned by segment).
func scanOrigins(ctx context.Context, in *vet.Input, mod *wasmfile.Module, modPath string, allowed []string, d *Detail) ([]vet.Finding, error) {
	type key struct{ file, origin string }
	seen := map[key]int{} // index into d.Origins
	var fs []vet.Finding
	record := func(file string, h origins.Hit, loc vet.Location) {
		k := key{file, h.Origin}
		if i, ok := seen[k]; ok {
			if i >= 0 {
				d.Origins[i].Count++
			}
			return
		}
		covered := origins.Covered(h, allowed)
		tool := origins.Wellknown(h.Host)
		if len(d.Origins) < maxDetailOrigins {
			seen[k] = len(d.Origins)
			d.Origins = append(d.Origins, OriginDetail{Origin: h.Origin, File: file, Line: loc.Line, Offset: loc.Offset, Count: 1, Covered: covered, Toolchain: tool})
		} else {
			seen[k] = -1
			d.OriginsOmitted++
		}
		if covered || tool {
			return
		}
		sev := vet.Medium
		if docFile(file) || strings.HasPrefix(file, vendorPrefix) {
			// Documentation, and the source of the dependencies a
			// package carries in vendor/ (mostly comments citing
			// standards): an origin a dependency really contacts is a
			// string compiled into the module, whose data segments are
			// scanned above at full severity.
			sev = vet.Info
		}
		loc.Length = int64(h.Length)
		fs = append(fs, vet.Finding{
			RuleID: RuleUndeclaredOrigin, Severity: sev, Location: loc,
			Message:     fmt.Sprintf("%s mentions the origin %s, which no net: permission covers", file, h.Origin),
			Fingerprint: vet.Fingerprint(RuleUndeclaredOrigin, file, h.Origin),
			Remediation: fmt.Sprintf("If the plugin contacts %s, add net:%s to the manifest's permissions; if not, remove the reference or ask a reviewer to mark this a false positive.", h.Host, suggestOrigin(h)),
			Properties:  map[string]any{"origin": h.Origin, "host": h.Host},
		})
	}
	for _, seg := range mod.Data {
		for _, h := range origins.Scan(seg.Data) {
			record(modPath, h, vet.Location{File: modPath, Offset: seg.Offset + int64(h.Offset)})
		}
	}
	for _, e := range in.Package.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.Path == modPath || e.Path == manifest.FileName || e.Path == provenance.Path || origins.LicenseFile(e.Path) {
			continue
		}
		data, _ := in.Package.File(e.Path)
		if !vet.IsText(data) {
			continue
		}
		for _, h := range origins.Scan(data) {
			line, col := vet.LineCol(data, h.Offset)
			record(e.Path, h, vet.Location{File: e.Path, Line: line, Column: col, Snippet: snippet(data, h)})
		}
	}
	return fs, nil
}

func suggestOrigin(h origins.Hit) string {
	if h.Scheme == "http" || h.Scheme == "https" {
		return h.Origin
	}
	return "https://" + h.Host
}

func snippet(data []byte, h origins.Hit) string {
	const max = 120
	s := string(data[h.Offset : h.Offset+h.Length])
	// Credentials in the URL ("https://user:password@host") are a secret:
	// shown redacted.
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if p := strings.Index(s, "://"); p >= 0 && p+3 < at {
			s = s[:p+3] + secrets.Redact(s[p+3:at]) + s[at:]
		}
	}
	if len(s) > max {
		s = s[:max]
	}
	return s
}
