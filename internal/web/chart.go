package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are SVG drawn here, on the server: no script, nothing fetched,
// readable by screen readers through their title and description, and
// styled only by classes from the stylesheet (the CSP forbids inline
// styles). Every text placed in a chart is escaped.

// Bar is one bar of a chart.
type Bar struct {
	Label string
	Value float64
	// Note is the bar's value as shown ("12", "83%", "4.5 h").
	Note string
	// Class picks a colour from the stylesheet ("", "warn", "bad").
	Class string
	// Sub is a second label line under a column ("Sep" under "7");
	// Title names the bar in its tooltip when Label is too short to.
	Sub, Title string
}

func (b Bar) name() string {
	if b.Title != "" {
		return b.Title
	}
	return b.Label
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// columnChart draws bars side by side, such as one per week.
func columnChart(title, desc string, bars []Bar) template.HTML {
	const w, h, top, bottom, left = 560, 220, 24, 40, 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="t-%s d-%s" xmlns="http://www.w3.org/2000/svg">`, w, h, id(title), id(title))
	fmt.Fprintf(&b, `<title id="t-%s">%s</title><desc id="d-%s">%s</desc>`, id(title), esc(title), id(title), esc(desc))
	max, noData := 0.0, true
	for _, x := range bars {
		max = math.Max(max, x.Value)
		noData = noData && x.Value == 0 && x.Note == "–"
	}
	if max == 0 {
		max = 1
	}
	if len(bars) == 0 || noData {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" text-anchor="middle">No data in this period</text></svg>`, w/2, h/2)
		return template.HTML(b.String())
	}
	plotH := float64(h - top - bottom)
	slot := float64(w-2*left) / float64(len(bars))
	bw := math.Max(2, slot*0.7)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, h-bottom, w-left, h-bottom)
	for i, x := range bars {
		bh := x.Value / max * plotH
		bx := float64(left) + float64(i)*slot + (slot-bw)/2
		by := float64(h-bottom) - bh
		cls := "bar"
		if x.Class != "" {
			cls += " " + x.Class
		}
		fmt.Fprintf(&b, `<g><title>%s: %s</title><rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, esc(x.name()), esc(x.Note), cls, bx, by, bw, bh)
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, bx+bw/2, by-4, esc(x.Note))
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, bx+bw/2, h-bottom+16, esc(x.Label))
		if x.Sub != "" {
			fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, bx+bw/2, h-bottom+32, esc(x.Sub))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barList draws one horizontal bar per row, in the order given, for
// rankings: the label and the value on a line, the bar under them.
func barList(title, desc string, bars []Bar) template.HTML {
	const w, row, pad = 560, 38, 4
	h := row*len(bars) + 2*pad
	if len(bars) == 0 {
		h = 60
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="t-%s d-%s" xmlns="http://www.w3.org/2000/svg">`, w, h, id(title), id(title))
	fmt.Fprintf(&b, `<title id="t-%s">%s</title><desc id="d-%s">%s</desc>`, id(title), esc(title), id(title), esc(desc))
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="34" text-anchor="middle">No data in this period</text></svg>`, w/2)
		return template.HTML(b.String())
	}
	max := 0.0
	for _, x := range bars {
		max = math.Max(max, x.Value)
	}
	if max == 0 {
		max = 1
	}
	for i, x := range bars {
		y := pad + i*row
		bw := math.Max(2, x.Value/max*float64(w-2*pad))
		cls := "bar"
		if x.Class != "" {
			cls += " " + x.Class
		}
		label := x.Label
		if rs := []rune(label); len(rs) > 44 {
			label = string(rs[:43]) + "…"
		}
		fmt.Fprintf(&b, `<g><title>%s: %s</title><text class="label" x="%d" y="%d">%s</text>`, esc(x.name()), esc(x.Note), pad, y+14, esc(label))
		fmt.Fprintf(&b, `<text class="value" x="%d" y="%d" text-anchor="end">%s</text>`, w-pad, y+14, esc(x.Note))
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%d" width="%.1f" height="12" rx="2"/></g>`, cls, pad, y+19, bw)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// id makes an element id from a title.
func id(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// Point is one change of a stepped series: from At on, the value holds
// until the next point.
type Point struct {
	At    time.Time
	Value float64
	// Note names the point in its tooltip ("1.1.0 grown to 30%").
	Note string
}

// Series is one line of a stepChart.
type Series struct {
	Label  string
	Points []Point // oldest first
}

// stepChart draws percentages (0 to 100) over time as stepped lines, one
// per series, from the first point to end: a value holds until it changes.
// Each series gets a colour class (s0, s1, …) and a legend entry; each
// change is a dot whose tooltip says what changed.
func stepChart(title, desc string, series []Series, end time.Time) template.HTML {
	const w, h, top, bottom, left, right = 560, 220, 30, 28, 40, 12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="t-%s d-%s" xmlns="http://www.w3.org/2000/svg">`, w, h, id(title), id(title))
	fmt.Fprintf(&b, `<title id="t-%s">%s</title><desc id="d-%s">%s</desc>`, id(title), esc(title), id(title), esc(desc))
	var start time.Time
	for _, s := range series {
		for _, p := range s.Points {
			if start.IsZero() || p.At.Before(start) {
				start = p.At
			}
			if p.At.After(end) {
				end = p.At
			}
		}
	}
	if start.IsZero() {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" text-anchor="middle">No releases yet</text></svg>`, w/2, h/2)
		return template.HTML(b.String())
	}
	span := end.Sub(start).Seconds()
	if span <= 0 {
		span = 1
	}
	plotW, plotH := float64(w-left-right), float64(h-top-bottom)
	x := func(t time.Time) float64 { return float64(left) + t.Sub(start).Seconds()/span*plotW }
	y := func(v float64) float64 { return float64(h-bottom) - math.Max(0, math.Min(100, v))/100*plotH }
	for _, v := range []float64{0, 50, 100} {
		fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, left, y(v), w-right, y(v))
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`, left-4, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<text class="label" x="%d" y="%d">%s</text>`, left, h-8, esc(start.UTC().Format("2 Jan 15:04")))
	fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, w-right, h-8, esc(end.UTC().Format("2 Jan 15:04")))
	for i, s := range series {
		cls := fmt.Sprintf("s%d", i%6)
		lx := left + i*110
		fmt.Fprintf(&b, `<g><rect class="key %s" x="%d" y="8" width="12" height="12"/><text class="label" x="%d" y="18">%s</text></g>`, cls, lx, lx+16, esc(s.Label))
		if len(s.Points) == 0 {
			continue
		}
		var pts []string
		for j, p := range s.Points {
			if j > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(s.Points[j-1].Value)))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Value)))
		}
		last := s.Points[len(s.Points)-1]
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(end), y(last.Value)))
		fmt.Fprintf(&b, `<polyline class="line %s" points="%s"/>`, cls, strings.Join(pts, " "))
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<g><title>%s %s: %s</title><circle class="dot %s" cx="%.1f" cy="%.1f" r="4"/></g>`,
				esc(s.Label), esc(p.At.UTC().Format("2006-01-02 15:04 UTC")), esc(p.Note), cls, x(p.At), y(p.Value))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
