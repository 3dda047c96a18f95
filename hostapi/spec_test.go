package hostapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestCurrentIsAValidSpec(t *testing.T) {
	b, err := json.Marshal(Current())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSpec(b, Version)
	if err != nil {
		t.Fatalf("this build's own capabilities file does not parse: %v", err)
	}
	if len(s.Functions) != len(Functions) || len(s.Capabilities) != len(PermissionKinds) {
		t.Fatalf("Current has %d functions and %d capabilities", len(s.Functions), len(s.Capabilities))
	}
}

func TestParseSpec(t *testing.T) {
	t.Parallel()
	many := func(n int) string {
		var fs []string
		for i := range n {
			fs = append(fs, fmt.Sprintf(`{"name":"f%d","params":[],"results":[]}`, i))
		}
		return `{"functions":[` + strings.Join(fs, ",") + `]}`
	}
	for _, tc := range []struct {
		name, file, version, wantErr string
	}{
		{"known functions take their signature from the table", `{"functions":[{"name":"input_size"},{"name":"kv_get"}],"capabilities":[{"name":"kv:read"}]}`, "1.1.0", ""},
		{"a deprecated function with a note", `{"functions":[{"name":"kv_delete","deprecated":true,"note":"use kv_set"}],"capabilities":[{"name":"kv:write","deprecated":true}]}`, "1.1.0", ""},
		{"a new function with its signature", `{"functions":[{"name":"kv_list","params":["i32","i32"],"results":["i64"],"permission":"kv:read"}],"capabilities":[{"name":"kv:read"}]}`, "1.2.0", ""},
		{"the version in the file agrees", `{"version":"1.1.0","functions":[{"name":"log"}]}`, "1.1.0", ""},
		{"the version in the file disagrees", `{"version":"1.2.0","functions":[{"name":"log"}]}`, "1.1.0", `describes version "1.2.0", and it is published as "1.1.0"`},
		{"not semver", `{"functions":[{"name":"log"}]}`, "1.1", "not a semantic version"},
		{"unknown field", `{"functions":[{"name":"log"}],"extra":1}`, "1.1.0", `unknown field "extra"`},
		{"trailing data", `{"functions":[{"name":"log"}]} {}`, "1.1.0", "unexpected data"},
		{"no functions", `{"functions":[]}`, "1.1.0", "lists no functions"},
		{"a duplicate function", `{"functions":[{"name":"log"},{"name":"log"}]}`, "1.1.0", `"log" is listed twice`},
		{"a duplicate capability", `{"functions":[{"name":"log"}],"capabilities":[{"name":"net"},{"name":"net"}]}`, "1.1.0", `"net" is listed twice`},
		{"a bad name", `{"functions":[{"name":"Log!"}]}`, "1.1.0", "not a host function name"},
		{"a known function with another signature", `{"functions":[{"name":"log","params":["i32"],"results":[]}]}`, "1.1.0", "a changed signature needs a new module name"},
		{"a known function with another permission", `{"functions":[{"name":"kv_get","permission":"net"}],"capabilities":[{"name":"net"}]}`, "1.1.0", `says it needs "net"`},
		{"an unknown function without a signature", `{"functions":[{"name":"kv_list"}]}`, "1.1.0", "give its params, results and permission"},
		{"a bad value type", `{"functions":[{"name":"kv_list","params":["f32"],"results":[]}]}`, "1.1.0", `"f32" is not a value type`},
		{"a permission not listed as a capability", `{"functions":[{"name":"kv_get"}]}`, "1.1.0", `needs the capability "kv:read", which the file does not list`},
		{"too many functions", many(MaxSpecFunctions + 1), "1.1.0", fmt.Sprintf("the limit is %d", MaxSpecFunctions)},
		{"a long note", `{"functions":[{"name":"log","note":"` + strings.Repeat("x", MaxSpecNoteBytes+1) + `"}]}`, "1.1.0", "note is over"},
		{"too large", `{"functions":[{"name":"log","note":"` + strings.Repeat("x", MaxSpecBytes) + `"}]}`, "1.1.0", "the limit is 262144"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSpec([]byte(tc.file), tc.version)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSpec: %v", err)
				}
				if s.Version != tc.version || s.Module != Module {
					t.Fatalf("version %q module %q", s.Version, s.Module)
				}
				for _, f := range s.Functions {
					if known, ok := Lookup(f.Name); ok && len(f.Params) != len(known.Params) {
						t.Errorf("%s: params %v not filled in from the table", f.Name, f.Params)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseSpec = %v; want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	spec, err := ParseSpec([]byte(`{"functions":[
		{"name":"input_size"},{"name":"output_set"},
		{"name":"kv_get","deprecated":true,"note":"use kv_read"},
		{"name":"kv_set"}],
		"capabilities":[{"name":"kv:read"},{"name":"kv:write","deprecated":true,"note":"writes go through data:write"}]}`), "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	imp := func(name string) Import {
		f, _ := Lookup(name)
		return Import{Module: Module, Name: name, Params: f.Params, Results: f.Results}
	}
	wasi := Import{Module: WASIModule, Name: "fd_write", Params: []ValType{I32, I32, I32, I32}, Results: []ValType{I32}}
	for _, tc := range []struct {
		name    string
		imports []Import
		needs   []string
		want    string
		why     string
	}{
		{"only what the version offers", []Import{imp("input_size"), imp("output_set"), wasi}, nil, Compatible, ""},
		{"a deprecated function", []Import{imp("input_size"), imp("kv_get")}, []string{"kv:read"}, Deprecated, "marks the function kv_get deprecated: use kv_read"},
		{"a deprecated capability", []Import{imp("kv_set")}, []string{"kv:write"}, Deprecated, "writes go through data:write"},
		{"a function the version lacks", []Import{imp("kv_get"), imp("kv_delete")}, []string{"kv:read", "kv:write"}, Broken, "host API 1.1.0 does not offer kv_delete"},
		{"a capability the version lacks", []Import{imp("input_size")}, []string{"net"}, Broken, "does not offer the net:ORIGIN capability"},
		{"another signature", []Import{{Module: Module, Name: "input_size", Results: []ValType{I64}}}, nil, Broken, "as () -> (i64), and host API 1.1.0 defines () -> (i32)"},
		{"another gatehouse module", []Import{{Module: "gatehouse_v2", Name: "input_size"}}, nil, Broken, "imports from gatehouse_v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, us := spec.Check(tc.imports, tc.needs)
			if got != tc.want {
				t.Fatalf("Check = %s (%+v); want %s", got, us, tc.want)
			}
			var whys []string
			for _, u := range us {
				whys = append(whys, u.Why)
			}
			if !strings.Contains(strings.Join(whys, "|"), tc.why) {
				t.Fatalf("reasons %q do not say %q", whys, tc.why)
			}
		})
	}
}

func TestPermissionKind(t *testing.T) {
	t.Parallel()
	for perm, want := range map[string]string{
		"net:https://api.example.com": PermNet, "fs:read:/templates": PermFSRead, "kv:read": PermKVRead, "kv:write": PermKVWrite,
		"secret:SLACK_TOKEN": PermSecret, "data:read:contacts": PermDataRead, "data:write:notes": PermDataWrite,
	} {
		if got := PermissionKind(perm); got != want {
			t.Errorf("PermissionKind(%q) = %q, want %q", perm, got, want)
		}
	}
}

// module assembles a WebAssembly module with the given type and import
// sections' payloads.
func module(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

func section(id byte, payload ...byte) []byte {
	return append([]byte{id, byte(len(payload))}, payload...)
}

func TestModuleImports(t *testing.T) {
	t.Parallel()
	types := section(1, 2, 0x60, 0, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 0)
	imports := section(2, 3,
		12, 'g', 'a', 't', 'e', 'h', 'o', 'u', 's', 'e', '_', 'v', '1', 10, 'i', 'n', 'p', 'u', 't', '_', 's', 'i', 'z', 'e', 0x00, 0,
		1, 'e', 3, 'm', 'e', 'm', 0x02, 0x01, 1, 2, // a memory import is skipped
		1, 'x', 3, 'l', 'o', 'g', 0x00, 1)
	custom := section(0, 4, 'n', 'a', 'm', 'e')
	got, err := ModuleImports(module(custom, types, imports))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "input_size" || got[0].Module != Module || len(got[0].Results) != 1 || got[0].Results[0] != I32 ||
		got[1].Module != "x" || len(got[1].Params) != 2 {
		t.Fatalf("ModuleImports = %+v", got)
	}
	for name, bad := range map[string][]byte{
		"not wasm":            []byte("hello world"),
		"a short section":     module([]byte{1, 50, 1}),
		"a missing type":      module(section(2, 1, 1, 'a', 1, 'b', 0x00, 5)),
		"an unknown kind":     module(section(2, 1, 1, 'a', 1, 'b', 0x09)),
		"a runaway LEB128":    module([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
		"a non-func type":     module(section(1, 1, 0x50)),
		"a name past its end": module(section(2, 1, 40, 'a')),
	} {
		if _, err := ModuleImports(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParsePublished(t *testing.T) {
	t.Parallel()
	cur, _ := json.Marshal([]Published{{Spec: *Current(), Deprecates: "0.9.0", MigrationURL: "https://docs.example.com"}})
	if ps, err := ParsePublished(cur); err != nil || len(ps) != 1 || ps[0].Deprecates != "0.9.0" {
		t.Fatalf("ParsePublished = %+v, %v", ps, err)
	}
	for name, tc := range map[string]struct{ data, want string }{
		"not an array":   {`{}`, "cannot unmarshal"},
		"a bad spec":     {`[{"spec":{"version":"1.0.0","module":"gatehouse_v1","functions":[]}}]`, "lists no functions"},
		"twice":          {`[{"spec":{"version":"1.0.0","module":"gatehouse_v1","functions":[{"name":"log","params":["i32","i32","i32"],"results":[]}]}},{"spec":{"version":"1.0.0","module":"gatehouse_v1","functions":[{"name":"log","params":["i32","i32","i32"],"results":[]}]}}]`, "listed twice"},
		"bad deprecates": {`[{"spec":{"version":"1.0.0","module":"gatehouse_v1","functions":[{"name":"log","params":["i32","i32","i32"],"results":[]}]},"deprecates":"one"}]`, "not a semantic version"},
	} {
		if _, err := ParsePublished([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, err, tc.want)
		}
	}
}
