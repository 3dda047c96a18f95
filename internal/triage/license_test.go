package triage

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestLicenseChoices(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want string
	}{
		{"MIT", "[[MIT]]"},
		{"MIT OR Apache-2.0", "[[MIT] [Apache-2.0]]"},
		{"mit or Apache-2.0", "[[mit] [Apache-2.0]]"},
		{"MIT AND Apache-2.0", "[[Apache-2.0 MIT]]"},
		{"MIT OR Apache-2.0 AND BSD-3-Clause", "[[MIT] [Apache-2.0 BSD-3-Clause]]"}, // AND binds tighter
		{"(MIT OR Apache-2.0) AND BSD-3-Clause", "[[BSD-3-Clause MIT] [Apache-2.0 BSD-3-Clause]]"},
		{"GPL-2.0-only WITH Classpath-exception-2.0", "[[GPL-2.0-only]]"},
		{"GPL-2.0+ OR LicenseRef-Acme", "[[GPL-2.0+] [LicenseRef-Acme]]"},
		{"MIT OR MIT", "[[MIT]]"},
		{"MIT AND MIT", "[[MIT]]"},
		{" ( ( MIT ) ) ", "[[MIT]]"},
	}
	for _, c := range cases {
		got, err := LicenseChoices(c.expr)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("LicenseChoices(%q) = %v, %v; want %s", c.expr, got, err, c.want)
		}
	}
}

func TestLicenseChoicesRefusesBadExpressions(t *testing.T) {
	t.Parallel()
	var pairs []string
	for i := range 7 {
		pairs = append(pairs, fmt.Sprintf("(A%d OR B%d)", i, i))
	}
	blowup := strings.Join(pairs, " AND ") // 2^7 choices
	for _, expr := range []string{
		"", "   ", "MIT OR", "OR MIT", "(MIT", "MIT)", "MIT AND AND Apache-2.0", "MIT WITH", "MIT WITH (x)",
		"MIT/Apache-2.0", "MIT Apache-2.0", "()", strings.Repeat("(", 17) + "MIT" + strings.Repeat(")", 17),
		strings.Repeat("A", maxLicenseExprLen+1), blowup,
	} {
		if got, err := LicenseChoices(expr); err == nil {
			t.Errorf("LicenseChoices(%q) = %v; want an error", expr, got)
		}
	}
}

// FuzzLicenseChoices: a manifest's licence is outside input. The parser
// must not panic, must stay within its limits, and its choices must be
// sorted sets of ids that appear in the expression.
func FuzzLicenseChoices(f *testing.F) {
	for _, s := range []string{"MIT", "MIT OR Apache-2.0", "(MIT OR Apache-2.0) AND BSD-3-Clause", "GPL-2.0-only WITH Classpath-exception-2.0", "((", "a and b or c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		choices, err := LicenseChoices(expr)
		if err != nil {
			return
		}
		if len(choices) == 0 || len(choices) > maxLicenseChoices {
			t.Fatalf("%q: %d choices", expr, len(choices))
		}
		for _, c := range choices {
			if len(c) == 0 || !slices.IsSorted(c) || len(slices.Compact(slices.Clone(c))) != len(c) {
				t.Fatalf("%q: choice %q is not a sorted set", expr, c)
			}
			for _, id := range c {
				if !strings.Contains(expr, id) || isOperator(id) {
					t.Fatalf("%q: id %q is not from the expression", expr, id)
				}
			}
		}
	})
}
