package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// minimal is the smallest valid v1 manifest (the one example_test.go shows).
const minimal = `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"Hello","description":"Greets people.","owners":[{"name":"Acme","email":"dev@acme.example"}],"license":"Apache-2.0","runtime":{"module":"plugin.wasm","exports":["greet"],"hostApi":"^1.0.0"},"permissions":[]}`

// full sets every field of the Manifest type.
const full = `{
  "manifestVersion": 1,
  "id": "acme-corp/webhook-notifier",
  "version": "2.3.4-rc.1+build.5",
  "name": "Webhook notifier",
  "description": "Posts events to one webhook.",
  "homepage": "https://acme.example/notifier",
  "owners": [{"name": "Acme", "email": "dev@acme.example", "url": "https://acme.example"}],
  "license": "MIT OR Apache-2.0",
  "runtime": {"module": "bin/notifier.wasm", "exports": ["notify", "_health"], "hostApi": ">=1.0.0, <2.0.0"},
  "permissions": ["net:https://hooks.example.com", "secret:WEBHOOK_TOKEN", "kv:read", "kv:write", "fs:read:/templates", "data:read:contacts"],
  "limits": {"memoryMiB": 64, "timeoutMillis": 2000, "outputBytes": 65536, "hostCalls": 100},
  "data": {"categories": ["contacts", "event.metadata"], "purpose": "Notify a team.", "retention": "P30D", "leavesPlatform": true},
  "dependencies": [{"id": "acme/formatter", "range": "^1.2.0"}],
  "support": {"url": "https://acme.example/support", "email": "support@acme.example"},
  "deprecation": {"deprecated": true, "message": "Use v3.", "replacement": "acme/notifier"}
}`

// edit returns minimal (or base) with top-level fields replaced; a nil
// value deletes the field.
func edit(t testing.TB, base string, fields map[string]any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(base), &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertProblems(t *testing.T, err error, want []Problem) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want a *ValidationError", err, err)
	}
	if fmt.Sprint(ve.Problems) != fmt.Sprint(want) {
		t.Errorf("problems:\n%s\nwant:\n%s", ve.Error(), (&ValidationError{Problems: want}).Error())
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := map[string][]byte{
		"minimal":               []byte(minimal),
		"every field":           []byte(full),
		"LicenseRef":            edit(t, minimal, map[string]any{"license": "LicenseRef-Acme-Proprietary"}),
		"license with WITH":     edit(t, minimal, map[string]any{"license": "GPL-2.0-or-later WITH Classpath-exception-2.0"}),
		"byte order mark":       append([]byte("\xEF\xBB\xBF"), minimal...),
		"retention none":        edit(t, full, map[string]any{"data": map[string]any{"categories": []any{}, "purpose": "x", "retention": "none", "leavesPlatform": false}}),
		"module in a subfolder": edit(t, minimal, map[string]any{"runtime": map[string]any{"module": "build/out/p.wasm", "exports": []any{"a"}, "hostApi": "1.x"}}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Legacy != nil {
				t.Error("a v1 manifest must not be marked legacy")
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestParseFullFields(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(full), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Namespace() != "acme-corp" || m.PluginName() != "webhook-notifier" {
		t.Errorf("id parts %q %q", m.Namespace(), m.PluginName())
	}
	if m.Limits == nil || m.Limits.MemoryMiB != 64 || m.Data == nil || !m.Data.LeavesPlatform || m.Deprecation.Replacement != "acme/notifier" {
		t.Errorf("fields lost: %+v", m)
	}
	perms, err := m.ParsedPermissions()
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) != 6 || perms[0] != (Permission{Kind: "net", Scope: "https://hooks.example.com"}) {
		t.Errorf("permissions %+v", perms)
	}
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		want []Problem
	}{
		{
			name: "required fields",
			data: edit(t, minimal, map[string]any{"license": nil, "runtime": map[string]any{"module": "plugin.wasm", "exports": []any{"greet"}}}),
			want: []Problem{{"", `"license" is required`}, {"/runtime", `"hostApi" is required`}},
		},
		{
			name: "v1 without manifestVersion is not mistaken for the seed form",
			data: edit(t, minimal, map[string]any{"manifestVersion": nil}),
			want: []Problem{{"", `"manifestVersion" is required`}},
		},
		{
			name: "id pattern",
			data: edit(t, minimal, map[string]any{"id": "Acme/Hello"}),
			want: []Problem{{"/id", `"Acme/Hello" is not a plugin id: write namespace/name in lower case letters, digits and '-', each part starting with a letter (namespace up to 39 characters, name up to 64), like acme/hello`}},
		},
		{
			name: "version with a leading v",
			data: edit(t, minimal, map[string]any{"version": "v1.0.0"}),
			want: []Problem{{"/version", `"v1.0.0" is not a SemVer 2 version such as 1.2.3 or 1.2.3-beta.1 (leave out the leading v)`}},
		},
		{
			name: "manifestVersion const",
			data: edit(t, minimal, map[string]any{"manifestVersion": 2}),
			want: []Problem{{"/manifestVersion", `must be 1`}},
		},
		{
			name: "types",
			data: edit(t, minimal, map[string]any{"name": 5, "permissions": map[string]any{}}),
			want: []Problem{{"/name", `must be a string, not a number`}, {"/permissions", `must be an array, not an object`}},
		},
		{
			name: "unknown fields, top level and nested",
			data: edit(t, minimal, map[string]any{"entry": "x", "runtime": map[string]any{"module": "plugin.wasm", "exports": []any{"greet"}, "hostApi": "^1", "wasi": true}}),
			want: []Problem{
				{"/entry", `unknown field "entry"; the fields allowed here are data, dependencies, deprecation, description, homepage, id, license, limits, manifestVersion, name, owners, permissions, runtime, support, version`},
				{"/runtime/wasi", `unknown field "wasi"; the fields allowed here are exports, hostApi, module`},
			},
		},
		{
			name: "empty owners and exports",
			data: edit(t, minimal, map[string]any{"owners": []any{}, "runtime": map[string]any{"module": "plugin.wasm", "exports": []any{}, "hostApi": "^1"}}),
			want: []Problem{{"/owners", `must list at least one item`}, {"/runtime/exports", `must list at least one item`}},
		},
		{
			name: "export names and duplicates",
			data: edit(t, minimal, map[string]any{"runtime": map[string]any{"module": "plugin.wasm", "exports": []any{"greet", "1st", "greet"}, "hostApi": "^1"}}),
			want: []Problem{
				{"/runtime/exports/1", `"1st" is not an export name: use letters, digits and '_', not starting with a digit`},
				{"/runtime/exports/2", `repeats item 0; list each value once`},
			},
		},
		{
			name: "too many permissions",
			data: edit(t, minimal, map[string]any{"permissions": manyStrings(65)}),
			want: []Problem{{"/permissions", `lists 65 items, the limit is 64`}},
		},
		{
			name: "name too long",
			data: edit(t, minimal, map[string]any{"name": strings.Repeat("n", 101)}),
			want: []Problem{{"/name", `is 101 characters long, the limit is 100`}},
		},
		{
			name: "limits out of range",
			data: edit(t, minimal, map[string]any{"limits": map[string]any{"memoryMiB": 0, "timeoutMillis": 600001, "hostCalls": 1.5}}),
			want: []Problem{
				{"/limits/hostCalls", `must be an integer, not a number`},
				{"/limits/memoryMiB", `is 0, it must be at least 1`},
				{"/limits/timeoutMillis", `is 600001, the limit is 600000`},
			},
		},
		{
			name: "permissions by the grammar, duplicates refused",
			data: edit(t, minimal, map[string]any{"permissions": []any{"kv:read", "fs:write:/x", "net:https://a.example", "net:HTTPS://A.example:443", "root"}}),
			want: []Problem{
				{"/permissions/1", `permission "fs:write:/x": only read-only mounts exist (fs:read:/PATH); plugins never write files`},
				{"/permissions/3", `permission "net:HTTPS://A.example:443" grants the same as /permissions/2; list it once`},
				{"/permissions/4", `permission "root" is not one of net:ORIGIN, fs:read:/PATH, kv:read, kv:write, secret:NAME, data:read:SCOPE, data:write:SCOPE`},
			},
		},
		{
			name: "license not SPDX",
			data: edit(t, minimal, map[string]any{"license": "Apache 2"}),
			want: []Problem{{"/license", `"Apache 2" is not a valid SPDX license expression (such as Apache-2.0, or MIT OR Apache-2.0); for a licence SPDX does not list, write LicenseRef-NAME`}},
		},
		{
			name: "host API range and module path",
			data: edit(t, minimal, map[string]any{"runtime": map[string]any{"module": "a/../plugin.wasm", "exports": []any{"greet"}, "hostApi": "whenever"}}),
			want: []Problem{
				{"/runtime/hostApi", `"whenever" is not a SemVer range such as ^1.0.0 or >=1.2, <2`},
				{"/runtime/module", `"a/../plugin.wasm" must be a clean path with no '.', '..' or doubled slashes; write "plugin.wasm"`},
			},
		},
		{
			name: "dependencies: self, duplicate, bad range",
			data: edit(t, minimal, map[string]any{"dependencies": []any{
				map[string]any{"id": "acme/hello", "range": "^1"},
				map[string]any{"id": "acme/fmt", "range": "^1"},
				map[string]any{"id": "acme/fmt", "range": "soon"},
			}}),
			want: []Problem{
				{"/dependencies/0/id", `a plugin cannot depend on itself`},
				{"/dependencies/2/id", `"acme/fmt" is already listed at /dependencies/1; give one range per plugin`},
				{"/dependencies/2/range", `"soon" is not a SemVer range such as ^1.2.0 or >=1.0, <2`},
			},
		},
		{
			name: "data handling",
			data: edit(t, minimal, map[string]any{"data": map[string]any{"categories": []any{"Contacts"}, "purpose": "", "retention": "30 days", "leavesPlatform": "no"}}),
			want: []Problem{
				{"/data/categories/0", `"Contacts" is not a data category: use lower case letters, digits, '_', '.' or '-', starting with a letter, like contacts`},
				{"/data/leavesPlatform", `must be a boolean, not a string`},
				{"/data/purpose", `must not be empty`},
				{"/data/retention", `"30 days" is not a retention: write none, or an ISO 8601 duration such as P30D or PT12H`},
			},
		},
		{
			name: "retention naming no time",
			data: edit(t, minimal, map[string]any{"data": map[string]any{"categories": []any{}, "purpose": "x", "retention": "PT", "leavesPlatform": false}}),
			want: []Problem{{"/data/retention", `"PT" names no amount of time: write none, or a duration such as P30D or PT12H`}},
		},
		{
			name: "contacts",
			data: edit(t, minimal, map[string]any{"owners": []any{map[string]any{"name": "A", "email": "not-an-address"}}, "homepage": "ftp://x", "support": map[string]any{}}),
			want: []Problem{
				{"/homepage", `"ftp://x" is not an http:// or https:// URL`},
				{"/owners/0/email", `"not-an-address" is not an e-mail address`},
				{"/support", `must set at least 1 field(s) or be left out`},
			},
		},
		{
			name: "deprecation",
			data: edit(t, minimal, map[string]any{"deprecation": map[string]any{"deprecated": false, "replacement": "acme/hello"}}),
			want: []Problem{
				{"/deprecation/replacement", `a plugin cannot be its own replacement`},
				{"/deprecation/replacement", `a replacement is named but deprecated is false; set deprecated to true or drop the replacement`},
			},
		},
		{
			name: "not an object",
			data: []byte(`[1]`),
			want: []Problem{{"", `a manifest is a JSON object, not an array`}},
		},
		{
			name: "invalid JSON gives line and column",
			data: []byte("{\n  \"manifestVersion\": 1,\n  \"id\" \"acme/x\"\n}"),
			want: []Problem{{"", `invalid JSON at line 3, column 8: invalid character '"' after object key`}},
		},
		{
			name: "duplicate key",
			data: []byte(`{"manifestVersion":1,"id":"acme/a","id":"acme/b"}`),
			want: []Problem{{"", `invalid JSON at line 1, column 36: the key "id" appears twice in one object`}},
		},
		{
			name: "trailing content",
			data: []byte(minimal + "\n{}"),
			want: []Problem{{"", `invalid JSON at line 2, column 1: unexpected content after the end of the JSON document`}},
		},
		{
			name: "invalid UTF-8",
			data: []byte("{\"name\": \"\xC3\x28\"}"),
			want: []Problem{{"", `the manifest is not valid UTF-8 (line 1, column 11)`}},
		},
		{
			name: "too large",
			data: append([]byte(minimal), bytes.Repeat([]byte(" "), MaxSize)...),
			want: []Problem{{"", fmt.Sprintf(`the manifest is %d bytes, the limit is %d bytes`, len(minimal)+MaxSize, MaxSize)}},
		},
		{
			name: "too deep",
			data: []byte(strings.Repeat("[", 40) + strings.Repeat("]", 40)),
			want: []Problem{{"", `invalid JSON at line 1, column 33: objects and arrays nest more than 32 levels deep`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse(tt.data, Options{})
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			assertProblems(t, err, tt.want)
		})
	}
}

func manyStrings(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("secret:S%d", i)
	}
	return out
}

func TestValidationErrorText(t *testing.T) {
	t.Parallel()
	_, err := Parse(edit(t, minimal, map[string]any{"license": nil, "runtime": map[string]any{"module": "plugin.wasm", "exports": []any{"greet"}}}), Options{})
	want := "(document): \"license\" is required\n/runtime: \"hostApi\" is required"
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestProblemsSortIndexesNumerically(t *testing.T) {
	t.Parallel()
	perms := manyStrings(12)
	perms[2], perms[10] = "bad2", "bad10"
	_, err := Parse(edit(t, minimal, map[string]any{"permissions": perms}), Options{})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Pointer != "/permissions/2" || ve.Problems[1].Pointer != "/permissions/10" {
		t.Errorf("err = %v", err)
	}
}

func TestValidateInMemory(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(minimal), Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Permissions = nil // nil and empty are the same to Validate
	if err := m.Validate(); err != nil {
		t.Fatalf("nil permissions: %v", err)
	}
	m.ID = "acme"
	m.Owners = nil
	m.Permissions = []string{"kv:write", "kv:write"}
	m.License = "Nope-1.0"
	// Schema and semantic problems come together, in document order.
	assertProblems(t, m.Validate(), []Problem{
		{"/id", `"acme" is not a plugin id: write namespace/name in lower case letters, digits and '-', each part starting with a letter (namespace up to 39 characters, name up to 64), like acme/hello`},
		{"/license", `"Nope-1.0" is not a valid SPDX license expression (such as Apache-2.0, or MIT OR Apache-2.0); for a licence SPDX does not list, write LicenseRef-NAME`},
		{"/owners", `must list at least one item`},
		{"/permissions/1", `permission "kv:write" grants the same as /permissions/0; list it once`},
	})
}

func TestMarshalStable(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(full), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(a, Options{})
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, a)
	}
	b, _ := Marshal(m2)
	if !bytes.Equal(a, b) {
		t.Errorf("Marshal is not stable:\n%s\n%s", a, b)
	}
	if !bytes.HasPrefix(a, []byte("{\n  \"manifestVersion\": 1,\n  \"id\": \"acme-corp/webhook-notifier\",")) || !bytes.HasSuffix(a, []byte("}\n")) {
		t.Errorf("unexpected layout:\n%s", a)
	}
	empty, _ := Marshal(&Manifest{})
	if !bytes.Contains(empty, []byte(`"permissions": []`)) || !bytes.Contains(empty, []byte(`"exports": []`)) {
		t.Errorf("nil lists must marshal as []:\n%s", empty)
	}
}

func TestHostAPICompatible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rng, version string
		want         bool
		wantErr      bool
	}{
		{"^1.0.0", "1.0.0", true, false},
		{"^1.0.0", "2.0.0", false, false},
		{">=1.2, <2", "1.1.9", false, false},
		{"*", "1.0.0", true, false},
		{">=0.1", "1.0.0", true, false},
		{"nonsense", "1.0.0", false, true},
		{"^1", "v1.0.0", false, true},
	}
	for _, tt := range tests {
		got, err := HostAPICompatible(tt.rng, tt.version)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("HostAPICompatible(%q, %q) = %v, %v", tt.rng, tt.version, got, err)
		}
	}
}
