package secrets

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
)

// TestSARIFSnippetIsRedacted: the snippet SARIF gives each secrets
// finding, in a text file and in the module's data, is the redacted value.
func TestSARIFSnippetIsRedacted(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := testInput(t)
	results := vet.Run(context.Background(), []vet.Analyzer{a}, in, vet.Config{}, nil)
	log := sarif.Build(results, map[string][]vet.Rule{Name: a.Rules()}, sarif.ToolInfo{Name: "gatehouse"})
	snippets := map[string]string{} // file → snippet
	for _, run := range log.Runs {
		for _, r := range run.Results {
			for _, l := range r.Locations {
				pl := l.PhysicalLocation
				if pl.Region == nil || pl.Region.Snippet == nil {
					t.Errorf("%s at %s has no snippet", r.RuleID, pl.ArtifactLocation.URI)
					continue
				}
				snippets[pl.ArtifactLocation.URI] = pl.Region.Snippet.Text
			}
		}
	}
	tests := []struct {
		file, secret string
	}{
		{"plugin.wasm", fakeKey},
		{"config/app.env", fakeToken},
	}
	for _, tt := range tests {
		got, ok := snippets[tt.file]
		if want := Redact(tt.secret); !ok || got != want {
			t.Errorf("%s: snippet %q, want %q", tt.file, got, want)
		}
		if strings.Contains(got, tt.secret[4:]) {
			t.Errorf("%s: the snippet shows the secret", tt.file)
		}
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		same bool
	}{
		{fakeKey, fakeKey, true},
		{fakeKey, fakeKey[:len(fakeKey)-1] + "X", false},
		{"hunter2", "hunter" + "2", true},
	}
	for _, tt := range tests {
		da, db := Digest(tt.a), Digest(tt.b)
		if (da == db) != tt.same || len(da) != 32 {
			t.Errorf("Digest(%.4s…) = %s, Digest(%.4s…) = %s; want same = %v, 32 digits", tt.a, da, tt.b, db, tt.same)
		}
		if strings.Contains(da, tt.a) {
			t.Errorf("Digest(%.4s…) holds the value", tt.a)
		}
	}
}
