package hunt

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
)

// TestHuntedSecretIsRedactedInFindings: a content rule that matches a
// secret, written as a pattern or as the secret itself, yields findings
// whose message, snippet, properties and SARIF show neither the secret
// nor the pattern in the clear, and whose fingerprints still tell two
// keys that start alike apart.
func TestHuntedSecretIsRedactedInFindings(t *testing.T) {
	t.Parallel()
	const (
		key   = "AKIAZ7Q3KXW4LMN2PRTV"
		other = "AKIAZ7Q3KXW4LMN2PRTW"
	)
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, []byte("\x00"+key+"\x00"))
	in := &vet.Input{Package: plugintest.Package(t, map[string][]byte{
		"manifest.json": []byte(man),
		"plugin.wasm":   mod,
		"src/config.js": []byte("const key = \"" + key + "\";\nconst other = \"" + other + "\";\n"),
	}), Module: mod}
	tests := []struct {
		name, pattern string
		findings      int
	}{
		{"pattern", `AKIA[A-Z2-7]{16}`, 3},
		{"the secret itself", key + "|" + other, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := New(ruleList{rule("hr_k", domain.HuntContent, tt.pattern)})
			results := vet.Run(context.Background(), []vet.Analyzer{a}, in, vet.Config{}, nil)
			fs := results[0].Findings
			if len(fs) != tt.findings {
				t.Fatalf("%d findings, want %d: %+v", len(fs), tt.findings, fs)
			}
			fps := map[string]bool{}
			for _, f := range fs {
				fps[f.Fingerprint] = true
				if f.Location.Snippet != "AKIA…" {
					t.Errorf("snippet %q, want AKIA…", f.Location.Snippet)
				}
			}
			if len(fps) != len(fs) {
				t.Errorf("%d fingerprints for %d findings: redaction merged distinct matches", len(fps), len(fs))
			}
			var out bytes.Buffer
			if err := json.NewEncoder(&out).Encode(results); err != nil {
				t.Fatal(err)
			}
			if err := sarif.Write(&out, results, map[string][]vet.Rule{Name: a.Rules()}, sarif.ToolInfo{Name: "gatehouse"}); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{key[4:], other[4:]} {
				if bytes.Contains(out.Bytes(), []byte(s)) {
					t.Errorf("the result or its SARIF shows a secret:\n%s", out.Bytes())
				}
			}
		})
	}
}
