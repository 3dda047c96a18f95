package audit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/audit-events.md from the catalogue")

// catalogueMarkdown is docs/audit-events.md, made from the catalogue.
func catalogueMarkdown() []byte {
	var b strings.Builder
	b.WriteString("# Audit events\n\n")
	b.WriteString("<!-- Generated from the catalogue (internal/audit/catalogue.go) by\n")
	b.WriteString("     go test ./internal/audit -run TestAuditCatalogueDoc -update; do not edit. -->\n\n")
	b.WriteString("Every change to the marketplace is recorded in the audit trail, in the same\n")
	b.WriteString("transaction as the change. Each event says who (`actor`: a token's subject,\n")
	b.WriteString("a host, or `system` for background work), what (`action`, one of the\n")
	b.WriteString("table below), on what (`subject`), and may carry the states before and\n")
	b.WriteString("after (`oldState`, `newState`), a human-readable `reason` and a JSON\n")
	b.WriteString("object of details (`data`, whose keys are listed below; a key may be\n")
	b.WriteString("absent when it does not apply). The events form a SHA-256 hash chain:\n")
	b.WriteString("`gatehouse audit verify` (or `GET /api/v1/audit/verify`) recomputes it and\n")
	b.WriteString("names the first edited, deleted or reordered event; `gatehouse audit\n")
	b.WriteString("export` writes the trail as JSON lines.\n\n")
	b.WriteString("The table is the complete list: the store refuses an event whose action\n")
	b.WriteString("is not declared in it, and an action's name never changes once events\n")
	b.WriteString("carry it (the hash of every later event depends on it).\n\n")
	b.WriteString("| action | meaning | actor (package that records it) | subject | data |\n|---|---|---|---|---|\n")
	for _, e := range Catalogue() {
		data := "—"
		if len(e.Data) > 0 {
			data = "`" + strings.Join(e.Data, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", e.Action, cell(e.Meaning), cell(e.Actor), cell(e.Subject), data)
	}
	return []byte(b.String())
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// TestAuditCatalogueDoc holds docs/audit-events.md to the catalogue;
// -update rewrites it.
func TestAuditCatalogueDoc(t *testing.T) {
	t.Parallel()
	path := moduleRoot(t) + "/docs/audit-events.md"
	got := catalogueMarkdown()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the catalogue; run go test ./internal/audit -run TestAuditCatalogueDoc -update", path)
	}
}
