package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
)

// maxModuleBytes bounds the module read for the host API check: the
// package limit.
const maxModuleBytes = 100 << 20

// ErrSunset is wrapped when the host's policy refuses a plugin because
// the host API version it needs has passed its sunset date.
var ErrSunset = errors.New("host API sunset passed")

// checkHostAPI checks the module's imports and the granted permissions
// against the published host API versions (issue 19 item 6): what the
// host's version marks deprecated, and what a version replacing it lacks
// or deprecates, are warnings; once the host's version has passed its
// sunset, a plugin broken under its replacement is refused when the
// policy says so.
func checkHostAPI(pkg []byte, subject string, granted []string, opts Options, now time.Time) ([]string, error) {
	if len(opts.HostAPIs) == 0 {
		return nil, nil
	}
	current := hostapi.Version
	rule := opts.Policy.HostAPI
	if rule != nil && rule.Version != "" {
		current = rule.Version
	}
	imports, err := packageImports(pkg)
	if err != nil {
		return nil, err
	}
	var needs []string
	for _, p := range granted {
		needs = append(needs, hostapi.PermissionKind(p))
	}
	var warnings []string
	for _, p := range opts.HostAPIs {
		switch {
		case p.Spec.Version == current:
			st, us := p.Spec.Check(imports, needs)
			if st != hostapi.Compatible {
				warnings = append(warnings, fmt.Sprintf("%s under this host's API %s: %s: %s", subject, current, st, why(us, st)))
			}
		case p.Deprecates == current:
			st, us := p.Spec.Check(imports, needs)
			if st == hostapi.Compatible {
				continue
			}
			sunset := "no sunset date is set"
			if !p.Sunset.IsZero() {
				sunset = "it sunsets on " + p.Sunset.UTC().Format(time.DateOnly)
			}
			msg := fmt.Sprintf("%s: this host's API %s is deprecated by %s (%s), under which the plugin is %s: %s", subject, current, p.Spec.Version, sunset, st, why(us, st))
			if p.MigrationURL != "" {
				msg += "; migration notes: " + p.MigrationURL
			}
			if st == hostapi.Broken && rule != nil && rule.RefuseAfterSunset && !p.Sunset.IsZero() && !now.Before(p.Sunset) {
				return warnings, fmt.Errorf("%w: %s; the host policy refuses such plugins after the sunset (hostApi.refuseAfterSunset): install a version that works with %s", ErrSunset, msg, p.Spec.Version)
			}
			warnings = append(warnings, msg)
		}
	}
	return warnings, nil
}

func why(us []hostapi.Usage, status string) string {
	var out []string
	for _, u := range us {
		if u.Status == status && u.Why != "" {
			out = append(out, u.Why)
		}
	}
	return strings.Join(out, "; ")
}

// packageImports reads the module the manifest names out of an
// authenticated package and lists its imports.
func packageImports(pkg []byte) ([]hostapi.Import, error) {
	var module string
	files := map[string][]byte{}
	zr, err := gzip.NewReader(bytes.NewReader(pkg))
	if err != nil {
		return nil, fmt.Errorf("the package is not gzip-compressed: %w", err)
	}
	tr := tar.NewReader(zr)
	for range maxEntriesBefore {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the package: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(hdr.Name, ".wasm") && hdr.Name != manifestName {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxModuleBytes+1))
		if err != nil || len(data) > maxModuleBytes {
			return nil, fmt.Errorf("reading %s from the package failed or it is over %d bytes", hdr.Name, maxModuleBytes)
		}
		if hdr.Name == manifestName {
			var m struct {
				Runtime struct {
					Module string `json:"module"`
				} `json:"runtime"`
			}
			if err := json.Unmarshal(data, &m); err != nil || m.Runtime.Module == "" {
				return nil, errors.New("the manifest names no runtime.module")
			}
			module = m.Runtime.Module
			if b, ok := files[module]; ok {
				return hostapi.ModuleImports(b)
			}
			continue
		}
		if module != "" && hdr.Name == module {
			return hostapi.ModuleImports(data)
		}
		if module == "" && len(files) < 8 {
			files[hdr.Name] = data
		}
	}
	return nil, errors.New("the package holds no module the manifest names")
}
