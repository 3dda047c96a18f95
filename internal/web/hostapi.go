package web

import (
	"net/http"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hostcompat"
)

// The host API pages (issue 19 item 6): the compatibility matrix and the
// deprecation calendar with the caller's sunset notices.

type matrixView struct {
	HostAPIs []hostAPIColumn
	Rows     []matrixRow
	Plugin   string
}

type hostAPIColumn struct {
	Version      string
	Deprecates   string
	Sunset       time.Time
	Functions    int
	Deprecated   []string // deprecated functions and capabilities
	MigrationURL string
}

type matrixRow struct {
	Plugin, Version string
	Cells           []matrixCell
}

type matrixCell struct {
	Status    string // "" when not checked
	Confirmed string
	Why       string
}

// Class is the chip class of the cell's status.
func (c matrixCell) Class() string {
	switch c.Status {
	case hostapi.Compatible:
		return "good"
	case hostapi.Deprecated:
		return "warn"
	case hostapi.Broken:
		return "bad"
	}
	return ""
}

func (h *Handler) hostAPIMatrix(w http.ResponseWriter, r *http.Request, c *call) {
	plugin := r.URL.Query().Get("plugin")
	if len(plugin) > 256 {
		h.fail(w, r, c, http.StatusBadRequest, "The plugin name is too long.")
		return
	}
	m, err := h.app.HostAPIMatrix(r.Context(), c.p, domain.CompatQuery{PluginID: plugin})
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	v := matrixView{Plugin: plugin}
	for _, p := range m.HostAPIs {
		col := hostAPIColumn{Version: p.Version, Deprecates: p.Deprecates, Sunset: p.Sunset, MigrationURL: p.MigrationURL}
		if pub, err := hostcompat.ToPublished(p); err == nil {
			col.Functions = len(pub.Spec.Functions)
			for _, f := range pub.Spec.Functions {
				if f.Deprecated {
					col.Deprecated = append(col.Deprecated, f.Name)
				}
			}
			for _, k := range pub.Spec.Capabilities {
				if k.Deprecated {
					col.Deprecated = append(col.Deprecated, k.Name)
				}
			}
		}
		v.HostAPIs = append(v.HostAPIs, col)
	}
	index := map[string]int{}
	for _, cell := range m.Cells {
		key := cell.PluginID + "@" + cell.PluginVersion
		i, ok := index[key]
		if !ok {
			i = len(v.Rows)
			index[key] = i
			v.Rows = append(v.Rows, matrixRow{Plugin: cell.PluginID, Version: cell.PluginVersion, Cells: make([]matrixCell, len(v.HostAPIs))})
		}
		for j, col := range v.HostAPIs {
			if col.Version == cell.HostAPI {
				v.Rows[i].Cells[j] = matrixCell{Status: cell.Status, Confirmed: cell.Confirmed, Why: hostcompat.WhyOf(cell)}
			}
		}
	}
	h.render(w, r, c, http.StatusOK, "hostapi.html", "Host API compatibility", v)
}

type calendarView struct {
	Entries []hostcompat.Entry
	Notices []domain.HostAPINotice
}

func (h *Handler) hostAPICalendar(w http.ResponseWriter, r *http.Request, c *call) {
	entries, err := h.app.HostAPICalendar(r.Context(), c.p)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	v := calendarView{Entries: entries}
	if c.signedIn && c.p.Role != domain.RoleHost {
		if v.Notices, err = h.app.HostAPINotices(r.Context(), c.p, 100); err != nil {
			h.failApp(w, r, c, err)
			return
		}
	}
	h.render(w, r, c, http.StatusOK, "calendar.html", "Host API calendar", v)
}
