package server

import (
	"net/http"
	"slices"
	"strconv"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// subscribers may subscribe to webhooks: publishers for their namespaces,
// stewards for everything.
var subscribers = Access{Roles: []domain.Role{domain.RolePublisher, domain.RoleSteward}}

// notifyRoutes are the endpoints for webhooks, incidents and hunting rules.
func (s *Server) notifyRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/api/v1/webhooks", Summary: "Subscribe a URL to events ({url, events: [\"submission.*\", \"incident.*\", \"*\"], namespace, plugin}). Publishers subscribe for their namespaces; stewards may leave the scope empty for everything. The signing secret (Standard Webhooks, whsec_…) is in this answer only.", Access: subscribers, Body: "application/json", handler: s.createWebhook},
		{Method: "GET", Path: "/api/v1/webhooks", Summary: "List subscriptions (a publisher's own; stewards see all). Never their secrets.", Access: subscribers, handler: s.listWebhooks},
		{Method: "DELETE", Path: "/api/v1/webhooks/{id}", Summary: "Disable a subscription; its pending deliveries become dead letters.", Access: subscribers, handler: s.disableWebhook},
		{Method: "POST", Path: "/api/v1/webhooks/{id}/replay", Summary: "Send every dead letter of a subscription again, with a fresh retry budget.", Access: subscribers, handler: s.replayDead},
		{Method: "GET", Path: "/api/v1/deliveries", Summary: "The delivery log: ?webhook=, ?state= (pending, delivered, dead), ?limit=.", Access: subscribers, handler: s.listDeliveries},
		{Method: "GET", Path: "/api/v1/deliveries/{id}", Summary: "One delivery with every attempt: status code, latency, error and the start of the answer.", Access: subscribers, handler: s.getDelivery},
		{Method: "POST", Path: "/api/v1/deliveries/{id}/replay", Summary: "Send a delivered or dead delivery again (same webhook-id, new signature).", Access: subscribers, handler: s.replayDelivery},

		{Method: "POST", Path: "/api/v1/incidents", Summary: "Open an incident ({title, summary, severity, versions: [submission id or namespace/name@version]}).", Access: stewards, Body: "application/json", handler: s.openIncident},
		{Method: "GET", Path: "/api/v1/incidents", Summary: "List incidents, newest first: ?state= (open, contained, closed).", Access: auditors, handler: s.listIncidents},
		{Method: "GET", Path: "/api/v1/incidents/{id}", Summary: "An incident: its versions and their states, hunting rules, timeline, time to contain and to remediate.", Access: auditors, handler: s.getIncident},
		{Method: "POST", Path: "/api/v1/incidents/{id}/{action}", Summary: "versions ({versions}), note ({note}), rule ({kind: content|module|import|origin, pattern, description}: runs backward over every stored version and joins vetting), contain ({action: suspend|revoke, reason, deadline}), notify ({message}: to every subscriber) or close ({postmortem}).", Access: stewards, Body: "application/json", handler: s.incidentAction},
		{Method: "GET", Path: "/api/v1/hunt/rules", Summary: "Every hunting rule, active and disabled.", Access: auditors, handler: s.listHuntRules},
		{Method: "DELETE", Path: "/api/v1/hunt/rules/{id}", Summary: "Disable a hunting rule: new submissions are no longer checked for it.", Access: stewards, handler: s.disableHuntRule},
	}
}

func huntRuleJSON(r domain.HuntRule) api.HuntRule {
	return api.HuntRule{ID: r.ID, Incident: r.IncidentID, Kind: r.Kind, Pattern: r.Pattern, Description: r.Description, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, DisabledAt: r.DisabledAt}
}

func huntReportJSON(rep hunt.Report) *api.HuntReport {
	out := &api.HuntReport{Scanned: rep.Scanned, Unreadable: rep.Unreadable}
	if rep.Hits != nil {
		out.Hits = []api.HuntHit{}
	}
	for _, h := range rep.Hits {
		hit := api.HuntHit{Submission: h.VersionID, Plugin: h.Plugin, Version: h.Version, State: h.State}
		if h.Matches != nil {
			hit.Matches = []api.HuntMatch{}
		}
		for _, m := range h.Matches {
			hit.Matches = append(hit.Matches, api.HuntMatch{Rule: m.RuleID, Kind: m.Kind, File: m.File, Line: m.Line, Offset: m.Offset, Subject: m.Subject, Digest: m.Digest})
		}
		out.Hits = append(out.Hits, hit)
	}
	return out
}

func webhookJSON(w domain.Webhook) api.Webhook {
	return api.Webhook{ID: w.ID, Owner: w.Owner, URL: w.URL, Events: w.Events, Namespace: w.Namespace, Plugin: w.PluginID,
		CreatedAt: w.CreatedAt, DisabledAt: w.DisabledAt, DisabledReason: w.DisabledReason}
}

func deliveryJSON(d domain.WebhookDelivery) api.Delivery {
	out := api.Delivery{ID: d.ID, Webhook: d.WebhookID, Event: d.EventSeq, Type: d.EventType, MessageID: d.MessageID, State: d.State,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.State == domain.DeliveryPending {
		out.NextAttempt = d.NextAttempt
	}
	return out
}

func incidentJSON(inc domain.Incident) api.Incident {
	m := incident.Measure(inc)
	return api.Incident{ID: inc.ID, Title: inc.Title, Summary: inc.Summary, Severity: inc.Severity, State: inc.State,
		OpenedBy: inc.OpenedBy, OpenedAt: inc.OpenedAt, ContainedAt: inc.ContainedAt, RemediatedAt: inc.RemediatedAt,
		ClosedAt: inc.ClosedAt, ClosedBy: inc.ClosedBy, Postmortem: inc.Postmortem,
		TimeToContainSeconds: m.TimeToContain.Seconds(), TimeToRemediateSeconds: m.TimeToRemediate.Seconds()}
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req webhook.Subscription
	if !decodeJSON(w, r, &req) {
		return
	}
	hook, secret, err := s.app.Subscribe(r.Context(), p, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := webhookJSON(hook)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	hooks, err := s.app.Webhooks(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.Webhook{}
	for _, h := range hooks {
		out = append(out, webhookJSON(h))
	}
	writeJSON(w, http.StatusOK, api.WebhookList{Webhooks: out})
}

func (s *Server) disableWebhook(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	h, err := s.app.DisableWebhook(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookJSON(h))
}

func (s *Server) replayDead(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	n, err := s.app.ReplayDeadLetters(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 1000)
	if !ok {
		return
	}
	q := domain.DeliveryQuery{WebhookID: r.URL.Query().Get("webhook"), State: r.URL.Query().Get("state"), Limit: limit}
	if q.State != "" && !slices.Contains([]string{domain.DeliveryPending, domain.DeliveryDelivered, domain.DeliveryDead}, q.State) {
		writeError(w, http.StatusBadRequest, "bad_state", "state is pending, delivered or dead")
		return
	}
	ds, err := s.app.Deliveries(r.Context(), p, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.Delivery{}
	for _, d := range ds {
		out = append(out, deliveryJSON(d))
	}
	writeJSON(w, http.StatusOK, api.DeliveryList{Deliveries: out})
}

// deliveryID reads the path's delivery id; one that is not a number names
// no delivery.
func deliveryID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "a delivery id is a number")
		return 0, false
	}
	return id, true
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	id, ok := deliveryID(w, r)
	if !ok {
		return
	}
	d, as, err := s.app.Delivery(r.Context(), p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := deliveryJSON(d)
	for _, a := range as {
		out.Attempt = append(out.Attempt, api.Attempt{N: a.N, At: a.At, StatusCode: a.StatusCode, LatencyMS: float64(a.Latency.Microseconds()) / 1000, Error: a.Error, Response: string(a.Response)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	id, ok := deliveryID(w, r)
	if !ok {
		return
	}
	d, err := s.app.ReplayDelivery(r.Context(), p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deliveryJSON(d))
}

func (s *Server) openIncident(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req incident.OpenRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	inc, err := s.app.OpenIncident(r.Context(), p, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", api.BasePath+"/incidents/"+inc.ID)
	writeJSON(w, http.StatusCreated, incidentJSON(inc))
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	state := r.URL.Query().Get("state")
	if state != "" && !slices.Contains([]string{domain.IncidentOpen, domain.IncidentContained, domain.IncidentClosed}, state) {
		writeError(w, http.StatusBadRequest, "bad_state", "state is open, contained or closed")
		return
	}
	incs, err := s.app.Incidents(r.Context(), p, state)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.Incident{}
	for _, inc := range incs {
		out = append(out, incidentJSON(inc))
	}
	writeJSON(w, http.StatusOK, api.IncidentList{Incidents: out})
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	d, err := s.app.Incident(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.IncidentDetail{Incident: incidentJSON(d.Incident), Versions: []api.IncidentVersion{}, Rules: []api.HuntRule{}, Timeline: []api.Event{}}
	for _, v := range d.Versions {
		out.Versions = append(out.Versions, api.IncidentVersion{Submission: v.VersionID, Plugin: v.Plugin, Version: v.Version, State: string(v.State), Source: v.Source, AddedBy: v.AddedBy, AddedAt: v.AddedAt})
	}
	for _, r := range d.Rules {
		out.Rules = append(out.Rules, huntRuleJSON(r))
	}
	for _, e := range d.Timeline {
		out.Timeline = append(out.Timeline, eventJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) incidentAction(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.IncidentActionRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	var (
		res api.IncidentActionResult
		inc domain.Incident
		err error
	)
	switch r.PathValue("action") {
	case "versions":
		inc, res.Added, err = s.app.AddIncidentVersions(ctx, p, id, req.Versions)
	case "note":
		inc, err = s.app.AddIncidentNote(ctx, p, id, req.Note)
	case "rule":
		var rule domain.HuntRule
		var rep hunt.Report
		inc, rule, rep, err = s.app.AddHuntRule(ctx, p, id, incident.RuleRequest{Kind: req.Kind, Pattern: req.Pattern, Description: req.Description})
		if err == nil {
			hr := huntRuleJSON(rule)
			res.Rule, res.Hunt = &hr, huntReportJSON(rep)
		}
	case "contain":
		var outcomes []incident.Outcome
		inc, outcomes, err = s.app.ContainIncident(ctx, p, id, incident.ContainRequest{Action: req.Action, Reason: req.Reason, Deadline: req.Deadline})
		for _, o := range outcomes {
			res.Outcomes = append(res.Outcomes, api.ContainOutcome{Submission: o.VersionID, Plugin: o.Plugin, Version: o.Version, Before: o.Before, After: o.After, Error: o.Error})
		}
	case "notify":
		inc, err = s.app.NotifyIncident(ctx, p, id, req.Message)
	case "close":
		inc, err = s.app.CloseIncident(ctx, p, id, req.Postmortem)
	default:
		writeError(w, http.StatusNotFound, "not_found", "incident actions are versions, note, rule, contain, notify and close")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res.Incident = incidentJSON(inc)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) listHuntRules(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	rules, err := s.app.HuntRules(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.HuntRule{}
	for _, r := range rules {
		out = append(out, huntRuleJSON(r))
	}
	writeJSON(w, http.StatusOK, api.HuntRuleList{Rules: out})
}

func (s *Server) disableHuntRule(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	id := r.PathValue("id")
	if err := s.app.DisableHuntRule(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"disabled": id})
}
