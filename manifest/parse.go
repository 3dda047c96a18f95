package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/github/go-spdx/v2/spdxexp"
)

// Options control Parse.
type Options struct {
	// LegacyKey is PLUGIN_SIGNING_KEY. When set, a legacy (seed form)
	// manifest must carry a matching HMAC signature; when empty, a legacy
	// signature is not checked and Legacy.Signed stays false.
	LegacyKey []byte
	// LegacyNamespace is the namespace given to legacy ids, which have
	// none; DefaultLegacyNamespace when empty. An invalid namespace is a
	// configuration error: Parse returns a plain error for legacy input.
	LegacyNamespace string
}

// DefaultLegacyNamespace is the namespace legacy plugins land in unless
// Options.LegacyNamespace says otherwise.
const DefaultLegacyNamespace = "legacy"

// namespacePattern is the namespace half of the schema's plugin id pattern.
var namespacePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,38}$`)

// Parse reads a manifest: a v1 document, checked against the schema and
// then the semantic rules, or a legacy (seed form) document, converted to
// v1 after its signature is checked as Options say. Problems with the
// content come back as a *ValidationError listing each with its JSON
// pointer.
func Parse(data []byte, opts Options) (*Manifest, error) {
	doc, p := decodeJSON(data)
	if p != nil {
		return nil, &ValidationError{Problems: []Problem{*p}}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, &ValidationError{Problems: []Problem{{Message: fmt.Sprintf("a manifest is a JSON object, not %s", withArticle(jsonType(doc)))}}}
	}
	if isLegacy(obj) {
		return convertLegacy(obj, opts)
	}
	ps, err := validateDoc(obj)
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return nil, ps.err()
	}
	// The schema has vouched for every field's name and type, so this
	// decode only moves values into the struct.
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			msg := fmt.Sprintf("must be %s", withArticle(te.Type.String()))
			if strings.HasPrefix(te.Value, "number") {
				msg = "must be a whole number written without a fraction or exponent"
			}
			return nil, (problems{{Pointer: pointer(strings.Split(te.Field, ".")...), Message: msg}}).err()
		}
		return nil, fmt.Errorf("decoding a schema-valid manifest: %w", err)
	}
	return &m, nil
}

// Validate checks an in-memory manifest by the same rules as Parse: the
// schema, then the semantic checks. It returns nil or a *ValidationError.
func (m *Manifest) Validate() error {
	data, err := Marshal(m)
	if err != nil {
		return err
	}
	doc, p := decodeJSON(data)
	if p != nil {
		return &ValidationError{Problems: []Problem{*p}}
	}
	obj, _ := doc.(map[string]any) // Marshal always writes an object
	ps, err := validateDoc(obj)
	if err != nil {
		return err
	}
	return ps.err()
}

// Marshal encodes m as indented JSON with a trailing newline. The output is
// stable: fields in the order of the Manifest type, empty lists written as
// [] rather than null, no HTML escaping.
func Marshal(m *Manifest) ([]byte, error) {
	if m == nil {
		return nil, errors.New("marshal manifest: nil manifest")
	}
	c := *m
	c.Owners = nonNil(c.Owners)
	c.Permissions = nonNil(c.Permissions)
	c.Runtime.Exports = nonNil(c.Runtime.Exports)
	if c.Data != nil {
		d := *c.Data
		d.Categories = nonNil(d.Categories)
		c.Data = &d
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("marshal manifest: %w", err)
	}
	return buf.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ParsedPermissions parses the manifest's permissions with the permission
// grammar, refusing duplicates.
func (m *Manifest) ParsedPermissions() ([]Permission, error) {
	return ParsePermissions(m.Permissions)
}

// HostAPICompatible reports whether the host API version (strict SemVer,
// such as hostapi.Version) satisfies a manifest's runtime.hostApi range.
func HostAPICompatible(rangeExpr, version string) (bool, error) {
	c, err := semver.NewConstraint(rangeExpr)
	if err != nil {
		return false, fmt.Errorf("host API range %q: %w", rangeExpr, err)
	}
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return false, fmt.Errorf("host API version %q: %w", version, err)
	}
	return c.Check(v), nil
}

// validateDoc runs both layers of checks on a decoded v1 document: the
// schema, then the semantic rules the schema cannot express. The semantic
// rules look only at values of the right type, and a value the schema has
// already faulted gets no second message, so an author sees every problem
// at once and each once.
func validateDoc(doc map[string]any) (problems, error) {
	ps, err := schemaProblems(doc)
	if err != nil {
		return nil, err
	}
	faulted := make(map[string]bool, len(ps))
	for _, p := range ps {
		faulted[p.Pointer] = true
	}
	for _, p := range semanticProblems(doc) {
		if !faulted[p.Pointer] {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// semanticProblems checks what the schema cannot express: SemVer versions
// and ranges, the SPDX expression, the permission grammar, a clean module
// path, and rules between fields.
func semanticProblems(doc map[string]any) problems {
	var ps problems
	id, _ := doc["id"].(string)
	if v, ok := doc["version"].(string); ok {
		if _, err := semver.StrictNewVersion(v); err != nil {
			ps.add("/version", fmt.Sprintf("%q is not a SemVer 2 version such as 1.2.3", v))
		}
	}
	if v, ok := doc["license"].(string); ok {
		if msg := checkLicense(v); msg != "" {
			ps.add("/license", msg)
		}
	}
	if rt, ok := doc["runtime"].(map[string]any); ok {
		if v, ok := rt["module"].(string); ok {
			if msg := checkModulePath(v); msg != "" {
				ps.add("/runtime/module", msg)
			}
		}
		if v, ok := rt["hostApi"].(string); ok {
			if _, err := semver.NewConstraint(v); err != nil {
				ps.add("/runtime/hostApi", fmt.Sprintf("%q is not a SemVer range such as ^1.0.0 or >=1.2, <2", v))
			}
		}
	}
	perms, _ := doc["permissions"].([]any)
	seen := make(map[string]int, len(perms))
	for i, e := range perms {
		s, ok := e.(string)
		if !ok {
			continue
		}
		p, err := ParsePermission(s)
		if err != nil {
			ps.add(pointer("permissions", index(i)), err.Error())
			continue
		}
		if j, dup := seen[p.String()]; dup {
			ps.add(pointer("permissions", index(i)), fmt.Sprintf("permission %q grants the same as /permissions/%d; list it once", s, j))
			continue
		}
		seen[p.String()] = i
	}
	deps, _ := doc["dependencies"].([]any)
	depIndex := make(map[string]int, len(deps))
	for i, e := range deps {
		d, ok := e.(map[string]any)
		if !ok {
			continue
		}
		at := pointer("dependencies", index(i))
		if did, ok := d["id"].(string); ok {
			switch j, dup := depIndex[did]; {
			case did == id:
				ps.add(at+"/id", "a plugin cannot depend on itself")
			case dup:
				ps.add(at+"/id", fmt.Sprintf("%q is already listed at /dependencies/%d; give one range per plugin", did, j))
			default:
				depIndex[did] = i
			}
		}
		if r, ok := d["range"].(string); ok {
			if _, err := semver.NewConstraint(r); err != nil {
				ps.add(at+"/range", fmt.Sprintf("%q is not a SemVer range such as ^1.2.0 or >=1.0, <2", r))
			}
		}
	}
	if data, ok := doc["data"].(map[string]any); ok {
		if r, ok := data["retention"].(string); ok && (r == "P" || strings.HasSuffix(r, "T")) {
			ps.add("/data/retention", fmt.Sprintf("%q names no amount of time: write none, or a duration such as P30D or PT12H", r))
		}
	}
	if dep, ok := doc["deprecation"].(map[string]any); ok {
		if r, ok := dep["replacement"].(string); ok && r != "" {
			if r == id {
				ps.add("/deprecation/replacement", "a plugin cannot be its own replacement")
			}
			if deprecated, ok := dep["deprecated"].(bool); ok && !deprecated {
				ps.add("/deprecation/replacement", "a replacement is named but deprecated is false; set deprecated to true or drop the replacement")
			}
		}
	}
	return ps
}

// checkLicense returns why expr is not an SPDX license expression, or "".
func checkLicense(expr string) string {
	if strings.TrimSpace(expr) == "" {
		return "must be an SPDX license expression such as Apache-2.0 or MIT OR Apache-2.0"
	}
	ok, invalid := spdxexp.ValidateLicenses([]string{expr})
	if ok {
		return ""
	}
	msg := fmt.Sprintf("%q is not a valid SPDX license expression (such as Apache-2.0, or MIT OR Apache-2.0)", expr)
	if len(invalid) > 0 && invalid[0] != expr {
		msg += fmt.Sprintf("; %q is not an SPDX identifier", invalid[0])
	}
	return msg + "; for a licence SPDX does not list, write LicenseRef-NAME"
}

// checkModulePath returns why p is not a clean relative path to a .wasm
// file inside the package, or "".
func checkModulePath(p string) string {
	switch {
	case !strings.HasSuffix(p, ".wasm"):
		return fmt.Sprintf("%q must name a .wasm file", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q must be relative to the package root, like plugin.wasm", p)
	case strings.Contains(p, "\\"):
		return fmt.Sprintf("%q must use forward slashes", p)
	case path.Clean(p) != p:
		return fmt.Sprintf("%q must be a clean path with no '.', '..' or doubled slashes; write %q", p, path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Sprintf("%q points outside the package", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || seg == ".wasm" {
			return fmt.Sprintf("%q must be a clean path to a named .wasm file", p)
		}
	}
	return ""
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
