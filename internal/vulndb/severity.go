package vulndb

import (
	"encoding/json"
	"math"
	"strings"
)

// severityOf derives an advisory's severity: the database's own rating
// (GitHub's "database_specific.severity": LOW, MODERATE, HIGH, CRITICAL),
// else the CVSS v3 base score of its vector, else the highest per-package
// rating, else DefaultSeverity.
func severityOf(r *osvRecord) Severity {
	if s := ratingOf(r.DatabaseSpecific.Severity); s != "" {
		return s
	}
	best := Severity("")
	for _, s := range r.Severity {
		if s.Type == "CVSS_V3" {
			if score, ok := cvss3BaseScore(s.Score); ok {
				best = higher(best, ratingOfScore(score))
			}
		}
	}
	if best != "" {
		return best
	}
	for _, a := range r.Affected {
		best = higher(best, ratingOf(a.DatabaseSpecific.Severity))
	}
	if best != "" {
		return best
	}
	return DefaultSeverity
}

func higher(a, b Severity) Severity {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func rank(s Severity) int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

func ratingOf(raw json.RawMessage) Severity {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CRITICAL":
		return Critical
	case "HIGH", "IMPORTANT":
		return High
	case "MODERATE", "MEDIUM":
		return Medium
	case "LOW", "NEGLIGIBLE":
		return Low
	}
	return ""
}

// ratingOfScore is CVSS v3's qualitative rating; a score of 0 ("None")
// is reported as Low, since the advisory still names a flaw.
func ratingOfScore(score float64) Severity {
	switch {
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	}
	return Low
}

// cvss3BaseScore computes the base score of a CVSS v3.0 or v3.1 vector
// ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") per the v3.1
// specification, section 7.1.
func cvss3BaseScore(vector string) (float64, bool) {
	rest, ok := strings.CutPrefix(vector, "CVSS:3.1/")
	if !ok {
		if rest, ok = strings.CutPrefix(vector, "CVSS:3.0/"); !ok {
			return 0, false
		}
	}
	m := map[string]string{}
	for _, part := range strings.Split(rest, "/") {
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			return 0, false
		}
		if _, dup := m[k]; dup {
			return 0, false
		}
		m[k] = v
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"UI": {"N": 0.85, "R": 0.62},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	w := map[string]float64{}
	for k, vals := range weights {
		x, ok := vals[m[k]]
		if !ok {
			return 0, false
		}
		w[k] = x
	}
	changed := false
	switch m["S"] {
	case "U":
	case "C":
		changed = true
	default:
		return 0, false
	}
	var pr float64
	switch m["PR"] {
	case "N":
		pr = 0.85
	case "L":
		pr = 0.62
		if changed {
			pr = 0.68
		}
	case "H":
		pr = 0.27
		if changed {
			pr = 0.5
		}
	default:
		return 0, false
	}
	iss := 1 - (1-w["C"])*(1-w["I"])*(1-w["A"])
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	exploitability := 8.22 * w["AV"] * w["AC"] * pr * w["UI"]
	if impact <= 0 {
		return 0, true
	}
	if changed {
		return roundUp(math.Min(1.08*(impact+exploitability), 10)), true
	}
	return roundUp(math.Min(impact+exploitability, 10)), true
}

// roundUp is CVSS v3.1's Roundup (Appendix A): the smallest number with
// one decimal place that is not below x, computed on integers to avoid
// floating-point artefacts.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}
