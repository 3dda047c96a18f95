package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/pkgfile"
)

// TestHuntedSecretNotPrinted: a steward's hunting rule that matches a
// key in a stored version prints the match redacted, when it is added
// and in the incident's timeline.
func TestHuntedSecretNotPrinted(t *testing.T) {
	const key = "AKIAZ7Q3KXW4LMN2PRTV"
	as := newWorld(t).as

	work := t.TempDir()
	signingKey := filepath.Join(work, "publisher.key")
	code, out := gh(t, "keys", "generate", "-o", signingKey)
	wantExit(t, code, out, 0)
	var buf bytes.Buffer
	manifest := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"Hello","description":"Says hello.","owners":[{"name":"Acme","email":"dev@acme.example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	if _, err := pkgfile.Write(&buf, []pkgfile.File{
		{Path: "manifest.json", Data: []byte(manifest)},
		{Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")},
		{Path: "src/config.js", Data: []byte("export const awsKeyID = \"" + key + "\";\n")},
	}); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(work, "hello.gpkg")
	if err := os.WriteFile(pkg, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = as("namespace", "key", "add", "acme", signingKey+".pub")
	wantExit(t, code, out, 0)
	code, out = gh(t, "plugin", "sign", pkg, "--key", signingKey)
	wantExit(t, code, out, 0)
	code, out = as("plugin", "submit", pkg)
	wantExit(t, code, out, 0, "sub_")

	code, out = as("incident", "open", "--title", "An AWS key leaked", "--severity", "critical")
	wantExit(t, code, out, 0)
	id := regexp.MustCompile(`inc_[a-z0-9]+`).FindString(out)
	var printed strings.Builder
	code, out = as("incident", "add", id, "--rule-kind", "content", "--rule", `AKIA[A-Z2-7]{16}`, "--rule-description", "the leaked key")
	wantExit(t, code, out, 0, "1 match", "src/config.js", "AKIA…")
	printed.WriteString(out)
	code, out = as("incident", "show", id)
	wantExit(t, code, out, 0, audit.IncidentHunted)
	printed.WriteString(out)
	if strings.Contains(printed.String(), key[4:]) {
		t.Fatalf("the command line printed the key:\n%s", printed.String())
	}
}
