package audit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
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
	b.WriteString("The last column is what the retention purge (`--personal-data-retention`)\n")
	b.WriteString("replaces by a commitment (`pseudonym:...`) in events older than the\n")
	b.WriteString("retention, keeping the chain verifiable: the actor always, a `token:`\n")
	b.WriteString("subject, the reason when it is a person's text or names people, and the\n")
	b.WriteString("whole data when one of the listed keys is set. Every action was checked\n")
	b.WriteString("for where it names people; a reason or data that contains the actor in\n")
	b.WriteString("clear is replaced too. Events sealed before migration 0023 have salts\n")
	b.WriteString("for actor and subject only; before 0022, none (see docs/operations.md).\n\n")
	b.WriteString("| action | meaning | actor (package that records it) | subject | data | pseudonymised after the retention |\n|---|---|---|---|---|---|\n")
	for _, e := range Catalogue() {
		data := "—"
		if len(e.Data) > 0 {
			data = "`" + strings.Join(e.Data, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", e.Action, cell(e.Meaning), cell(e.Actor), cell(e.Subject), data, personalCell(e))
	}
	return []byte(b.String())
}

func personalCell(e Entry) string {
	parts := []string{"actor"}
	if strings.Contains(e.Subject, "token:") {
		parts = append(parts, "subject")
	}
	p := PersonalOf(e.Action)
	if p.Reason {
		parts = append(parts, "reason")
	}
	switch len(p.Data) {
	case 0:
	case 1:
		parts = append(parts, "data (when `"+p.Data[0]+"` is set)")
	default:
		parts = append(parts, "data (when one of `"+strings.Join(p.Data, "`, `")+"` is set)")
	}
	return strings.Join(parts, ", ")
}

// TestPersonalDeclarationsMatchTheCatalogue: a personal declaration names
// a declared action and keys its data has, so a renamed key cannot leave
// a name in clear unnoticed.
func TestPersonalDeclarationsMatchTheCatalogue(t *testing.T) {
	for action, p := range personal {
		e, ok := Lookup(action)
		if !ok {
			t.Errorf("personal declares %q, which the catalogue does not", action)
			continue
		}
		for _, k := range p.Data {
			if !slices.Contains(e.Data, k) {
				t.Errorf("personal declares data key %q of %s, which its catalogue entry does not list", k, action)
			}
		}
	}
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

// TestEveryActionCheckedForPeople: every action is either declared in
// personal or listed as naming nobody beyond its actor and subject, never
// both, so a new action cannot enter the trail unchecked.
func TestEveryActionCheckedForPeople(t *testing.T) {
	for _, e := range Catalogue() {
		_, p := personal[e.Action]
		n := slices.Contains(namesNobodyElse, e.Action)
		switch {
		case !p && !n:
			t.Errorf("%s is neither in personal nor in namesNobodyElse (catalogue.go): check whether its reason or data can name a person and list it in one", e.Action)
		case p && n:
			t.Errorf("%s is in both personal and namesNobodyElse", e.Action)
		}
	}
	if len(namesNobodyElse)+len(personal) != len(Catalogue()) {
		t.Errorf("%d + %d classified actions, %d in the catalogue: one is listed twice or is not an action", len(namesNobodyElse), len(personal), len(Catalogue()))
	}
}
