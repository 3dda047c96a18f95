package server

// trustRoutes are the endpoints for keys, namespace publisher keys, certificates and bundles, revocation lists, the transparency log under /log/, badges.
func (s *Server) trustRoutes() []Route { return nil }
