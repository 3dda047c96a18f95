package sandbox

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"gatehouse.dev/gatehouse/hostapi"
)

// without returns this build's host API as version, minus the functions
// and capabilities named.
func without(version string, names ...string) *hostapi.Spec {
	s := hostapi.Current()
	s.Version = version
	s.Functions = slices.DeleteFunc(s.Functions, func(f hostapi.SpecFunction) bool { return slices.Contains(names, f.Name) })
	s.Capabilities = slices.DeleteFunc(s.Capabilities, func(c hostapi.SpecCapability) bool { return slices.Contains(names, c.Name) })
	return s
}

// TestHostAPIVersionOffersOnlyItsFunctions: a sandbox configured with a
// host API version links exactly its functions, so a module importing one
// the version lacks fails to load, as on a host running that version.
func TestHostAPIVersionOffersOnlyItsFunctions(t *testing.T) {
	mod := buildPlugin(t, "caps")
	imports, err := hostapi.ModuleImports(mod)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(imports, func(im hostapi.Import) bool { return im.Name == "kv_get" }) {
		t.Fatal("the caps plugin does not import kv_get; the test needs a plugin that does")
	}
	deprecated := hostapi.Current()
	deprecated.Version = "1.2.0"
	for i := range deprecated.Functions {
		if deprecated.Functions[i].Name == "kv_get" {
			deprecated.Functions[i].Deprecated = true
		}
	}
	m := testManifest("acme/caps", []string{"kv"}, "kv:read", "kv:write", "net:https://api.example.com", "fs:read:/tpl", "secret:TOKEN", "data:read:contacts", "data:write:notes")
	mounts := map[string]string{"/tpl": t.TempDir()}
	for _, tc := range []struct {
		name    string
		spec    *hostapi.Spec
		wantErr string
	}{
		{"this build's", nil, ""},
		{"a version that marks kv_get deprecated still links it", deprecated, ""},
		{"a version without kv_get", without("1.1.0", "kv_get"), "imports gatehouse_v1.kv_get, which host API 1.1.0 does not have"},
		{"a version without the kv:write capability", without("1.3.0", "kv:write", "kv_set", "kv_delete"), "host API 1.3.0 does not offer the kv:write capability"},
		{"a version outside the manifest's range", without("2.0.0"), "2.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, func(c *Config) { c.HostAPI = tc.spec })
			p, err := env.rt.Load(context.Background(), LoadRequest{Manifest: m, Module: mod, Mounts: mounts})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				defer p.Close(context.Background())
				if _, err := p.Call(context.Background(), "kv", []byte(`{"key":"k","value":"v"}`)); err != nil {
					t.Fatalf("calling kv: %v", err)
				}
				return
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Kind != KindLoadFailed || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load = %v; want a load failure saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestRuntimeRefusesAnotherHostAPIModule(t *testing.T) {
	s := hostapi.Current()
	s.Module = "gatehouse_v2"
	if _, err := NewRuntime(Config{HostAPI: s}); err == nil || !strings.Contains(err.Error(), "implements gatehouse_v1 only") {
		t.Fatalf("NewRuntime with module gatehouse_v2: %v", err)
	}
}

// TestModuleImportsAgreesWithWazero: hostapi.ModuleImports (which hosts,
// the marketplace and check-upgrade use without compiling) reads the
// same function imports, with the same signatures, as wazero.
func TestModuleImportsAgreesWithWazero(t *testing.T) {
	for _, name := range []string{"caps", "echo"} {
		mod := buildPlugin(t, name)
		got, err := hostapi.ModuleImports(mod)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rt := wazero.NewRuntime(context.Background())
		c, err := rt.CompileModule(context.Background(), mod)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range c.ImportedFunctions() {
			m, n, _ := f.Import()
			want = append(want, m+"."+n+sigString(f.ParamTypes(), f.ResultTypes()))
		}
		var have []string
		for _, im := range got {
			have = append(have, im.Module+"."+im.Name+sigString(valTypes(im.Params), valTypes(im.Results)))
		}
		rt.Close(context.Background())
		if !slices.Equal(have, want) {
			t.Errorf("%s: ModuleImports = %v\nwazero says %v", name, have, want)
		}
	}
}

// BenchmarkModuleImports and BenchmarkWazeroCompileForImports compare
// reading a module's imports with hostapi.ModuleImports against
// compiling it with wazero to ask (docs/decisions.md).
func BenchmarkModuleImports(b *testing.B) {
	mod := buildPlugin(b, "caps")
	b.SetBytes(int64(len(mod)))
	for b.Loop() {
		if _, err := hostapi.ModuleImports(mod); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWazeroCompileForImports(b *testing.B) {
	mod := buildPlugin(b, "caps")
	b.SetBytes(int64(len(mod)))
	ctx := context.Background()
	for b.Loop() {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		c, err := rt.CompileModule(ctx, mod)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.ImportedFunctions()
		rt.Close(ctx)
	}
}
