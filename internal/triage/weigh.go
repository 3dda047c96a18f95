package triage

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/policy"
)

// Factor names and caps. Each factor is capped so no single one can carry
// a version to the top tier by itself (a plugin with forty origins is not
// forty times riskier than one with one), and the caps add up to 110, which
// the default policy's tier thresholds (medium 15, high 35, critical 60)
// are set against.
const (
	FactorPermissions  = "permissions"
	FactorFindings     = "findings"
	FactorCodeChange   = "code_change"
	FactorDataHandling = "data_handling"
	FactorPublisher    = "publisher"
	FactorErrorRate    = "host_error_rate"

	capPermissions  = 30
	capFindings     = 30
	capCodeChange   = 15
	capDataHandling = 10
	capPublisher    = 15
	capErrorRate    = 10
)

// permissionWeight is what one permission of a kind adds. Reaching the
// network or reading a secret can leak data; writing host data can destroy
// it; the plugin's own key-value store is its own business.
var permissionWeight = map[string]int{
	hostapi.PermNet:       8,
	hostapi.PermSecret:    6,
	hostapi.PermDataWrite: 6,
	hostapi.PermDataRead:  4,
	hostapi.PermFSRead:    2,
	hostapi.PermKVWrite:   2,
	hostapi.PermKVRead:    1,
}

// unknownPermissionWeight weighs a kind this build does not know as the
// heaviest one.
const unknownPermissionWeight = 8

// severityWeight is what one unsuppressed finding adds.
var severityWeight = map[string]int{"critical": 20, "high": 10, "medium": 4, "low": 1, "info": 0}

// kindOrder lists permission kinds in the order reasons mention them.
var kindOrder = []string{hostapi.PermNet, hostapi.PermSecret, hostapi.PermDataWrite, hostapi.PermDataRead, hostapi.PermFSRead, hostapi.PermKVWrite, hostapi.PermKVRead}

// Weigh computes the additive risk weight of an input: the sum of capped
// factors, each with the reason for its value. It reads everything but
// in.Weight, so it is a pure function of the facts, and the same input
// always weighs the same.
func Weigh(in policy.Input) policy.Weight {
	factors := []policy.Factor{
		permissionsFactor(in.Permissions),
		findingsFactor(in.Findings),
		codeChangeFactor(in),
		dataFactor(in.Data),
		publisherFactor(in.Publisher),
		errorRateFactor(in.HostErrorRate),
	}
	total := 0
	for _, f := range factors {
		total += f.Value
	}
	return policy.Weight{Total: total, Factors: factors}
}

// capped builds a factor, saying so in its reason when the cap applied.
func capped(name string, raw, limit int, reason string) policy.Factor {
	v := max(0, raw)
	if v > limit {
		reason = fmt.Sprintf("%s; %d capped at %d", reason, v, limit)
		v = limit
	}
	return policy.Factor{Name: name, Value: v, Cap: limit, Reason: reason}
}

func permissionsFactor(ps []policy.Permission) policy.Factor {
	if len(ps) == 0 {
		return capped(FactorPermissions, 0, capPermissions, "no permissions")
	}
	counts := map[string]int{}
	for _, p := range ps {
		counts[p.Kind]++
	}
	raw := 0
	var parts []string
	add := func(kind string, n, each int) {
		raw += n * each
		parts = append(parts, fmt.Sprintf("%s ×%d (%d)", kind, n, n*each))
	}
	for _, k := range kindOrder {
		if n := counts[k]; n > 0 {
			add(k, n, permissionWeight[k])
			delete(counts, k)
		}
	}
	for _, k := range sortedKeys(counts) {
		add(k+" (unknown kind)", counts[k], unknownPermissionWeight)
	}
	return capped(FactorPermissions, raw, capPermissions, strings.Join(parts, ", "))
}

func findingsFactor(fs []policy.Finding) policy.Factor {
	counts := map[string]int{}
	suppressed := 0
	for _, f := range fs {
		if f.Suppressed {
			suppressed++
			continue
		}
		counts[f.Severity]++
	}
	raw := 0
	var parts []string
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		if n := counts[s]; n > 0 {
			raw += n * severityWeight[s]
			parts = append(parts, fmt.Sprintf("%d %s (%d)", n, s, n*severityWeight[s]))
		}
	}
	reason := "no unsuppressed findings"
	if len(parts) > 0 {
		reason = strings.Join(parts, ", ")
	}
	if suppressed > 0 {
		reason += fmt.Sprintf("; %d marked false positive, not counted", suppressed)
	}
	return capped(FactorFindings, raw, capFindings, reason)
}

// codeChangeFactor weighs how much changed since the last approved version:
// a point per 5% of module size change, two per new host import, one per
// five changed files. A first version is all new and weighs the cap.
func codeChangeFactor(in policy.Input) policy.Factor {
	if in.Plugin.FirstVersion || in.Diff == nil {
		return capped(FactorCodeChange, capCodeChange, capCodeChange, "first version: all of the code is new")
	}
	d := in.Diff
	pct := math.Abs(d.SizeChangePercent)
	size := int(pct / 5)
	imports := 2 * len(d.ImportsAdded)
	files := (d.FilesChanged + 4) / 5
	reason := fmt.Sprintf("module size %+.1f%% (%d), %d new import(s) (%d), %d file(s) changed (%d)", d.SizeChangePercent, size, len(d.ImportsAdded), imports, d.FilesChanged, files)
	return capped(FactorCodeChange, size+imports+files, capCodeChange, reason)
}

func dataFactor(d policy.Data) policy.Factor {
	raw := 2 * len(d.Categories)
	reason := fmt.Sprintf("%d data categor%s (%d)", len(d.Categories), plural(len(d.Categories), "y", "ies"), raw)
	if d.LeavesPlatform {
		raw += 4
		reason += ", data leaves the platform (4)"
	}
	return capped(FactorDataHandling, raw, capDataHandling, reason)
}

func publisherFactor(p policy.Publisher) policy.Factor {
	raw := 0
	var parts []string
	if !p.InGoodStanding {
		raw += 10
		parts = append(parts, "not in good standing (10)")
	}
	switch {
	case p.AccountAgeDays < 30:
		raw += 5
		parts = append(parts, fmt.Sprintf("account %d day(s) old (5)", p.AccountAgeDays))
	case p.AccountAgeDays < 90:
		raw += 2
		parts = append(parts, fmt.Sprintf("account %d days old (2)", p.AccountAgeDays))
	}
	if p.PriorRejections > 0 {
		n := min(p.PriorRejections, 100) * 2
		raw += n
		parts = append(parts, fmt.Sprintf("%d prior rejection(s) (%d)", p.PriorRejections, n))
	}
	for _, c := range []struct {
		what string
		days *int
	}{{"namespace ownership", p.OwnershipChangedDaysAgo}, {"signing key", p.KeyChangedDaysAgo}} {
		if c.days != nil && *c.days < 30 {
			raw += 5
			parts = append(parts, fmt.Sprintf("%s changed %d day(s) ago (5)", c.what, *c.days))
		}
	}
	reason := "established publisher in good standing"
	if len(parts) > 0 {
		reason = strings.Join(parts, ", ")
	}
	return capped(FactorPublisher, raw, capPublisher, reason)
}

// errorRateFactor adds a point per percent of calls that failed in hosts.
func errorRateFactor(rate float64) policy.Factor {
	if !(rate >= 0) { // NaN: Validate refuses it; weigh it as the worst
		rate = 1
	}
	raw := int(math.Round(math.Min(rate, 1) * 100))
	return capped(FactorErrorRate, raw, capErrorRate, fmt.Sprintf("%.1f%% of calls failed in hosts", rate*100))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
