package source

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
)

// TestCredentialsHaveOneSourceOfTruth: hard-coded credentials are the
// secrets analyzer's alone. A key its rules allow (AWS's documented
// example key) passes both analyzers; a real-looking key is reported
// once, by the secrets analyzer, redacted, and never by gosec's G101.
func TestCredentialsHaveOneSourceOfTruth(t *testing.T) {
	t.Parallel()
	sec, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		decl      string // line 3 of main.go
		clear     string // what must not be shown
		wantRules []string
	}{
		{
			name:  "allowlisted example key",
			decl:  `const awsAccessKeyID = "AKIAIOSFODNN7EXAMPLE"`,
			clear: "",
		},
		{
			name:      "real-looking AWS key",
			decl:      `const awsAccessKeyID = "AKIAZ7Q3KXW4LMN2PRTV"`,
			clear:     "AKIAZ7Q3KXW4LMN2PRTV",
			wantRules: []string{"secrets/aws-access-token"},
		},
		{
			name:      "real-looking Stripe key named password",
			decl:      `const password = "sk_live_` + strings.Repeat("Zq8", 8) + `"`,
			clear:     "sk_live_" + strings.Repeat("Zq8", 8),
			wantRules: []string{"secrets/stripe-access-token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "package main\n\n" + tt.decl + "\n\nfunc main() { _ = len(" + strings.Fields(tt.decl)[1] + ") }\n"
			in := &vet.Input{Package: plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "main.go": []byte(src)})}
			var all []vet.Finding
			for _, a := range []vet.Analyzer{New(), sec} {
				rep, err := a.Analyze(context.Background(), in)
				if err != nil {
					t.Fatalf("%s: %v", a.Name(), err)
				}
				all = append(all, rep.Findings...)
			}
			var got []string
			for _, f := range all {
				got = append(got, f.RuleID)
				if tt.clear != "" && strings.Contains(f.Message+f.Location.Snippet, tt.clear[4:]) {
					t.Errorf("%s shows the credential: %+v", f.RuleID, f)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.wantRules, " ") {
				t.Errorf("findings %q, want %q: %s", got, tt.wantRules, summary(all))
			}
		})
	}
}

// TestNoGosecCredentialRule: G101 is neither run nor listed, so no rule
// list, policy or SARIF names a second credential rule.
func TestNoGosecCredentialRule(t *testing.T) {
	t.Parallel()
	for _, r := range New().Rules() {
		if r.ID == RuleID("G101") {
			t.Fatalf("the source analyzer lists %s", r.ID)
		}
	}
}

// TestSnippetRedactsSecrets: a finding of another rule quotes its line,
// and a secret on that line (as the secrets analyzer's rules see it) is
// redacted in the quote.
func TestSnippetRedactsSecrets(t *testing.T) {
	t.Parallel()
	token := "ghp_" + "k7Qm2Xv9Lp4Rt8Wz1Yb6Nc3Hd5Fg0Js7Ue2A"
	tests := []struct {
		name, line, want string
	}{
		{"token in a URL", `http.Get("https://api.example.com/v1?token=` + token + `")`, `http.Get("https://api.example.com/v1?token=ghp_…")`},
		{"no secret", `http.Get("https://api.example.com/v1")`, `http.Get("https://api.example.com/v1")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "package main\n\nimport \"net/http\"\n\nfunc main() {\n\t" + tt.line + "\n}\n"
			in := &vet.Input{Package: plugintest.Package(t, map[string][]byte{"manifest.json": []byte("{}"), "main.go": []byte(src)})}
			rep, err := New().Analyze(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := find(rep.Findings, "source/G104", 6)
			if !ok {
				t.Fatalf("no G104 at main.go:6: %s", summary(rep.Findings))
			}
			if f.Location.Snippet != tt.want {
				t.Errorf("snippet %q, want %q", f.Location.Snippet, tt.want)
			}
		})
	}
}
