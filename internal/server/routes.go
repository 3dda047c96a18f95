package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/manifest"
)

var (
	anyone     = Access{Public: true}
	signedIn   = Access{}
	admins     = Access{Roles: []domain.Role{domain.RoleAdmin}}
	publishers = Access{Roles: []domain.Role{domain.RolePublisher}}
	overseers  = Access{Roles: []domain.Role{domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor}}
	auditors   = Access{Roles: []domain.Role{domain.RoleSteward, domain.RoleAuditor}}
	stewards   = Access{Roles: []domain.Role{domain.RoleSteward}}
	reviewers  = Access{Roles: []domain.Role{domain.RoleReviewer, domain.RoleSteward}}
)

// reading is a with the rule r for the versions it reads.
func (a Access) reading(r Reads) Access {
	a.Reads = r
	return a
}

// separating is a with separation of duties.
func (a Access) separating() Access {
	a.SeparateDuties = true
	return a
}

// noting is a with a note on a finer rule the handler applies.
func (a Access) noting(note string) Access {
	a.Note = note
	return a
}

func (s *Server) routeTable() []Route {
	rs := []Route{
		{Method: "GET", Path: "/healthz", Summary: "Liveness: the process is up and serving (it checks nothing else, so a database outage does not get every process restarted).", Access: anyone, handler: s.healthz},
		{Method: "GET", Path: "/readyz", Summary: "Readiness: the database, the blob store and the transparency log answer, and the process is not draining; 503 names the parts that do not.", Access: anyone, handler: s.readyz},
		{Method: "GET", Path: "/api/v1/openapi.json", Summary: "This API's OpenAPI 3.1 description.", Access: anyone, handler: s.openapi},
		{Method: "GET", Path: "/api/v1/schema/manifest.v1.json", Summary: "The JSON Schema (2020-12) of manifest v1.", Access: anyone, handler: s.manifestSchema},
		{Method: "GET", Path: "/api/v1/whoami", Summary: "The caller's token subject, role and scope.", Access: signedIn, handler: s.whoami},

		{Method: "POST", Path: "/api/v1/submissions", Summary: "Submit a package (the .gpkg bytes as the body). Answers 202 with the submission and its status URL; 200 with the existing submission when the same bytes were submitted before.", Access: publishers, Body: "application/octet-stream", handler: s.submit},
		{Method: "GET", Path: "/api/v1/submissions", Summary: "List submissions, optionally by ?state= (the review queue is ?state=in_review).", Access: overseers, handler: s.listSubmissions},
		{Method: "GET", Path: "/api/v1/submissions/{id}", Summary: "A submission's state, reasons, files, vetting results and history. Publishers see their own namespaces'.", Access: signedIn.reading(SubmissionRecord), handler: s.getSubmission},
		{Method: "GET", Path: "/api/v1/submissions/{id}/sarif", Summary: "The newest vetting run as SARIF 2.1.0.", Access: signedIn.reading(SubmissionRecord), handler: s.getSARIF},
		{Method: "POST", Path: "/api/v1/submissions/{id}/vet", Summary: "Run the analyzers again on this version (with today's rules and databases).", Access: reviewers.reading(SubmissionRecord), handler: s.revet},
		{Method: "POST", Path: "/api/v1/submissions/{id}/findings/{fingerprint}/true-positive", Summary: "Confirm a finding is real ({reason}); recorded in the audit trail and the review thread.", Access: reviewers.reading(SubmissionRecord), Body: "application/json", handler: s.truePositive},
		{Method: "POST", Path: "/api/v1/auto-approval", Summary: "Switch auto-approval off or on for a plugin or a namespace ({scope: plugin:NS/NAME | namespace:NS, off, reason}).", Access: stewards, Body: "application/json", handler: s.setAutoApproval},
		{Method: "POST", Path: "/api/v1/submissions/{id}/findings/{fingerprint}/false-positive", Summary: "Mark a finding a false positive, with a reason; the decision carries forward to later versions with the same fingerprint and is audited.", Access: reviewers.reading(SubmissionRecord).separating().noting("a steward may clear a finding of a namespace it publishes in"), Body: "application/json", handler: s.falsePositive},

		{Method: "GET", Path: "/api/v1/reviews", Summary: "The review queue: earliest deadline first, then highest risk weight. ?limit=, ?offset=.", Access: reviewers, handler: s.listReviews},
		{Method: "GET", Path: "/api/v1/reviews/{id}", Summary: "Everything a reviewer decides on: findings, the verdict factor by factor with the dry run, the changes since the last approved version in plain language, the thread.", Access: reviewers.reading(SubmissionRecord), handler: s.getReview},
		{Method: "POST", Path: "/api/v1/reviews/{id}/{action}", Summary: "claim, approve ({granted, refused_flows, message}: refused_flows names the data flows refused, by id), reject ({code, message}) or request-changes ({message}). Nobody reviews a plugin of a namespace they publish in; a high tier needs two different approvers.", Access: reviewers.reading(SubmissionRecord).separating().noting("403 also for the version's submitter, and while another reviewer holds the claim"), Body: "application/json", handler: s.reviewAction},
		{Method: "POST", Path: "/api/v1/submissions/{id}/thread/comment", Summary: "Comment ({message}) in the plugin's review thread.", Access: signedIn.reading(SubmissionRecord), Body: "application/json", handler: s.threadAction},
		{Method: "POST", Path: "/api/v1/submissions/{id}/thread/appeal", Summary: "Appeal ({message}) a rejection: the plugin's publisher.", Access: publishers.reading(SubmissionRecord), Body: "application/json", handler: s.threadAction},
		{Method: "GET", Path: "/api/v1/policy", Summary: "The active policy (digest and sources) and the history of applied policies.", Access: signedIn, handler: s.getPolicy},
		{Method: "POST", Path: "/api/v1/policy/dry-run", Summary: "Compile and test a proposed policy ({modules}) and report which versions in review it would decide differently.", Access: stewards, Body: "application/json", handler: s.policyDryRun},
		{Method: "POST", Path: "/api/v1/policy", Summary: "Apply a policy ({modules}). One that does not compile or whose tests fail is refused with file, line and column; the active policy stays.", Access: stewards, Body: "application/json", handler: s.applyPolicy},

		{Method: "GET", Path: "/api/v1/plugins", Summary: "Search the catalog: ?q=, ?namespace=, ?limit= (at most 500), ?offset=. Callers see plugins with a version they may read: a released (certified or suspended) one, or any of a namespace they publish in; the overseers see all.", Access: anyone.reading(ReleasedVersion), cached: true, handler: s.listPlugins},
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}", Summary: "A plugin with the versions the caller may read: the released (certified and suspended) ones, and all of them for its namespace's publishers and the overseers.", Access: anyone.reading(ReleasedVersion), cached: true, handler: s.getPlugin},
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}/versions/{version}", Summary: "One version, with its files and manifest.", Access: signedIn.reading(ReleasedVersion), handler: s.getPluginVersion},
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}/versions/{version}/manifest", Summary: "One version's manifest (v1 JSON).", Access: signedIn.reading(ReleasedVersion), handler: s.getManifest},
		{Method: "GET", Path: "/api/v1/packages/{digest}", Summary: "Download a package by digest (sha256:HEX); its bytes are checked against the digest as they are served.", Access: anyone.reading(ReleasedVersion), cached: true, handler: s.download},
		{Method: "GET", Path: "/api/v1/namespaces", Summary: "List namespaces and their owners.", Access: Access{Note: "a publisher lists only the namespaces it may publish to (it owns them, or its token is scoped to one); the other roles list all"}, handler: s.listNamespaces},

		{Method: "POST", Path: "/api/v1/tokens", Summary: "Create a token; its secret is in this answer only.", Access: admins, Body: "application/json", handler: s.createToken},
		{Method: "GET", Path: "/api/v1/tokens", Summary: "List tokens (never their secrets).", Access: admins, handler: s.listTokens},
		{Method: "DELETE", Path: "/api/v1/tokens/{id}", Summary: "Revoke a token.", Access: admins, handler: s.revokeToken},

		{Method: "POST", Path: "/api/v1/vulndb", Summary: "Import an OSV all.zip (the body) as the vulnerability database. A corrupt or partial file changes nothing; the previous database stays active.", Access: stewards, Body: "application/zip", handler: s.importVulnDB},
		{Method: "GET", Path: "/api/v1/vulndb", Summary: "The active vulnerability database's version.", Access: signedIn, handler: s.vulnDBVersion},

		{Method: "GET", Path: "/api/v1/audit/verify", Summary: "Recompute the audit hash chain and report the first broken link.", Access: auditors, handler: s.auditVerify},
		{Method: "GET", Path: "/api/v1/audit/events", Summary: "Export the audit trail as JSON lines: ?subject=, ?after= (a seq), ?limit=.", Access: auditors, handler: s.auditExport},
	}
	rs = append(rs, s.trustRoutes()...)
	rs = append(rs, s.monitorRoutes()...)
	rs = append(rs, s.hostAPIRoutes()...)
	rs = append(rs, s.notifyRoutes()...)
	rs = append(rs, s.insightRoutes()...)
	rs = append(rs, s.releaseRoutes()...)
	rs = append(rs, s.privacyRoutes()...)
	return rs
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 503 while the process drains or a part it needs does not
// answer. The body names the parts, never their errors (which may name
// hosts): those go to the log.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "draining", "this process is shutting down; send requests to another")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := s.app.Ready(ctx)
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	s.cfg.Log.WarnContext(ctx, "not ready", "err", err)
	var parts []string
	for _, e := range unjoin(err) {
		var pe *app.ProbeError
		if errors.As(e, &pe) {
			parts = append(parts, pe.Part)
		} else {
			parts = append(parts, "unknown")
		}
	}
	writeError(w, http.StatusServiceUnavailable, "not_ready", "not answering: "+strings.Join(parts, ", "))
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Drain makes the readiness probe fail from now on, so a load balancer
// stops sending requests before the process stops taking them.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) manifestSchema(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	w.Header().Set("Content-Type", "application/schema+json")
	_, _ = w.Write(manifest.SchemaJSON)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	writeJSON(w, http.StatusOK, api.Whoami{TokenID: p.TokenID, Subject: p.Subject, Role: string(p.Role), Namespace: p.Namespace})
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	release, ok := s.takeUpload(w)
	if !ok {
		return
	}
	defer release()
	if err := s.boundUpload(w); err != nil {
		s.internal(w, r, fmt.Errorf("setting the upload's deadline: %w", err))
		return
	}
	sig, err := signature(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_signature", err.Error())
		return
	}
	v, created, err := s.app.Submit(r.Context(), p, r.Body, sig)
	if uploadTooSlow(err) {
		writeError(w, http.StatusRequestTimeout, "upload_timeout",
			fmt.Sprintf("the package did not arrive within %s; upload it again over a faster connection (nothing was kept)", s.uploadTimeout()))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub := submissionJSON(v, false)
	w.Header().Set("Location", sub.StatusURL)
	if created {
		writeJSON(w, http.StatusAccepted, sub)
		return
	}
	writeJSON(w, http.StatusOK, sub)
}

// next says in a sentence what happens to a version in state st.
func next(st lifecycle.State) string {
	switch st {
	case lifecycle.Received, lifecycle.Vetting, lifecycle.Triage:
		return "automatic processing continues; check again in a few seconds"
	case lifecycle.InReview:
		return "waiting for a reviewer's decision"
	case lifecycle.ChangesRequested:
		return "the reviewer asked for changes: submit a new version"
	case lifecycle.AutoApproved:
		return "approved automatically; the certificate is being issued"
	case lifecycle.Certified:
		return "certified: hosts may install it"
	case lifecycle.Rejected:
		return "rejected: read the reason, fix it in a new version, or appeal with `gatehouse plugin appeal ID -m ...`"
	case lifecycle.Suspended:
		return "suspended: certify a fixed version before the deadline, or this one is revoked"
	case lifecycle.Revoked:
		return "revoked: hosts refuse it"
	}
	return ""
}

func submissionJSON(v domain.Version, detail bool) api.Submission {
	sub := api.Submission{
		ID: v.ID, Plugin: v.PluginID, Version: v.Version, Digest: v.Digest, Size: v.Size,
		State: string(v.State), Reason: v.Reason, Submitter: v.Submitter,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
		StatusURL: api.BasePath + "/submissions/" + v.ID,
		Next:      next(v.State),
	}
	if detail {
		for _, f := range v.Files {
			sub.Files = append(sub.Files, api.File(f))
		}
		sub.Manifest = v.Manifest
	}
	return sub
}

func eventJSON(e audit.Event) api.Event {
	return api.Event{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Subject: e.Subject, OldState: e.OldState, NewState: e.NewState, Reason: e.Reason, Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash}
}

func (s *Server) getSubmission(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	sr, err := s.app.Submission(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub := submissionJSON(sr.Version, true)
	sub.Vetting = vettingJSON(sr.Vetting)
	reviewState(sr, &sub)
	for _, e := range sr.History {
		sub.History = append(sub.History, eventJSON(e))
	}
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) listSubmissions(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	q := app.SubmissionQuery{State: lifecycle.State(r.URL.Query().Get("state")), Limit: 500}
	if q.State != "" && !lifecycle.Valid(q.State) {
		writeError(w, http.StatusBadRequest, "bad_state", fmt.Sprintf("unknown state %q", q.State))
		return
	}
	if n, ok := intParam(w, r, "limit", 1, 500); !ok {
		return
	} else if n > 0 {
		q.Limit = n
	}
	vs, err := s.app.Submissions(r.Context(), p, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.SubmissionList{Submissions: []api.Submission{}}
	for _, v := range vs {
		out.Submissions = append(out.Submissions, submissionJSON(v, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// intParam reads an optional integer query parameter within [min, max];
// 0 when absent.
func intParam(w http.ResponseWriter, r *http.Request, name string, min, max int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		writeError(w, http.StatusBadRequest, "bad_parameter", fmt.Sprintf("%s must be a whole number from %d to %d", name, min, max))
		return 0, false
	}
	return n, true
}

func pluginJSON(p domain.Plugin) api.Plugin {
	return api.Plugin{ID: p.ID, Namespace: p.Namespace, Name: p.Name, DisplayName: p.DisplayName, Description: p.Description, LatestVersion: p.LatestVersion, UpdatedAt: p.UpdatedAt}
}

func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request, caller domain.Principal) {
	q := app.PluginSearch{Text: r.URL.Query().Get("q"), Namespace: r.URL.Query().Get("namespace"), Limit: 50}
	if len(q.Text) > 200 {
		writeError(w, http.StatusBadRequest, "bad_parameter", "q is limited to 200 bytes")
		return
	}
	limit, ok := intParam(w, r, "limit", 1, 500)
	if !ok {
		return
	}
	if limit > 0 {
		q.Limit = limit
	}
	if q.Offset, ok = intParam(w, r, "offset", 0, 1_000_000); !ok {
		return
	}
	ps, err := s.app.Plugins(r.Context(), caller, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.PluginList{Plugins: []api.Plugin{}, Limit: q.Limit, Offset: q.Offset}
	for _, p := range ps {
		out.Plugins = append(out.Plugins, pluginJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func pluginID(r *http.Request) string { return r.PathValue("namespace") + "/" + r.PathValue("name") }

func (s *Server) getPlugin(w http.ResponseWriter, r *http.Request, caller domain.Principal) {
	p, vs, err := s.app.Plugin(r.Context(), caller, pluginID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.PluginDetail{Plugin: pluginJSON(p), Versions: []api.Submission{}}
	for _, v := range vs {
		out.Versions = append(out.Versions, submissionJSON(v, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// version returns the version the path names by namespace, name and
// version, which the guard loaded and checked (see pathVersion).
func (s *Server) version(w http.ResponseWriter, r *http.Request) (domain.Version, bool) {
	return s.pathVersion(w, r)
}

func (s *Server) getPluginVersion(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	if v, ok := s.version(w, r); ok {
		writeJSON(w, http.StatusOK, submissionJSON(v, true))
	}
}

func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	if v, ok := s.version(w, r); ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(v.Manifest)
	}
}

// download serves the package of the version the guard found by digest
// and let the caller read.
func (s *Server) download(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	v, ok := guarded(r)
	if !ok {
		s.internal(w, r, errors.New("download: no version checked by the guard"))
		return
	}
	pkg, err := s.app.OpenPackage(r.Context(), v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer pkg.Close()
	h := w.Header()
	h.Set("Content-Type", "application/vnd.gatehouse.package+gzip")
	h.Set("Digest", "sha-256="+v.Digest)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.gpkg"`, strings.ReplaceAll(v.PluginID, "/", "-"), v.Version))
	// The bytes under a digest never change: the digest is the tag, and
	// caches may keep them. Whether the caller may still have them is
	// the guard's question, asked on every request that reaches it; a
	// caller with a token keeps them in its own cache only.
	h.Set("ETag", `"`+v.Digest+`"`)
	if r.Header.Get("Authorization") == "" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "private, max-age=31536000, immutable")
	}
	// Ranges (a resumed download) and If-None-Match come from here.
	http.ServeContent(w, r, "", time.Time{}, pkg)
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	nss, err := s.app.ListNamespaces(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.Namespace{}
	for _, n := range nss {
		out = append(out, api.Namespace{Name: n.Name, Owners: n.Owners, CreatedAt: n.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func tokenJSON(t domain.Token) api.Token {
	out := api.Token{ID: t.ID, Subject: t.Subject, Role: string(t.Role), Namespace: t.Namespace, Environment: t.Environment, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
	if !t.RevokedAt.IsZero() {
		ra := t.RevokedAt
		out.RevokedAt = &ra
	}
	return out
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.TokenRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	t, secret, err := s.app.CreateToken(r.Context(), p, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := tokenJSON(t)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
}

// NewToken validates a token request and makes the token (app.NewToken),
// for the bootstrap and tests that create tokens without a caller.
func NewToken(now time.Time, req api.TokenRequest) (domain.Token, string, error) {
	return app.NewToken(now, req)
}

// TokenEvent is the audit event of a token's creation (app.TokenEvent).
func TokenEvent(t domain.Token, actor string, now time.Time) audit.Event {
	return app.TokenEvent(t, actor, now)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	ts, err := s.app.ListTokens(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []api.Token{}
	for _, t := range ts {
		out = append(out, tokenJSON(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	if err := s.app.RevokeToken(r.Context(), p, r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	rep, err := s.app.VerifyAudit(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, app.Verification(rep))
}

func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	q := domain.AuditQuery{Subject: r.URL.Query().Get("subject")}
	if a := r.URL.Query().Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "bad_parameter", "after must be a sequence number")
			return
		}
		q.AfterSeq = n
	}
	limit, ok := intParam(w, r, "limit", 1, 1_000_000)
	if !ok {
		return
	}
	q.Limit = limit
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	err := s.app.ExportAudit(r.Context(), p, q, func(e audit.Event) error {
		return enc.Encode(eventJSON(e))
	})
	if err != nil {
		// Headers are gone; the truncated stream and the log say it failed.
		s.cfg.Log.Error("audit export failed", "err", err, "actor", p.Subject)
	}
}
