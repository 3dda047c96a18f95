package interop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSARIFMultitoolValidatesVetting runs Microsoft's SARIF multitool
// `validate` (the official schema and its rules) on the SARIF log the
// marketplace serves for the vetting run of a real submission. Any error
// or warning it reports fails the test: hosts and code-scanning services
// read this file. (Its notes ask for what a package cannot have, such as
// version-control provenance, and are left out.)
func TestSARIFMultitoolValidatesVetting(t *testing.T) {
	multitool := tool(t, "GATEHOUSE_INTEROP_SARIF_MULTITOOL", "the vetting SARIF with the SARIF multitool")
	w := getWorld(t)
	data, err := w.publisher.get("/api/v1/submissions/" + w.submission + "/sarif")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil || len(log.Runs) == 0 {
		t.Fatalf("the served SARIF has no run to check (%v):\n%.2000s", err, data)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "vetting.sarif"), filepath.Join(dir, "validation.sarif")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(multitool, "validate", in, "--output", out, "--log", "ForceOverwrite", "--level", "Error;Warning")
	// Rule SARIF2006 fetches every URI in the file (the $schema, the
	// tools' informationUri); this machine reaches no outside address,
	// so that traffic goes to a closed loopback port instead and the rule
	// reports a note, which is not checked here.
	cmd.Env = append(os.Environ(), "DOTNET_CLI_TELEMETRY_OPTOUT=1", "HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=")
	console, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sarif-multitool validate failed (%v):\n%s", err, console)
	}
	report, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("sarif-multitool wrote no report (%v):\n%s", err, console)
	}
	var v struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					Text      string   `json:"text"`
					Arguments []string `json:"arguments"`
					ID        string   `json:"id"`
				} `json:"message"`
			} `json:"results"`
			Invocations []struct {
				ToolExecutionNotifications []struct {
					Level   string `json:"level"`
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(report, &v); err != nil || len(v.Runs) == 0 {
		t.Fatalf("the multitool's report is not SARIF (%v):\n%.2000s", err, report)
	}
	if len(v.Runs) != 1 {
		t.Fatalf("the multitool's report has %d runs; want its own one", len(v.Runs))
	}
	for _, r := range v.Runs[0].Results {
		t.Errorf("sarif-multitool: %s (%s) %s %v", r.RuleID, r.Level, r.Message.ID, r.Message.Arguments)
	}
	for _, inv := range v.Runs[0].Invocations {
		for _, n := range inv.ToolExecutionNotifications {
			if n.Level == "error" {
				t.Errorf("sarif-multitool could not check the file: %s", n.Message.Text)
			}
		}
	}
	if t.Failed() {
		t.Logf("the SARIF checked:\n%.4000s", data)
	}
}
