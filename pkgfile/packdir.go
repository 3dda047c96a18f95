package pkgfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// IgnoreFile names the file listing what PackDir leaves out.
const IgnoreFile = ".gatehouseignore"

// PackDir writes the package of the plugin folder dir to w and returns its
// digest and the files it holds (sorted, without SHA256SUMS).
//
// It includes every regular file under dir except:
//   - hidden files and folders (a name starting with "."), which also keeps
//     .git and .gatehouseignore out;
//   - other packages (*.gpkg);
//   - what .gatehouseignore at the root of dir excludes: one path.Match glob
//     per line, matched against the slash path relative to dir and against
//     the base name; a leading "/" anchors a pattern to the path only, a
//     trailing "/" makes it match folders only; "#" starts a comment line.
//
// It refuses symbolic links and other non-regular files that are not
// excluded, and a folder without manifest.json. It does not parse the
// manifest: the caller must check that the module the manifest names is
// among the returned files (an ignore pattern could exclude it). Modification
// times, permissions and the path of dir do not affect the output. As with
// Write, w may hold part of a package when the error is a compressed size
// over the limit.
func PackDir(dir string, w io.Writer) (digest string, files []Entry, err error) {
	lim := DefaultLimits()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", nil, fmt.Errorf("pkgfile: opening the plugin folder: %w", err)
	}
	defer root.Close()

	ignore, err := readIgnore(root)
	if err != nil {
		return "", nil, fmt.Errorf("pkgfile: %s: %w", filepath.Join(dir, IgnoreFile), err)
	}

	var (
		contents []File
		total    int64
	)
	show := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	walkErr := fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		base := d.Name()
		if strings.HasPrefix(base, ".") || ignore.match(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link; packages hold regular files only, so copy the file in or list it in %s", show(rel), IgnoreFile)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%v); remove it or list it in %s", show(rel), d.Type(), IgnoreFile)
		}
		if strings.HasSuffix(strings.ToLower(base), Extension) {
			return nil
		}
		if len(contents)+2 > lim.MaxFiles {
			return fmt.Errorf("the folder has more than %d files to pack; list what does not belong in the package in %s", lim.MaxFiles-1, IgnoreFile)
		}
		data, err := readRegular(root, rel, lim.MaxFileBytes)
		if err != nil {
			return fmt.Errorf("%s: %w", show(rel), err)
		}
		total += int64(len(data))
		if total > lim.MaxTotalBytes {
			return fmt.Errorf("the files add up to more than %d bytes; list what does not belong in the package in %s", lim.MaxTotalBytes, IgnoreFile)
		}
		contents = append(contents, File{Path: rel, Data: data})
		return nil
	})
	if walkErr != nil {
		return "", nil, fmt.Errorf("pkgfile: packing %s: %w", dir, walkErr)
	}
	if !hasFile(contents, ManifestPath) {
		return "", nil, fmt.Errorf("pkgfile: packing %s: no %s in the folder (or %s excludes it); run `gatehouse plugin init` to create one", dir, ManifestPath, IgnoreFile)
	}
	digest, entries, err := write(w, contents, lim)
	if err != nil {
		return "", nil, fmt.Errorf("pkgfile: packing %s: %w", dir, err)
	}
	return digest, entries, nil
}

func hasFile(files []File, name string) bool {
	for _, f := range files {
		if f.Path == name {
			return true
		}
	}
	return false
}

// readRegular reads a file that the walk saw as regular, checking again on
// the open file so that a swap for a link or device is noticed.
func readRegular(root *os.Root, rel string, max int64) ([]byte, error) {
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("the file is %d bytes; the limit is %d", fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("the file grew past the limit of %d bytes while being read", max)
	}
	return data, nil
}

type ignorePattern struct {
	glob     string
	anchored bool // leading "/": match the relative path only
	dirOnly  bool // trailing "/": match folders only
}

type ignoreRules []ignorePattern

func readIgnore(root *os.Root) (ignoreRules, error) {
	f, err := root.Open(IgnoreFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	return parseIgnore(data)
}

func parseIgnore(data []byte) (ignoreRules, error) {
	var rules ignoreRules
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			return nil, fmt.Errorf("line %d: negated patterns (%q) are not supported", n, line)
		}
		p := ignorePattern{glob: line}
		if rest, ok := strings.CutPrefix(p.glob, "/"); ok {
			p.glob, p.anchored = rest, true
		}
		if rest, ok := strings.CutSuffix(p.glob, "/"); ok {
			p.glob, p.dirOnly = rest, true
		}
		if p.glob == "" {
			return nil, fmt.Errorf("line %d: the pattern %q matches nothing", n, line)
		}
		if _, err := path.Match(p.glob, ""); err != nil {
			return nil, fmt.Errorf("line %d: bad pattern %q: %w", n, line, err)
		}
		rules = append(rules, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rules, nil
}

func (rules ignoreRules) match(rel string, isDir bool) bool {
	base := path.Base(rel)
	for _, p := range rules {
		if p.dirOnly && !isDir {
			continue
		}
		// Errors are impossible: parseIgnore validated every glob.
		if ok, _ := path.Match(p.glob, rel); ok {
			return true
		}
		if !p.anchored {
			if ok, _ := path.Match(p.glob, base); ok {
				return true
			}
		}
	}
	return false
}
