package vet

import "gatehouse.dev/gatehouse/api"

// Wire converts results to the API's types, which have the same JSON
// shape; the server and the command line show results through them.
func Wire(results []Result) []api.VetResult {
	if results == nil {
		return nil
	}
	out := make([]api.VetResult, len(results))
	for i, r := range results {
		out[i] = api.VetResult{
			Analyzer: r.Analyzer, Version: r.Version, Status: string(r.Status), Reason: r.Reason,
			Findings: wireFindings(r.Findings), Detail: r.Detail, Databases: r.Databases,
			Started: r.Started, Duration: r.Duration,
			Mode:     api.AnalyzerMode{Enabled: r.Mode.Enabled, Enforced: r.Mode.Enforced, Required: r.Mode.Required},
			Blocking: r.Blocking,
		}
	}
	return out
}

func wireFindings(fs []Finding) []api.Finding {
	if fs == nil {
		return nil
	}
	out := make([]api.Finding, len(fs))
	for i, f := range fs {
		l := f.Location
		out[i] = api.Finding{
			Analyzer: f.Analyzer, RuleID: f.RuleID, Severity: string(f.Severity), Message: f.Message,
			Location:    api.Location{File: l.File, Line: l.Line, Column: l.Column, Offset: l.Offset, Length: l.Length, Snippet: l.Snippet},
			Fingerprint: f.Fingerprint, Remediation: f.Remediation, Properties: f.Properties,
		}
		if s := f.Suppressed; s != nil {
			out[i].Suppressed = &api.Suppression{By: s.By, Reason: s.Reason, At: s.At}
		}
	}
	return out
}
