package pluginkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// KitModule is the module path under which the embedded plugin kit is
// written out. Plugins require it at v0.0.0; the build's workspace points
// it at the written copy, so no proxy is ever asked for it.
const KitModule = "gatehouse.dev/gatehouse"

// kitGoMod is the go.mod of the written kit. The kit (pdk and hostapi)
// imports only the standard library, so it needs no requirements.
const kitGoMod = "module " + KitModule + "\n\ngo " + minGoVersion + "\n"

// minGoVersion is the Go language version the kit and the generated
// workspace declare.
const minGoVersion = "1.26"

// Limits on the embedded kit: it is our own source, but a kit folder found
// in the cache is checked against them too.
const (
	maxKitFiles    = 256
	maxKitFileSize = 4 << 20
)

type kitFile struct {
	name string // slash-separated, relative to the kit root
	data []byte
}

// kitFiles returns the kit's files in lexical order (go.mod included, test
// files left out) and the content digest that names its cache folder.
func kitFiles(src fs.FS) ([]kitFile, string, error) {
	files := []kitFile{{name: "go.mod", data: []byte(kitGoMod)}}
	err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		if name == "go.mod" || name == "go.work" {
			// A go.mod in the source would contradict the one we write.
			return nil
		}
		if len(files) >= maxKitFiles {
			return fmt.Errorf("the plugin kit has more than %d files", maxKitFiles)
		}
		data, err := fs.ReadFile(src, name)
		if err != nil {
			return err
		}
		if len(data) > maxKitFileSize {
			return fmt.Errorf("plugin kit file %s is larger than %d bytes", name, maxKitFileSize)
		}
		files = append(files, kitFile{name: name, data: data})
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("reading the embedded plugin kit: %w", err)
	}
	if len(files) == 1 {
		return nil, "", errors.New("the embedded plugin kit is empty; this gatehouse binary was built without it")
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })

	// The digest is over one "sha256  name" line per file, as Go's own
	// module hashes are: unambiguous, since names hold no newline.
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%x  %s\n", sha256.Sum256(f.data), f.name)
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

// ensureKit makes sure the kit from src is written to a folder under root
// named by its content digest, and returns that folder.
//
// The folder is built under a temporary name and renamed into place, so a
// concurrent build (another process, or a second goroutine) sees either no
// folder or a complete one, never half of it. An existing folder is checked
// file by file before use: a stray extra .go file in it would be compiled
// into every plugin.
func ensureKit(root string, src fs.FS) (string, error) {
	files, sum, err := kitFiles(src)
	if err != nil {
		return "", err
	}
	final := filepath.Join(root, "pdk-"+sum)
	switch err := checkKit(final, files); {
	case err == nil:
		return final, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("the cached plugin kit in %s does not match this gatehouse binary (%v); delete that folder and build again", final, err)
	}

	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating the plugin kit cache: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".pdk-tmp-")
	if err != nil {
		return "", fmt.Errorf("creating the plugin kit cache: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once the rename succeeded
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("writing the plugin kit: %w", err)
		}
		// Read-only, as Go's module cache is: nobody should edit the kit
		// in place, since its folder name promises its content.
		if err := os.WriteFile(p, f.data, 0o444); err != nil {
			return "", fmt.Errorf("writing the plugin kit: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another build may have won the race: its folder is as good as
		// ours if it checks out.
		if cerr := checkKit(final, files); cerr == nil {
			return final, nil
		}
		return "", fmt.Errorf("installing the plugin kit in %s: %w", final, err)
	}
	return final, nil
}

// checkKit reports whether dir holds exactly files. It returns an error
// matching fs.ErrNotExist when dir does not exist at all.
func checkKit(dir string, files []kitFile) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	want := make(map[string][]byte, len(files))
	for _, f := range files {
		want[f.name] = f.data
	}
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		data, ok := want[name]
		if !ok {
			return fmt.Errorf("unexpected file %s", path.Clean(name))
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", name)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, data) {
			return fmt.Errorf("%s was changed", name)
		}
		seen++
		return nil
	})
	if err != nil {
		// Only the absence of the folder itself means "not written yet".
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("a file vanished while checking: %v", err)
		}
		return err
	}
	if seen != len(files) {
		return fmt.Errorf("%d of %d files are missing", len(files)-seen, len(files))
	}
	return nil
}
