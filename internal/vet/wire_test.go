package vet

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestWireSameJSON holds the promise that the API shows a result exactly
// as it is stored: both types marshal to the same bytes.
func TestWireSameJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	full := Result{
		Analyzer: "secrets", Version: "1.2.0", Status: Failed, Reason: "why",
		Findings: []Finding{{
			Analyzer: "secrets", RuleID: "secrets/aws", Severity: High, Message: "a key",
			Location:    Location{File: "a.js", Line: 3, Column: 4, Offset: 5, Length: 6, Snippet: "AKIA…"},
			Fingerprint: "fp", Remediation: "rotate it", Properties: map[string]any{"n": 1.5, "s": "x"},
			Suppressed: &Suppression{By: "rev", Reason: "test key", At: at},
		}, {Analyzer: "secrets", RuleID: "r", Severity: Info}},
		Detail: json.RawMessage(`{"k":[1,2]}`), Databases: map[string]string{"osv": "2026-01-01"},
		Started: at, Duration: 1500 * time.Millisecond,
		Mode:     Mode{Enabled: true, Enforced: true, Required: true},
		Blocking: true,
	}
	for name, rs := range map[string][]Result{
		"full":        {full},
		"no findings": {{Analyzer: "size", Status: Passed}},
		"empty":       {},
		"nil":         nil,
	} {
		want, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(Wire(rs))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the API's JSON differs from the stored JSON\n got %s\nwant %s", name, got, want)
		}
	}
}
