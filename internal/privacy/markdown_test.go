package privacy_test

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/privacy"
)

// TestMarkdownHasEachSectionOnce guards the report's outline: the Data
// flows heading was once written twice, leaving an empty section at the
// top of every privacy impact assessment.
func TestMarkdownHasEachSectionOnce(t *testing.T) {
	for _, rep := range []*api.PrivacyReport{
		{Plugin: "acme/none", Version: "1.0.0", Source: "manifest"},
		{Plugin: "acme/crm", Version: "1.1.0", Source: "vetting",
			Flows: []api.PrivacyFlow{{ID: "contacts>platform", Category: "contacts", Destination: "platform", Retention: "P30D", RetentionDays: 30, Decision: "approved",
				Evidence: []api.PrivacyEvidence{{Source: "manifest", File: "manifest.json", Pointer: "/data/retention", Detail: "retention P30D"}}}},
			Diff: api.PrivacyDiff{Previous: "1.0.0", Added: []string{"contacts>platform"}}},
	} {
		md := string(privacy.Markdown(rep))
		for _, h := range []string{"# Privacy report", "## Data flows", "## Secrets", "## Findings", "## Changes since the previous version"} {
			if n := strings.Count(md, "\n"+h) + strings.Count(md[:len(h)], h); n != 1 {
				t.Errorf("%s: heading %q appears %d times:\n%s", rep.Plugin, h, n, md)
			}
		}
	}
}

func TestRetentionText(t *testing.T) {
	for _, c := range []struct {
		f    api.PrivacyFlow
		want string
	}{
		{api.PrivacyFlow{}, "not declared"},
		{api.PrivacyFlow{Retention: "none"}, "none"},
		{api.PrivacyFlow{Retention: "P9999X", RetentionDays: -1}, "P9999X (invalid)"},
		{api.PrivacyFlow{Retention: "P6M", RetentionDays: 183}, "P6M (about 183 days)"},
	} {
		if got := privacy.RetentionText(c.f); got != c.want {
			t.Errorf("RetentionText(%q, %d) = %q, want %q", c.f.Retention, c.f.RetentionDays, got, c.want)
		}
	}
}
