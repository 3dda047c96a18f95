package manifest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// The legacy (seed 003) manifest form:
//
//	{"id": "demo", "name": "Demo Plugin", "version": "0.1",
//	 "permissions": ["read_files"], "dependencies": [],
//	 "compatibility": ">=0.1", "signature": "BASE64 HMAC-SHA256"}
//
// Its signature is HMAC-SHA256, keyed with PLUGIN_SIGNING_KEY, over Python's
// json.dumps(manifest without "signature", sort_keys=True), with an absent
// "compatibility" taken as null and an absent "dependencies" as []. It
// covers the manifest alone, never the module, so it is a legacy check and
// never stands in for a package signature.
//
// Conversion to v1, documented here because a reviewer must be able to see
// what was assumed:
//
//   - id "Demo_Plugin" becomes "NAMESPACE/demo-plugin" (lower case, '_' as
//     '-'); NAMESPACE is Options.LegacyNamespace, "legacy" by default.
//   - version "0.1" or "1" is padded to SemVer ("0.1.0", "1.0.0"); any other
//     version must already be strict SemVer.
//   - permissions are mapped by legacyPermissions below; a permission with
//     no safe v1 meaning fails the conversion and is named, because access
//     is denied by default and a guess would grant what nobody approved.
//     Permissions already written in the v1 grammar are kept.
//   - compatibility, a SemVer range, becomes runtime.hostApi; when absent or
//     null, hostApi is "*" and a note says so.
//   - the form has no licence, owners or runtime: license becomes
//     LegacyLicense, owners one entry named LegacyOwner, runtime.module
//     "plugin.wasm" and runtime.exports ["handle"]. Each is noted.
//   - dependencies are "name", "name RANGE", "name@RANGE" or
//     {"id": "name", "version"|"range": RANGE}; a missing range is "*".

// LegacyLicense is the license given to converted legacy manifests. The seed
// form declares no licence, and NOASSERTION is not an SPDX expression, so
// the conversion says so with a LicenseRef rather than pretend to know.
const LegacyLicense = "LicenseRef-undeclared"

// LegacyOwner is the owner name given to converted legacy manifests, whose
// form names no owner; the namespace's publisher is the one answerable.
const LegacyOwner = "undeclared (legacy manifest)"

// legacyFields are the keys the seed form defines.
var legacyFields = []string{"compatibility", "dependencies", "id", "name", "permissions", "signature", "version"}

// legacyPermissions maps the seed form's permission names with one obvious,
// least-privilege v1 meaning.
var legacyPermissions = map[string][]string{
	// One read-only mount, /files, that the operator maps to a folder.
	"read_files":    {"fs:read:/files"},
	"files:read":    {"fs:read:/files"},
	"storage":       {"kv:read", "kv:write"},
	"kv":            {"kv:read", "kv:write"},
	"read_storage":  {"kv:read"},
	"kv_read":       {"kv:read"},
	"write_storage": {"kv:write"},
	"kv_write":      {"kv:write"},
}

// legacyRefusals explain legacy permissions that have no safe v1 meaning.
var legacyRefusals = map[string]string{
	"write_files": "plugins never write files; v1 has read-only mounts only (fs:read:/PATH)",
	"files:write": "plugins never write files; v1 has read-only mounts only (fs:read:/PATH)",
	"network":     "it names no origin, and v1 grants network access one origin at a time (net:https://api.example.com); rewrite the manifest in the v1 form",
	"net":         "it names no origin, and v1 grants network access one origin at a time (net:https://api.example.com); rewrite the manifest in the v1 form",
	"http":        "it names no origin, and v1 grants network access one origin at a time (net:https://api.example.com); rewrite the manifest in the v1 form",
	"internet":    "it names no origin, and v1 grants network access one origin at a time (net:https://api.example.com); rewrite the manifest in the v1 form",
	"secrets":     "it names no secret, and v1 grants secrets one name at a time (secret:NAME); rewrite the manifest in the v1 form",
	"exec":        "plugins never run processes",
	"shell":       "plugins never run processes",
}

var (
	legacyName     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
	shortVersion   = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8}))?$`)
	legacyDepSplit = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)\s*@?\s*(.*)$`)
)

// v1OnlyFields are the v1 fields the seed form does not have.
var v1OnlyFields = []string{"manifestVersion", "description", "homepage", "owners", "license", "runtime", "limits", "data", "support", "deprecation"}

// isLegacy reports whether a decoded document is in the seed form: it has
// an id and none of the fields only v1 has. Anything else is checked as v1,
// so a v1 manifest that forgot manifestVersion is told so.
func isLegacy(obj map[string]any) bool {
	for _, k := range v1OnlyFields {
		if _, ok := obj[k]; ok {
			return false
		}
	}
	_, hasID := obj["id"]
	return hasID
}

// LegacyCanonicalJSON returns the exact bytes a legacy manifest's HMAC is
// computed over: Python's json.dumps(manifest without "signature",
// sort_keys=True), with an absent "compatibility" as null and an absent
// "dependencies" as []. Numbers print as Python prints what json.loads
// makes of them: integers exactly, other numbers as float repr (so 1.50
// prints 1.5 and 1e2 prints 100.0).
func LegacyCanonicalJSON(raw []byte) ([]byte, error) {
	doc, p := decodeJSON(raw)
	if p != nil {
		return nil, &ValidationError{Problems: []Problem{*p}}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, &ValidationError{Problems: []Problem{{Message: fmt.Sprintf("a manifest is a JSON object, not %s", withArticle(jsonType(doc)))}}}
	}
	return legacyCanonical(obj)
}

// LegacySign returns the base64 (with padding) HMAC-SHA256 signature of a
// legacy manifest under key, as the seed tools wrote it.
func LegacySign(raw []byte, key []byte) (string, error) {
	canon, err := LegacyCanonicalJSON(raw)
	if err != nil {
		return "", err
	}
	return legacyMAC(canon, key), nil
}

func legacyCanonical(obj map[string]any) ([]byte, error) {
	signed := make(map[string]any, len(obj)+2)
	for k, v := range obj {
		if k != "signature" {
			signed[k] = v
		}
	}
	if _, ok := signed["compatibility"]; !ok {
		signed["compatibility"] = nil
	}
	if _, ok := signed["dependencies"]; !ok {
		signed["dependencies"] = []any{}
	}
	b, err := appendPyJSON(nil, signed)
	if err != nil {
		return nil, fmt.Errorf("legacy manifest cannot be put in signing form: %w", err)
	}
	return b, nil
}

func legacyMAC(canon, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(canon)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// checkLegacySignature enforces Options.LegacyKey. It reports whether a
// signature was verified.
func checkLegacySignature(obj map[string]any, key []byte) (bool, error) {
	if len(key) == 0 {
		return false, nil
	}
	sigVal, present := obj["signature"]
	if !present || sigVal == nil || sigVal == "" {
		return false, &ValidationError{Problems: []Problem{{Pointer: "/signature", Message: ErrLegacySignatureMissing.Error()}}, cause: ErrLegacySignatureMissing}
	}
	sig, ok := sigVal.(string)
	if !ok {
		return false, (problems{{Pointer: "/signature", Message: fmt.Sprintf("must be a base64 string, not %s", withArticle(jsonType(sigVal)))}}).err()
	}
	canon, err := legacyCanonical(obj)
	if err != nil {
		return false, (problems{{Message: err.Error()}}).err()
	}
	want := legacyMAC(canon, key)
	// Constant time, on the base64 text: the seed tools wrote standard
	// padded base64, so any other spelling is a different signature.
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return false, &ValidationError{Problems: []Problem{{Pointer: "/signature", Message: ErrLegacySignatureInvalid.Error()}}, cause: ErrLegacySignatureInvalid}
	}
	return true, nil
}

// convertLegacy checks a seed-form manifest's signature as opts say and
// converts it to v1.
func convertLegacy(obj map[string]any, opts Options) (*Manifest, error) {
	ns := opts.LegacyNamespace
	if ns == "" {
		ns = DefaultLegacyNamespace
	}
	if !namespacePattern.MatchString(ns) {
		return nil, fmt.Errorf("legacy namespace %q is not a namespace: lower case letters, digits and '-', starting with a letter, up to 39 characters", ns)
	}
	signed, err := checkLegacySignature(obj, opts.LegacyKey)
	if err != nil {
		return nil, err
	}

	var ps problems
	info := &LegacyInfo{Signed: signed}
	note := func(format string, args ...any) { info.Notes = append(info.Notes, fmt.Sprintf(format, args...)) }

	var unknown []string
	for k := range obj {
		if !slices.Contains(legacyFields, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		ps.add(pointer(k), fmt.Sprintf("unknown field %q; the legacy form has only %s (or write a v1 manifest with manifestVersion 1)", k, strings.Join(legacyFields, ", ")))
	}

	m := &Manifest{
		ManifestVersion: SchemaVersion,
		License:         LegacyLicense,
		Owners:          []Person{{Name: LegacyOwner}},
		Runtime:         Runtime{Module: "plugin.wasm", Exports: []string{"handle"}},
		Permissions:     []string{},
		Legacy:          info,
	}

	// id
	if id, ok := legacyString(&ps, obj, "id", true); ok {
		info.OriginalID = id
		name := strings.ReplaceAll(strings.ToLower(id), "_", "-")
		if !legacyName.MatchString(name) {
			ps.add("/id", fmt.Sprintf("%q cannot become a plugin name: use letters, digits, '-' or '_', starting with a letter, up to 64 characters", id))
		} else {
			m.ID = ns + "/" + name
			note("id %q became %q", id, m.ID)
		}
	}
	// name
	if name, ok := legacyString(&ps, obj, "name", true); ok {
		switch n := len([]rune(name)); {
		case strings.TrimSpace(name) == "":
			ps.add("/name", "must not be empty")
		case n > 100:
			ps.add("/name", fmt.Sprintf("is %d characters long, the limit is 100", n))
		default:
			m.Name = name
		}
	}
	// version
	if v, ok := legacyString(&ps, obj, "version", true); ok {
		switch {
		case shortVersion.MatchString(v):
			m.Version = v + strings.Repeat(".0", 2-strings.Count(v, "."))
			note("version %q was padded to SemVer %q", v, m.Version)
		default:
			if _, err := semver.StrictNewVersion(v); err != nil {
				ps.add("/version", fmt.Sprintf("%q is not a version: write MAJOR.MINOR.PATCH such as 1.2.3, or MAJOR.MINOR", v))
			} else {
				m.Version = v
			}
		}
	}
	// permissions
	if list, ok := legacyArray(&ps, obj, "permissions", true); ok {
		info.Permissions = []string{}
		seen := map[string]bool{}
		for i, e := range list {
			at := pointer("permissions", index(i))
			s, ok := e.(string)
			if !ok {
				ps.add(at, fmt.Sprintf("must be a string, not %s", withArticle(jsonType(e))))
				continue
			}
			info.Permissions = append(info.Permissions, s)
			granted, msg := mapLegacyPermission(s)
			if msg != "" {
				ps.add(at, msg)
				continue
			}
			if len(granted) != 1 || granted[0] != s {
				note("permission %q was mapped to %s", s, strings.Join(granted, ", "))
			}
			for _, g := range granted {
				if !seen[g] {
					seen[g] = true
					m.Permissions = append(m.Permissions, g)
				}
			}
		}
	}
	// compatibility
	switch c := obj["compatibility"].(type) {
	case nil:
		m.Runtime.HostAPI = "*"
		note("no compatibility was declared, so runtime.hostApi is \"*\"")
	case string:
		if _, err := semver.NewConstraint(c); err != nil || len(c) > 128 {
			ps.add("/compatibility", fmt.Sprintf("%q is not a SemVer range such as >=0.1 or ^1.0.0", c))
		} else {
			m.Runtime.HostAPI = c
		}
	default:
		ps.add("/compatibility", fmt.Sprintf("must be a SemVer range string or null, not %s", withArticle(jsonType(c))))
	}
	// dependencies
	if list, ok := legacyArray(&ps, obj, "dependencies", false); ok {
		for i, e := range list {
			d, msg := legacyDependency(e, ns)
			if msg != "" {
				ps.add(pointer("dependencies", index(i)), msg)
				continue
			}
			m.Dependencies = append(m.Dependencies, d)
		}
	}
	// signature
	if s, present := obj["signature"]; present && s != nil {
		if _, ok := s.(string); !ok {
			ps.add("/signature", fmt.Sprintf("must be a base64 string, not %s", withArticle(jsonType(s))))
		} else if !signed {
			note("the signature was not checked because no PLUGIN_SIGNING_KEY is set")
		}
	}
	if len(ps) > 0 {
		return nil, ps.err()
	}
	note("no licence was declared, so license is %s", LegacyLicense)
	note("no owner was declared, so owners names %q", LegacyOwner)
	note("no runtime was declared, so runtime.module is %q and runtime.exports is [\"handle\"]", m.Runtime.Module)

	// The converted manifest must pass every v1 rule, like any other.
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("the legacy manifest converts to an invalid v1 manifest: %w", err)
	}
	return m, nil
}

func legacyString(ps *problems, obj map[string]any, key string, required bool) (string, bool) {
	v, present := obj[key]
	if !present || v == nil {
		if required {
			ps.add("", fmt.Sprintf("%q is required", key))
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		ps.add(pointer(key), fmt.Sprintf("must be a string, not %s", withArticle(jsonType(v))))
		return "", false
	}
	return s, true
}

func legacyArray(ps *problems, obj map[string]any, key string, required bool) ([]any, bool) {
	v, present := obj[key]
	if !present || v == nil {
		if required {
			ps.add("", fmt.Sprintf("%q is required", key))
		}
		return nil, false
	}
	a, ok := v.([]any)
	if !ok {
		ps.add(pointer(key), fmt.Sprintf("must be an array, not %s", withArticle(jsonType(v))))
		return nil, false
	}
	if len(a) > 64 {
		ps.add(pointer(key), fmt.Sprintf("lists %d items, the limit is 64", len(a)))
		return nil, false
	}
	return a, true
}

// mapLegacyPermission returns the v1 permissions a legacy permission name
// grants, or a message saying why it cannot be converted.
func mapLegacyPermission(s string) ([]string, string) {
	key := strings.ToLower(strings.TrimSpace(s))
	if g, ok := legacyPermissions[key]; ok {
		return g, ""
	}
	if why, ok := legacyRefusals[key]; ok {
		return nil, fmt.Sprintf("legacy permission %q cannot be converted: %s", s, why)
	}
	if p, err := ParsePermission(s); err == nil {
		return []string{p.String()}, ""
	}
	return nil, fmt.Sprintf("legacy permission %q has no v1 equivalent and is refused rather than guessed; write a v1 manifest with permissions such as fs:read:/PATH, kv:read, net:https://ORIGIN", s)
}

func legacyDependency(e any, ns string) (Dependency, string) {
	var name, rng string
	switch e := e.(type) {
	case string:
		m := legacyDepSplit.FindStringSubmatch(strings.TrimSpace(e))
		if m == nil {
			return Dependency{}, fmt.Sprintf("%q is not a dependency: write NAME, or NAME followed by a SemVer range such as \"other>=1.0\"", e)
		}
		name, rng = m[1], strings.TrimSpace(m[2])
	case map[string]any:
		id, _ := e["id"].(string)
		if id == "" {
			return Dependency{}, "a dependency object needs an \"id\" string"
		}
		for k := range e {
			if k != "id" && k != "version" && k != "range" {
				return Dependency{}, fmt.Sprintf("a dependency object has only id and version (or range), not %q", k)
			}
		}
		name = id
		for _, k := range []string{"range", "version"} {
			if v, ok := e[k]; ok && v != nil {
				s, ok := v.(string)
				if !ok {
					return Dependency{}, fmt.Sprintf("the dependency's %q must be a string", k)
				}
				rng = s
			}
		}
	default:
		return Dependency{}, fmt.Sprintf("a dependency is a string or an object, not %s", withArticle(jsonType(e)))
	}
	lower := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	if !legacyName.MatchString(lower) {
		return Dependency{}, fmt.Sprintf("%q is not a plugin name", name)
	}
	if rng == "" {
		rng = "*"
	}
	if _, err := semver.NewConstraint(rng); err != nil || len(rng) > 128 {
		return Dependency{}, fmt.Sprintf("%q is not a SemVer range such as >=1.0 or ^1.2.0", rng)
	}
	return Dependency{ID: ns + "/" + lower, Range: rng}, ""
}
