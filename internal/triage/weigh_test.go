package triage

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/policy"
)

func factor(w policy.Weight, name string) policy.Factor {
	for _, f := range w.Factors {
		if f.Name == name {
			return f
		}
	}
	return policy.Factor{Name: "missing " + name}
}

func quietInput() policy.Input {
	return policy.Input{
		Plugin:    policy.Plugin{ID: "acme/x", Version: "1.0.1", PreviousVersion: "1.0.0"},
		Diff:      &policy.Diff{},
		Publisher: policy.Publisher{InGoodStanding: true, AccountAgeDays: 1000},
	}
}

func TestWeighEachFactor(t *testing.T) {
	t.Parallel()
	intp := func(n int) *int { return &n }
	cases := []struct {
		name   string
		change func(*policy.Input)
		factor string
		value  int
		reason string
	}{
		{"net weighs more than kv", func(in *policy.Input) {
			in.Permissions = []policy.Permission{{Kind: "net", Scope: "https://a"}, {Kind: "kv:read"}}
		}, FactorPermissions, 9, "net ×1 (8), kv:read ×1 (1)"},
		{"secret", func(in *policy.Input) { in.Permissions = []policy.Permission{{Kind: "secret", Scope: "T"}} }, FactorPermissions, 6, "secret ×1 (6)"},
		{"unknown kind weighs as the heaviest", func(in *policy.Input) { in.Permissions = []policy.Permission{{Kind: "gpu"}} }, FactorPermissions, 8, "gpu (unknown kind) ×1 (8)"},
		{"permissions capped", func(in *policy.Input) {
			for range 5 {
				in.Permissions = append(in.Permissions, policy.Permission{Kind: "net"})
			}
		}, FactorPermissions, 30, "40 capped at 30"},
		{"findings by severity, suppressed not counted", func(in *policy.Input) {
			in.Findings = []policy.Finding{{Severity: "high"}, {Severity: "medium"}, {Severity: "low"}, {Severity: "critical", Suppressed: true}}
		}, FactorFindings, 15, "1 high (10), 1 medium (4), 1 low (1); 1 marked false positive, not counted"},
		{"findings capped", func(in *policy.Input) { in.Findings = []policy.Finding{{Severity: "critical"}, {Severity: "critical"}} }, FactorFindings, 30, "40 capped at 30"},
		{"code change", func(in *policy.Input) {
			in.Diff = &policy.Diff{SizeChangePercent: -26, ImportsAdded: []string{"gatehouse_v1.http_fetch"}, FilesChanged: 6}
		}, FactorCodeChange, 9, "module size -26.0% (5), 1 new import(s) (2), 6 file(s) changed (2)"},
		{"first version is all new", func(in *policy.Input) { in.Plugin.FirstVersion, in.Diff = true, nil }, FactorCodeChange, 15, "first version"},
		{"data leaving the platform", func(in *policy.Input) { in.Data = policy.Data{Categories: []string{"contacts"}, LeavesPlatform: true} }, FactorDataHandling, 6, "1 data category (2), data leaves the platform (4)"},
		{"new account with rejections", func(in *policy.Input) {
			in.Publisher = policy.Publisher{InGoodStanding: true, AccountAgeDays: 3, PriorRejections: 2}
		}, FactorPublisher, 9, "account 3 day(s) old (5), 2 prior rejection(s) (4)"},
		{"publisher capped", func(in *policy.Input) {
			in.Publisher = policy.Publisher{AccountAgeDays: 1, KeyChangedDaysAgo: intp(2)}
		}, FactorPublisher, 15, "20 capped at 15"},
		{"error rate", func(in *policy.Input) { in.HostErrorRate = 0.04 }, FactorErrorRate, 4, "4.0% of calls failed"},
		{"error rate capped", func(in *policy.Input) { in.HostErrorRate = 0.5 }, FactorErrorRate, 10, "50 capped at 10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := quietInput()
			c.change(&in)
			w := Weigh(in)
			f := factor(w, c.factor)
			if f.Value != c.value || !strings.Contains(f.Reason, c.reason) {
				t.Errorf("%s = %d (%q); want %d with %q", c.factor, f.Value, f.Reason, c.value, c.reason)
			}
			sum := 0
			for _, f := range w.Factors {
				if f.Value < 0 || f.Value > f.Cap {
					t.Errorf("factor %+v outside its cap", f)
				}
				sum += f.Value
			}
			if sum != w.Total {
				t.Errorf("total %d is not the sum %d", w.Total, sum)
			}
		})
	}
}

func TestWeighQuietInputIsZero(t *testing.T) {
	t.Parallel()
	w := Weigh(quietInput())
	if w.Total != 0 || len(w.Factors) != 6 {
		t.Fatalf("weight %+v; want 0 over 6 factors", w)
	}
}

func TestWeighWorstCaseIsTheSumOfCaps(t *testing.T) {
	t.Parallel()
	in := quietInput()
	in.Plugin.FirstVersion, in.Diff = true, nil
	for range 10 {
		in.Permissions = append(in.Permissions, policy.Permission{Kind: "net"})
		in.Findings = append(in.Findings, policy.Finding{Severity: "critical"})
		in.Data.Categories = append(in.Data.Categories, "x")
	}
	in.Publisher = policy.Publisher{PriorRejections: 1 << 40}
	in.HostErrorRate = 1
	if w := Weigh(in); w.Total != 110 {
		t.Fatalf("worst case weighs %d; want the caps' sum 110", w.Total)
	}
}
