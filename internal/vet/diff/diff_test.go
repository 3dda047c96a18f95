package diff

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

const i32, i64 = 0x7f, 0x7e

func man(version string, perms ...string) []byte {
	p, _ := json.Marshal(append([]string{}, perms...))
	return []byte(`{"manifestVersion":1,"id":"acme/t","version":"` + version + `","name":"T","owners":[{"name":"A"}],"license":"MIT",
"runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},
"permissions":` + string(p) + `}`)
}

func version(t *testing.T, m []byte, mod []byte, extra map[string]string) (*vet.Input, *manifest.Manifest) {
	t.Helper()
	files := map[string][]byte{"manifest.json": m, "plugin.wasm": mod}
	for k, v := range extra {
		files[k] = []byte(v)
	}
	parsed, err := manifest.Parse(m, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &vet.Input{Package: plugintest.Package(t, files), Manifest: parsed, Module: mod}, parsed
}

func TestDiff(t *testing.T) {
	t.Parallel()
	fetch := plugintest.Import{Module: "gatehouse_v1", Name: "http_fetch", Params: []byte{i32, i32}, Results: []byte{i64}}
	kvSet := plugintest.Import{Module: "gatehouse_v1", Name: "kv_set", Params: []byte{i32, i32, i32, i32}, Results: []byte{i32}}
	oldMod := plugintest.Module([]plugintest.Import{fetch}, []string{"run"}, 2, -1, []byte("https://api.example.com/v1"))
	newMod := plugintest.Module([]plugintest.Import{fetch, kvSet}, []string{"run", "extra"}, 2, -1,
		[]byte("https://api.example.com/v1https://cdn.example.net/x"+strings.Repeat(".", 400)))

	prevIn, prevMan := version(t, man("1.0.0", "net:HTTPS://API.example.com", "secret:TOKEN"), oldMod,
		map[string]string{"README.md": "v1\n", "old.txt": "bye\n", "same.txt": "same\n"})
	in, _ := version(t, man("1.1.0", "net:https://api.example.com", "kv:write"), newMod,
		map[string]string{"README.md": "v2\n", "new.txt": "hi\n", "same.txt": "same\n"})
	in.Previous = &vet.Previous{Version: "1.0.0", Package: prevIn.Package, Manifest: prevMan, Module: oldMod}

	rep, err := New().Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Detail.(*Detail)
	check := func(name string, got Change, added, removed string) {
		t.Helper()
		if strings.Join(got.Added, ",") != added || strings.Join(got.Removed, ",") != removed {
			t.Errorf("%s: %+v, want added %q removed %q", name, got, added, removed)
		}
	}
	check("permissions", d.Permissions, "kv:write", "secret:TOKEN")
	check("imports", d.Imports, "gatehouse_v1.kv_set", "")
	check("exports", d.Exports, "extra", "")
	check("origins", d.Origins, "https://cdn.example.net", "")
	if strings.Join(d.Files.Added, ",") != "new.txt" || strings.Join(d.Files.Removed, ",") != "old.txt" ||
		strings.Join(d.Files.Changed, ",") != "README.md,manifest.json,plugin.wasm" || d.Files.Unchanged != 1 {
		t.Errorf("files %+v", d.Files)
	}
	if d.Module.ChangePercent <= 0 || d.Module.PreviousBytes != int64(len(oldMod)) {
		t.Errorf("module %+v", d.Module)
	}

	sev := map[string]vet.Severity{}
	for _, f := range rep.Findings {
		sev[f.RuleID] = f.Severity
	}
	want := map[string]vet.Severity{
		RulePermissionAdded: vet.Low, RulePermissionRemoved: vet.Info, RuleImportAdded: vet.Low,
		RuleOriginAdded: vet.Low, RuleFilesChanged: vet.Info, RuleModuleSize: vet.Info,
	}
	for id, s := range want {
		if sev[id] != s {
			t.Errorf("%s: severity %q, want %q", id, sev[id], s)
		}
	}
	for _, f := range rep.Findings {
		if f.RuleID == RulePermissionAdded && (f.Location.File != "manifest.json" || f.Location.Line != 3) {
			t.Errorf("permission finding at %+v", f.Location)
		}
	}
	// The Detail's documented shape: lists are never null.
	b, _ := json.Marshal(d)
	if strings.Contains(string(b), "null") {
		t.Errorf("detail has null lists: %s", b)
	}
}

func TestFirstVersionSkipped(t *testing.T) {
	t.Parallel()
	in, _ := version(t, man("1.0.0"), plugintest.Module(nil, []string{"run"}, 1, 1, nil), nil)
	_, err := New().Analyze(context.Background(), in)
	if err == nil || !strings.HasPrefix(err.Error(), "first version") {
		t.Errorf("err = %v", err)
	}
	res := vet.Run(context.Background(), []vet.Analyzer{New()}, in, vet.Config{}, nil)[0]
	if res.Status != vet.Skipped || !strings.HasPrefix(res.Reason, "first version") || res.Blocking {
		t.Errorf("result %+v", res)
	}
}
