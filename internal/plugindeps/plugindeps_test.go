package plugindeps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/sandbox/scenario"
)

// pkgBytes writes a real package of plugin id@version with the given
// dependencies (id → range), permissions and extra files.
func pkgBytes(t *testing.T, id, version string, deps map[string]string, perms []string, extra map[string]string) []byte {
	t.Helper()
	m := &manifest.Manifest{ManifestVersion: 1, ID: id, Version: version, Name: "T", License: "MIT",
		Owners:      []manifest.Person{{Name: "T", Email: "t@example.com"}},
		Runtime:     manifest.Runtime{Module: "plugin.wasm", Exports: []string{"run"}, HostAPI: "^1.0.0"},
		Permissions: perms}
	for d, r := range deps {
		m.Dependencies = append(m.Dependencies, manifest.Dependency{ID: d, Range: r})
	}
	man, err := manifest.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	files := []pkgfile.File{{Path: "manifest.json", Data: man}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}
	for p, s := range extra {
		files = append(files, pkgfile.File{Path: p, Data: []byte(s)})
	}
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readPkg(t *testing.T, data []byte) *pkgfile.Package {
	t.Helper()
	p, err := pkgfile.Read(bytes.NewReader(data), pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// memCatalog is a Catalog of packages in memory.
type memCatalog map[string]map[string][]byte

func (c memCatalog) Versions(_ context.Context, id string) ([]string, error) {
	var out []string
	for v := range c[id] {
		out = append(out, v)
	}
	return out, nil
}

func (c memCatalog) Package(_ context.Context, id, version string) (*pkgfile.Package, error) {
	data, ok := c[id][version]
	if !ok {
		return nil, fmt.Errorf("%s@%s: not here", id, version)
	}
	return pkgfile.Read(bytes.NewReader(data), pkgfile.DefaultLimits())
}

func (c memCatalog) add(t *testing.T, id, version string, deps map[string]string) {
	if c[id] == nil {
		c[id] = map[string][]byte{}
	}
	c[id][version] = pkgBytes(t, id, version, deps, []string{}, nil)
}

// root is the plugin under test, acme/app@1.0.0, depending on each id and
// range of deps, in order.
func root(deps ...string) *manifest.Manifest {
	m := &manifest.Manifest{ID: "acme/app", Version: "1.0.0"}
	for i := 0; i+1 < len(deps); i += 2 {
		m.Dependencies = append(m.Dependencies, manifest.Dependency{ID: deps[i], Range: deps[i+1]})
	}
	return m
}

func names(ps []Plugin) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.ID+"@"+p.Version)
	}
	return strings.Join(s, " ")
}

// TestResolvePicksAsInstallDoes: the highest versions that satisfy every
// range, backtracking when a later range rules the first pick out (the
// case install's TestInstallBacktracks checks).
func TestResolvePicksAsInstallDoes(t *testing.T) {
	cat := memCatalog{}
	cat.add(t, "acme/base", "1.0.0", nil)
	cat.add(t, "acme/base", "1.2.0", nil)
	cat.add(t, "acme/base", "2.0.0", nil)
	cat.add(t, "acme/util", "1.0.0", map[string]string{"acme/base": "1.x"})
	cat.add(t, "acme/util", "2.0.0", map[string]string{"acme/base": "2.x"})
	got, err := Resolve(context.Background(), cat, root("acme/util", "*", "acme/base", "^1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got); n != "acme/base@1.2.0 acme/util@1.0.0" {
		t.Fatalf("resolved %s", n)
	}
	if got[0].Manifest == nil || got[0].Package == nil {
		t.Errorf("no package or manifest: %+v", got[0])
	}
}

func TestResolveRefuses(t *testing.T) {
	cat := memCatalog{}
	cat.add(t, "acme/base", "1.0.0", nil)
	cat.add(t, "acme/loop", "1.0.0", map[string]string{"acme/app": "*"})
	cat.add(t, "acme/wants2", "1.0.0", map[string]string{"acme/base": "^2"})
	cat["acme/liar"] = map[string][]byte{"1.0.0": pkgBytes(t, "acme/other", "1.0.0", nil, []string{}, nil)}
	for _, tc := range []struct {
		name string
		deps []string
		is   error
		want string
	}{
		{"no such plugin", []string{"acme/none", "*"}, ErrMissing, "no version of acme/none is available (needed by acme/app@1.0.0)"},
		{"none in range", []string{"acme/base", "^3"}, ErrMissing, "no available version of acme/base satisfies ^3 (needed by acme/app@1.0.0); available: 1.0.0"},
		{"ranges that disagree", []string{"acme/base", "^1", "acme/wants2", "*"}, ErrConflict, "acme/app@1.0.0 → acme/wants2@1.0.0 needs acme/base ^2, but acme/base@1.0.0 was chosen"},
		{"a loop back to the plugin", []string{"acme/loop", "*"}, ErrCycle, "acme/app@1.0.0 → acme/loop@1.0.0 → acme/app"},
		{"a package that is another plugin", []string{"acme/liar", "*"}, nil, "the package offered as acme/liar@1.0.0 is acme/other@1.0.0"},
	} {
		_, err := Resolve(context.Background(), cat, root(tc.deps...))
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: err = %v, want %v saying %q", tc.name, err, tc.is, tc.want)
		}
	}
}

func TestLocalFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base-1.gpkg", pkgBytes(t, "acme/base", "1.0.0", nil, []string{}, nil))
	write("base-2.gpkg", pkgBytes(t, "acme/base", "2.0.0", nil, []string{}, nil))
	write("notes.txt", []byte("not a package, and not read"))
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(context.Background(), l, root("acme/base", "<2"))
	if err != nil || names(got) != "acme/base@1.0.0" {
		t.Fatalf("resolved %s, %v", names(got), err)
	}
	write("copy.gpkg", pkgBytes(t, "acme/base", "2.0.0", nil, []string{}, nil))
	if _, err := OpenLocal(dir); err == nil || !strings.Contains(err.Error(), "are both acme/base@2.0.0; keep one") {
		t.Errorf("two files of one version: %v", err)
	}
	os.Remove(filepath.Join(dir, "copy.gpkg"))
	write("broken.gpkg", []byte("not a package"))
	if _, err := OpenLocal(dir); err == nil || !strings.Contains(err.Error(), "broken.gpkg") {
		t.Errorf("a broken package: %v", err)
	}
	if _, err := OpenLocal(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("a missing folder was accepted")
	}
}

func TestCheckPlugins(t *testing.T) {
	available := map[string]sandbox.LoadRequest{"acme/app": {}, "acme/base": {}}
	for _, tc := range []struct {
		steps []string
		want  string
	}{
		{[]string{"acme/base", "acme/app"}, ""},
		{[]string{"acme/base"}, "no step calls acme/app, the plugin under test"},
		{[]string{"acme/app", "acme/other"}, `step 2 calls acme/other, which is not among acme/app's dependencies: declare it`},
	} {
		w := scenario.Workflow{Name: "w"}
		for _, s := range tc.steps {
			w.Steps = append(w.Steps, scenario.Step{Plugin: s, Export: "run"})
		}
		err := CheckPlugins(w, "acme/app", available)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: err = %v, want %q", tc.steps, err, tc.want)
		}
	}
}

func TestRequestsMountEachPluginsOwnFolders(t *testing.T) {
	tmp := t.TempDir()
	with := readPkg(t, pkgBytes(t, "acme/t", "1.0.0", nil, []string{"fs:read:/templates"}, map[string]string{"templates/a.txt": "A", "other/b.txt": "B"}))
	without := readPkg(t, pkgBytes(t, "acme/e", "1.0.0", nil, []string{"fs:read:/templates"}, nil))
	plugins := []Plugin{{ID: "acme/t", Version: "1.0.0", Package: with}, {ID: "acme/e", Version: "1.0.0", Package: without}}
	for i := range plugins {
		m, err := manifest.Parse(plugins[i].Package.Manifest(), manifest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		plugins[i].Manifest = m
	}
	grants, _ := manifest.ParsePermissions([]string{"fs:read:/templates"})
	reqs, err := Requests(tmp, plugins, map[string]sandbox.LoadRequest{"acme/t": {Grants: grants}})
	if err != nil {
		t.Fatal(err)
	}
	dir := reqs["acme/t"].Mounts["/templates"]
	if got, err := os.ReadFile(filepath.Join(dir, "a.txt")); err != nil || string(got) != "A" || !strings.HasPrefix(dir, tmp) {
		t.Errorf("acme/t's mount %s: %q %v", dir, got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.txt")); err == nil {
		t.Error("a file outside the mounted folder is in the mount")
	}
	if len(reqs["acme/t"].Grants) != 1 || reqs["acme/t"].Module == nil {
		t.Errorf("the base request was not kept: %+v", reqs["acme/t"])
	}
	if entries, err := os.ReadDir(reqs["acme/e"].Mounts["/templates"]); err != nil || len(entries) != 0 {
		t.Errorf("a package without the folder gets an empty mount: %v %v", entries, err)
	}
}
