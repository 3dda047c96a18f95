package licenses

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func manifestWith(license string) []byte {
	return []byte(`{"manifestVersion":1,"id":"acme/t","version":"1.0.0","name":"T","owners":[{"name":"A"}],
"license":"` + license + `","runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":[]}`)
}

func run(t *testing.T, a *Analyzer, license string, files map[string][]byte) (*vet.Report, *Detail) {
	t.Helper()
	man := manifestWith(license)
	all := map[string][]byte{"manifest.json": man, "plugin.wasm": plugintest.Module(nil, []string{"run"}, 1, 1, nil)}
	for k, v := range files {
		all[k] = v
	}
	m, err := manifest.Parse(man, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Analyze(context.Background(), &vet.Input{Package: plugintest.Package(t, all), Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	return rep, rep.Detail.(*Detail)
}

func rulesOf(fs []vet.Finding) string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID+"@"+f.Location.File)
	}
	return strings.Join(ids, " ")
}

func TestLicenses(t *testing.T) {
	t.Parallel()
	mit := read(t, "../testdata/plugins/clean/LICENSE")
	apache := read(t, "../testdata/licenses/apache-2.0.txt")
	goHeader := []byte("// Copyright 2026 Acme\n// SPDX-License-Identifier: Apache-2.0\n\npackage main\n")
	for _, c := range []struct {
		name, license string
		policy        Policy
		files         map[string][]byte
		want          string
	}{
		{"match", "MIT", Policy{}, map[string][]byte{"LICENSE": mit}, ""},
		{"mismatch", "MIT", Policy{}, map[string][]byte{"LICENSE": apache}, "licenses/mismatch@LICENSE"},
		{"dual", "MIT OR Apache-2.0", Policy{}, map[string][]byte{"LICENSE-MIT": mit, "LICENSE-APACHE": apache}, ""},
		{"header", "MIT", Policy{}, map[string][]byte{"LICENSE": mit, "src/main.go": goHeader}, "licenses/mismatch@src/main.go"},
		{"no file", "MIT", Policy{}, nil, "licenses/missing-file@manifest.json"},
		{"unrecognized", "MIT", Policy{}, map[string][]byte{"LICENSE": []byte("All rights reserved. Ask us first.\n")}, "licenses/unrecognized-file@LICENSE"},
		{"denied", "GPL-3.0-only", Policy{Denied: []string{"GPL-3.0-only"}}, map[string][]byte{"LICENSE": mit}, "licenses/mismatch@LICENSE licenses/denied@manifest.json"},
		{"denied alternative", "MIT OR GPL-3.0-only", Policy{Denied: []string{"GPL-3.0-only"}}, map[string][]byte{"LICENSE": mit}, ""},
		{"not allowed", "MPL-2.0", Policy{Allowed: []string{"MIT", "Apache-2.0"}}, nil, "licenses/missing-file@manifest.json licenses/not-allowed@manifest.json"},
		{"allowed", "Apache-2.0", Policy{Allowed: []string{"MIT", "Apache-2.0"}}, map[string][]byte{"LICENSE": apache}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rep, _ := run(t, New(c.policy), c.license, c.files)
			if got := rulesOf(rep.Findings); got != c.want {
				t.Errorf("findings %q, want %q", got, c.want)
				for _, f := range rep.Findings {
					t.Log(f.Message)
				}
			}
		})
	}
}

func TestMismatchNamesBoth(t *testing.T) {
	t.Parallel()
	rep, d := run(t, New(Policy{}), "MIT", map[string][]byte{"LICENSE": read(t, "../testdata/licenses/apache-2.0.txt")})
	f := rep.Findings[0]
	if !strings.Contains(f.Message, "Apache-2.0") || !strings.Contains(f.Message, "MIT") || f.Location.Line < 1 {
		t.Errorf("finding %+v", f)
	}
	if len(d.Files) != 1 || d.Files[0].Licenses[0] != "Apache-2.0" || d.Files[0].Coverage < 90 {
		t.Errorf("detail %+v", d)
	}
}

// TestVendoredDependencyLicenses: a dependency carried in vendor/ is under
// its own licence, which is listed, never a mismatch with the plugin's,
// and refused only by the deny list.
func TestVendoredDependencyLicenses(t *testing.T) {
	t.Parallel()
	mit := read(t, "../testdata/plugins/clean/LICENSE")
	apache := read(t, "../testdata/licenses/apache-2.0.txt")
	files := map[string][]byte{
		"LICENSE":                            mit,
		"vendor/example.org/dep/LICENSE":     apache,
		"vendor/example.org/dep/dep.go":      []byte("// SPDX-License-Identifier: Apache-2.0\n\npackage dep\n"),
		"vendor/example.org/odd/LICENSE.txt": []byte("You may do as you please, says Bob.\n"),
	}
	rep, d := run(t, New(Policy{}), "MIT", files)
	if got := rulesOf(rep.Findings); got != RuleUnrecognized+"@vendor/example.org/odd/LICENSE.txt" {
		t.Errorf("findings %s; want only the unrecognised vendored licence", got)
	}
	if len(d.Dependencies) != 2 || d.Dependencies[0].Module != "example.org/dep" || strings.Join(d.Dependencies[0].Licenses, ",") != "Apache-2.0" {
		t.Errorf("dependencies %+v; want example.org/dep under Apache-2.0 first", d.Dependencies)
	}
	for _, f := range d.Files {
		if strings.HasPrefix(f.File, "vendor/") {
			t.Errorf("a vendored file is counted as the plugin's own: %+v", f)
		}
	}

	rep, _ = run(t, New(Policy{Denied: []string{"Apache-2.0"}}), "MIT", files)
	var denied []vet.Finding
	for _, f := range rep.Findings {
		if f.RuleID == RuleDenied {
			denied = append(denied, f)
		}
	}
	if len(denied) != 1 || denied[0].Location.File != "vendor/example.org/dep/LICENSE" || !strings.Contains(denied[0].Message, "example.org/dep") {
		t.Errorf("denied findings %+v; want one naming the dependency", denied)
	}
}
