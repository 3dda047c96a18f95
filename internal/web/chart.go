package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
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
