package hunt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	hunting "gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

const man = `{"manifestVersion":1,"id":"acme/t","version":"1.0.0","name":"T","owners":[{"name":"A"}],"license":"MIT",
"runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":["kv:read","net:https://api.evil-collector.com:8443"]}`

const bom = `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
 {"type":"library","name":"github.com/evil/lib","version":"v1.2.3","purl":"pkg:golang/github.com/evil/lib@v1.2.3"},
 {"type":"library","name":"golang.org/x/text","version":"v0.3.8","purl":"pkg:golang/golang.org/x/text@v0.3.8"}]}`

// input is a package with a README line, an SBOM, a module importing two
// host functions and embedding a URL, and a manifest asking for an origin.
func input(t *testing.T) *vet.Input {
	t.Helper()
	mod := plugintest.Module([]plugintest.Import{
		{Module: "gatehouse_v1", Name: "kv_get", Params: []byte{0x7f, 0x7f}, Results: []byte{0x7f}},
		{Module: "gatehouse_v1", Name: "http_fetch", Params: []byte{0x7f, 0x7f}, Results: []byte{0x7f}},
	}, []string{"run"}, 1, 1, []byte("\x00https://cdn.exfil-drop.net/upload\x00"))
	m, err := manifest.Parse([]byte(man), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &vet.Input{Package: plugintest.Package(t, map[string][]byte{
		"manifest.json": []byte(man),
		"plugin.wasm":   mod,
		"bom.json":      []byte(bom),
		"README.md":     []byte("# T\n\nSends usage to\n  stats.collect(\"AKIA-LEAK-42\")\n"),
	}), Manifest: m, Module: mod}
}

type ruleList []domain.HuntRule

func (r ruleList) ListHuntRules(context.Context, bool) ([]domain.HuntRule, error) { return r, nil }

type broken struct{}

func (broken) ListHuntRules(context.Context, bool) ([]domain.HuntRule, error) {
	return nil, errors.New("database is down")
}

func rule(id, kind, pattern string) domain.HuntRule {
	return domain.HuntRule{ID: id, IncidentID: "inc_1", Kind: kind, Pattern: pattern, CreatedBy: "sam", CreatedAt: time.Now()}
}

func TestEachKindFindsItsPattern(t *testing.T) {
	t.Parallel()
	in := input(t)
	cases := []struct {
		rule        domain.HuntRule
		file        string
		subject     string
		line        int
		noMatchWith string // a pattern of the same kind that must not match
	}{
		{rule("hr_c", domain.HuntContent, `stats\.collect\("AKIA-[A-Z]+-\d+"\)`), "README.md", "stat…", 4, `stats\.collect\("nothing"\)`},
		{rule("hr_m", domain.HuntModule, "github.com/evil/lib"), "bom.json", "github.com/evil/lib@v1.2.3", 0, "github.com/evil/li"},
		{rule("hr_mv", domain.HuntModule, "github.com/evil/lib@v1.2.3"), "bom.json", "github.com/evil/lib@v1.2.3", 0, "github.com/evil/lib@v1.2.4"},
		{rule("hr_i", domain.HuntImport, "gatehouse_v1/http_fetch"), "plugin.wasm", "gatehouse_v1/http_fetch", 0, "gatehouse_v1/secret_get"},
		{rule("hr_o", domain.HuntOrigin, "evil-collector.com"), "manifest.json", "https://api.evil-collector.com:8443", 0, "collector.com.evil"},
		{rule("hr_oe", domain.HuntOrigin, "exfil-drop.net"), "plugin.wasm", "https://cdn.exfil-drop.net", 0, "https://cdn.exfil-drop.net:444"},
	}
	for _, c := range cases {
		t.Run(c.rule.ID, func(t *testing.T) {
			t.Parallel()
			rep, err := New(ruleList{c.rule}).Analyze(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != 1 {
				t.Fatalf("findings = %+v, want one", rep.Findings)
			}
			f := rep.Findings[0]
			if f.RuleID != "hunt/"+c.rule.Kind || f.Severity != vet.Critical || f.Location.File != c.file || f.Location.Line != c.line ||
				!strings.Contains(f.Message, c.subject) || !strings.Contains(f.Message, "incident inc_1") || f.Properties["huntRule"] != c.rule.ID {
				t.Fatalf("finding = %+v", f)
			}
			other := c.rule
			other.Pattern = c.noMatchWith
			rep, err = New(ruleList{other}).Analyze(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != 0 {
				t.Fatalf("pattern %q matched: %+v", other.Pattern, rep.Findings)
			}
		})
	}
}

// TestBlocksThroughTheRunner: with the default modes (every check
// enforced and required) a match blocks the version, and so does a rule
// set that cannot be read; no rules at all passes.
func TestBlocksThroughTheRunner(t *testing.T) {
	t.Parallel()
	in := input(t)
	run := func(src Rules) vet.Result {
		rs := vet.Run(context.Background(), []vet.Analyzer{New(src)}, in, vet.Config{}, nil)
		return rs[0]
	}
	if r := run(ruleList{rule("hr_i", domain.HuntImport, "gatehouse_v1")}); r.Status != vet.Failed || !r.Blocking {
		t.Fatalf("a match: status %s, blocking %v", r.Status, r.Blocking)
	}
	if r := run(broken{}); r.Status != vet.Errored || !r.Blocking || !strings.Contains(r.Reason, "database is down") {
		t.Fatalf("unreadable rules: %+v", r)
	}
	if r := run(ruleList{}); r.Status != vet.Passed || r.Blocking {
		t.Fatalf("no rules: status %s, blocking %v", r.Status, r.Blocking)
	}
	if r := run(ruleList{rule("hr_c", domain.HuntContent, "no such text anywhere")}); r.Status != vet.Passed {
		t.Fatalf("no match: %+v", r)
	}
}

func TestMatchesAreBounded(t *testing.T) {
	t.Parallel()
	data := strings.Repeat("BAD\n", 500)
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, nil)
	in := &vet.Input{Package: plugintest.Package(t, map[string][]byte{"manifest.json": []byte(man), "plugin.wasm": mod, "a.txt": []byte(data), "b.txt": []byte(data)}), Module: mod}
	rep, err := New(ruleList{rule("hr", domain.HuntContent, "BAD")}).Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != hunting.MaxMatchesPerRule {
		t.Fatalf("%d findings, want the cap of %d", len(rep.Findings), hunting.MaxMatchesPerRule)
	}
}

// BenchmarkAnalyze is one submission against 24 rules (20 content
// patterns and one of each other kind) in a package of about 2 MiB.
func BenchmarkAnalyze(b *testing.B) {
	data := bytes.Repeat([]byte("export function handle(ev) { return kv.get(ev.key) }\n"), 20000)
	mod := plugintest.Module([]plugintest.Import{{Module: "gatehouse_v1", Name: "kv_get", Params: []byte{0x7f, 0x7f}, Results: []byte{0x7f}}}, []string{"run"}, 1, 1, data[:1<<20])
	m, _ := manifest.Parse([]byte(man), manifest.Options{})
	in := &vet.Input{Package: plugintest.Package(b, map[string][]byte{"manifest.json": []byte(man), "plugin.wasm": mod, "src/main.js": data, "bom.json": []byte(bom)}), Manifest: m, Module: mod}
	var rs ruleList
	for i := range 20 {
		rs = append(rs, rule(fmt.Sprintf("c%d", i), domain.HuntContent, fmt.Sprintf(`evil-%d\.example/(collect|drop)\?k=`, i)))
	}
	rs = append(rs, rule("m", domain.HuntModule, "github.com/evil/other"), rule("i", domain.HuntImport, "env/steal"), rule("o", domain.HuntOrigin, "evil.example"), rule("o2", domain.HuntOrigin, "https://x.evil.example"))
	a := New(rs)
	size := int64(len(data) + len(mod))
	b.SetBytes(size)
	for b.Loop() {
		rep, err := a.Analyze(context.Background(), in)
		if err != nil || len(rep.Findings) != 0 {
			b.Fatal(err, rep.Findings)
		}
	}
}
