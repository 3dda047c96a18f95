package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressPlainLinesWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 2)
	p.Step("building %s", "counter")
	p.Finish("Submitted %s", "counter")
	p.Step("building %s", "notifier")
	p.Finish("Submitted %s", "notifier")
	want := "[1/2] building counter\nSubmitted counter\n[2/2] building notifier\nSubmitted notifier\n"
	if buf.String() != want {
		t.Errorf("output = %q, want %q", buf.String(), want)
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, total: 2}
	p.Step("building counter")
	p.Finish("Submitted counter")
	p.Step("building notifier")
	p.Finish("Submitted notifier")
	out := buf.String()
	// The bar is redrawn in place, finished steps stay on their own lines,
	// and nothing of the bar is left after the last step.
	for _, want := range []string{"\r\033[K[" + strings.Repeat(" ", barWidth) + "] 0/2 building counter", "\r\033[KSubmitted counter\n",
		"[" + strings.Repeat("#", barWidth/2) + strings.Repeat(" ", barWidth/2) + "] 1/2 building notifier", "\r\033[KSubmitted notifier\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "Submitted notifier\n") {
		t.Errorf("the bar is still drawn after the last step:\n%q", out)
	}
}

func TestProgressSetDrawsOnlyOnATerminal(t *testing.T) {
	var plain bytes.Buffer
	p := newProgress(&plain, 1000)
	for i := 1; i <= 1000; i++ {
		p.Set(i, "calls")
	}
	p.Clear()
	if plain.Len() != 0 {
		t.Errorf("Set wrote to a pipe: %q", plain.String())
	}
	var tty bytes.Buffer
	p = &progress{w: &tty, tty: true, total: 1000}
	for i := 1; i <= 1000; i++ {
		p.Set(i, "calls")
	}
	p.Clear()
	out := tty.String()
	// One redraw per whole percent (0 to 100), not one per call; the bar ends full
	// and is erased.
	if n := strings.Count(out, "\r\033[K["); n != 101 {
		t.Errorf("%d redraws for 1000 steps, want 101", n)
	}
	if !strings.Contains(out, "["+strings.Repeat("#", barWidth)+"] 1000/1000 calls") || !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the bar does not end full and erased: %q", out[max(0, len(out)-120):])
	}
}
