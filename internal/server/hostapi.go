package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hostcompat"
)

// maxPublishBody bounds a publish request: the capabilities file and a
// little more.
const maxPublishBody = hostapi.MaxSpecBytes + 8<<10

// anyToken is every role, hosts included: the published host API
// versions are what hosts verify plugins against.
var anyToken = Access{Roles: []domain.Role{domain.RolePublisher, domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor, domain.RoleHost}}

// hostAPIRoutes are the endpoints of published host API versions, the
// compatibility matrix and the deprecation calendar (issue 19 item 6).
func (s *Server) hostAPIRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/api/v1/host-api/versions", Summary: "Publish a host API version ({version, capabilities, deprecates, sunset: YYYY-MM-DD, migrationUrl}); capabilities is the capabilities file (functions and capabilities, each possibly deprecated). Every certified version is checked against it from its imports at once (the answer lists the cells) and queued for revalidation, which confirms the cells by running its scenarios in a sandbox offering exactly that version. A published version never changes: 409 for one published before.", Access: stewards, Body: "application/json", handler: s.publishHostAPI},
		{Method: "GET", Path: "/api/v1/host-api/versions", Summary: "The published host API versions, newest first, each with its functions, capabilities and the deprecation it announces: what hosts verify against and `gatehouse plugin check-upgrade` reads. Any token, hosts included.", Access: anyToken, handler: s.listPublishedHostAPIs},
		{Method: "GET", Path: "/api/v1/host-api/versions/{version}", Summary: "One published host API version.", Access: anyToken, handler: s.getPublishedHostAPI},
		{Method: "GET", Path: "/api/v1/host-api/matrix", Summary: "The compatibility matrix: each plugin version the caller may read against each published host API version: compatible, deprecated or broken, with the functions and capabilities that decide it and whether a sandbox run confirmed it. ?hostApi=, ?plugin=NS/NAME, ?namespace=.", Access: signedIn, handler: s.hostAPIMatrix},
		{Method: "GET", Path: "/api/v1/host-api/calendar", Summary: "The deprecation calendar: each announced sunset, soonest first, with its migration notes and the plugins it affects that the caller may read (none for an anonymous caller).", Access: anyone, handler: s.hostAPICalendar},
		{Method: "GET", Path: "/api/v1/host-api/calendar.ics", Summary: "The deprecation calendar as an iCalendar (RFC 5545) feed, one all-day event per sunset, for calendar applications.", Access: anyone, handler: s.hostAPICalendarICS},
		{Method: "GET", Path: "/api/v1/host-api/notices", Summary: "The sunset notices sent 90, 30 and 7 days before a sunset to the authors of the plugins the caller may read, newest first (?limit=).", Access: signedIn, handler: s.hostAPINotices},
	}
}

func (s *Server) publishHostAPI(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPublishBody)
	var req api.HostAPIPublishRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is over %d bytes; a capabilities file is at most %d", maxPublishBody, hostapi.MaxSpecBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "bad_json", "the request body is not valid JSON for this endpoint: "+err.Error())
		return
	}
	var sunset time.Time
	if req.Sunset != "" {
		t, err := time.Parse(time.DateOnly, req.Sunset)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_sunset", fmt.Sprintf("sunset %q is not a date such as 2027-06-30", req.Sunset))
			return
		}
		sunset = t
	}
	out, err := s.app.PublishHostAPI(r.Context(), p, hostcompat.PublishRequest{Version: req.Version, Capabilities: req.Capabilities,
		Deprecates: req.Deprecates, Sunset: sunset, MigrationURL: req.MigrationURL})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pub, err := hostcompat.ToPublished(out.Version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res := api.HostAPIPublishResult{Published: pub, Checked: len(out.Cells), Queued: out.Queued, Cells: []api.CompatCell{}}
	for _, c := range out.Cells {
		switch c.Status {
		case hostapi.Broken:
			res.Broken++
		case hostapi.Deprecated:
			res.Deprecated++
		}
		res.Cells = append(res.Cells, compatJSON(c))
	}
	writeJSON(w, http.StatusCreated, res)
}

func compatJSON(c domain.HostAPICompat) api.CompatCell {
	out := api.CompatCell{Submission: c.VersionID, Plugin: c.PluginID, Version: c.PluginVersion, HostAPI: c.HostAPI, Status: c.Status,
		Confirmed: c.Confirmed, Detail: c.Detail, CheckedAt: c.CheckedAt, Usages: []hostapi.Usage{}}
	_ = json.Unmarshal(c.Usages, &out.Usages)
	return out
}

func (s *Server) listPublishedHostAPIs(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	pubs, err := s.app.PublishedHostAPIs(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if pubs == nil {
		pubs = []hostapi.Published{}
	}
	writeJSON(w, http.StatusOK, pubs)
}

func (s *Server) getPublishedHostAPI(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	pubs, err := s.app.PublishedHostAPIs(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, pub := range pubs {
		if pub.Spec.Version == r.PathValue("version") {
			writeJSON(w, http.StatusOK, pub)
			return
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "host API "+r.PathValue("version")+" is not published")
}

func (s *Server) hostAPIMatrix(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	q := domain.CompatQuery{HostAPI: r.URL.Query().Get("hostApi"), PluginID: r.URL.Query().Get("plugin"), Namespace: r.URL.Query().Get("namespace")}
	if len(q.HostAPI) > 64 || len(q.PluginID) > 256 || len(q.Namespace) > 128 {
		writeError(w, http.StatusBadRequest, "bad_parameter", "hostApi (64 bytes), plugin (256) or namespace (128) is too long")
		return
	}
	m, err := s.app.HostAPIMatrix(r.Context(), p, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.CompatMatrix{HostAPIs: []string{}, Cells: []api.CompatCell{}}
	for _, h := range m.HostAPIs {
		out.HostAPIs = append(out.HostAPIs, h.Version)
	}
	for _, c := range m.Cells {
		out.Cells = append(out.Cells, compatJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) hostAPICalendar(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	entries, err := s.app.HostAPICalendar(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.SunsetEntry, 0, len(entries))
	for _, e := range entries {
		se := api.SunsetEntry{HostAPI: e.HostAPI, ReplacedBy: e.ReplacedBy, Sunset: e.Sunset, MigrationURL: e.MigrationURL, Announced: e.Announced, Affected: []api.SunsetAffected{}}
		for _, a := range e.Affected {
			se.Affected = append(se.Affected, api.SunsetAffected{Plugin: a.PluginID, Versions: a.Versions})
		}
		out = append(out, se)
	}
	writeJSON(w, http.StatusOK, out)
}

// hostRE is what a Host header must look like to name the feed's UIDs.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}$`)

// calendarDomain is the right-hand side of the feed's UIDs: the host of
// the marketplace's public address when it is configured, so that a
// subscriber's calendar keeps one event per sunset whatever name it
// reached the server by; otherwise the host the request named, without
// its port; "gatehouse.invalid" when neither is a host name.
func (s *Server) calendarDomain(r *http.Request) string {
	h := r.Host
	if s.cfg.PublicURL != "" {
		if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Host != "" {
			h = u.Host
		}
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	if !hostRE.MatchString(h) {
		return "gatehouse.invalid"
	}
	return h
}

func (s *Server) hostAPICalendarICS(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	// The feed is public: it names no plugin, whoever asks.
	entries, err := s.app.HostAPICalendar(r.Context(), domain.Principal{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="host-api-sunsets.ics"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(hostcompat.ICS(entries, s.cfg.Now(), s.calendarDomain(r), ""))
}

func (s *Server) hostAPINotices(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	limit, ok := intParam(w, r, "limit", 1, 1000)
	if !ok {
		return
	}
	ns, err := s.app.HostAPINotices(r.Context(), p, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.SunsetNotice, 0, len(ns))
	for _, n := range ns {
		out = append(out, api.SunsetNotice{Plugin: n.PluginID, HostAPI: n.HostAPI, Threshold: n.Threshold, Sunset: n.Sunset, SentAt: n.SentAt})
	}
	writeJSON(w, http.StatusOK, out)
}
