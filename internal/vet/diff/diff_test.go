package diff

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/origins"
	"gatehouse.dev/gatehouse/internal/wasmfile"
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

// TestOriginSetReusesOnlyEqualBytes guards the reuse of the first scan's
// hits when the previous version is scanned: the origins and where each was
// first seen are the same as a scan of everything, for an update that
// keeps, changes, adds and removes files and data segments; hits are taken
// over only for bytes equal to those scanned (a prior scan of other bytes
// under the same path or segment index is not used); and what is equal is
// indeed not scanned again.
func TestOriginSetReusesOnlyEqualBytes(t *testing.T) {
	t.Parallel()
	files := func(m map[string]string) *vet.Input {
		raw := map[string][]byte{"manifest.json": man("1.0.0", "net:https://declared.example.com")}
		for k, v := range m {
			raw[k] = []byte(v)
		}
		return &vet.Input{Package: plugintest.Package(t, raw)}
	}
	mod := func(segs ...string) *wasmfile.Module {
		m := &wasmfile.Module{}
		off := int64(100)
		for _, s := range segs {
			m.Data = append(m.Data, wasmfile.DataSegment{Offset: off, Data: []byte(s)})
			off += int64(len(s)) + 7
		}
		return m
	}
	cur := files(map[string]string{
		"same.txt":        "see https://same.example.org/a and\nhttps://also.example.org\n",
		"changed.txt":     "now https://new.example.org/\n",
		"added.txt":       "line\nhttps://added.example.org/x https://same.example.org/b\n",
		"vendor/x/doc.go": "// https://vendor.example.org/spec\n",
		"bin.dat":         "\x00\x01https://binary.example.org\x00",
		"LICENSE":         "https://license.example.org\n",
	})
	prev := files(map[string]string{
		"same.txt":        "see https://same.example.org/a and\nhttps://also.example.org\n",
		"changed.txt":     "was https://old.example.org/\n",
		"removed.txt":     "https://removed.example.org\n",
		"vendor/x/doc.go": "// https://vendor.example.org/spec\n",
		"bin.dat":         "\x00\x01https://binary.example.org\x00",
		"LICENSE":         "https://license.example.org\n",
	})
	curMod := mod("https://seg.example.org/kept", "https://seg-new.example.org", "no origin", "https://tail.example.org")
	prevMod := mod("https://seg.example.org/kept", "https://seg-old.example.org", "no origin")

	type set struct {
		list []string
		seen map[string]vet.Location
	}
	run := func(in *vet.Input, m *wasmfile.Module, prior *scanned) (set, *scanned) {
		l, s, sc := originSet(in.Package.Files, in.Package.File, "plugin.wasm", m, prior)
		return set{l, s}, sc
	}
	curAll, curScans := run(cur, curMod, nil)
	prevAll, _ := run(prev, prevMod, nil)
	prevReused, prevScans := run(prev, prevMod, curScans)
	if !reflect.DeepEqual(prevAll, prevReused) {
		t.Errorf("the previous version's origins with the first scan's hits reused:\n%+v\nwant, as scanned in full:\n%+v", prevReused, prevAll)
	}
	curReused, _ := run(cur, curMod, prevScans)
	if !reflect.DeepEqual(curAll, curReused) {
		t.Errorf("the current version's origins with hits reused:\n%+v\nwant:\n%+v", curReused, curAll)
	}
	if got := strings.Join(compare(prevReused.list, curAll.list).Added, ","); got != "https://added.example.org,https://new.example.org,https://seg-new.example.org,https://tail.example.org" {
		t.Errorf("origins added: %s", got)
	}
	if loc := curAll.seen["https://added.example.org"]; loc.File != "added.txt" || loc.Line != 2 || loc.Column != 1 {
		t.Errorf("https://added.example.org first seen at %+v, want added.txt line 2 column 1", loc)
	}
	if loc := curAll.seen["https://tail.example.org"]; loc.File != "plugin.wasm" || loc.Offset == 0 {
		t.Errorf("https://tail.example.org first seen at %+v, want an offset in plugin.wasm", loc)
	}

	// What was equal was taken over, not scanned again.
	if p, c := prevScans.files["same.txt"].hits, curScans.files["same.txt"].hits; len(p) == 0 || &p[0] != &c[0] {
		t.Error("same.txt was scanned again though its bytes are unchanged")
	}
	if p, c := prevScans.segHits[0], curScans.segHits[0]; len(p) == 0 || &p[0] != &c[0] {
		t.Error("the unchanged data segment was scanned again")
	}

	// A prior scan of other bytes under the same names is not used.
	lie := origins.Scan([]byte("https://lie.example.org"))
	lying := &scanned{files: map[string]scannedFile{}, segHits: map[int][]origins.Hit{}}
	for path := range curScans.files {
		lying.files[path] = scannedFile{data: []byte("other bytes"), text: true, hits: lie}
	}
	for i := range curScans.segments {
		lying.segments = append(lying.segments, wasmfile.DataSegment{Data: []byte("other bytes")})
		lying.segHits[i] = lie
	}
	if got, _ := run(prev, prevMod, lying); !reflect.DeepEqual(got, prevAll) {
		t.Errorf("hits of other bytes were used:\n%+v\nwant:\n%+v", got, prevAll)
	}
}
