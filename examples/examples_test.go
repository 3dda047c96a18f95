package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/manifest"
)

// examples are the plugins under plugins/, with what each must ask for. The
// list is explicit so that a plugin that quietly widens its permissions
// fails here first.
var examples = []struct {
	dir         string
	id          string
	permissions []string
	// wasiSockets are WASI socket imports the module is known to carry
	// without ever calling them. Go's linker keeps every exported method
	// of every reachable type once reflect's Method or MethodByName is
	// reachable, as it is through text/template; os.File's poll.FD then
	// brings sock_accept and sock_shutdown along. Preview 1 has no way to
	// open a socket, and the host preopens none, so they can never do
	// anything; the sandbox must still let such a module load.
	wasiSockets []string
}{
	{"templater", "acme/templater", []string{"fs:read:/templates"}, []string{"sock_accept", "sock_shutdown"}},
	{"notifier", "acme/notifier", []string{"net:https://hooks.example.com"}, nil},
	{"counter", "acme/counter", []string{"kv:read", "kv:write"}, nil},
}

func TestExamplesListed(t *testing.T) {
	entries, err := os.ReadDir("plugins")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk, listed []string
	for _, e := range entries {
		if e.IsDir() {
			onDisk = append(onDisk, e.Name())
		}
	}
	for _, ex := range examples {
		listed = append(listed, ex.dir)
	}
	sort.Strings(listed)
	if !slices.Equal(onDisk, listed) {
		t.Errorf("plugins/ holds %v but the test knows %v", onDisk, listed)
	}
}

// TestExamples builds every example with pluginkit.Build, from a copy
// outside the repository (as an author would have it), and checks the
// module against its manifest: it exports exactly the declared functions
// and imports only host functions its permissions cover.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	ctx := context.Background()
	t.Setenv("GOWORK", "off") // the build must stand on the embedded kit alone
	cache := t.TempDir()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)

	for _, ex := range examples {
		t.Run(ex.dir, func(t *testing.T) {
			src := filepath.Join("plugins", ex.dir)
			m := readManifest(t, src)
			if m.ID != ex.id {
				t.Errorf("manifest id is %q, want %q", m.ID, ex.id)
			}
			if !slices.Equal(m.Permissions, ex.permissions) {
				t.Errorf("manifest asks for %v, want exactly %v", m.Permissions, ex.permissions)
			}
			for _, name := range []string{"go.mod", "main.go", "README.md", "LICENSE"} {
				if _, err := os.Stat(filepath.Join(src, name)); err != nil {
					t.Errorf("example lacks %s", name)
				}
			}
			checkScenarios(t, src, m)

			dir := filepath.Join(t.TempDir(), ex.dir)
			copyPlugin(t, src, dir)
			out, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			wasm, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			mod, err := rt.CompileModule(ctx, wasm)
			if err != nil {
				t.Fatalf("compiling %s: %v", out, err)
			}
			defer mod.Close(ctx)
			checkExports(t, mod, m)
			checkImports(t, mod, m, ex.wasiSockets)
		})
	}
}

func readManifest(t *testing.T, dir string) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data, manifest.Options{})
	if err != nil {
		t.Fatalf("%s: %v", filepath.Join(dir, manifest.FileName), err)
	}
	if m.Legacy != nil {
		t.Fatalf("%s is in the legacy form; examples use manifest v1", dir)
	}
	return m
}

// checkExports: the module exports exactly the manifest's functions (plus
// _initialize, the WASI reactor's start-up function), each of the calling
// convention's type, () -> i32.
func checkExports(t *testing.T, mod wazero.CompiledModule, m *manifest.Manifest) {
	t.Helper()
	var got []string
	for name, def := range mod.ExportedFunctions() {
		if name == "_initialize" {
			continue
		}
		got = append(got, name)
		if len(def.ParamTypes()) != 0 || !slices.Equal(def.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
			t.Errorf("export %s has type %v -> %v, want () -> i32", name, def.ParamTypes(), def.ResultTypes())
		}
	}
	want := slices.Clone(m.Runtime.Exports)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("module exports %v, manifest declares %v", got, want)
	}
	if _, ok := mod.ExportedFunctions()["_initialize"]; !ok {
		t.Error("module has no _initialize: it was not built as a WASI reactor (-buildmode=c-shared)")
	}
}

// checkImports: every import is a host function of the contract, with the
// contract's signature, covered by a granted permission, or an allowed
// WASI call; and every permission is used by some import, so no example
// asks for more than it needs. sockets are the WASI socket imports the
// module is known to carry unused (see examples); any other is an error,
// and so is a listed one that is gone, so the list cannot go stale.
func checkImports(t *testing.T, mod wazero.CompiledModule, m *manifest.Manifest, sockets []string) {
	t.Helper()
	granted, err := manifest.ParsePermissions(m.Permissions)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var seenSockets []string
	for _, def := range mod.ImportedFunctions() {
		module, name, _ := def.Import()
		switch module {
		case hostapi.Module:
			fn, ok := hostapi.Lookup(name)
			if !ok {
				t.Errorf("imports %s.%s, which the host API does not have", module, name)
				continue
			}
			if !sameTypes(def.ParamTypes(), fn.Params) || !sameTypes(def.ResultTypes(), fn.Results) {
				t.Errorf("imports %s.%s as %v -> %v, the host API says %v -> %v", module, name, def.ParamTypes(), def.ResultTypes(), fn.Params, fn.Results)
			}
			if !manifest.Grants(granted, fn.Permission) {
				t.Errorf("imports %s.%s, which needs %q, not in the manifest's permissions %v", module, name, fn.Permission, m.Permissions)
			}
			used[fn.Permission] = true
		case hostapi.WASIModule:
			switch {
			case (hostapi.WASISockets[name] || hostapi.WASISocketsInert[name]) && slices.Contains(sockets, name):
				seenSockets = append(seenSockets, name)
			case !hostapi.WASI[name]:
				t.Errorf("imports WASI function %s, which the host never links", name)
			}
		default:
			t.Errorf("imports %s.%s from a module the host does not provide", module, name)
		}
	}
	sort.Strings(seenSockets)
	if want := slices.Sorted(slices.Values(sockets)); !slices.Equal(seenSockets, want) {
		t.Errorf("module imports WASI sockets %v, the test expects %v; update the examples table", seenSockets, want)
	}
	for _, p := range granted {
		if !used[p.Kind] {
			t.Errorf("manifest grants %s but the module calls no host function that needs it", p)
		}
	}
}

func sameTypes(got []api.ValueType, want []hostapi.ValType) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if byte(got[i]) != byte(want[i]) {
			return false
		}
	}
	return true
}

// scenario is one test scenario, as README.md documents it. Decoding is
// strict, so the files and the documented format cannot drift apart.
type scenario struct {
	Name   string            `json:"name"`
	Export string            `json:"export"`
	Input  json.RawMessage   `json:"input"`
	Mounts map[string]string `json:"mounts,omitempty"`
	KV     map[string]string `json:"kv,omitempty"`
	Fetch  []struct {
		Request struct {
			Method  string            `json:"method,omitempty"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers,omitempty"`
			JSON    json.RawMessage   `json:"json,omitempty"`
		} `json:"request"`
		Response struct {
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers,omitempty"`
			Body    string            `json:"body,omitempty"`
		} `json:"response"`
	} `json:"fetch,omitempty"`
	Expect struct {
		Output json.RawMessage    `json:"output,omitempty"`
		Error  *string            `json:"error,omitempty"`
		KV     *map[string]string `json:"kv,omitempty"`
	} `json:"expect"`
}

// checkScenarios reads tests/*.json and checks that each scenario is well
// formed and consistent with the manifest: it calls a declared export and
// fakes only what the permissions grant. (Running them is the sandbox's
// job.)
func checkScenarios(t *testing.T, dir string, m *manifest.Manifest) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "tests", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s has no test scenarios in tests/*.json", dir)
	}
	granted, err := manifest.ParsePermissions(m.Permissions)
	if err != nil {
		t.Fatal(err)
	}
	grantedScope := func(kind, scope string) bool {
		for _, p := range granted {
			if p.Kind == kind && p.Scope == scope {
				return true
			}
		}
		return false
	}
	names := map[string]bool{}
	for _, file := range files {
		scenarios, err := decodeScenarios(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		for i, s := range scenarios {
			where := fmt.Sprintf("%s[%d] %q", filepath.Base(file), i, s.Name)
			if s.Name == "" || names[s.Name] {
				t.Errorf("%s: every scenario needs a name of its own", where)
			}
			names[s.Name] = true
			if !slices.Contains(m.Runtime.Exports, s.Export) {
				t.Errorf("%s: calls %q, not an export in the manifest", where, s.Export)
			}
			if len(s.Input) == 0 {
				t.Errorf("%s: has no input", where)
			}
			if (len(s.Expect.Output) == 0) == (s.Expect.Error == nil) {
				t.Errorf("%s: expect needs exactly one of output and error", where)
			}
			for mount, folder := range s.Mounts {
				if !grantedScope(hostapi.PermFSRead, mount) {
					t.Errorf("%s: mounts %s, which the manifest does not grant", where, mount)
				}
				if !fs.ValidPath(folder) {
					t.Errorf("%s: mount folder %q must be relative to the plugin folder", where, folder)
				} else if fi, err := os.Stat(filepath.Join(dir, folder)); err != nil || !fi.IsDir() {
					t.Errorf("%s: mount folder %q is not a folder in the plugin", where, folder)
				}
			}
			if (s.KV != nil || s.Expect.KV != nil) && !manifest.Grants(granted, hostapi.PermKVRead) {
				t.Errorf("%s: sets up a key-value store the manifest does not grant", where)
			}
			for _, f := range s.Fetch {
				u, err := url.Parse(f.Request.URL)
				if err != nil {
					t.Errorf("%s: fetch URL %q: %v", where, f.Request.URL, err)
					continue
				}
				origin, err := manifest.ParseOrigin(u.Scheme + "://" + u.Host)
				if err != nil || !grantedScope(hostapi.PermNet, origin) {
					t.Errorf("%s: fakes a fetch to %s, an origin the manifest does not grant", where, f.Request.URL)
				}
				if f.Response.Status < 100 || f.Response.Status > 599 {
					t.Errorf("%s: fake response status %d is not an HTTP status", where, f.Response.Status)
				}
			}
		}
	}
}

// decodeScenarios reads a scenario file: one scenario object or an array of
// them.
func decodeScenarios(file string) ([]scenario, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	strict := func(b []byte, v any) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	if bytes.HasPrefix(data, []byte("[")) {
		var list []scenario
		if err := strict(data, &list); err != nil {
			return nil, err
		}
		return list, nil
	}
	var one scenario
	if err := strict(data, &one); err != nil {
		return nil, err
	}
	return []scenario{one}, nil
}

// copyPlugin copies a plugin's source folder, leaving out any module built
// in place.
func copyPlugin(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if strings.HasSuffix(rel, ".wasm") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
