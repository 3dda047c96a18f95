package server

// monitorRoutes are the endpoints for revalidation, webhooks, incidents and hunting rules, host health reports.
func (s *Server) monitorRoutes() []Route { return nil }
