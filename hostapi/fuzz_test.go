package hostapi

import (
	"encoding/json"
	"testing"
)

// FuzzParseSpec: a capabilities file comes from a steward's hand or
// another system; whatever it holds, ParseSpec returns a Spec that
// passes its own checks again, or an error, and never panics.
func FuzzParseSpec(f *testing.F) {
	cur, _ := json.Marshal(Current())
	f.Add(cur, "1.0.0")
	f.Add([]byte(`{"functions":[{"name":"kv_delete","deprecated":true,"note":"x"}],"capabilities":[{"name":"kv:write"}]}`), "1.1.0")
	f.Add([]byte(`{"functions":[{"name":"kv_list","params":["i32"],"results":["i64"],"permission":"kv:read"}],"capabilities":[{"name":"kv:read"}]}`), "2.0.0")
	f.Add([]byte(`[]`), "")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		s, err := ParseSpec(data, version)
		if err != nil {
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseSpec(again, s.Version); err != nil {
			t.Fatalf("a parsed spec does not parse again: %v\n%s", err, again)
		}
		s.Check([]Import{{Module: Module, Name: "log"}}, []string{"net"})
	})
}

// FuzzModuleImports: hosts read the imports of modules they have not
// loaded yet; any bytes give imports or an error, never a panic or a
// runaway allocation.
func FuzzModuleImports(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(module(section(1, 1, 0x60, 0, 1, 0x7f), section(2, 1, 1, 'a', 1, 'b', 0x00, 0)))
	f.Add(module(section(2, 1, 1, 'a', 1, 'b', 0x02, 0x01, 1, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ims, err := ModuleImports(data)
		if err != nil {
			return
		}
		for _, im := range ims {
			if len(im.Module)+len(im.Name) > len(data) {
				t.Fatalf("an import longer than the module: %+v", im)
			}
		}
	})
}

// FuzzParsePublished: the host API versions file a host verifies with.
func FuzzParsePublished(f *testing.F) {
	cur, _ := json.Marshal([]Published{{Spec: *Current()}})
	f.Add(cur)
	f.Add([]byte(`[{"spec":{"version":"1.1.0","module":"gatehouse_v1","functions":[{"name":"log","params":["i32","i32","i32"],"results":[]}]},"deprecates":"1.0.0","sunset":"2027-01-01T00:00:00Z"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParsePublished(data)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !ValidVersion(p.Spec.Version) {
				t.Fatalf("an invalid version passed: %q", p.Spec.Version)
			}
		}
	})
}
