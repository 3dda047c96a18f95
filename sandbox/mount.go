package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
)

// mount is a granted read-only mount: the guest path of an fs:read
// permission and the host directory behind it, opened as an os.Root so
// that neither '..' nor a symbolic link can lead out of it.
type mount struct {
	guest string // "/templates"
	host  string
	root  *os.Root
}

// mounts is sorted longest guest path first, so nested mounts resolve to
// the innermost one.
type mounts []mount

func openMounts(granted []string, dirs map[string]string) (mounts, error) {
	grantedSet := make(map[string]bool, len(granted))
	for _, g := range granted {
		grantedSet[g] = true
	}
	for guest := range dirs {
		if !grantedSet[guest] {
			return nil, fmt.Errorf("a host directory is mounted at %s, but fs:read:%s is not granted", guest, guest)
		}
	}
	var ms mounts
	for _, g := range granted {
		dir, ok := dirs[g]
		if !ok {
			ms.close()
			return nil, fmt.Errorf("fs:read:%s is granted but no host directory is mounted there; pass one for %s", g, g)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			ms.close()
			return nil, fmt.Errorf("opening the host directory %s for mount %s: %w", dir, g, err)
		}
		ms = append(ms, mount{guest: g, host: dir, root: root})
	}
	sort.Slice(ms, func(i, j int) bool { return len(ms[i].guest) > len(ms[j].guest) })
	return ms, nil
}

func (ms mounts) close() {
	for _, m := range ms {
		m.root.Close()
	}
}

// maxPathBytes bounds a path a plugin hands to fs_read.
const maxPathBytes = 4096

// read reads the file at the absolute guest path p, at most max bytes. A
// path that leaves every mount, by '..' or by a symbolic link, is refused
// as StatusDenied.
func (ms mounts) read(p string, max int) (hostapi.Status, []byte) {
	if !strings.HasPrefix(p, "/") {
		if hasDotDot(p) {
			return hostapi.StatusDenied, nil
		}
		return hostapi.StatusInvalid, []byte("the path must be absolute, under a granted mount")
	}
	// A '..' anywhere is an attempt to climb, even one that would stay
	// inside after cleaning: refuse it rather than guess the intent.
	if hasDotDot(p) || strings.ContainsRune(p, 0) {
		return hostapi.StatusDenied, nil
	}
	clean := path.Clean(p)
	for _, m := range ms {
		if !strings.HasPrefix(clean, m.guest+"/") {
			continue
		}
		rel := strings.TrimPrefix(clean, m.guest+"/")
		fi, err := m.root.Stat(rel)
		if err != nil {
			return statusForFSError(err)
		}
		if !fi.Mode().IsRegular() {
			return hostapi.StatusInvalid, []byte("not a regular file")
		}
		if fi.Size() > int64(max) {
			return hostapi.StatusTooLarge, nil
		}
		f, err := m.root.Open(rel)
		if err != nil {
			return statusForFSError(err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
		if err != nil {
			return hostapi.StatusFailed, []byte("reading the file failed")
		}
		if len(b) > max {
			return hostapi.StatusTooLarge, nil
		}
		return hostapi.StatusOK, b
	}
	return hostapi.StatusDenied, nil
}

func hasDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// statusForFSError maps an os.Root error. os.Root reports a path that
// escapes through a symbolic link with an unexported error whose text says
// so; anything that is not "does not exist" is refused, so an unknown
// error can never become a read.
func statusForFSError(err error) (hostapi.Status, []byte) {
	if errors.Is(err, fs.ErrNotExist) {
		return hostapi.StatusNotFound, nil
	}
	if strings.Contains(err.Error(), "escapes") {
		return hostapi.StatusDenied, nil
	}
	if errors.Is(err, fs.ErrPermission) {
		return hostapi.StatusDenied, nil
	}
	return hostapi.StatusFailed, []byte("the file could not be read")
}
