package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/install"
	"gatehouse.dev/gatehouse/internal/pluginkit"
)

// TestAISWAPolicyEndToEnd is issue 19 item 4's proof, through the real
// CLI and marketplace: an AI-SWA policy file (seed 003's
// {"plugins": {"<id>": {"permissions": [...]}}}) allows exactly what it
// lists. Two plugins are built from the examples' Go source, signed,
// vetted and certified with different permissions: the counter
// (kv:read, kv:write) and the templater (fs:read:/templates). Then, with
// the policy given to install, verify and run:
//   - a plugin listed with every permission its certificate grants
//     installs, verifies and runs;
//   - a plugin the file does not list is refused, the refusal naming the
//     policy and the line to add, and nothing is installed;
//   - a plugin listed without one of its granted permissions is refused,
//     not loaded without it (docs/operations.md, "The host's policy
//     file": "each only with the permissions listed for it");
//   - a malformed file is refused with the problem and the expected form.
func TestAISWAPolicyEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WebAssembly plugins and runs the whole marketplace")
	}
	ctx := context.Background()
	c := startCast(t)
	host := gatehouse{t: t, env: map[string]string{"GATEHOUSE_SERVER": c.base}} // no token
	offline := gatehouse{t: t}
	work := t.TempDir()

	key := filepath.Join(work, "acme.key")
	c.publisher.must("keys", "generate", "-o", key)
	c.publisher.must("namespace", "key", "add", "acme", key+".pub")
	for _, name := range []string{"counter", "templater"} {
		dir := filepath.Join(work, name)
		copyDir(t, filepath.Join("..", "examples", "plugins", name), dir)
		if _, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
			t.Fatal(err)
		}
		pkg := filepath.Join(work, name+".gpkg")
		c.publisher.must("plugin", "pack", dir, "-o", pkg)
		c.publisher.must("plugin", "sign", pkg, "--key", key)
		certify(t, c, pkg)
	}

	policyFile := func(name, body string) string {
		p := filepath.Join(work, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	both := policyFile("both", `{"plugins": {
  "acme/counter": {"permissions": ["kv:read", "kv:write"]},
  "acme/templater": {"permissions": ["fs:read:/templates"]}
}}`)
	counterOnly := policyFile("counter-only", `{"plugins": {"acme/counter": {"permissions": ["kv:read", "kv:write"]}}}`)
	readOnly := policyFile("read-only", `{"plugins": {
  "acme/counter": {"permissions": ["kv:read"]},
  "acme/templater": {"permissions": ["fs:read:/templates"]}
}}`)

	// Listed with all their permissions: both install under the policy,
	// verify offline, and run in the sandbox.
	plugins := filepath.Join(work, "plugins")
	for _, id := range []string{"acme/counter", "acme/templater"} {
		if out := host.must("install", id+"@1.0.0", "--dir", plugins, "--policy", both); !strings.Contains(out, "installed "+id+"@1.0.0") {
			t.Fatalf("install %s under the policy listing it:\n%s", id, out)
		}
	}
	counter := filepath.Join(plugins, install.PackageFileName("acme/counter", "1.0.0"))
	templater := filepath.Join(plugins, install.PackageFileName("acme/templater", "1.0.0"))
	for _, pkg := range []string{counter, templater} {
		if out := offline.must("verify", pkg, "--policy", both); !strings.Contains(out, "ok    host-policy") {
			t.Fatalf("verify %s under the policy listing it:\n%s", pkg, out)
		}
	}
	out := offline.must("run", counter, "--policy", both, "--call", "increment", "--input", `{"name": "visits", "by": 2}`)
	var counted struct {
		Name  string
		Value int64
	}
	if err := json.Unmarshal([]byte(out), &counted); err != nil || counted.Name != "visits" || counted.Value != 2 {
		t.Fatalf("the counter ran to %q (%v), want visits at 2", out, err)
	}
	input := `{"template": "welcome.txt", "data": {"name": "Ada", "team": "Platform", "tasks": ["Read the handbook"]}}`
	out = offline.must("run", templater, "--policy", both, "--call", "render", "--input", input,
		"--mount", "templates="+filepath.Join("..", "examples", "plugins", "templater", "templates"))
	if !strings.Contains(out, "Hello Ada") {
		t.Fatalf("the templater rendered %q", out)
	}

	// Refused, each with its reason, by install, verify and run alike.
	for _, tc := range []struct {
		name, policy, id, pkg string
		says                  []string
	}{
		{"a plugin the file does not list", counterOnly, "acme/templater", templater,
			[]string{"host policy lists the plugins that may load", "acme/templater is not one of them", `add "acme/templater": {"permissions": [...]}`}},
		{"a plugin listed without a permission it was granted", readOnly, "acme/counter", counter,
			[]string{`granted "kv:write"`, "does not list for acme/counter", `plugins["acme/counter"].permissions`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each subtest fails itself, not its parent.
			host, offline := gatehouse{t: t, env: host.env}, gatehouse{t: t}
			dir := filepath.Join(t.TempDir(), "plugins")
			host.refused(tc.says, "install", tc.id+"@1.0.0", "--dir", dir, "--policy", tc.policy)
			if _, err := os.Stat(filepath.Join(dir, install.PackageFileName(tc.id, "1.0.0"))); !os.IsNotExist(err) {
				t.Fatalf("a refused install left the package in %s (stat: %v)", dir, err)
			}
			offline.refused(append([]string{"FAIL  host-policy"}, tc.says...), "verify", tc.pkg, "--policy", tc.policy)
			offline.refused(append([]string{"refusing to run", "host-policy"}, tc.says...), "run", tc.pkg, "--policy", tc.policy, "--call", "get", "--input", `{"name": "visits"}`)
		})
	}

	// The same plugins, under the policy that lists them, still load: the
	// refusals above came from the files, not from the packages.
	offline.must("verify", counter, "--policy", both)

	t.Run("a malformed policy file", func(t *testing.T) {
		for _, tc := range []struct {
			name, body string
			says       []string
		}{
			{"a misspelt key", `{"plugins": {"acme/counter": {"permision": ["kv:read"]}}}`,
				[]string{`unknown field "permision"`, `{"plugins": {"ID": {"permissions": [...]}}}`}},
			{"permissions as a list of plugins", `{"plugins": ["acme/counter"]}`,
				[]string{"policy file", `{"plugins": {"ID": {"permissions": [...]}}}`}},
			{"an empty plugin id", `{"plugins": {"": {"permissions": ["kv:read"]}}}`,
				[]string{`plugin id "" is not an id such as acme/hello`}},
			{"an empty permission", `{"plugins": {"acme/counter": {"permissions": ["kv:read", ""]}}}`,
				[]string{`plugins["acme/counter"].permissions has an empty entry`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "policy.json")
				os.WriteFile(p, []byte(tc.body), 0o644)
				dir := filepath.Join(t.TempDir(), "plugins")
				for _, args := range [][]string{
					{"install", "acme/counter@1.0.0", "--dir", dir, "--policy", p},
					{"verify", counter, "--policy", p},
					{"run", counter, "--policy", p, "--call", "get", "--input", `{"name": "visits"}`},
				} {
					code, out, errOut := host.run(args...)
					all := out + errOut
					if code == 0 {
						t.Fatalf("gatehouse %s accepted a malformed policy:\n%s", args[0], all)
					}
					for _, w := range append([]string{"--policy " + p}, tc.says...) {
						if !strings.Contains(all, w) {
							t.Fatalf("gatehouse %s does not say %q:\n%s", args[0], w, all)
						}
					}
				}
				if _, err := os.Stat(filepath.Join(dir, install.PackageFileName("acme/counter", "1.0.0"))); !os.IsNotExist(err) {
					t.Fatalf("an install with a malformed policy left the package (stat: %v)", err)
				}
			})
		}
	})
}
