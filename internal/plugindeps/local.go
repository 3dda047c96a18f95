package plugindeps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// MaxLocalPackages bounds the packages a local folder may hold.
const MaxLocalPackages = 1000

// Local is a Catalog over a folder of package files (*.gpkg, as
// `gatehouse plugin pack` writes them). Nothing in it is verified: it is
// for an author testing against their own builds; a marketplace's
// certified versions come through install instead.
type Local struct {
	dir string
	// byID maps a plugin id to its versions' files.
	byID map[string]map[string]string
}

// OpenLocal reads the manifest of every *.gpkg file in dir (not its
// subfolders), with pkgfile's hostile-input limits. Two files of one
// plugin version are refused.
func OpenLocal(dir string) (*Local, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.gpkg"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("the dependencies folder: %w", err)
		}
	}
	if len(paths) > MaxLocalPackages {
		return nil, fmt.Errorf("%s holds %d packages; the limit is %d", dir, len(paths), MaxLocalPackages)
	}
	l := &Local{dir: dir, byID: map[string]map[string]string{}}
	for _, p := range paths {
		pkg, err := pkgfile.ReadFile(p, pkgfile.DefaultLimits())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		m, err := manifest.Parse(pkg.Manifest(), manifest.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: the manifest: %w", p, err)
		}
		vs := l.byID[m.ID]
		if vs == nil {
			vs = map[string]string{}
			l.byID[m.ID] = vs
		}
		if other, dup := vs[m.Version]; dup {
			return nil, fmt.Errorf("%s and %s are both %s@%s; keep one", filepath.Base(other), filepath.Base(p), m.ID, m.Version)
		}
		vs[m.Version] = p
	}
	return l, nil
}

// Versions implements Catalog.
func (l *Local) Versions(_ context.Context, id string) ([]string, error) {
	var out []string
	for v := range l.byID[id] {
		out = append(out, v)
	}
	return out, nil
}

// Package implements Catalog.
func (l *Local) Package(_ context.Context, id, version string) (*pkgfile.Package, error) {
	p, ok := l.byID[id][version]
	if !ok {
		return nil, fmt.Errorf("%s@%s is not in %s", id, version, l.dir)
	}
	return pkgfile.ReadFile(p, pkgfile.DefaultLimits())
}

// Describe lists what the folder holds, for messages.
func (l *Local) Describe() string {
	var s []string
	for id, vs := range l.byID {
		for v := range vs {
			s = append(s, id+"@"+v)
		}
	}
	if len(s) == 0 {
		return "no packages"
	}
	return strings.Join(s, ", ")
}
