package hunt

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
)

func TestCompileRefusesBadRules(t *testing.T) {
	for _, r := range []domain.HuntRule{
		{ID: "a", Kind: domain.HuntContent, Pattern: "("},
		{ID: "b", Kind: domain.HuntContent, Pattern: "x*"}, // matches everything
		{ID: "c", Kind: domain.HuntContent, Pattern: "(a{1000}){1000}"},
		{ID: "d", Kind: domain.HuntContent, Pattern: strings.Repeat("a", MaxPattern+1)},
		{ID: "e", Kind: domain.HuntModule, Pattern: "github.com/evil/ lib"},
		{ID: "f", Kind: domain.HuntImport, Pattern: "/name"},
		{ID: "g", Kind: domain.HuntOrigin, Pattern: "https://evil.example.com/path"},
		{ID: "h", Kind: domain.HuntOrigin, Pattern: "localhostonly"},
		{ID: "i", Kind: "astrology", Pattern: "x"},
		{ID: "j", Kind: domain.HuntContent, Pattern: "   "},
	} {
		if _, err := Compile(r); err == nil {
			t.Errorf("Compile(%s %q) accepted it", r.Kind, r.Pattern)
		}
	}
	for _, r := range []domain.HuntRule{
		{ID: "a", Kind: domain.HuntContent, Pattern: `(?i)evil\.example`},
		{ID: "b", Kind: domain.HuntModule, Pattern: "github.com/evil/lib@v1.0.0"},
		{ID: "c", Kind: domain.HuntImport, Pattern: "env"},
		{ID: "d", Kind: domain.HuntOrigin, Pattern: "HTTPS://Evil.Example.com:443"},
		{ID: "e", Kind: domain.HuntOrigin, Pattern: "203.0.113.9"},
	} {
		if _, err := Compile(r); err != nil {
			t.Errorf("Compile(%s %q): %v", r.Kind, r.Pattern, err)
		}
	}
}

type corpus map[string]*vet.Input

func (c corpus) Each(ctx context.Context, fn func(domain.Version) error) error {
	for _, id := range []string{"v1", "v2", "v3", "v4"} {
		if err := fn(domain.Version{ID: id, PluginID: "acme/x", Version: "1.0." + id[1:], State: "certified"}); err != nil {
			return err
		}
	}
	return nil
}

func (c corpus) Input(ctx context.Context, v domain.Version) (*vet.Input, error) {
	in, ok := c[v.ID]
	if !ok {
		return nil, context.DeadlineExceeded // stands in for a missing blob
	}
	return in, nil
}

func TestScanReportsHitsAndUnreadable(t *testing.T) {
	r, err := Compile(domain.HuntRule{ID: "hr", Kind: domain.HuntImport, Pattern: "env/steal"})
	if err != nil {
		t.Fatal(err)
	}
	// Modules that do not parse still get content rules; an import rule
	// finds nothing in them, and that is not an error.
	c := corpus{"v1": {Module: []byte("not wasm")}, "v2": {}, "v4": {}}
	rep, err := Scan(context.Background(), c, []*Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Scanned != 4 || len(rep.Hits) != 0 || len(rep.Unreadable) != 1 || !strings.HasPrefix(rep.Unreadable[0], "v3 ") {
		t.Fatalf("report = %+v", rep)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`evil\.example`, "(a|b)*c", "github.com/x/y@v1", "env/steal", "https://a.example:1", "a.b", "(?i)x{2,1000}", "\\", "[[:alpha:]"} {
		f.Add(domain.HuntContent, s)
		f.Add(domain.HuntOrigin, s)
	}
	f.Add(domain.HuntModule, "a@")
	f.Add(domain.HuntImport, "m/n/o")
	f.Fuzz(func(t *testing.T, kind, pattern string) {
		r, err := Compile(domain.HuntRule{ID: "f", Kind: kind, Pattern: pattern})
		if err != nil {
			return
		}
		// A compiled rule runs on anything without panicking, and a
		// content rule never matches empty input.
		in := &vet.Input{Module: []byte(pattern)}
		_ = Find([]*Rule{r}, in)
		if r.re != nil && r.re.Match(nil) {
			t.Fatalf("content rule %q matches the empty input", pattern)
		}
	})
}
