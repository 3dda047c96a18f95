package interop

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gatehouse.dev/gatehouse/internal/pluginkit"
)

// TestSARIFMultitoolValidatesVetting runs Microsoft's SARIF multitool
// `validate` (the official schema and its rules) on two SARIF logs: the
// one the marketplace serves for the vetting run of the certified
// submission (clean: rules, no results), and `gatehouse vet -o sarif` on
// the same example with a credential planted in its source, so that
// results with locations are checked too. Any error or warning it reports
// fails the test: hosts and code-scanning services read these files. (Its
// notes ask for what a package cannot have, such as version-control
// provenance, and are left out.)
func TestSARIFMultitoolValidatesVetting(t *testing.T) {
	multitool := tool(t, "GATEHOUSE_INTEROP_SARIF_MULTITOOL", "the vetting SARIF with the SARIF multitool")
	w := getWorld(t)

	t.Run("served", func(t *testing.T) {
		data, err := w.publisher.get("/api/v1/submissions/" + w.submission + "/sarif")
		if err != nil {
			t.Fatal(err)
		}
		sarifResults(t, data) // a clean run: rules, no results
		validateSARIF(t, multitool, data)
	})

	t.Run("vet with a finding", func(t *testing.T) {
		dir := t.TempDir()
		pdir := filepath.Join(dir, "counter")
		if err := copyDir(filepath.Join("..", "examples", "plugins", "counter"), pdir); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(pdir, "main.go"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("\n// A deploy credential left in the source, for the secrets scanner to find.\nconst deployKeyID = \"AKIAZ7Q3KXW4LMN2PRTV\"\n")
		f.Close()
		if _, err := pluginkit.Build(context.Background(), pdir, pluginkit.BuildOptions{CacheDir: filepath.Join(dir, "cache")}); err != nil {
			t.Fatal(err)
		}
		pkg := filepath.Join(dir, "counter.gpkg")
		if _, err := (gatehouse{env: map[string]string{}}).run("plugin", "pack", pdir, "-o", pkg); err != nil {
			t.Fatal(err)
		}
		out, code, err := (gatehouse{env: map[string]string{}}).runCode("vet", pkg, "-o", "sarif")
		if code != 1 {
			t.Fatalf("gatehouse vet on a package with a credential: exit %d, want 1 (blocked): %v", code, err)
		}
		if n := sarifResults(t, []byte(out)); n == 0 {
			t.Fatalf("gatehouse vet reported no result for the planted credential:\n%.4000s", out)
		}
		validateSARIF(t, multitool, []byte(out))
	})
}

// sarifResults counts the results of a SARIF log's runs, failing the test
// when it has no run.
func sarifResults(t *testing.T, data []byte) int {
	t.Helper()
	var log struct {
		Runs []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil || len(log.Runs) == 0 {
		t.Fatalf("not a SARIF log with a run (%v):\n%.2000s", err, data)
	}
	n := 0
	for _, r := range log.Runs {
		n += len(r.Results)
	}
	return n
}

// validateSARIF runs `sarif-multitool validate` and fails the test on each
// error or warning it reports.
func validateSARIF(t *testing.T, multitool string, data []byte) {
	t.Helper()
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
					ID        string   `json:"id"`
					Arguments []string `json:"arguments"`
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
	if err := json.Unmarshal(report, &v); err != nil || len(v.Runs) != 1 {
		t.Fatalf("the multitool's report is not a SARIF log of one run (%v):\n%.2000s", err, report)
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
