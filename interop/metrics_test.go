package interop

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestPromtoolChecksMetrics scrapes /metrics, after a plugin went through
// vetting, review and certification so that every family has samples, and
// runs `promtool check metrics` on it: the exposition must parse and pass
// promtool's lint (naming, units, help text) with no problem reported.
func TestPromtoolChecksMetrics(t *testing.T) {
	promtool := tool(t, "GATEHOUSE_INTEROP_PROMTOOL", "/metrics with promtool")
	w := getWorld(t)
	data, err := w.steward.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("# TYPE ")) {
		t.Fatalf("/metrics is not the text exposition format:\n%.2000s", data)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics (%v):\n%s", err, out)
	}
}
