package dataflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/capabilities"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

const i32, i64 = 0x7f, 0x7e

var (
	fetch   = plugintest.Import{Module: "gatehouse_v1", Name: "http_fetch", Params: []byte{i32, i32}, Results: []byte{i64}}
	dataGet = plugintest.Import{Module: "gatehouse_v1", Name: "data_read", Params: []byte{i32, i32}, Results: []byte{i64}}
	secret  = plugintest.Import{Module: "gatehouse_v1", Name: "secret_get", Params: []byte{i32, i32}, Results: []byte{i64}}
)

func manifestJSON(perms []string, data string) []byte {
	p, _ := json.Marshal(perms)
	if data != "" {
		data = `,
  "data": ` + data
	}
	return fmt.Appendf(nil, `{
  "manifestVersion": 1,
  "id": "acme/crm",
  "version": "1.0.0",
  "name": "CRM sync",
  "owners": [{"name": "Acme"}],
  "license": "MIT",
  "runtime": {"module": "plugin.wasm", "exports": ["run"], "hostApi": "^1.0.0"},
  "permissions": %s%s
}
`, p, data)
}

// vetted runs the capabilities and dataflow analyzers over a real
// (hand-assembled) module, as the vetting pipeline does.
func vetted(t *testing.T, imports []plugintest.Import, moduleData string, man []byte) (vet.Result, *Detail) {
	t.Helper()
	mod := plugintest.Module(imports, []string{"run"}, 1, 2, []byte(moduleData))
	pkg := plugintest.Package(t, map[string][]byte{"manifest.json": man, "plugin.wasm": mod})
	m, err := manifest.Parse(man, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	results := vet.Run(context.Background(), []vet.Analyzer{capabilities.New(), New()}, &vet.Input{Package: pkg, Manifest: m, Module: mod}, vet.Config{}, nil)
	for _, r := range results {
		if r.Analyzer != Name {
			continue
		}
		if r.Status == vet.Errored || r.Status == vet.Skipped {
			t.Fatalf("dataflow %s: %s", r.Status, r.Reason)
		}
		d, err := FromResults(results)
		if err != nil {
			t.Fatal(err)
		}
		return r, d
	}
	t.Fatal("no dataflow result")
	return vet.Result{}, nil
}

func ruleIDs(r vet.Result) []string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.RuleID)
	}
	slices.Sort(ids)
	return ids
}

func flowIDs(d *Detail) []string {
	var ids []string
	for _, f := range d.Flows {
		ids = append(ids, f.ID)
	}
	return ids
}

// TestNoPersonalDataButContactsScope is the proof: a manifest
// that says the plugin touches no user data while asking for a contacts
// scope is blocked by a finding naming both places.
func TestNoPersonalDataButContactsScope(t *testing.T) {
	for name, data := range map[string]string{
		"no data section":  "",
		"empty categories": `{"categories": [], "purpose": "none", "retention": "none", "leavesPlatform": false}`,
	} {
		t.Run(name, func(t *testing.T) {
			res, d := vetted(t, []plugintest.Import{dataGet}, "", manifestJSON([]string{"data:read:contacts"}, data))
			if !res.Blocking || res.Status != vet.Failed {
				t.Fatalf("the result does not block: %+v", res)
			}
			var f *vet.Finding
			for i := range res.Findings {
				if res.Findings[i].RuleID == RuleUndeclaredCategory {
					f = &res.Findings[i]
				}
			}
			if f == nil {
				t.Fatalf("no %s finding: %v", RuleUndeclaredCategory, ruleIDs(res))
			}
			if f.Severity != vet.High || f.Location.File != "manifest.json" || f.Location.Line == 0 {
				t.Errorf("finding %+v", f)
			}
			for _, w := range []string{"/permissions/0", "data:read:contacts", "touches no user data"} {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message %q does not say %q", f.Message, w)
				}
			}
			if !slices.Contains(flowIDs(d), "contacts>platform") {
				t.Errorf("flows %v lack contacts>platform", flowIDs(d))
			}
		})
	}
}

func TestFlows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		imports []plugintest.Import
		data    string // module data
		perms   []string
		section string
		flows   []string
		rules   []string
	}{
		{
			name: "declared categories go to the platform and every origin", imports: []plugintest.Import{fetch, dataGet},
			data: "https://crm.example.com/v1", perms: []string{"net:https://crm.example.com", "data:read:contacts.emails"},
			section: `{"categories": ["contacts"], "purpose": "sync", "retention": "P30D", "leavesPlatform": true}`,
			flows:   []string{"contacts>platform", "contacts>https://crm.example.com"},
		},
		{
			name: "data that stays has only the platform flow", imports: []plugintest.Import{dataGet},
			perms:   []string{"data:read:contacts"},
			section: `{"categories": ["contacts"], "purpose": "fill templates", "retention": "none", "leavesPlatform": false}`,
			flows:   []string{"contacts>platform"},
		},
		{
			name: "explicit flows, one destination the module never names", imports: []plugintest.Import{fetch, dataGet},
			data: "https://crm.example.com/v1", perms: []string{"net:https://crm.example.com", "net:https://shop.example.com", "data:read:contacts", "data:read:orders"},
			section: `{"categories": ["contacts", "orders"], "purpose": "sync", "retention": "P30D", "leavesPlatform": true,
			  "flows": [{"category": "contacts", "destination": "https://crm.example.com"}, {"category": "orders", "destination": "https://shop.example.com", "purpose": "order sync", "retention": "P90D"}]}`,
			flows: []string{"contacts>https://crm.example.com", "orders>https://shop.example.com"},
			rules: []string{RuleDestinationNotNamed},
		},
		{
			name: "explicit flows, an origin the module names that no flow declares", imports: []plugintest.Import{fetch, dataGet},
			data: "https://crm.example.com/v1https://stats.example.net/", perms: []string{"net:https://crm.example.com", "net:https://stats.example.net", "data:read:contacts"},
			section: `{"categories": ["contacts"], "purpose": "sync", "retention": "P30D", "leavesPlatform": true,
			  "flows": [{"category": "contacts", "destination": "https://crm.example.com"}]}`,
			flows: []string{"contacts>https://crm.example.com"},
			rules: []string{RuleUndeclaredDestination},
		},
		{
			name: "a retention that is not an ISO 8601 duration", imports: []plugintest.Import{dataGet},
			perms:   []string{"data:read:contacts"},
			section: `{"categories": ["contacts"], "purpose": "x", "retention": "P1000000000D", "leavesPlatform": false}`,
			flows:   []string{"contacts>platform"},
			rules:   []string{RuleInvalidRetention},
		},
		{
			name: "a secret asked for and not declared, and one declared and never asked for", imports: []plugintest.Import{secret},
			data: "SLACK_TOKENcontent-type", perms: []string{"secret:GITHUB_TOKEN"},
			rules: []string{RuleSecretNeverRequested, RuleSecretNotDeclared},
		},
		{
			name: "a secret declared and asked for", imports: []plugintest.Import{secret},
			data: "xSLACK_TOKEN", perms: []string{"secret:SLACK_TOKEN"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, d := vetted(t, tc.imports, tc.data, manifestJSON(tc.perms, tc.section))
			var got []string
			for _, r := range ruleIDs(res) {
				if strings.HasPrefix(r, Name+"/") {
					got = append(got, r)
				}
			}
			if !slices.Equal(got, tc.rules) {
				for _, f := range res.Findings {
					t.Log(f.RuleID, f.Message)
				}
				t.Errorf("rules %v, want %v", got, tc.rules)
			}
			if tc.flows != nil && !slices.Equal(flowIDs(d), tc.flows) {
				t.Errorf("flows %v, want %v", flowIDs(d), tc.flows)
			}
			for _, f := range res.Findings {
				if f.Location.File == "" || (f.Location.Line == 0 && f.Location.Offset == 0) {
					t.Errorf("finding %s has no location: %+v", f.RuleID, f.Location)
				}
			}
		})
	}
}

func TestFlowEvidenceAndPermissions(t *testing.T) {
	_, d := vetted(t, []plugintest.Import{fetch, dataGet}, "https://crm.example.com/v1",
		manifestJSON([]string{"net:https://crm.example.com", "data:read:contacts"}, `{"categories": ["contacts"], "purpose": "sync", "retention": "P30D", "leavesPlatform": true}`))
	var f Flow
	for _, x := range d.Flows {
		if x.ID == "contacts>https://crm.example.com" {
			f = x
		}
	}
	if !slices.Equal(f.Permissions, []string{"data:read:contacts", "net:https://crm.example.com"}) {
		t.Errorf("permissions %v", f.Permissions)
	}
	if f.RetentionDays != 30 || f.Purpose != "sync" || !f.Named || !f.Declared {
		t.Errorf("flow %+v", f)
	}
	sources := map[string]bool{}
	for _, e := range f.Evidence {
		sources[e.Source] = true
		if e.File == "" || e.Detail == "" {
			t.Errorf("evidence without a place: %+v", e)
		}
	}
	if !sources["manifest"] || !sources["module"] {
		t.Errorf("evidence %+v lacks the manifest or the module", f.Evidence)
	}
}
