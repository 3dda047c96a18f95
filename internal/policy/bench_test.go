package policy

import (
	"context"
	"testing"
)

// BenchmarkDecide measures one decision of the default policy for a
// typical update (two permissions, a handful of findings and checks).
func BenchmarkDecide(b *testing.B) {
	e := engine(b)
	in := baseInput()
	in.Findings = []Finding{
		{Analyzer: "origins", RuleID: "origins/undeclared", Severity: "low", Enforced: true},
		{Analyzer: "diff", RuleID: "diff/files-changed", Severity: "info", Enforced: true},
		{Analyzer: "secrets", RuleID: "secrets/generic", Severity: "medium", Suppressed: true, Enforced: true},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Decide(ctx, in)
		if err != nil || d.Outcome() != AutoApproved {
			b.Fatalf("decision %s, %v", d.Outcome(), err)
		}
	}
}

// BenchmarkDecideRejected measures a decision that fires deny rules and a
// blocking finding, which builds the longest explanation.
func BenchmarkDecideRejected(b *testing.B) {
	e := engine(b)
	in := baseInput()
	in.Permissions = []Permission{{Kind: "net", Scope: "http://api.example.com"}, {Kind: "net", Scope: "https://10.0.0.1"}}
	in.Data.Categories = []string{"health"}
	in.Findings = []Finding{{Analyzer: "secrets", RuleID: "secrets/aws-access-token", Severity: "critical", Enforced: true}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := e.Decide(ctx, in); err != nil || d.Outcome() != Rejected {
			b.Fatalf("decision %s, %v", d.Outcome(), err)
		}
	}
}

// BenchmarkCompile measures compiling the default policy (done once per
// policy change, not per decision).
func BenchmarkCompile(b *testing.B) {
	p := Default()
	for b.Loop() {
		if _, err := Compile(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}
