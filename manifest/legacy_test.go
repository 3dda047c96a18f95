package manifest

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// The two vectors the seed format publishes (key "secret"), with the exact
// text Python's json.dumps(..., sort_keys=True) produces for them.
var legacyVectors = []struct {
	name, doc, canonical, signature string
}{
	{
		name:      "with compatibility",
		doc:       `{"compatibility": ">=0.1", "dependencies": [], "id": "demo", "name": "Demo Plugin", "permissions": ["read_files"], "version": "0.1"}`,
		canonical: `{"compatibility": ">=0.1", "dependencies": [], "id": "demo", "name": "Demo Plugin", "permissions": ["read_files"], "version": "0.1"}`,
		signature: "yczVbOk9lOPwV9KT+TLRvRTDBfS0J7QWmnS9BPtw6P4=",
	},
	{
		name:      "null compatibility",
		doc:       `{"compatibility": null, "dependencies": [], "id": "demo", "name": "Demo", "permissions": [], "version": "0.1"}`,
		canonical: `{"compatibility": null, "dependencies": [], "id": "demo", "name": "Demo", "permissions": [], "version": "0.1"}`,
		signature: "ZPULfz5uLmKagZXQ2LxvNTjcdwQRc07pqYKkNGusOpQ=",
	},
	{
		// The same manifest compact, keys shuffled, compatibility and
		// dependencies absent: the canonical form fills them in, so the
		// second vector's signature still holds.
		name:      "absent defaults, other layout",
		doc:       `{"version":"0.1","permissions":[],"name":"Demo","id":"demo"}`,
		canonical: `{"compatibility": null, "dependencies": [], "id": "demo", "name": "Demo", "permissions": [], "version": "0.1"}`,
		signature: "ZPULfz5uLmKagZXQ2LxvNTjcdwQRc07pqYKkNGusOpQ=",
	},
}

var legacyKey = []byte("secret")

func TestLegacyVectors(t *testing.T) {
	t.Parallel()
	for _, v := range legacyVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			canon, err := LegacyCanonicalJSON([]byte(v.doc))
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != v.canonical {
				t.Errorf("canonical JSON\n got %s\nwant %s", canon, v.canonical)
			}
			sig, err := LegacySign([]byte(v.doc), legacyKey)
			if err != nil {
				t.Fatal(err)
			}
			if sig != v.signature {
				t.Errorf("signature %s, want %s", sig, v.signature)
			}
			signed := withSignature(v.doc, v.signature)
			m, err := Parse([]byte(signed), Options{LegacyKey: legacyKey})
			if err != nil {
				t.Fatalf("Parse of the signed vector: %v", err)
			}
			if m.Legacy == nil || !m.Legacy.Signed {
				t.Errorf("Legacy = %+v, want Signed", m.Legacy)
			}
		})
	}
}

// withSignature adds "signature" to a JSON object's text.
func withSignature(doc, sig string) string {
	return strings.TrimSuffix(strings.TrimSpace(doc), "}") + `, "signature": "` + sig + `"}`
}

func TestLegacyCanonicalJSONTricky(t *testing.T) {
	t.Parallel()
	// Expected outputs were produced by CPython 3 with
	// json.dumps(d, sort_keys=True) after the same defaults; see
	// TestLegacyCanonicalAgainstPython to re-check them by hand.
	tests := []struct{ name, doc, want string }{
		{
			name: "non-ASCII escaped as \\uXXXX in lower-case hex",
			doc:  `{"id": "café", "name": "日本", "permissions": [], "version": "1.0"}`,
			want: `{"compatibility": null, "dependencies": [], "id": "caf\u00e9", "name": "\u65e5\u672c", "permissions": [], "version": "1.0"}`,
		},
		{
			name: "astral character as a surrogate pair, raw or escaped in the input",
			doc:  `{"id": "x", "name": "emoji 😀 \ud83d\ude00 ok", "permissions": [], "version": "1"}`,
			want: `{"compatibility": null, "dependencies": [], "id": "x", "name": "emoji \ud83d\ude00 \ud83d\ude00 ok", "permissions": [], "version": "1"}`,
		},
		{
			name: "nested objects sorted at every level, arrays kept in order",
			doc:  `{"b": {"z": 1, "a": [1, 2, {"y": null, "x": true}]}, "a": false, "id": "k"}`,
			want: `{"a": false, "b": {"a": [1, 2, {"x": true, "y": null}], "z": 1}, "compatibility": null, "dependencies": [], "id": "k"}`,
		},
		{
			name: "integers exact, floats as Python's repr",
			doc:  `{"id": "n", "ints": [0, -0, 12345678901234567890123, -7], "floats": [1.0, 1.50, 1e2, 1E-7, 0.1, -0.0, 1e16, 123456789.125, 1e400, 2.5e-5]}`,
			want: `{"compatibility": null, "dependencies": [], "floats": [1.0, 1.5, 100.0, 1e-07, 0.1, -0.0, 1e+16, 123456789.125, Infinity, 2.5e-05], "id": "n", "ints": [0, 0, 12345678901234567890123, -7]}`,
		},
		{
			name: "short escapes, control characters, DEL and U+2028",
			doc:  `{"id": "c", "s": "q\"b\\s\/\n\r\t\b\f\u0001\u001f\u007f~ \u2028"}`,
			want: `{"compatibility": null, "dependencies": [], "id": "c", "s": "q\"b\\s/\n\r\t\b\f\u0001\u001f\u007f~ \u2028"}`,
		},
		{
			name: "keys in code point order, signature dropped",
			doc:  `{"\u00e9": 1, "z": 2, "A": 3, "\ud83d\ude00": 4, "\uffff": 5, "id": "o", "signature": "drop me"}`,
			want: `{"A": 3, "compatibility": null, "dependencies": [], "id": "o", "z": 2, "\u00e9": 1, "\uffff": 5, "\ud83d\ude00": 4}`,
		},
		{
			name: "present null dependencies kept as null",
			doc:  `{"id": "d", "dependencies": null, "compatibility": "^1"}`,
			want: `{"compatibility": "^1", "dependencies": null, "id": "d"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LegacyCanonicalJSON([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPyFloatRepr(t *testing.T) {
	t.Parallel()
	// Each pair is JSON input text and CPython's repr of float(text).
	tests := [][2]string{
		{"0.0", "0.0"}, {"-0.0", "-0.0"}, {"1e-400", "0.0"}, {"-1e400", "-Infinity"},
		{"5e-324", "5e-324"}, {"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"0.0001", "0.0001"}, {"0.00001", "1e-05"}, {"0.000123", "0.000123"},
		{"1e15", "1000000000000000.0"}, {"9999999999999998.0", "9999999999999998.0"},
		{"1e16", "1e+16"}, {"1.5e16", "1.5e+16"}, {"123456789012345678.0", "1.2345678901234568e+17"},
		{"0.1", "0.1"}, {"0.30000000000000004", "0.30000000000000004"}, {"1e22", "1e+22"},
		{"1e100", "1e+100"}, {"12.5e-1", "1.25"}, {"2E0", "2.0"},
	}
	for _, tt := range tests {
		got, err := appendPyNumber(nil, tt[0])
		if err != nil {
			t.Errorf("%s: %v", tt[0], err)
			continue
		}
		if string(got) != tt[1] {
			t.Errorf("%s printed %s, Python prints %s", tt[0], got, tt[1])
		}
	}
}

func TestLegacyCanonicalRefusesWhatPythonCannotHaveSigned(t *testing.T) {
	t.Parallel()
	huge := `{"id": "big", "n": ` + strings.Repeat("9", pyMaxIntDigits+1) + `}`
	if _, err := LegacyCanonicalJSON([]byte(huge)); err == nil || !strings.Contains(err.Error(), "4300 digits") {
		t.Errorf("integer over Python's digit limit: err = %v", err)
	}
	if _, err := LegacyCanonicalJSON([]byte(`{"id": "x", "s": "\ud800"}`)); err == nil || !strings.Contains(err.Error(), "surrogate") {
		t.Errorf("lone surrogate: err = %v", err)
	}
	if _, err := LegacyCanonicalJSON([]byte(`["id"]`)); err == nil || !strings.Contains(err.Error(), "not an array") {
		t.Errorf("array document: err = %v", err)
	}
}

func TestLegacySignatureChecks(t *testing.T) {
	t.Parallel()
	v := legacyVectors[0]
	tests := []struct {
		name    string
		doc     string
		key     []byte
		wantErr error
		signed  bool
	}{
		{name: "valid", doc: withSignature(v.doc, v.signature), key: legacyKey, signed: true},
		{name: "missing with key set", doc: v.doc, key: legacyKey, wantErr: ErrLegacySignatureMissing},
		{name: "empty with key set", doc: withSignature(v.doc, ""), key: legacyKey, wantErr: ErrLegacySignatureMissing},
		{name: "wrong key", doc: withSignature(v.doc, v.signature), key: []byte("other"), wantErr: ErrLegacySignatureInvalid},
		{name: "tampered name", doc: withSignature(strings.Replace(v.doc, "Demo Plugin", "Demo Plugin!", 1), v.signature), key: legacyKey, wantErr: ErrLegacySignatureInvalid},
		{name: "unpadded base64 is another signature", doc: withSignature(v.doc, strings.TrimSuffix(v.signature, "=")), key: legacyKey, wantErr: ErrLegacySignatureInvalid},
		{name: "no key: accepted, not signed", doc: withSignature(v.doc, "bogus"), key: nil, signed: false},
		{name: "no key, no signature", doc: v.doc, key: nil, signed: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(tt.doc), Options{LegacyKey: tt.key})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Problems[0].Pointer != "/signature" || ve.Problems[0].Message != tt.wantErr.Error() {
					t.Errorf("problems = %+v", ve)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Legacy.Signed != tt.signed {
				t.Errorf("Signed = %v, want %v", m.Legacy.Signed, tt.signed)
			}
		})
	}
	if ErrLegacySignatureMissing.Error() == ErrLegacySignatureInvalid.Error() {
		t.Error("missing and wrong signatures must read differently")
	}
}

func TestLegacyConversion(t *testing.T) {
	t.Parallel()
	doc := `{"id": "Demo_Plugin", "name": "Demo", "version": "1",
		"permissions": ["read_files", "storage", "kv_read", "net:HTTPS://API.Example.com:443"],
		"dependencies": ["auth>=1.2", "util", {"id": "Fmt", "version": "^2.0.0"}],
		"compatibility": "^1.0.0"}`
	m, err := Parse([]byte(doc), Options{LegacyNamespace: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "old/demo-plugin" || m.Version != "1.0.0" || m.Runtime.HostAPI != "^1.0.0" {
		t.Errorf("id %q version %q hostApi %q", m.ID, m.Version, m.Runtime.HostAPI)
	}
	wantPerms := []string{"fs:read:/files", "kv:read", "kv:write", "net:https://api.example.com"}
	if !slices.Equal(m.Permissions, wantPerms) {
		t.Errorf("permissions %q, want %q", m.Permissions, wantPerms)
	}
	wantDeps := []Dependency{{"old/auth", ">=1.2"}, {"old/util", "*"}, {"old/fmt", "^2.0.0"}}
	if !slices.Equal(m.Dependencies, wantDeps) {
		t.Errorf("dependencies %+v, want %+v", m.Dependencies, wantDeps)
	}
	if m.License != LegacyLicense || m.Runtime.Module != "plugin.wasm" || !slices.Equal(m.Runtime.Exports, []string{"handle"}) {
		t.Errorf("defaults: license %q runtime %+v", m.License, m.Runtime)
	}
	if m.Legacy.OriginalID != "Demo_Plugin" || !slices.Equal(m.Legacy.Permissions, []string{"read_files", "storage", "kv_read", "net:HTTPS://API.Example.com:443"}) {
		t.Errorf("legacy info %+v", m.Legacy)
	}
	notes := strings.Join(m.Legacy.Notes, "\n")
	for _, want := range []string{`version "1" was padded to SemVer "1.0.0"`, `permission "read_files" was mapped to fs:read:/files`, LegacyLicense} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if err := m.Validate(); err != nil {
		t.Errorf("converted manifest does not validate: %v", err)
	}
	// The converted manifest is an ordinary v1 manifest from then on.
	out, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out, Options{})
	if err != nil || again.Legacy != nil || again.ID != m.ID {
		t.Errorf("re-parse of the converted manifest: %v, %+v", err, again)
	}
}

func TestLegacyNoCompatibility(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(legacyVectors[1].doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Runtime.HostAPI != "*" || !strings.Contains(strings.Join(m.Legacy.Notes, "\n"), "no compatibility") {
		t.Errorf("hostApi %q, notes %q", m.Runtime.HostAPI, m.Legacy.Notes)
	}
}

func TestLegacyConversionProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		want      []Problem
	}{
		{
			name: "write permission has no v1 meaning",
			doc:  `{"id": "a", "name": "A", "version": "0.1", "permissions": ["read_files", "write_files"]}`,
			want: []Problem{{"/permissions/1", `legacy permission "write_files" cannot be converted: plugins never write files; v1 has read-only mounts only (fs:read:/PATH)`}},
		},
		{
			name: "network without origin",
			doc:  `{"id": "a", "name": "A", "version": "0.1", "permissions": ["network"]}`,
			want: []Problem{{"/permissions/0", `legacy permission "network" cannot be converted: it names no origin, and v1 grants network access one origin at a time (net:https://api.example.com); rewrite the manifest in the v1 form`}},
		},
		{
			name: "unknown permission is refused, not guessed",
			doc:  `{"id": "a", "name": "A", "version": "0.1", "permissions": ["do_anything"]}`,
			want: []Problem{{"/permissions/0", `legacy permission "do_anything" has no v1 equivalent and is refused rather than guessed; write a v1 manifest with permissions such as fs:read:/PATH, kv:read, net:https://ORIGIN`}},
		},
		{
			name: "bad version, compatibility and id",
			doc:  `{"id": "9lives", "name": "A", "version": "one", "permissions": [], "compatibility": "someday"}`,
			want: []Problem{
				{"/compatibility", `"someday" is not a SemVer range such as >=0.1 or ^1.0.0`},
				{"/id", `"9lives" cannot become a plugin name: use letters, digits, '-' or '_', starting with a letter, up to 64 characters`},
				{"/version", `"one" is not a version: write MAJOR.MINOR.PATCH such as 1.2.3, or MAJOR.MINOR`},
			},
		},
		{
			name: "missing fields and unknown field",
			doc:  `{"id": "a", "author": "me"}`,
			want: []Problem{
				{"", `"name" is required`},
				{"", `"permissions" is required`},
				{"", `"version" is required`},
				{"/author", `unknown field "author"; the legacy form has only compatibility, dependencies, id, name, permissions, signature, version (or write a v1 manifest with manifestVersion 1)`},
			},
		},
		{
			name: "wrong types",
			doc:  `{"id": 7, "name": "A", "version": "1.0", "permissions": "read_files", "dependencies": [3]}`,
			want: []Problem{
				{"/dependencies/0", `a dependency is a string or an object, not a number`},
				{"/id", `must be a string, not a number`},
				{"/permissions", `must be an array, not a string`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc), Options{})
			assertProblems(t, err, tt.want)
		})
	}
}

func TestLegacyNamespaceOption(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(legacyVectors[1].doc), Options{LegacyNamespace: "Bad/NS"})
	if err == nil || !strings.Contains(err.Error(), `legacy namespace "Bad/NS"`) {
		t.Errorf("err = %v", err)
	}
}
