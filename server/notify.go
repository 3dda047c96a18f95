package server

// notifyRoutes are the endpoints for webhooks, incidents and hunting rules.
func (s *Server) notifyRoutes() []Route { return nil }
