package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/privacy"
)

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur": func(d time.Duration) string {
		neg := d < 0
		if neg {
			d = -d
		}
		s := hours(d)
		if neg {
			return s + " ago"
		}
		return "in " + s
	},
	"join": strings.Join,
	// retention says a data flow's retention with its length in days.
	"retention": privacy.RetentionText,
	"state": func(s lifecycle.State) string {
		return strings.ReplaceAll(string(s), "_", " ")
	},
	"stateClass": func(s lifecycle.State) string {
		switch s {
		case lifecycle.Certified, lifecycle.AutoApproved:
			return "good"
		case lifecycle.Rejected, lifecycle.Revoked:
			return "bad"
		case lifecycle.Suspended, lifecycle.ChangesRequested:
			return "warn"
		}
		return "neutral"
	},
	"short": func(s string) string {
		if len(s) > 19 {
			return s[:19] + "…"
		}
		return s
	},
	"plural": plural,
	"has":    contains,
	// The release pages.
	"rolloutClass": func(s domain.RolloutStatus) string {
		switch s {
		case domain.RolloutActive:
			return "good"
		case domain.RolloutHalted:
			return "bad"
		}
		return "warn"
	},
	"releaseTable": func(v view, controls bool) map[string]any {
		return map[string]any{"Call": v.Call, "Data": v.Data, "Controls": controls}
	},
	"rolloutForms": func(c *call, r *domain.Release) map[string]any {
		return map[string]any{"Call": c, "Release": r}
	},
	"inc": func(n int) int { return n + 1 },
	"nextRollout": func(n int) int {
		for _, step := range []int{1, 5, 10, 25, 50, 100} {
			if step > n {
				return step
			}
		}
		return 100
	},
	"percent":      func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"historyShown": func() int { return historyShown },
}

// parseTemplates parses each page with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// Files named _*.html hold partials every page may use.
	var partials []string
	for _, p := range pages {
		if strings.HasPrefix(path.Base(p), "_") {
			b, err := fs.ReadFile(templateFS, p)
			if err != nil {
				return nil, err
			}
			partials = append(partials, string(b))
		}
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := path.Base(p)
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		body, err := fs.ReadFile(templateFS, p)
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("parsing the layout: %w", err)
		}
		for _, src := range append(partials, string(body)) {
			if _, err := t.Parse(src); err != nil {
				return nil, fmt.Errorf("parsing %s: %w", name, err)
			}
		}
		out[name] = t
	}
	return out, nil
}
