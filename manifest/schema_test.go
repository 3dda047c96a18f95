package manifest

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSchemaIsDraft202012AndCompiles(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := json.Unmarshal(SchemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" || doc["$id"] != SchemaID {
		t.Errorf("$schema %v, $id %v", doc["$schema"], doc["$id"])
	}
	if _, err := loadSchema(); err != nil {
		t.Fatal(err)
	}
}

// TestSchemaDescribesEveryField walks the Manifest type and the schema side
// by side: every JSON field of the Go types must be a schema property and
// the reverse, so the two cannot drift apart.
func TestSchemaDescribesEveryField(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := json.Unmarshal(SchemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/$defs/")
			return doc["$defs"].(map[string]any)[name].(map[string]any)
		}
		return s
	}
	var walk func(path string, typ reflect.Type, schema map[string]any)
	walk = func(path string, typ reflect.Type, schema map[string]any) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
			if items, ok := schema["items"].(map[string]any); ok {
				schema = resolve(items)
			}
		}
		if typ.Kind() != reflect.Struct {
			return
		}
		props, _ := schema["properties"].(map[string]any)
		if schema["additionalProperties"] != false {
			t.Errorf("%s: schema allows unknown fields", path)
		}
		var goFields []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			goFields = append(goFields, name)
			sub, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s/%s: field of %s has no schema property", path, name, typ.Name())
				continue
			}
			walk(path+"/"+name, f.Type, resolve(sub))
		}
		for name := range props {
			if !slices.Contains(goFields, name) {
				t.Errorf("%s/%s: schema property has no field in %s", path, name, typ.Name())
			}
		}
	}
	walk("", reflect.TypeFor[Manifest](), doc)
}

// TestSchemaBoundsEverySize checks that every string has a maxLength and
// every array a maxItems, so no field is unbounded.
func TestSchemaBoundsEverySize(t *testing.T) {
	t.Parallel()
	var doc any
	if err := json.Unmarshal(SchemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			switch v["type"] {
			case "string":
				if _, ok := v["maxLength"]; !ok {
					t.Errorf("%s: string without maxLength", path)
				}
			case "array":
				if _, ok := v["maxItems"]; !ok {
					t.Errorf("%s: array without maxItems", path)
				}
			}
			for k, sub := range v {
				walk(path+"/"+k, sub)
			}
		case []any:
			for _, sub := range v {
				walk(path, sub)
			}
		}
	}
	walk("", doc)
}

func TestSchemaJSONIsACopy(t *testing.T) {
	saved := append([]byte(nil), SchemaJSON...)
	defer copy(SchemaJSON, saved)
	for i := range SchemaJSON {
		SchemaJSON[i] = ' '
	}
	if _, err := Parse([]byte(minimal), Options{}); err != nil {
		t.Fatalf("overwriting SchemaJSON changed validation: %v", err)
	}
}
