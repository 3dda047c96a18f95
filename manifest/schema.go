package manifest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// SchemaID is the $id of the v1 manifest schema.
const SchemaID = "https://gatehouse.dev/schema/manifest.v1.json"

//go:embed schema/manifest.v1.json
var schemaText string

// SchemaJSON is the JSON Schema (2020-12) of a v1 manifest, as served at
// /api/v1/schema/manifest.v1.json. It is a copy: changing it changes nothing
// this package checks.
var SchemaJSON = []byte(schemaText)

// compiledSchema is the schema compiled once, plus the parsed schema
// document, which turns an error's schema location back into the list of
// fields that location allows. Both are read-only after construction.
type compiledSchema struct {
	schema *jsonschema.Schema
	doc    any
}

var loadSchema = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schemaText))
	if err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(SchemaID, doc); err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	return &compiledSchema{schema: sch, doc: doc}, nil
})

// schemaProblems validates a decoded document against the v1 schema and
// translates every violation into a Problem.
func schemaProblems(doc any) (problems, error) {
	cs, err := loadSchema()
	if err != nil {
		return nil, err // a broken embedded schema is a bug, not user error
	}
	err = cs.schema.Validate(doc)
	if err == nil {
		return nil, nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	var ps problems
	cs.translate(&ps, ve, doc)
	return ps, nil
}

// translate walks the error tree and turns each leaf into a sentence. The
// library's own texts ("minItems: got 0, want 1") are written for schema
// authors; these are written for plugin authors.
func (cs *compiledSchema) translate(ps *problems, ve *jsonschema.ValidationError, doc any) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			cs.translate(ps, c, doc)
		}
		return
	}
	ptr := pointer(ve.InstanceLocation...)
	field := ""
	if n := len(ve.InstanceLocation); n > 0 {
		field = ve.InstanceLocation[n-1]
	}
	value := valueAt(doc, ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			ps.add(ptr, fmt.Sprintf("%q is required", m))
		}
	case *kind.AdditionalProperties:
		allowed := cs.allowedFields(ve.SchemaURL)
		for _, p := range k.Properties {
			msg := fmt.Sprintf("unknown field %q", p)
			if len(allowed) > 0 {
				msg += "; the fields allowed here are " + strings.Join(allowed, ", ")
			}
			ps.add(pointer(append(slices.Clone(ve.InstanceLocation), p)...), msg)
		}
	case *kind.Type:
		ps.add(ptr, fmt.Sprintf("must be %s, not %s", withArticle(strings.Join(k.Want, " or ")), withArticle(k.Got)))
	case *kind.Const:
		ps.add(ptr, fmt.Sprintf("must be %s", jsonText(k.Want)))
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, jsonText(w))
		}
		ps.add(ptr, "must be one of "+strings.Join(want, ", "))
	case *kind.Pattern:
		ps.add(ptr, patternMessage(ve.SchemaURL, field, k.Got, k.Want))
	case *kind.MinLength:
		if k.Want == 1 {
			ps.add(ptr, "must not be empty")
		} else {
			ps.add(ptr, fmt.Sprintf("is %d characters long, it must be at least %d", k.Got, k.Want))
		}
	case *kind.MaxLength:
		ps.add(ptr, fmt.Sprintf("is %d characters long, the limit is %d", k.Got, k.Want))
	case *kind.MinItems:
		if k.Want == 1 {
			ps.add(ptr, "must list at least one item")
		} else {
			ps.add(ptr, fmt.Sprintf("lists %d items, it must list at least %d", k.Got, k.Want))
		}
	case *kind.MaxItems:
		ps.add(ptr, fmt.Sprintf("lists %d items, the limit is %d", k.Got, k.Want))
	case *kind.MinProperties:
		ps.add(ptr, fmt.Sprintf("must set at least %d field(s) or be left out", k.Want))
	case *kind.MaxProperties:
		ps.add(ptr, fmt.Sprintf("sets %d fields, the limit is %d", k.Got, k.Want))
	case *kind.UniqueItems:
		ps.add(pointer(append(slices.Clone(ve.InstanceLocation), strconv.Itoa(k.Duplicates[1]))...),
			fmt.Sprintf("repeats item %d; list each value once", k.Duplicates[0]))
	case *kind.Minimum:
		ps.add(ptr, fmt.Sprintf("is %s, it must be at least %s", ratText(k.Got), ratText(k.Want)))
	case *kind.Maximum:
		ps.add(ptr, fmt.Sprintf("is %s, the limit is %s", ratText(k.Got), ratText(k.Want)))
	case *kind.ExclusiveMinimum:
		ps.add(ptr, fmt.Sprintf("is %s, it must be more than %s", ratText(k.Got), ratText(k.Want)))
	case *kind.ExclusiveMaximum:
		ps.add(ptr, fmt.Sprintf("is %s, it must be less than %s", ratText(k.Got), ratText(k.Want)))
	case *kind.FalseSchema:
		ps.add(ptr, "is not allowed here")
	default:
		// A keyword the schema does not use today; still name the rule
		// rather than dump the library's text.
		ps.add(ptr, fmt.Sprintf("%s does not satisfy the schema's %q rule", describe(value), strings.Join(ve.ErrorKind.KeywordPath(), "/")))
	}
}

// allowedFields returns the property names the schema at schemaURL (an
// absolute location inside this schema) declares, sorted.
func (cs *compiledSchema) allowedFields(schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return nil
	}
	var node any = cs.doc
	for _, seg := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if seg == "" {
			continue
		}
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		obj, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = obj[seg]
	}
	obj, _ := node.(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	var names []string
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// patternMessage explains a pattern failure by what the value is meant to
// be, which the schema location tells; the regular expression itself is
// the last resort.
func patternMessage(schemaURL, field, got, want string) string {
	_, frag, _ := strings.Cut(schemaURL, "#")
	frag = strings.TrimSuffix(frag, "/pattern")
	switch {
	case strings.HasSuffix(frag, "/$defs/pluginId"):
		return fmt.Sprintf("%q is not a plugin id: write namespace/name in lower case letters, digits and '-', each part starting with a letter (namespace up to 39 characters, name up to 64), like acme/hello", got)
	case frag == "/properties/version":
		msg := fmt.Sprintf("%q is not a SemVer 2 version such as 1.2.3 or 1.2.3-beta.1", got)
		if strings.HasPrefix(got, "v") || strings.HasPrefix(got, "V") {
			msg += " (leave out the leading v)"
		}
		return msg
	case strings.HasSuffix(frag, "/$defs/exportName"):
		return fmt.Sprintf("%q is not an export name: use letters, digits and '_', not starting with a digit", got)
	case strings.HasSuffix(frag, "/properties/module"):
		return fmt.Sprintf("%q is not a module path: give the .wasm file's path inside the package, relative, like plugin.wasm", got)
	case strings.HasSuffix(frag, "/$defs/dataCategory"):
		return fmt.Sprintf("%q is not a data category: use lower case letters, digits, '_', '.' or '-', starting with a letter, like contacts", got)
	case strings.HasSuffix(frag, "/properties/retention"):
		return fmt.Sprintf("%q is not a retention: write none, or an ISO 8601 duration such as P30D or PT12H", got)
	case strings.HasSuffix(frag, "/$defs/email"):
		return fmt.Sprintf("%q is not an e-mail address", got)
	case strings.HasSuffix(frag, "/$defs/url"):
		return fmt.Sprintf("%q is not an http:// or https:// URL", got)
	}
	return fmt.Sprintf("%q does not match the pattern %s required for %s", got, want, field)
}

// valueAt returns the value at a pointer's segments, or nil.
func valueAt(doc any, path []string) any {
	for _, seg := range path {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(d) {
				return nil
			}
			doc = d[i]
		default:
			return nil
		}
	}
	return doc
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "the object"
	case []any:
		return "the array"
	}
	return "the value " + jsonText(v)
}

// withArticle turns a JSON type name into a phrase: "an object", "a
// string", "null".
func withArticle(t string) string {
	switch {
	case t == "null":
		return "null"
	case strings.HasPrefix(t, "a") || strings.HasPrefix(t, "o") || strings.HasPrefix(t, "i"):
		return "an " + t
	}
	return "a " + t
}

// jsonText prints a short JSON value for a message, cut if long.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func ratText(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}
