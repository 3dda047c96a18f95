package server

import (
	"net/http"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/privacy"
)

// privacyRoutes are the privacy report of a version and the steward's view
// of data categories across the catalog.
func (s *Server) privacyRoutes() []Route {
	overseers := Access{Roles: []domain.Role{domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor}}
	return []Route{
		{Method: "GET", Path: "/api/v1/submissions/{id}/privacy", Summary: "The version's privacy report: each data flow (category → destination, purpose, retention), the decision on it, the evidence, secrets, findings and the change since the previous released version. ?format=markdown answers text/markdown for a privacy impact assessment.", Access: signedIn.reading(SubmissionRecord), handler: s.privacyReport},
		{Method: "GET", Path: "/api/v1/privacy/categories", Summary: "Which released plugin versions touch which categories of user data, and where it goes.", Access: overseers, handler: s.dataCategories},
	}
}

func (s *Server) privacyReport(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "markdown" {
		writeError(w, http.StatusBadRequest, "invalid", "format is json (the default) or markdown")
		return
	}
	rep, err := s.app.PrivacyReport(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if format == "markdown" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write(privacy.Markdown(rep))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) dataCategories(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	out, err := s.app.DataCategories(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
