package capabilities

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
)

// TestOriginSnippetRedactsPassword: an origin written with credentials
// ("https://user:password@host") is quoted with them redacted.
func TestOriginSnippetRedactsPassword(t *testing.T) {
	t.Parallel()
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, nil)
	man := manifestJSON(nil, []string{"run"}, "")
	tests := []struct {
		name, url, want string
	}{
		{"user and password", "https://deploy:Xq7vLm2pRt9w@git.example.com/repo", "https://depl…@git.example.com"},
		{"no credentials", "https://git.example.com/repo", "https://git.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, _ := analyze(t, input(t, mod, man, map[string][]byte{"config/app.yaml": []byte("remote: " + tt.url + "\n")}))
			fs := byRule(rep.Findings)[RuleUndeclaredOrigin]
			if len(fs) != 1 {
				t.Fatalf("findings %+v, want one undeclared origin", rep.Findings)
			}
			if f := fs[0]; f.Location.Snippet != tt.want || strings.Contains(f.Message, "Xq7vLm2pRt9w") {
				t.Errorf("snippet %q, message %q; want snippet %q and no password", f.Location.Snippet, f.Message, tt.want)
			}
		})
	}
}
