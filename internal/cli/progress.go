package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// progress reports the steps of a long task (building and submitting the
// example plugins). On a terminal it redraws one bar line in place; to
// anything else (a pipe, a log file, a test) it writes one plain line per
// step, which reads well in logs and can be matched by tools. It is safe
// for concurrent use.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	total int
	done  int
	drawn bool // a bar is on the terminal's current line
}

// barWidth is the bar's width in cells, short enough for an 80-column
// terminal with the step's label beside it.
const barWidth = 24

// newProgress returns a progress report of total steps on w.
func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total}
}

// isTerminal reports whether w is a character device (a terminal), without
// a dependency: a pipe, a file or a buffer is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Step says what is being done now.
func (p *progress) Step(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	label := fmt.Sprintf(format, args...)
	if !p.tty {
		fmt.Fprintf(p.w, "[%d/%d] %s\n", p.done+1, p.total, label)
		return
	}
	p.draw(label)
}

// Finish marks a step done and prints line above the bar (or as a plain
// line), so what was finished stays on screen.
func (p *progress) Finish(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	line := fmt.Sprintf(format, args...)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	p.clear()
	fmt.Fprintln(p.w, line)
	if p.done < p.total {
		p.draw("")
	}
}

// draw replaces the current terminal line with the bar and label.
func (p *progress) draw(label string) {
	filled := 0
	if p.total > 0 {
		filled = barWidth * p.done / p.total
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(" ", barWidth-filled), p.done, p.total, label)
	p.drawn = true
}

// clear erases the bar, so the next line starts at column one.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// Set moves the bar to done steps of total with label beside it, for a
// task of many small steps (the calls of a load run). On a terminal it is
// redrawn only when the whole percentage changes, so a run of thousands
// of calls does not flood the terminal; anywhere else it writes nothing,
// and the task prints its summary when it ends.
func (p *progress) Set(done int, label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		return
	}
	if p.total > 0 && p.drawn && 100*done/p.total == 100*p.done/p.total && done != p.total {
		return
	}
	p.done = done
	p.draw(label)
}

// Clear erases the bar, so the summary starts on a clean line.
func (p *progress) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}
