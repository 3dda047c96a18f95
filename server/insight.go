package server

// insightRoutes are the endpoints for dashboard figures.
func (s *Server) insightRoutes() []Route { return nil }
