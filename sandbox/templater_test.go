package sandbox

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/manifest"
)

// TestTemplaterExample builds the real examples/plugins/templater with the
// plugin kit, as an author would, and runs its test scenarios. Its module
// imports sock_accept and sock_shutdown (text/template keeps os.File's
// methods reachable), so this is also the proof that such plugins load.
func TestTemplaterExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	src := filepath.Join("..", "examples", "plugins", "templater")
	dir := filepath.Join(t.TempDir(), "templater")
	copyTree(t, src, dir)
	t.Setenv("GOWORK", "off") // the build must stand on the embedded kit alone
	out, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: filepath.Join(workDir, "pluginkit")})
	if err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	mdata, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(mdata, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}

	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{Manifest: m, Module: module, Mounts: map[string]string{"/templates": filepath.Join(dir, "templates")}})

	data, err := os.ReadFile(filepath.Join(dir, "tests", "render.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The examples' scenario format (examples/README.md): exactly one of
	// expect.output (compared as JSON) and expect.error (a substring of the
	// plugin's error).
	var scenarios []struct {
		Name   string
		Export string
		Input  json.RawMessage
		Expect struct {
			Output json.RawMessage
			Error  *string
		}
	}
	if err := json.Unmarshal(data, &scenarios); err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatal("the templater has no scenarios")
	}
	for _, s := range scenarios {
		res, err := p.Call(context.Background(), s.Export, s.Input)
		if s.Expect.Error != nil {
			ce := wantKind(t, err, KindPluginError)
			if !strings.Contains(ce.Msg, *s.Expect.Error) {
				t.Errorf("%s: error %q does not contain %q", s.Name, ce.Msg, *s.Expect.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		if !jsonEqual(t, res.Output, s.Expect.Output) {
			t.Errorf("%s: output %s, want %s", s.Name, res.Output, s.Expect.Output)
		}
	}
}

func jsonEqual(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("output is not JSON: %s", got)
		return false
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(g, w)
}

// copyTree copies a plugin's source folder, leaving out built modules.
func copyTree(t *testing.T, from, to string) {
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
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
