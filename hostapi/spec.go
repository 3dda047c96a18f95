package hostapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// A Spec is one published host API version as a first-class object: the
// import module, every host function it offers (with its signature) and
// every capability (permission kind) a plugin may be granted under it,
// each possibly marked deprecated. Functions is the built-in table of this
// build; a platform publishes the Spec of each version it ships (see
// ParseSpec for the capabilities file), and the marketplace checks every
// certified plugin version against each of them.
type Spec struct {
	Version      string           `json:"version"`
	Module       string           `json:"module"`
	Functions    []SpecFunction   `json:"functions"`
	Capabilities []SpecCapability `json:"capabilities"`
}

// SpecFunction is a host function as a Spec lists it.
type SpecFunction struct {
	Name    string   `json:"name"`
	Params  []string `json:"params"`  // "i32", "i64"
	Results []string `json:"results"` // "i32", "i64"
	// Permission is the capability that must be granted for the function
	// to be linked; empty for the calling convention and log.
	Permission string `json:"permission,omitempty"`
	Deprecated bool   `json:"deprecated,omitempty"`
	// Note says what to use instead, for a deprecated function.
	Note string `json:"note,omitempty"`
}

// SpecCapability is a permission kind a Spec offers.
type SpecCapability struct {
	Name       string `json:"name"` // a permission kind: "kv:read", "net", ...
	Deprecated bool   `json:"deprecated,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Limits on a capabilities file. A host API with more than a few dozen
// functions would be a different design; the limits keep a hostile or
// mistaken file from costing more than a glance.
const (
	MaxSpecBytes        = 256 << 10
	MaxSpecFunctions    = 256
	MaxSpecCapabilities = 64
	MaxSpecNameBytes    = 64
	MaxSpecNoteBytes    = 1024
	MaxSpecParams       = 16
	MaxVersionBytes     = 64
)

// semverRE is SemVer 2.0.0's own regular expression (semver.org), so the
// package keeps no dependencies.
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// nameRE is what a function, module or capability name may look like.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_:]*$`)

// ValidVersion reports whether v is a strict SemVer version (1.2.0).
func ValidVersion(v string) bool {
	return len(v) <= MaxVersionBytes && semverRE.MatchString(v)
}

// Current is the Spec of the host API this build implements: Version,
// Module and Functions, with every permission kind as a capability and
// nothing deprecated.
func Current() *Spec {
	s := &Spec{Version: Version, Module: Module}
	for _, f := range Functions {
		s.Functions = append(s.Functions, SpecFunction{Name: f.Name, Params: typeNames(f.Params), Results: typeNames(f.Results), Permission: f.Permission})
	}
	for _, k := range PermissionKinds {
		s.Capabilities = append(s.Capabilities, SpecCapability{Name: k})
	}
	return s
}

// PermissionKinds are the permission kinds this build knows, in a stable
// order.
var PermissionKinds = []string{PermNet, PermFSRead, PermKVRead, PermKVWrite, PermSecret, PermDataRead, PermDataWrite}

func typeNames(ts []ValType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// String returns the type's WebAssembly text name.
func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	}
	return fmt.Sprintf("valtype(0x%02x)", byte(t))
}

func parseValType(s string) (ValType, bool) {
	switch s {
	case "i32":
		return I32, true
	case "i64":
		return I64, true
	}
	return 0, false
}

// ParseSpec reads a capabilities file: a JSON object
//
//	{
//	  "version": "1.1.0",            // optional; must match the version published
//	  "module": "gatehouse_v1",      // optional; Module when absent
//	  "functions": [
//	    {"name": "kv_get"},          // signature and permission from this build's table
//	    {"name": "kv_delete", "deprecated": true, "note": "use kv_set with an empty value"},
//	    {"name": "kv_list", "params": ["i32","i32"], "results": ["i64"], "permission": "kv:read"}
//	  ],
//	  "capabilities": [{"name": "kv:read"}, {"name": "kv:write", "deprecated": true}]
//	}
//
// Unknown fields are errors. A function this build knows may omit its
// signature and permission (they are filled in from Functions) but may not
// contradict them; a function it does not know must give both. Every
// function's permission must be a listed capability. version, when the
// file does not give one, is what the caller publishes it as.
func ParseSpec(data []byte, version string) (*Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, fmt.Errorf("the capabilities file is %d bytes; the limit is %d", len(data), MaxSpecBytes)
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reading the capabilities file (a JSON object with functions and capabilities): %w", err)
	}
	if dec.More() {
		return nil, errors.New("reading the capabilities file: unexpected data after the JSON object")
	}
	switch {
	case s.Version == "":
		s.Version = version
	case version != "" && s.Version != version:
		return nil, fmt.Errorf("the capabilities file describes version %q, and it is published as %q; make them agree", s.Version, version)
	}
	if s.Module == "" {
		s.Module = Module
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// validate checks a Spec and fills in known functions' signatures.
func (s *Spec) validate() error {
	switch {
	case !ValidVersion(s.Version):
		return fmt.Errorf("version %q is not a semantic version such as 1.1.0 (at most %d bytes)", clip(s.Version), MaxVersionBytes)
	case !validName(s.Module):
		return fmt.Errorf("module %q is not a valid import module name (lower case, digits and _, at most %d bytes)", clip(s.Module), MaxSpecNameBytes)
	case len(s.Functions) == 0:
		return errors.New(`the capabilities file lists no functions; list at least the calling convention ("input_size", "input_read", "output_set", ...)`)
	case len(s.Functions) > MaxSpecFunctions:
		return fmt.Errorf("the capabilities file lists %d functions; the limit is %d", len(s.Functions), MaxSpecFunctions)
	case len(s.Capabilities) > MaxSpecCapabilities:
		return fmt.Errorf("the capabilities file lists %d capabilities; the limit is %d", len(s.Capabilities), MaxSpecCapabilities)
	}
	caps := map[string]bool{}
	for i, c := range s.Capabilities {
		if !validName(c.Name) {
			return fmt.Errorf("capability %d: %q is not a permission kind such as kv:read or net", i+1, clip(c.Name))
		}
		if caps[c.Name] {
			return fmt.Errorf("capability %q is listed twice", c.Name)
		}
		if len(c.Note) > MaxSpecNoteBytes {
			return fmt.Errorf("capability %q: the note is over %d bytes", c.Name, MaxSpecNoteBytes)
		}
		caps[c.Name] = true
	}
	seen := map[string]bool{}
	for i := range s.Functions {
		f := &s.Functions[i]
		if !validName(f.Name) {
			return fmt.Errorf("function %d: %q is not a host function name (lower case, digits and _, at most %d bytes)", i+1, clip(f.Name), MaxSpecNameBytes)
		}
		if seen[f.Name] {
			return fmt.Errorf("function %q is listed twice", f.Name)
		}
		seen[f.Name] = true
		if len(f.Note) > MaxSpecNoteBytes {
			return fmt.Errorf("function %q: the note is over %d bytes", f.Name, MaxSpecNoteBytes)
		}
		if len(f.Params) > MaxSpecParams || len(f.Results) > MaxSpecParams {
			return fmt.Errorf("function %q: more than %d params or results", f.Name, MaxSpecParams)
		}
		for _, t := range append(slices.Clone(f.Params), f.Results...) {
			if _, ok := parseValType(t); !ok {
				return fmt.Errorf("function %q: %q is not a value type (i32 or i64)", f.Name, clip(t))
			}
		}
		known, ok := Lookup(f.Name)
		if ok && s.Module == Module {
			if f.Params == nil && f.Results == nil {
				f.Params, f.Results = typeNames(known.Params), typeNames(known.Results)
			} else if !slices.Equal(nullToEmpty(f.Params), typeNames(known.Params)) || !slices.Equal(nullToEmpty(f.Results), typeNames(known.Results)) {
				return fmt.Errorf("function %q: the file gives the signature %s, and %s defines %s; a changed signature needs a new module name", f.Name,
					sig(f.Params, f.Results), Module, sig(typeNames(known.Params), typeNames(known.Results)))
			}
			switch {
			case f.Permission == "":
				f.Permission = known.Permission
			case f.Permission != known.Permission:
				return fmt.Errorf("function %q: the file says it needs %q, and %s says %q", f.Name, f.Permission, Module, known.Permission)
			}
		} else if f.Params == nil && f.Results == nil && f.Permission == "" {
			return fmt.Errorf("function %q is not in this build's host API table; give its params, results and permission", f.Name)
		}
		f.Params, f.Results = nullToEmpty(f.Params), nullToEmpty(f.Results)
		if f.Permission != "" && !caps[f.Permission] {
			return fmt.Errorf("function %q needs the capability %q, which the file does not list under capabilities", f.Name, f.Permission)
		}
	}
	return nil
}

func nullToEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sig(params, results []string) string {
	return "(" + strings.Join(params, ", ") + ") -> (" + strings.Join(results, ", ") + ")"
}

func validName(s string) bool { return len(s) <= MaxSpecNameBytes && nameRE.MatchString(s) }

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Function returns the Spec's function called name.
func (s *Spec) Function(name string) (SpecFunction, bool) {
	for _, f := range s.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return SpecFunction{}, false
}

// Capability returns the Spec's capability called name.
func (s *Spec) Capability(name string) (SpecCapability, bool) {
	for _, c := range s.Capabilities {
		if c.Name == name {
			return c, true
		}
	}
	return SpecCapability{}, false
}

// Compatibility of a plugin version with a host API version.
const (
	// Compatible: everything the plugin imports and needs is offered.
	Compatible = "compatible"
	// Deprecated: it loads, but uses a function or capability the
	// version marks deprecated.
	Deprecated = "deprecated"
	// Broken: it imports a function the version lacks (or with another
	// signature), needs a capability the version does not offer, or its
	// manifest's host API range excludes the version: a host running it
	// refuses to load the plugin.
	Broken = "broken"
)

// Import is a host function a module imports.
type Import struct {
	Module  string
	Name    string
	Params  []ValType
	Results []ValType
}

// Usage is how a Spec treats one thing a plugin uses.
type Usage struct {
	// Kind is "function" or "capability".
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status string `json:"status"` // Compatible, Deprecated or Broken
	// Why says what is wrong and what to do; empty when compatible.
	Why string `json:"why,omitempty"`
}

// Check says how a plugin that imports imports and needs the permission
// kinds needs fares under s: the worst status over everything it uses,
// and each function and capability with its own status. Imports of
// modules other than s.Module are not the host API's (WASI is judged by
// the sandbox and the capabilities analyzer), except that an import of
// another gatehouse_ module is Broken.
func (s *Spec) Check(imports []Import, needs []string) (string, []Usage) {
	var out []Usage
	for _, im := range imports {
		if im.Module != s.Module {
			if strings.HasPrefix(im.Module, "gatehouse_") {
				out = append(out, Usage{Kind: "function", Name: im.Module + "." + im.Name, Status: Broken,
					Why: fmt.Sprintf("it imports from %s, and host API %s offers %s", im.Module, s.Version, s.Module)})
			}
			continue
		}
		f, ok := s.Function(im.Name)
		switch {
		case !ok:
			out = append(out, Usage{Kind: "function", Name: im.Name, Status: Broken,
				Why: fmt.Sprintf("host API %s does not offer %s", s.Version, im.Name)})
		case !slices.Equal(typeNames(im.Params), f.Params) || !slices.Equal(typeNames(im.Results), f.Results):
			out = append(out, Usage{Kind: "function", Name: im.Name, Status: Broken,
				Why: fmt.Sprintf("it imports %s as %s, and host API %s defines %s", im.Name, sig(typeNames(im.Params), typeNames(im.Results)), s.Version, sig(f.Params, f.Results))})
		case f.Deprecated:
			out = append(out, Usage{Kind: "function", Name: im.Name, Status: Deprecated, Why: deprecatedWhy("function "+im.Name, s.Version, f.Note)})
		default:
			out = append(out, Usage{Kind: "function", Name: im.Name, Status: Compatible})
		}
	}
	seen := map[string]bool{}
	for _, k := range needs {
		if seen[k] {
			continue
		}
		seen[k] = true
		c, ok := s.Capability(k)
		switch {
		case !ok:
			out = append(out, Usage{Kind: "capability", Name: k, Status: Broken,
				Why: fmt.Sprintf("host API %s does not offer the %s capability", s.Version, PermissionExample(k))})
		case c.Deprecated:
			out = append(out, Usage{Kind: "capability", Name: k, Status: Deprecated, Why: deprecatedWhy("capability "+PermissionExample(k), s.Version, c.Note)})
		default:
			out = append(out, Usage{Kind: "capability", Name: k, Status: Compatible})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind // functions first
		}
		return out[i].Name < out[j].Name
	})
	return Worst(out), out
}

func deprecatedWhy(what, version, note string) string {
	s := fmt.Sprintf("host API %s marks the %s deprecated", version, what)
	if note != "" {
		s += ": " + note
	}
	return s
}

// Worst is the worst status among us (Compatible when empty).
func Worst(us []Usage) string {
	w := Compatible
	for _, u := range us {
		w = WorseOf(w, u.Status)
	}
	return w
}

// WorseOf returns the worse of two statuses.
func WorseOf(a, b string) string {
	rank := func(s string) int {
		switch s {
		case Broken:
			return 2
		case Deprecated:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Offers reports whether s offers the function name with exactly the
// signature of this build's table, so the sandbox may link it.
func (s *Spec) Offers(f Function) bool {
	sf, ok := s.Function(f.Name)
	return ok && s.Module == Module && slices.Equal(sf.Params, typeNames(f.Params)) && slices.Equal(sf.Results, typeNames(f.Results))
}

// PermissionKind returns the kind of a permission as a manifest writes
// it: "net" for net:ORIGIN, "fs:read" for
// fs:read:/templates, "kv:read" for kv:read, "secret" for secret:TOKEN.
func PermissionKind(perm string) string {
	for _, k := range []string{PermFSRead, PermKVRead, PermKVWrite, PermDataRead, PermDataWrite} {
		if perm == k || strings.HasPrefix(perm, k+":") {
			return k
		}
	}
	kind, _, _ := strings.Cut(perm, ":")
	return kind
}
