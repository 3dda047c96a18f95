// Package badge draws the certification badge a plugin's README shows: a
// shields.io-style SVG reading "gatehouse | certified" (or suspended,
// revoked, expired, in review, not certified), coloured by state.
//
// It is a pure function of its input: the same Status gives the same bytes,
// so the badge route can send an ETag, and nothing here reads the clock or
// any file. Every piece of text is XML-escaped and bounded, and only the
// fixed messages below are drawn, so a badge has a bounded size whatever it
// is given.
package badge

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Status is what a badge shows.
type Status struct {
	// State is the version's lifecycle state (lifecycle.State values);
	// "none" or "" means the plugin has no version to show.
	State string
	// ExpiresAt is when the certificate expires; zero means unknown.
	ExpiresAt time.Time
	// Checks are the checks the certificate lists, for the badge's
	// tooltip.
	Checks []string
	// Now is the time the badge is drawn at, for the expiry. A zero Now
	// leaves expiry unjudged: callers always pass it.
	Now time.Time
}

// Soon is how close to its expiry a certified badge turns yellow and says
// so, giving the author time to have the version revalidated.
const Soon = 7 * 24 * time.Hour

// Limits on the tooltip's list of checks.
const (
	maxChecks     = 24
	maxCheckBytes = 40
)

// Colours, as shields.io uses them.
const (
	colourLabel   = "#555"
	colourGreen   = "#4c1"
	colourYellow  = "#dfb317"
	colourOrange  = "#fe7d37"
	colourRed     = "#e05d44"
	colourBlue    = "#007ec6"
	colourGrey    = "#9f9f9f"
	labelText     = "gatehouse"
	notCertified  = "not certified"
	horizontalPad = 10 // px on each side of a text, total
)

// Message returns the badge's message and colour for s.
func Message(s Status) (text, colour string) {
	switch lifecycle.State(s.State) {
	case lifecycle.Certified:
		if s.Now.IsZero() || s.ExpiresAt.IsZero() {
			return "certified", colourGreen
		}
		left := s.ExpiresAt.Sub(s.Now)
		switch {
		case left <= 0:
			return "expired", colourRed
		case left <= Soon:
			days := int(math.Ceil(left.Hours() / 24))
			if days <= 1 {
				return "certified, expires in 1 day", colourYellow
			}
			return fmt.Sprintf("certified, expires in %d days", days), colourYellow
		}
		return "certified", colourGreen
	case lifecycle.Suspended:
		return "suspended", colourOrange
	case lifecycle.Revoked:
		return "revoked", colourRed
	case lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.InReview, lifecycle.AutoApproved, lifecycle.ChangesRequested:
		return "in review", colourBlue
	}
	return notCertified, colourGrey
}

// SVG draws the badge.
func SVG(s Status) []byte {
	msg, colour := Message(s)
	lw := textWidth(labelText) + horizontalPad
	mw := textWidth(msg) + horizontalPad
	w := lw + mw
	title := labelText + ": " + msg
	if checks := tooltipChecks(s.Checks); len(checks) > 0 && (msg == "certified" || strings.HasPrefix(msg, "certified,") || s.State == string(lifecycle.Suspended)) {
		title += "; checks passed: " + strings.Join(checks, ", ")
	}
	if !s.ExpiresAt.IsZero() && s.State == string(lifecycle.Certified) {
		verb := "expires"
		if !s.Now.IsZero() && !s.ExpiresAt.After(s.Now) {
			verb = "expired"
		}
		title += "; " + verb + " " + s.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s">`, w, esc(labelText+": "+msg))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	b.WriteString(`<linearGradient id="gh-s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	// Element ids are document-wide when badges are inlined in a page,
	// so the clip path's id says its width: badges of one width share
	// the same clip path, others do not clip each other.
	fmt.Fprintf(&b, `<clipPath id="gh-r%d"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`, w, w)
	fmt.Fprintf(&b, `<g clip-path="url(#gh-r%d)"><rect width="%d" height="20" fill="%s"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#gh-s)"/></g>`,
		w, lw, colourLabel, lw, mw, colour, w)
	b.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">`)
	text(&b, labelText, float64(lw)/2)
	text(&b, msg, float64(lw)+float64(mw)/2)
	b.WriteString(`</g></svg>`)
	b.WriteByte('\n')
	return b.Bytes()
}

// text draws one string with its shadow, shields-style: at ten times the
// size, scaled down, with textLength fixing its width whatever font the
// viewer has.
func text(b *bytes.Buffer, s string, centre float64) {
	x := int(math.Round(centre * 10))
	tl := textWidth(s) * 10
	fmt.Fprintf(b, `<text aria-hidden="true" x="%d" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="%d">%s</text>`, x, tl, esc(s))
	fmt.Fprintf(b, `<text x="%d" y="140" transform="scale(.1)" textLength="%d">%s</text>`, x, tl, esc(s))
}

// tooltipChecks returns the checks to list: printable, bounded, sorted and
// without duplicates.
func tooltipChecks(in []string) []string {
	var out []string
	for _, c := range in {
		c = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, c)
		if c == "" {
			continue
		}
		if len(c) > maxCheckBytes {
			c = strings.ToValidUTF8(c[:maxCheckBytes], "") + "…"
		}
		out = append(out, c)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxChecks {
		out = append(out[:maxChecks], fmt.Sprintf("and %d more", len(out)-maxChecks))
	}
	return out
}

func esc(s string) string {
	var b strings.Builder
	// EscapeText escapes <, >, &, quotes and control characters, so the
	// result is safe in text and in attribute values alike.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// textWidth is the width in pixels of s in 11px Verdana, the badge font,
// rounded up, from per-character advance widths (shields.io measures the
// same way).
func textWidth(s string) int {
	var w float64
	for _, r := range s {
		w += charWidth(r)
	}
	return int(math.Ceil(w))
}

func charWidth(r rune) float64 {
	switch {
	case r == ' ':
		return 3.87
	case r == 'i' || r == 'l' || r == 'j':
		return 3.0
	case r == 'f' || r == 't' || r == 'r':
		return 4.3
	case r == ',' || r == '.' || r == ':' || r == ';' || r == '\'':
		return 3.6
	case r == 'm':
		return 10.7
	case r == 'w':
		return 8.9
	case r >= 'a' && r <= 'z':
		return 6.8
	case r >= '0' && r <= '9':
		return 7.0
	case r == 'M' || r == 'W':
		return 10.0
	case r >= 'A' && r <= 'Z':
		return 7.6
	}
	return 7.0
}
