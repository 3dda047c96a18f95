package web

import (
	"net/http"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/domain"
)

// The privacy pages (issue 20 item 3): a version's privacy report, and
// the steward's view of which plugins touch which categories of data.

// overseers read across the catalog, as the API's privacy routes allow.
var overseers = Access{Roles: []domain.Role{domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor}}

type privacyView struct {
	*api.PrivacyReport
	// Markdown is the API address of the same report as Markdown, for a
	// privacy impact assessment.
	Markdown string
}

// DecisionClass is the chip class of a flow's decision.
func (privacyView) DecisionClass(decision string) string {
	switch decision {
	case "approved":
		return "good"
	case "refused":
		return "bad"
	}
	return "warn"
}

func (h *Handler) privacyReport(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	rep, err := h.app.PrivacyReport(r.Context(), c.p, id)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	v := privacyView{PrivacyReport: rep, Markdown: "/api/v1/submissions/" + id + "/privacy?format=markdown"}
	h.render(w, r, c, http.StatusOK, "privacy.html", "Privacy report of "+rep.Plugin+"@"+rep.Version, v)
}

// categoryGroup is one category of user data and the released versions
// that touch it.
type categoryGroup struct {
	Category string
	Uses     []api.DataCategoryUse
}

type categoriesView struct {
	Groups    []categoryGroup
	Truncated bool
}

func (h *Handler) dataCategories(w http.ResponseWriter, r *http.Request, c *call) {
	out, err := h.app.DataCategories(r.Context(), c.p)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	v := categoriesView{Truncated: out.Truncated}
	// The uses come sorted by category (privacy.Categories).
	for _, u := range out.Uses {
		if n := len(v.Groups); n == 0 || v.Groups[n-1].Category != u.Category {
			v.Groups = append(v.Groups, categoryGroup{Category: u.Category})
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Uses = append(g.Uses, u)
	}
	h.render(w, r, c, http.StatusOK, "categories.html", "Data categories", v)
}
