package server

import (
	"net/http"

	"gatehouse.dev/gatehouse/internal/domain"
)

// insightRoutes are the endpoints for dashboard figures.
//
// /metrics sits behind a steward's or an auditor's token rather than on a
// separate listener: one address to run and firewall, and the figures
// (queue lengths, publishers' error rates) are not for everyone. Prometheus
// sends the token with `authorization: {credentials_file: ...}` in its
// scrape configuration.
func (s *Server) insightRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics of this process: HTTP, vetting pipeline, review queue (text exposition format).", Access: auditors, handler: s.metrics},
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	if s.cfg.Metrics == nil {
		writeError(w, http.StatusNotFound, "not_found", "metrics are not enabled on this server")
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}
