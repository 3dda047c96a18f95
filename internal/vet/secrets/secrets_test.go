package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
	"gatehouse.dev/gatehouse/manifest"
)

// fakeKey is an AWS access key id of the right shape, assembled at run
// time so this file holds nothing key-shaped.
var fakeKey = "AKIA" + strings.Repeat("QYLPMN5H", 2)[:16]

// fakeToken is a GitHub personal access token of the right shape.
var fakeToken = "ghp_" + "k7Qm2Xv9Lp4Rt8Wz1Yb6Nc3Hd5Fg0Js7Ue2A"

const man = `{"manifestVersion":1,"id":"acme/t","version":"1.0.0","name":"T","owners":[{"name":"A"}],"license":"MIT",
"runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":[]}`

func testInput(t *testing.T) (*vet.Input, []byte) {
	t.Helper()
	data := []byte("padding\x00\x01aws_access_key_id=" + fakeKey + "\x00more")
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, data)
	files := map[string][]byte{
		"manifest.json":  []byte(man),
		"plugin.wasm":    mod,
		"config/app.env": []byte("# settings\nREGION=eu-west-1\nGITHUB_TOKEN=" + fakeToken + "\n"),
		"README.md":      []byte("# T\nNothing to see.\n"),
	}
	m, err := manifest.Parse([]byte(man), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &vet.Input{Package: plugintest.Package(t, files), Manifest: m, Module: mod}, mod
}

func TestFindsSecretsInFilesAndModule(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	in, mod := testInput(t)
	rep, err := a.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]vet.Finding{}
	for _, f := range rep.Findings {
		got[f.RuleID] = f
	}
	gh, ok := got["secrets/github-pat"]
	if !ok || gh.Location.File != "config/app.env" || gh.Location.Line != 3 || gh.Location.Column != len("GITHUB_TOKEN=")+1 || gh.Severity != vet.High {
		t.Errorf("GitHub token finding: %+v (all: %+v)", gh, rep.Findings)
	}
	aws, ok := got["secrets/aws-access-token"]
	wantOff := int64(bytes.Index(mod, []byte(fakeKey)))
	if !ok || aws.Location.File != "plugin.wasm" || aws.Location.Offset != wantOff || aws.Location.Length != int64(len(fakeKey)) {
		t.Errorf("AWS key finding: %+v, want offset %d", aws, wantOff)
	}
	if aws.Location.Snippet != "AKIA…" || !strings.Contains(aws.Message, "AKIA…") {
		t.Errorf("redaction: snippet %q message %q", aws.Location.Snippet, aws.Message)
	}
	if rep.Databases["gitleaks"] == "" {
		t.Error("the rule set version is not recorded")
	}
	if len(a.Rules()) < 100 {
		t.Errorf("%d rules; the gitleaks default set has over 200", len(a.Rules()))
	}
}

// TestSecretNeverLeaves runs the analyzer through the runner and both
// exports and looks for the secrets' values anywhere in the output.
func TestSecretNeverLeaves(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := testInput(t)
	results := vet.Run(context.Background(), []vet.Analyzer{a}, in, vet.Config{}, nil)
	if results[0].Status != vet.Failed || len(results[0].Findings) != 2 {
		t.Fatalf("result %+v", results[0])
	}
	var out bytes.Buffer
	if err := json.NewEncoder(&out).Encode(results); err != nil {
		t.Fatal(err)
	}
	if err := sarif.Write(&out, results, map[string][]vet.Rule{Name: a.Rules()}, sarif.ToolInfo{Name: "gatehouse"}); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fakeKey, fakeToken, fakeKey[4:], fakeToken[4:]} {
		if bytes.Contains(out.Bytes(), []byte(secret)) {
			t.Errorf("the output holds %s…", secret[:2])
		}
	}
}

// TestLargeTextFile checks the line of a secret deep in a file that is
// scanned in chunks.
func TestLargeTextFile(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range 1000 {
		sb.WriteString("// filler line of a long source file\n")
		if i%10 == 9 {
			sb.WriteString("\n")
		}
	}
	before := strings.Count(sb.String(), "\n")
	sb.WriteString("const token = \"" + fakeToken + "\"\n")
	files := map[string][]byte{"manifest.json": []byte(man), "src/big.go": []byte(sb.String())}
	m, _ := manifest.Parse([]byte(man), manifest.Options{})
	rep, err := a.Analyze(context.Background(), &vet.Input{Package: plugintest.Package(t, files), Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Location.Line != before+1 || rep.Findings[0].Location.Column != len("const token = \"")+1 {
		t.Errorf("findings %+v, want one at line %d", rep.Findings, before+1)
	}
}

func TestCleanPackageHasNoFinding(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, []byte("hello world, api_key parameter name"))
	files := map[string][]byte{"manifest.json": []byte(man), "plugin.wasm": mod, "README.md": []byte("Set api_key in the host's secret store.\n")}
	m, _ := manifest.Parse([]byte(man), manifest.Options{})
	rep, err := a.Analyze(context.Background(), &vet.Input{Package: plugintest.Package(t, files), Manifest: m, Module: mod})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings on a clean package: %+v", rep.Findings)
	}
	if d := rep.Detail.(*Detail); d.BytesDecoded != 0 {
		t.Errorf("%d bytes of a package with nothing encoded went through the decoder", d.BytesDecoded)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"AKIAQYLPMN5HHHFPZAM2": "AKIA…",
		"abcdefgh":             "ab…",
		"abc":                  "…",
		"ééééééééééééééééé":    "éééé…",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
