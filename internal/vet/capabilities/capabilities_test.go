package capabilities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

const i32, i64 = 0x7f, 0x7e

func manifestJSON(perms []string, exports []string, limits string) []byte {
	if perms == nil {
		perms = []string{}
	}
	p, _ := json.Marshal(perms)
	e, _ := json.Marshal(exports)
	if limits != "" {
		limits = `,"limits":` + limits
	}
	return fmt.Appendf(nil, `{
  "manifestVersion": 1,
  "id": "acme/test",
  "version": "1.0.0",
  "name": "Test",
  "owners": [{"name": "Acme"}],
  "license": "MIT",
  "runtime": {"module": "plugin.wasm", "exports": %s, "hostApi": "^1.0.0"},
  "permissions": %s%s
}
`, e, p, limits)
}

func input(t *testing.T, mod, man []byte, extra map[string][]byte) *vet.Input {
	t.Helper()
	files := map[string][]byte{"manifest.json": man, "plugin.wasm": mod}
	for k, v := range extra {
		files[k] = v
	}
	pkg := plugintest.Package(t, files)
	m, err := manifest.Parse(man, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &vet.Input{Package: pkg, Manifest: m, Module: mod}
}

func analyze(t *testing.T, in *vet.Input) (*vet.Report, *Detail) {
	t.Helper()
	rep, err := New().Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := rep.Detail.(*Detail)
	return rep, d
}

func byRule(fs []vet.Finding) map[string][]vet.Finding {
	m := map[string][]vet.Finding{}
	for _, f := range fs {
		m[f.RuleID] = append(m[f.RuleID], f)
	}
	return m
}

func TestImportsAndExports(t *testing.T) {
	t.Parallel()
	mod := plugintest.Module([]plugintest.Import{
		{Module: "gatehouse_v1", Name: "input_size", Results: []byte{i32}},
		{Module: "gatehouse_v1", Name: "kv_get", Params: []byte{i32, i32}, Results: []byte{i64}},
		{Module: "gatehouse_v1", Name: "http_fetch", Params: []byte{i32, i32}, Results: []byte{i32}}, // wrong result type
		{Module: "gatehouse_v1", Name: "teleport", Params: []byte{i32}},
		{Module: "wasi_snapshot_preview1", Name: "fd_write", Params: []byte{i32, i32, i32, i32}, Results: []byte{i32}},
		{Module: "wasi_snapshot_preview1", Name: "sock_open", Params: []byte{i32, i32, i32}, Results: []byte{i32}},
		{Module: "wasi_snapshot_preview1", Name: "sock_accept", Params: []byte{i32, i32, i32}, Results: []byte{i32}},
		{Module: "wasi_snapshot_preview1", Name: "proc_raise", Params: []byte{i32}, Results: []byte{i32}},
		{Module: "env", Name: "abort"},
	}, []string{"run"}, 2, 16, []byte("calls https://api.example.com/x"))
	man := manifestJSON([]string{"net:https://api.example.com", "secret:TOKEN"}, []string{"run", "stop"}, `{"memoryMiB": 1}`)
	rep, d := analyze(t, input(t, mod, man, nil))
	rules := byRule(rep.Findings)

	u := rules[RuleUndeclaredImport]
	if len(u) != 1 || u[0].Properties["import"] != "kv_get" || u[0].Location.File != "plugin.wasm" || u[0].Location.Offset <= 8 {
		t.Errorf("undeclared import: %+v", u)
	}
	if f := rules[RuleSignatureMismatch]; len(f) != 1 || !strings.Contains(f[0].Message, "http_fetch") || !strings.Contains(f[0].Message, "(i32, i32) -> (i64)") {
		t.Errorf("signature mismatch: %+v", f)
	}
	if f := rules[RuleUnknownHostFunc]; len(f) != 1 || f[0].Properties["name"] != "teleport" {
		t.Errorf("unknown host function: %+v", f)
	}
	sock := rules[RuleWASISocket]
	if len(sock) != 2 || sock[0].Severity != vet.Critical || sock[1].Severity != vet.Low {
		t.Errorf("sockets: %+v", sock)
	}
	if f := rules[RuleWASINotAllowed]; len(f) != 1 || f[0].Properties["name"] != "proc_raise" {
		t.Errorf("WASI not allowed: %+v", f)
	}
	if f := rules[RuleUnknownImport]; len(f) != 1 || f[0].Properties["module"] != "env" {
		t.Errorf("unknown import module: %+v", f)
	}
	if f := rules[RuleMissingExport]; len(f) != 1 || f[0].Properties["export"] != "stop" || f[0].Location != (vet.Location{File: "manifest.json", Line: 8, Column: 0}) && f[0].Location.Line != 8 {
		t.Errorf("missing export: %+v", f)
	}
	if f := rules[RuleUnusedPermission]; len(f) != 1 || f[0].Properties["permission"] != "secret:TOKEN" || f[0].Location.Line != 9 {
		t.Errorf("unused permission: %+v", f)
	}
	// 16 pages is 1 MiB: within the limit, so no memory finding.
	if f := rules[RuleMemoryLimit]; len(f) != 0 {
		t.Errorf("memory: %+v", f)
	}
	if f := rules[RuleUndeclaredOrigin]; len(f) != 0 {
		t.Errorf("the declared origin was reported: %+v", f)
	}
	if d.Memory == nil || d.Memory.InitialPages != 2 || d.Memory.MaxPages != 16 || len(d.Imports) != 9 || len(d.Origins) != 1 || !d.Origins[0].Covered {
		t.Errorf("detail %+v", d)
	}
	// Offsets point at distinct import entries, in order.
	if d.Imports[0].Offset >= d.Imports[1].Offset {
		t.Errorf("import offsets %d, %d", d.Imports[0].Offset, d.Imports[1].Offset)
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		min    uint32
		max    int64
		limits string
		sev    vet.Severity
	}{
		{2, -1, "", vet.Low},                     // nothing bounds memory
		{2, -1, `{"memoryMiB": 4}`, ""},          // the manifest bounds it
		{2, 1024, `{"memoryMiB": 4}`, vet.Low},   // may grow past the limit
		{128, 256, `{"memoryMiB": 4}`, vet.High}, // cannot start
		{2, 32, "", ""},                          // the module bounds it
	} {
		mod := plugintest.Module(nil, []string{"run"}, c.min, c.max, nil)
		rep, _ := analyze(t, input(t, mod, manifestJSON(nil, []string{"run"}, c.limits), nil))
		f := byRule(rep.Findings)[RuleMemoryLimit]
		switch {
		case c.sev == "" && len(f) > 0:
			t.Errorf("min %d max %d limits %s: unexpected %+v", c.min, c.max, c.limits, f)
		case c.sev != "" && (len(f) != 1 || f[0].Severity != c.sev):
			t.Errorf("min %d max %d limits %s: %+v, want one %s finding", c.min, c.max, c.limits, f, c.sev)
		}
	}
}

func TestOriginsInFiles(t *testing.T) {
	t.Parallel()
	mod := plugintest.Module([]plugintest.Import{{Module: "gatehouse_v1", Name: "http_fetch", Params: []byte{i32, i32}, Results: []byte{i64}}},
		[]string{"run"}, 2, 16, []byte("https://api.example.comhttps://tracker.example.net/collectsee https://go.dev/issue/1"))
	man := manifestJSON([]string{"net:https://api.example.com"}, []string{"run"}, "")
	extra := map[string][]byte{
		"config/endpoints.yaml": []byte("primary: https://api.example.com\nbackup:\n  url: https://backup.example.org:8443/v2\n"),
		"README.md":             []byte("# Test\n\nSee https://docs.example.net for help.\n"),
		"src/main.go":           []byte("package main\n\nconst u = \"https://backup.example.org:8443\"\n"),
		"image.bin":             []byte("\x00\x01https://hidden.example.com"),
		"LICENSE":               []byte("See http://www.apache.org/licenses/\n"),
	}
	rep, _ := analyze(t, input(t, mod, man, extra))
	var got []string
	// The module's data first, then the files in path order.
	for _, f := range byRule(rep.Findings)[RuleUndeclaredOrigin] {
		l := f.Location
		got = append(got, fmt.Sprintf("%s %s:%d:%d+%d %s", f.Properties["origin"], l.File, l.Line, l.Column, l.Offset, f.Severity))
	}
	want := []string{
		"https://tracker.example.net plugin.wasm:0:0+" + fmt.Sprint(len(mod)-len("https://api.example.comhttps://tracker.example.net/collectsee https://go.dev/issue/1")+len("https://api.example.com")) + " medium",
		"https://docs.example.net README.md:3:5+0 info",
		"https://backup.example.org:8443 config/endpoints.yaml:3:8+0 medium",
		"https://backup.example.org:8443 src/main.go:3:12+0 medium",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("origin findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMalformedModule(t *testing.T) {
	t.Parallel()
	mod := plugintest.Module(nil, []string{"run"}, 2, 16, nil)
	mod = mod[:len(mod)-3]
	rep, _ := analyze(t, input(t, mod, manifestJSON(nil, []string{"run"}, ""), nil))
	if len(rep.Findings) != 1 || rep.Findings[0].RuleID != RuleMalformedModule || rep.Findings[0].Severity != vet.Critical || rep.Findings[0].Location.Offset == 0 {
		t.Errorf("findings %+v", rep.Findings)
	}
}

func TestErrorsWithoutManifestOrModule(t *testing.T) {
	t.Parallel()
	_, err := New().Analyze(context.Background(), &vet.Input{})
	if err == nil || errors.Is(err, vet.ErrSkipped) || !strings.Contains(err.Error(), "manifest did not parse") {
		t.Errorf("nil manifest: %v", err)
	}
	in := input(t, plugintest.Module(nil, []string{"run"}, 1, 1, nil), manifestJSON(nil, []string{"run"}, ""), nil)
	in.Module = nil
	if _, err := New().Analyze(context.Background(), in); err == nil || !strings.Contains(err.Error(), "plugin.wasm") {
		t.Errorf("no module: %v", err)
	}
}

// TestGoPlugin runs the analyzer on the clean plugin built from Go: the
// Go runtime's own imports and strings must not produce a finding.
func TestGoPlugin(t *testing.T) {
	t.Parallel()
	mod := plugintest.Build(t, "clean")
	man := plugintest.Source(t, "clean", "manifest.json")
	rep, d := analyze(t, input(t, mod, man, nil))
	for _, f := range rep.Findings {
		t.Errorf("finding on the clean plugin: %s %s: %s", f.Severity, f.RuleID, f.Message)
	}
	if !strings.Contains(strings.Join(d.PermissionsUsed, ","), "net") || d.Memory == nil || d.Memory.InitialPages == 0 {
		t.Errorf("detail %+v", d)
	}
}
