package cli

import (
	"fmt"
	"io"
	"strings"

	"gatehouse.dev/gatehouse/api"
)

// printResults writes each analyzer's outcome and its findings with their
// locations and remediation, the way an author reads them.
func printResults(w io.Writer, results []api.VetResult) {
	for _, r := range results {
		mark := r.Status
		if r.Blocking {
			mark += ", blocking"
		} else if r.Status == api.StatusFailed && !r.Mode.Enforced {
			mark += ", shadow mode"
		}
		fmt.Fprintf(w, "  %-13s %s", r.Analyzer, mark)
		if r.Reason != "" {
			fmt.Fprintf(w, ": %s", r.Reason)
		}
		fmt.Fprintln(w)
		for _, f := range r.Findings {
			state := ""
			if f.Suppressed != nil {
				state = fmt.Sprintf(" [suppressed by %s: %s]", f.Suppressed.By, f.Suppressed.Reason)
			}
			fmt.Fprintf(w, "    %-8s %s  %s%s\n             %s\n", f.Severity, location(f.Location), f.RuleID, state, f.Message)
			if f.Remediation != "" {
				fmt.Fprintf(w, "             fix: %s\n", f.Remediation)
			}
		}
	}
}

func location(l api.Location) string {
	var b strings.Builder
	b.WriteString(l.File)
	switch {
	case l.Line > 0:
		fmt.Fprintf(&b, ":%d", l.Line)
		if l.Column > 0 {
			fmt.Fprintf(&b, ":%d", l.Column)
		}
	case l.Offset > 0:
		fmt.Fprintf(&b, "@0x%x", l.Offset)
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
