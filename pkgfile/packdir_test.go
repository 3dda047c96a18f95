package pkgfile

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTree creates files (slash paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func pluginTree() map[string]string {
	return map[string]string{
		"manifest.json":      string(testManifest),
		"plugin.wasm":        string(testModule),
		"README.md":          "# hello\n",
		"tests/greet.json":   `{"input":{}}`,
		"src/main.go":        "package main\n",
		".gatehouseignore":   "# build output\n*.log\n/build/\ntmp\n",
		".git/config":        "[core]\n",
		".env":               "SECRET=1\n",
		"src/.hidden.go":     "package main\n",
		"old.gpkg":           "not read",
		"debug.log":          "noise",
		"src/deep/trace.log": "noise",
		"build/out.o":        "object",
		"src/build/keep.go":  "package build\n", // "/build/" is anchored to the root
		"tmp/scratch.txt":    "scratch",
		"src/tmp":            "a file named tmp is excluded too",
	}
}

func pack(t *testing.T, dir string) (string, []Entry, []byte) {
	t.Helper()
	var b bytes.Buffer
	digest, entries, err := PackDir(dir, &b)
	if err != nil {
		t.Fatal(err)
	}
	return digest, entries, b.Bytes()
}

func TestPackDirSelectsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, pluginTree())
	_, entries, data := pack(t, dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Path)
	}
	want := []string{"README.md", "manifest.json", "plugin.wasm", "src/build/keep.go", "src/main.go", "tests/greet.json"}
	if !slices.Equal(got, want) {
		t.Fatalf("packed %q\nwant %q", got, want)
	}
	p, err := Read(bytes.NewReader(data), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Files, entries) {
		t.Errorf("Read lists %v, PackDir returned %v", p.Files, entries)
	}
}

func TestPackDirIsDeterministic(t *testing.T) {
	t.Parallel()
	a := t.TempDir()
	writeTree(t, a, pluginTree())
	d1, _, first := pack(t, a)

	// Same folder, new modification times and permissions.
	later := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if err := filepath.Walk(a, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, later, later)
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(a, "README.md"), 0o600); err != nil {
		t.Fatal(err)
	}
	d2, _, second := pack(t, a)

	// The same files in a folder at another path, created in another order.
	b := filepath.Join(t.TempDir(), "elsewhere", "plugin")
	tree := pluginTree()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range tree {
			if !yield(k) {
				return
			}
		}
	})
	slices.Reverse(keys)
	for _, k := range keys {
		writeTree(t, b, map[string]string{k: tree[k]})
	}
	d3, _, third := pack(t, b)

	if d1 != d2 || d1 != d3 || !bytes.Equal(first, second) || !bytes.Equal(first, third) {
		t.Fatalf("digests differ: %s, %s (after touching), %s (other path)", d1, d2, d3)
	}
}

func TestPackDirRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // substring of the error
	}{
		{"symlink", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
				t.Skip("symlinks unavailable:", err)
			}
		}, "passwd is a symbolic link"},
		{"symlinked folder", func(t *testing.T, dir string) {
			if err := os.Symlink(os.TempDir(), filepath.Join(dir, "src", "tmpdir")); err != nil {
				t.Skip("symlinks unavailable:", err)
			}
		}, "tmpdir is a symbolic link"},
		{"no manifest", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "manifest.json")); err != nil {
				t.Fatal(err)
			}
		}, "no manifest.json"},
		{"manifest ignored", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{".gatehouseignore": "*.json\n"})
		}, "no manifest.json"},
		{"bad ignore pattern", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{".gatehouseignore": "ok\n[z-a\n"})
		}, "line 2: bad pattern"},
		{"negated ignore pattern", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{".gatehouseignore": "!keep\n"})
		}, "not supported"},
		{"nested archive", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"vendor.tar.gz": string(gz(t, []byte("x")))})
		}, "rule nested-archive"},
		{"bad file name", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{`a\b`: "x"})
		}, "rule backslash"},
		// An author learns at pack time what would extract differently on
		// another system, not when a reader refuses the package.
		{"windows device name", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"src/aux.go": "package main"})
		}, `"src/aux.go": rule device-name`},
		{"trailing dot", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"notes.": "x"})
		}, `"notes.": rule trailing-dot-or-space`},
		{"colon", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"notes:b": "x"})
		}, `"notes:b": rule colon`},
		{"names equal in NFC", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"cafe\u0301.md": "decomposed", "caf\u00e9.md": "composed"})
		}, "rule normalization-collision"},
		{"names equal when case is ignored", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"src/Main.go": "package main"})
		}, "rule case-collision"},
		{"folders equal when case is ignored", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"Src/util.go": "package main"})
		}, "rule case-collision"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"manifest.json": "{}", "plugin.wasm": "\x00asm", "src/main.go": "package main"})
			tc.setup(t, dir)
			var b bytes.Buffer
			_, _, err := PackDir(dir, &b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want an error containing %q", err, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("PackDir wrote %d bytes before failing", b.Len())
			}
		})
	}
}

func TestPackDirSkipsIgnoredSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"manifest.json": "{}", "plugin.wasm": "\x00asm", ".gatehouseignore": "node_modules/\n"})
	if err := os.MkdirAll(filepath.Join(dir, "node_modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "node_modules", "etc")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, ".hidden-link")); err != nil {
		t.Fatal(err)
	}
	if _, entries, _ := pack(t, dir); len(entries) != 2 {
		t.Errorf("packed %v; want manifest.json and plugin.wasm", entries)
	}
}
