package plugindeps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Mounts copies, for each fs:read permission of m, the package's folder of
// the same name (fs:read:/templates mounts the package's templates/
// folder) into a new private folder under tmp, read-only. A permission
// whose folder the package lacks gets an empty folder, so the plugin still
// loads and sees no files. It returns the host folders by mount path and,
// for reports, the package folder behind each ("" for an empty one). This
// is how vetting mounts a package's folders, and how workflows mount every
// plugin's.
func Mounts(tmp string, pkg *pkgfile.Package, m *manifest.Manifest) (host, shown map[string]string, err error) {
	perms, err := manifest.ParsePermissions(m.Permissions)
	if err != nil {
		return nil, nil, fmt.Errorf("the manifest's permissions do not parse: %w", err)
	}
	host = map[string]string{}
	shown = map[string]string{}
	for _, p := range perms {
		if p.Kind != hostapi.PermFSRead {
			continue
		}
		dir, err := os.MkdirTemp(tmp, "mount-")
		if err != nil {
			return nil, nil, fmt.Errorf("creating the folder for mount %s: %w", p.Scope, err)
		}
		folder := strings.Trim(p.Scope, "/")
		prefix := folder + "/"
		if folder == "" {
			prefix = ""
		}
		n := 0
		for _, e := range pkg.Files {
			rel, ok := strings.CutPrefix(e.Path, prefix)
			if !ok {
				continue
			}
			// Paths were validated by pkgfile: relative, no "..", no
			// links; so the join stays inside dir.
			dst := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return nil, nil, fmt.Errorf("copying %s for mount %s: %w", e.Path, p.Scope, err)
			}
			data, _ := pkg.File(e.Path)
			if err := os.WriteFile(dst, data, 0o400); err != nil {
				return nil, nil, fmt.Errorf("copying %s for mount %s: %w", e.Path, p.Scope, err)
			}
			n++
		}
		host[p.Scope] = dir
		if n > 0 {
			shown[p.Scope] = folder
		} else {
			shown[p.Scope] = ""
		}
	}
	if len(host) == 0 {
		return nil, nil, nil
	}
	return host, shown, nil
}
