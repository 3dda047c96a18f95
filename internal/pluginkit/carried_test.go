package pluginkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/mod/modfile"

	gatehouse "gatehouse.dev/gatehouse"
)

func TestParseGoMod(t *testing.T) {
	const head = "module plugins.local/acme/x\n\ngo 1.26\n\nrequire gatehouse.dev/gatehouse v0.0.0\n"
	const carried = "\nreplace gatehouse.dev/gatehouse => ./.gatehouse/kit\n"
	for _, c := range []struct {
		name, gomod string
		carried     bool
		third       string
		err         string
	}{
		{name: "scaffold", gomod: head + carried, carried: true},
		{name: "scaffold with a dependency", gomod: head + "require golang.org/x/text v0.39.0\n" + carried, carried: true, third: "golang.org/x/text@v0.39.0"},
		{name: "older plugin, kit only", gomod: head},
		{name: "older plugin with a dependency", gomod: head + "require golang.org/x/text v0.39.0\n",
			err: "add the line `replace gatehouse.dev/gatehouse => ./.gatehouse/kit`"},
		{name: "kit replaced elsewhere", gomod: head + "replace gatehouse.dev/gatehouse => ../gatehouse\n",
			err: "must be replaced by the folder gatehouse carries"},
		{name: "kit replaced by a module", gomod: head + "replace gatehouse.dev/gatehouse => example.org/fork v1.0.0\n",
			err: "must be replaced by the folder gatehouse carries"},
		{name: "kit replaced at one version", gomod: head + "replace gatehouse.dev/gatehouse v0.0.0 => ./.gatehouse/kit\n",
			err: "must be replaced by the folder gatehouse carries"},
		{name: "not a go.mod", gomod: "module\n", err: "reading go.mod"},
	} {
		t.Run(c.name, func(t *testing.T) {
			info, err := parseGoMod("go.mod", []byte(c.gomod))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v; want it to say %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.carried != c.carried || strings.Join(info.thirdParty, " ") != c.third || info.goVersion != "1.26" {
				t.Errorf("info = %+v; want carried %v, third-party %q", info, c.carried, c.third)
			}
		})
	}
}

// TestBuildRefreshesCarriedKit: the folder's kit follows the binary that
// builds, whatever was left in it (another release's kit, a planted file),
// and the package's vendor/ holds that kit, so the marketplace rebuilds
// from the package alone.
func TestBuildRefreshesCarriedKit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	root := outsideRepo(t)
	dir := filepath.Join(root, "hello")
	if err := Init(dir, "acme/hello", InitOptions{Year: 2026}); err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil || len(mf.Replace) != 1 || mf.Replace[0].New.Path != KitReplace {
		t.Fatalf("the scaffold's go.mod does not carry the kit (%v):\n%s", err, gomod)
	}
	files, _, err := kitFiles(gatehouse.PDKSource)
	if err != nil {
		t.Fatal(err)
	}
	kitDir := filepath.Join(dir, filepath.FromSlash(KitDir))
	if err := checkKit(kitDir, files); err != nil {
		t.Fatalf("init did not write the kit: %v", err)
	}
	// Stale and planted files.
	os.WriteFile(filepath.Join(kitDir, "pdk", "pdk.go"), []byte("package pdk // an older release\n"), 0o644)
	os.WriteFile(filepath.Join(kitDir, "pdk", "planted.go"), []byte("package pdk\n"), 0o644)
	if _, err := Build(context.Background(), dir, BuildOptions{CacheDir: filepath.Join(root, "cache")}); err != nil {
		t.Fatal(err)
	}
	if err := checkKit(kitDir, files); err != nil {
		t.Errorf("build did not refresh the carried kit: %v", err)
	}
	modules, err := os.ReadFile(filepath.Join(dir, "vendor", "modules.txt"))
	if err != nil || !strings.Contains(string(modules), "# gatehouse.dev/gatehouse v0.0.0 => ./.gatehouse/kit") {
		t.Fatalf("vendor/modules.txt = %q, %v", modules, err)
	}
	vendored, err := os.ReadFile(filepath.Join(dir, "vendor", "gatehouse.dev", "gatehouse", "pdk", "pdk.go"))
	if want, _ := gatehouse.PDKSource.ReadFile("pdk/pdk.go"); err != nil || string(vendored) != string(want) {
		t.Errorf("vendor/ does not hold this binary's kit (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".gatehouse", ".*")); len(left) > 0 {
		t.Errorf("build left temporary folders: %v", left)
	}

	// A kit that cannot be written is an error, not a build with the old one.
	if err := syncKit(dir, fstest.MapFS{}); err == nil {
		t.Error("syncKit accepted an empty kit")
	}
}
