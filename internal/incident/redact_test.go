package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet"
	vethunt "gatehouse.dev/gatehouse/internal/vet/hunt"
	"gatehouse.dev/gatehouse/internal/vet/sarif"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// TestHuntedSecretNeverShown: a hunting rule that matches a leaked key,
// whether written as a pattern or as the key itself, never shows the key
// in the clear: not in the backward hunt's report, the incident's
// timeline, the stored audit trail, the findings stored for a blocked
// submission or their SARIF, nor in any webhook payload.
func TestHuntedSecretNeverShown(t *testing.T) {
	const key = "AKIAZ7Q3KXW4LMN2PRTV"
	config := "export const awsKeyID = \"" + key + "\";\n"
	tests := []struct {
		name, pattern string
	}{
		{"pattern", `AKIA[A-Z2-7]{16}`},
		{"the key itself", key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			rcv := newReceiver(t)
			if _, _, err := w.hooks.Subscribe(ctx, "sam", webhook.Subscription{URL: rcv.srv.URL, Events: []string{"*"}}); err != nil {
				t.Fatal(err)
			}
			w.certified("tracker", "1.0.0", map[string]string{"lib/config.js": config})

			inc, err := w.inc.Open(ctx, "sam", incident.OpenRequest{Title: "An AWS key leaked", Severity: "critical"})
			if err != nil {
				t.Fatal(err)
			}
			_, rep, err := w.inc.AddRule(ctx, inc.ID, "sam", incident.RuleRequest{Kind: domain.HuntContent, Pattern: tt.pattern, Description: "the leaked key"})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Hits) != 1 || rep.Hits[0].Matches[0].Subject != "AKIA…" {
				t.Fatalf("backward hunt = %+v, want one hit shown as AKIA…", rep)
			}
			blocked := w.submit("tracker", "1.1.0", map[string]string{"lib/config.js": config})
			if blocked.State != lifecycle.Rejected {
				t.Fatalf("a new version with the key is %s, want rejected", blocked.State)
			}
			run, err := w.st.LatestVetRun(ctx, blocked.ID)
			if err != nil {
				t.Fatal(err)
			}
			var results []vet.Result
			if err := json.Unmarshal(run.Results, &results); err != nil {
				t.Fatal(err)
			}
			if _, err := w.hooks.Fanout(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := w.hooks.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}

			outputs := map[string][]byte{"vet run": run.Results}
			outputs["hunt report"], _ = json.Marshal(rep)
			var s bytes.Buffer
			if err := sarif.Write(&s, results, map[string][]vet.Rule{vethunt.Name: vethunt.New(w.st).Rules()}, sarif.ToolInfo{Name: "gatehouse"}); err != nil {
				t.Fatal(err)
			}
			outputs["SARIF"] = s.Bytes()
			var trail []audit.Event
			if err := w.st.ScanAudit(ctx, domain.AuditQuery{}, func(e audit.Event) error { trail = append(trail, e); return nil }); err != nil {
				t.Fatal(err)
			}
			outputs["audit trail"], _ = json.Marshal(trail)
			d, err := w.inc.Get(ctx, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			outputs["timeline"], _ = json.Marshal(d.Timeline)
			rcv.mu.Lock()
			outputs["webhooks"] = bytes.Join(rcv.raw, []byte("\n"))
			rcv.mu.Unlock()
			if !strings.Contains(string(outputs["webhooks"]), audit.IncidentHunted) {
				t.Fatalf("no incident.hunted delivery: %s", outputs["webhooks"])
			}
			for name, out := range outputs {
				if bytes.Contains(out, []byte(key[4:])) {
					t.Errorf("the %s shows the key:\n%s", name, out)
				}
			}
		})
	}
}
