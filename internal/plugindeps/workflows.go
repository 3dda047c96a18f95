package plugindeps

import (
	"fmt"
	"path"
	"slices"

	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/sandbox/scenario"
)

// MaxWorkflowFiles bounds the workflow files one package may hold.
const MaxWorkflowFiles = 64

// WorkflowFiles returns the paths of the package's workflow files
// (tests/workflows/*.json), sorted.
func WorkflowFiles(pkg *pkgfile.Package) ([]string, error) {
	var out []string
	for _, e := range pkg.Files {
		if ok, _ := path.Match(scenario.WorkflowDir+"/*.json", e.Path); ok {
			out = append(out, e.Path)
		}
	}
	if len(out) > MaxWorkflowFiles {
		return nil, fmt.Errorf("the package has %d workflow files; the limit is %d", len(out), MaxWorkflowFiles)
	}
	slices.Sort(out)
	return out, nil
}

// CheckPlugins says what is wrong with a workflow's plugins: it must call
// the plugin under test, and nothing but it and the plugins available (its
// resolved dependencies).
func CheckPlugins(w scenario.Workflow, self string, available map[string]sandbox.LoadRequest) error {
	calls := false
	for i, s := range w.Steps {
		if s.Plugin == self {
			calls = true
			continue
		}
		if _, ok := available[s.Plugin]; !ok {
			return fmt.Errorf("step %d calls %s, which is not among %s's dependencies: declare it in the manifest's \"dependencies\" with a range, such as {\"id\": %q, \"range\": \"^1.0.0\"}", i+1, s.Plugin, self, s.Plugin)
		}
	}
	if !calls {
		return fmt.Errorf("no step calls %s, the plugin under test: a workflow tests how it works with its dependencies", self)
	}
	return nil
}

// Requests builds the load request of each plugin a workflow may call: the
// plugin under test and its resolved dependencies, each with its
// package's module and, under tmp, the folders its fs:read permissions
// mount. A plugin's base request, when given, keeps its grants (a
// verified install grants only what the certificate does).
func Requests(tmp string, plugins []Plugin, base map[string]sandbox.LoadRequest) (map[string]sandbox.LoadRequest, error) {
	out := make(map[string]sandbox.LoadRequest, len(plugins))
	for _, p := range plugins {
		req := base[p.ID]
		req.Manifest = p.Manifest
		mod, ok := p.Package.File(p.Manifest.Runtime.Module)
		if !ok {
			return nil, fmt.Errorf("%s@%s: the package holds no module %s", p.ID, p.Version, p.Manifest.Runtime.Module)
		}
		req.Module = mod
		mounts, _, err := Mounts(tmp, p.Package, p.Manifest)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", p.ID, p.Version, err)
		}
		req.Mounts = mounts
		out[p.ID] = req
	}
	return out, nil
}
