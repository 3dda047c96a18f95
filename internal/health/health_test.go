package health

import (
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/policy"
)

var now = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

const good = `{"windowStart":"2027-03-01T11:00:00Z","windowEnd":"2027-03-01T12:00:00Z","plugins":[
 {"plugin":"acme/lang","version":"1.0.0","calls":1000,"errors":{"timeout":30,"trap":20},"denials":2,"breakerTrips":1}]}`

func TestParseReport(t *testing.T) {
	r, err := ParseReport([]byte(good), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Plugins) != 1 || r.Plugins[0].ErrorCount() != 50 || r.Plugins[0].Denials != 2 || !r.WindowEnd.Equal(now) {
		t.Fatalf("ParseReport = %+v", r)
	}
}

func TestParseReportRefuses(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"unknown field":          {strings.Replace(good, `"denials"`, `"denails"`, 1), "unknown field"},
		"unknown error kind":     {strings.Replace(good, `"timeout"`, `"exploded"`, 1), "not a sandbox error kind"},
		"more errors than calls": {strings.Replace(good, `"calls":1000`, `"calls":10`, 1), "failed calls out of"},
		"negative count":         {strings.Replace(good, `"denials":2`, `"denials":-2`, 1), "between 0"},
		"window backwards":       {strings.Replace(good, `"windowStart":"2027-03-01T11:00:00Z"`, `"windowStart":"2027-03-01T13:00:00Z"`, 1), "after its windowStart"},
		"window too long":        {strings.Replace(good, `"windowStart":"2027-03-01T11:00:00Z"`, `"windowStart":"2027-02-20T11:00:00Z"`, 1), "report at least every"},
		"window in the future":   {strings.ReplaceAll(strings.ReplaceAll(good, "T12:00", "T13:00"), "T11:00", "T12:30"), "in the future"},
		"window too short":       {strings.Replace(good, `"windowStart":"2027-03-01T11:00:00Z"`, `"windowStart":"2027-03-01T11:59:30Z"`, 1), "at least"},
		"no plugins":             {`{"windowStart":"2027-03-01T11:00:00Z","windowEnd":"2027-03-01T12:00:00Z","plugins":[]}`, "names no plugins"},
		"no namespace":           {strings.Replace(good, `"acme/lang"`, `"lang"`, 1), "namespace/name"},
		"twice":                  {strings.Replace(good, `"breakerTrips":1}]`, `"breakerTrips":1},{"plugin":"acme/lang","version":"1.0.0","calls":1}]`, 1), "reported twice"},
		"trailing data":          {good + `{}`, "after the JSON object"},
		"too large":              {good + strings.Repeat(" ", MaxReportBytes), "the limit is"},
	}
	for name, c := range cases {
		if _, err := ParseReport([]byte(c.body), now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one containing %q", name, err, c.want)
		}
	}
	many := `{"windowStart":"2027-03-01T11:00:00Z","windowEnd":"2027-03-01T12:00:00Z","plugins":[`
	for i := range MaxPlugins + 1 {
		if i > 0 {
			many += ","
		}
		many += `{"plugin":"acme/p` + strings.Repeat("x", i%7) + `","version":"1.0.` + itoa(i) + `","calls":1}`
	}
	many += `]}`
	if _, err := ParseReport([]byte(many), now); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("%d plugins: %v; want refused", MaxPlugins+1, err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestJudge(t *testing.T) {
	th := policy.HostHealth{MaxErrorRate: 0.05, MaxBreakerTrips: 3, MinCalls: 100}
	cases := []struct {
		name      string
		p         PluginHealth
		unhealthy bool
	}{
		{"healthy", PluginHealth{Calls: 1000, Errors: map[string]int64{"timeout": 10}}, false},
		{"error rate at the threshold", PluginHealth{Calls: 1000, Errors: map[string]int64{"timeout": 30, "trap": 20}}, true},
		{"too few calls to judge the rate", PluginHealth{Calls: 10, Errors: map[string]int64{"trap": 9}}, false},
		{"breaker trips", PluginHealth{Calls: 10, BreakerTrips: 3}, true},
		{"no calls", PluginHealth{}, false},
	}
	for _, c := range cases {
		v := Judge(c.p, th)
		if v.Unhealthy != c.unhealthy {
			t.Errorf("%s: unhealthy %v (%v); want %v", c.name, v.Unhealthy, v.Reasons, c.unhealthy)
		}
	}
	v := Judge(PluginHealth{Calls: 1000, Errors: map[string]int64{"timeout": 30, "trap": 20}}, th)
	if len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "5.0% of 1000 calls failed (timeout 30, trap 20)") {
		t.Errorf("reasons %q; want the rate with its kinds", v.Reasons)
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"windowStart":"2027-03-01T11:00:00Z","windowEnd":"2027-03-01T12:00:00Z","plugins":[{"plugin":"a/b","version":"1","calls":1,"errors":{"trap":1}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport(data, now)
		if err != nil {
			return
		}
		// Whatever parses holds its invariants.
		if len(r.Plugins) == 0 || len(r.Plugins) > MaxPlugins || !r.WindowEnd.After(r.WindowStart) {
			t.Fatalf("accepted an invalid report: %+v", r)
		}
		for _, p := range r.Plugins {
			if p.ErrorCount() > p.Calls || p.Calls < 0 {
				t.Fatalf("accepted impossible counts: %+v", p)
			}
			if v := Judge(p, Fallback); v.ErrorRate < 0 || v.ErrorRate > 1 {
				t.Fatalf("error rate %v out of range", v.ErrorRate)
			}
		}
	})
}
