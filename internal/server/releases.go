package server

import (
	"net/http"
	"strconv"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
)

// releasers change releases: stewards, and the plugin's publishers (the
// handler checks the namespace).
var releasers = Access{Roles: []domain.Role{domain.RoleSteward, domain.RolePublisher}}.noting("publishers only for plugins of their namespaces")

// releaseRoutes are the endpoints of environments and releases (issue 18).
func (s *Server) releaseRoutes() []Route {
	return []Route{
		{Method: "GET", Path: api.StatusFeedPath, Summary: "An environment's signed status feed (a DSSE envelope): the version of each plugin it runs with the rollout percentage, the suspended and revoked versions, the killed plugins; numbered and dated. Hosts fetch it with `gatehouse sync`.", Access: anyone, handler: s.statusFeed},
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}/releases", Summary: "A plugin's release in each environment and its release history (?limit=).", Access: signedIn, handler: s.pluginReleases},
		{Method: "POST", Path: "/api/v1/releases/promote", Summary: "Promote a version into the next environment ({version, to, rollout, reason}) when the policy allows it; a refusal (409 promotion_refused) names every rule. Audited, logged, a webhook event.", Access: releasers, Body: "application/json", handler: s.promote},
		{Method: "POST", Path: "/api/v1/releases/approve", Summary: "Approve a version for an environment ({version, environment, reason}), which the policy may require before production.", Access: stewards, Body: "application/json", handler: s.approveRelease},
		{Method: "POST", Path: "/api/v1/plugins/{namespace}/{name}/rollout", Summary: "Grow ({action: grow, rollout}), pause, resume or abort a staged rollout in an environment.", Access: releasers, Body: "application/json", handler: s.rollout},
		{Method: "POST", Path: "/api/v1/plugins/{namespace}/{name}/release-rollback", Summary: "Point an environment back at its previous release ({environment, reason}); hosts follow at their next sync.", Access: releasers, Body: "application/json", handler: s.releaseRollback},
		{Method: "POST", Path: "/api/v1/plugins/{namespace}/{name}/kill", Summary: "The kill switch ({reason}): the plugin is named in every environment's status feed and hosts stop running it at their next sync.", Access: stewards, Body: "application/json", handler: s.kill},
	}
}

func (s *Server) statusFeed(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	b, err := s.app.StatusFeed(r.Context(), r.PathValue("env"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func releaseJSON(rel domain.Release) api.Release {
	return api.Release{Plugin: rel.PluginID, Environment: rel.Environment, Version: rel.Version, Digest: rel.Digest, Rollout: rel.Rollout,
		Status: string(rel.Status), Previous: rel.Previous, Since: rel.Since, UpdatedAt: rel.UpdatedAt}
}

func (s *Server) pluginReleases(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	out, err := s.app.Releases(r.Context(), p, pluginID(r), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body := api.PluginReleases{Environments: out.Environments, Releases: []api.Release{}, History: []api.ReleaseRecord{}}
	for _, rel := range out.Releases {
		body.Releases = append(body.Releases, releaseJSON(rel))
	}
	for _, h := range out.History {
		body.History = append(body.History, api.ReleaseRecord{Environment: h.Environment, Action: string(h.Action), Version: h.Version, Rollout: h.Rollout, Actor: h.Actor, Reason: h.Reason, At: h.At})
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) promote(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.PromoteRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	rel, err := s.app.PromoteRelease(r.Context(), p, app.PromoteRequest{Ref: req.Version, To: req.To, Rollout: req.Rollout, Reason: req.Reason})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, releaseJSON(rel))
}

func (s *Server) approveRelease(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.ApproveRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := s.app.ApproveRelease(r.Context(), p, req.Version, req.Environment, req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) rollout(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.RolloutRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	rel, err := s.app.ChangeRollout(r.Context(), p, pluginID(r), req.Environment, app.RolloutAction(req.Action), req.Rollout, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, releaseJSON(rel))
}

func (s *Server) releaseRollback(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.ReleaseRollbackRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	rel, err := s.app.RollbackRelease(r.Context(), p, pluginID(r), req.Environment, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, releaseJSON(rel))
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.KillRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := s.app.KillPlugin(r.Context(), p, pluginID(r), req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
