package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/badge"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// namespaceOwners change a namespace: its owners and admins.
var namespaceOwners = Access{Roles: []store.Role{store.RolePublisher}, Owners: true}

// MaxPublicKeyBody bounds a registered public key (PEM).
const MaxPublicKeyBody = 8 << 10

// trustRoutes are the endpoints for keys, namespace publisher keys, certificates and bundles, revocation lists, the transparency log under /log/, badges.
func (s *Server) trustRoutes() []Route {
	return []Route{
		{Method: "GET", Path: api.TrustRootPath, Summary: "The trust root: the marketplace keys (retired ones included), the log's origin and key, the revocation list's maximum age.", Access: anyone, handler: s.trustRoot},
		{Method: "GET", Path: "/log/checkpoint", Summary: "The transparency log's latest signed checkpoint (C2SP tlog-checkpoint).", Access: anyone, handler: s.logFile},
		{Method: "GET", Path: "/log/tile/{path...}", Summary: "The transparency log's tiles and entry bundles (C2SP tlog-tiles).", Access: anyone, handler: s.logFile},
		{Method: "GET", Path: "/api/v1/revocations", Summary: "The current signed revocation list (a DSSE envelope).", Access: anyone, handler: s.revocations},
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}/versions/{version}/bundle", Summary: "The certificate bundle of a version: publisher signature and key, certificate, inclusion proof against the current checkpoint.", Access: anyone.reading(PublishedVersion), handler: s.bundle},
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}/versions/{version}/provenance", Summary: "The marketplace's signed SLSA provenance statement for a version it rebuilt reproducibly (a DSSE envelope).", Access: anyone.reading(PublishedVersion), handler: s.provenance},
		{Method: "GET", Path: "/api/v1/namespaces/{namespace}/keys", Summary: "A namespace's publisher keys (retired ones included) and whether it requires signatures.", Access: anyone, handler: s.listKeys},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/keys", Summary: "Register a publisher key (the body: a PEM public key, Ed25519 or ECDSA P-256). An owner of the namespace or an admin; a namespace that does not exist is created, owned by the caller. Logged.", Access: namespaceOwners, Body: "application/x-pem-file", handler: s.addKey},
		{Method: "DELETE", Path: "/api/v1/namespaces/{namespace}/keys/{id}", Summary: "Retire a publisher key: what it signed stays verifiable, new submissions signed with it are refused. Logged.", Access: namespaceOwners, handler: s.removeKey},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/signature-requirement", Summary: "Require publisher signatures in a namespace or not ({required, reason}). Audited.", Access: admins, Body: "application/json", handler: s.setSignatureRequirement},
		{Method: "POST", Path: "/api/v1/submissions/{id}/suspend", Summary: "Suspend a certified version ({reason, deadline}); logged.", Access: stewards.reading(SubmissionRecord), Body: "application/json", handler: s.suspend},
		{Method: "POST", Path: "/api/v1/submissions/{id}/revoke", Summary: "Revoke a certified or suspended version ({reason}): its digest goes on a new signed revocation list; logged.", Access: stewards.reading(SubmissionRecord), Body: "application/json", handler: s.revoke},
		{Method: "GET", Path: "/api/v1/submissions/{id}/certificate", Summary: "The newest certificate of a version (a DSSE envelope).", Access: signedIn.reading(PublishedVersion), handler: s.certificate},
		{Method: "GET", Path: "/badge/{namespace}/{file}", Summary: "A plugin's certification badge (NAME.svg) for READMEs: certified, suspended, revoked, expired or not certified, with the checks passed.", Access: anyone.noting("shows only a state the revocation list and the transparency log already publish: certified, suspended, revoked, expired or not certified"), handler: s.badge},
	}
}

// trustOff answers for a server running without the trust layer.
func (s *Server) trustOff(w http.ResponseWriter) bool {
	if s.cfg.Trust == nil {
		writeError(w, http.StatusServiceUnavailable, "trust_disabled", "this server runs without certificates and a transparency log")
		return true
	}
	return false
}

func (s *Server) trustRoot(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	if s.trustOff(w) {
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, s.cfg.Trust.TrustRoot())
}

// logFile serves the log's checkpoint and tiles from its directory, never
// anything else (state/ is not part of the protocol).
func (s *Server) logFile(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	if s.cfg.LogDir == "" {
		writeError(w, http.StatusServiceUnavailable, "trust_disabled", "this server runs without a transparency log")
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, "/log/")
	if !certify.PublicLogPath(rel) {
		writeError(w, http.StatusNotFound, "not_found", "no log file "+rel)
		return
	}
	root, err := os.OpenRoot(s.cfg.LogDir)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(rel))
	if errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusNotFound, "not_found", "no log file "+rel)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if rel == tlog.CheckpointPath {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		// A full tile never changes; a partial one is named by its width,
		// so it never changes either.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_, _ = w.Write(b)
}

func (s *Server) revocations(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	if s.trustOff(w) {
		return
	}
	b, err := s.cfg.Trust.Revocations(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	if s.trustOff(w) {
		return
	}
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	b, err := s.cfg.Trust.Bundle(r.Context(), v.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no_certificate", fmt.Sprintf("%s@%s has no certificate", v.PluginID, v.Version))
		return
	case errors.Is(err, certify.ErrNotLogged):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "not_logged_yet", err.Error())
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	out, err := b.Marshal()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (s *Server) provenance(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	if s.trustOff(w) {
		return
	}
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	b, err := s.cfg.Trust.ProvenanceStatement(r.Context(), v.ID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no_provenance", fmt.Sprintf("%s@%s has no marketplace provenance statement: the marketplace states provenance only for a module it rebuilt byte for byte", v.PluginID, v.Version))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) certificate(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	rec, err := s.cfg.Store.LatestCertificate(r.Context(), v.ID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no_certificate", fmt.Sprintf("%s@%s has no certificate: it is %s", v.PluginID, v.Version, v.State))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rec.Envelope)
}

func keyJSON(k store.PublisherKey) api.PublisherKey {
	out := api.PublisherKey{ID: k.ID, Namespace: k.Namespace, Algorithm: k.Algorithm, PublicKey: string(k.PEM), AddedBy: k.AddedBy, AddedAt: k.AddedAt, RetiredBy: k.RetiredBy}
	if !k.RetiredAt.IsZero() {
		t := k.RetiredAt
		out.RetiredAt = &t
	}
	return out
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	ns := r.PathValue("namespace")
	if _, err := s.cfg.Store.GetNamespace(r.Context(), ns); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no namespace "+ns)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	keys, err := s.cfg.Store.ListPublisherKeys(r.Context(), ns)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	req, err := s.cfg.Store.SignaturesRequired(r.Context(), ns)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := api.NamespaceKeys{Namespace: ns, SignaturesRequired: req, Keys: []api.PublisherKey{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, keyJSON(k))
	}
	writeJSON(w, http.StatusOK, out)
}

// ownNamespace returns the namespace if p may manage its keys, creating it
// (owned by p) when it does not exist yet. It answers and returns false
// otherwise.
func (s *Server) ownNamespace(w http.ResponseWriter, r *http.Request, p auth.Principal, create bool) (store.Namespace, bool) {
	name := r.PathValue("namespace")
	ns, err := s.cfg.Store.GetNamespace(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) && create {
		if err := p.CanPublish(name, nil); err != nil {
			writeError(w, http.StatusForbidden, "forbidden", err.Error())
			return ns, false
		}
		now := s.cfg.Now().UTC()
		ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.NamespaceClaim, Subject: "namespace:" + name, Reason: "a publisher key registered for an unclaimed namespace"}
		err = s.cfg.Store.CreateNamespace(r.Context(), store.Namespace{Name: name, Owners: []string{p.Subject}, CreatedAt: now}, ev)
		switch {
		case err == nil && s.cfg.Trust != nil:
			if err := s.cfg.Trust.LogEvent(r.Context(), trust.Event{Kind: trust.EventNamespaceOwner, Time: now, Subject: name, Detail: "claimed by " + p.Subject}); err != nil {
				s.internal(w, r, err)
				return ns, false
			}
		case err != nil && !errors.Is(err, store.ErrConflict):
			writeError(w, http.StatusUnprocessableEntity, "invalid_namespace", err.Error())
			return ns, false
		}
		ns, err = s.cfg.Store.GetNamespace(r.Context(), name)
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no namespace "+name)
		return ns, false
	}
	if err != nil {
		s.internal(w, r, err)
		return ns, false
	}
	if err := p.CanPublish(ns.Name, ns.Owners); err != nil {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return ns, false
	}
	return ns, true
}

func (s *Server) addKey(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.trustOff(w) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublicKeyBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("a public key is at most %d bytes", MaxPublicKeyBody))
		return
	}
	pub, err := trust.ParsePublicKeyPEM(body)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_key", "the body must be a PEM public key (Ed25519 or ECDSA P-256), as `gatehouse keys generate` writes to FILE.pub: "+err.Error())
		return
	}
	ns, ok := s.ownNamespace(w, r, p, true)
	if !ok {
		return
	}
	pemBytes, err := pub.MarshalPEM()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: now, Subject: ns.Name, Detail: pub.ID})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	k := store.PublisherKey{ID: pub.ID, Namespace: ns.Name, Algorithm: string(pub.Algorithm), PEM: pemBytes, AddedBy: p.Subject, AddedAt: now}
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.PublisherKeyAdded, Subject: "namespace:" + ns.Name, Reason: "key " + pub.ID}
	err = s.cfg.Store.AddPublisherKey(r.Context(), k, entry, ev)
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, "key_exists", err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.publish(r)
	writeJSON(w, http.StatusCreated, keyJSON(k))
}

func (s *Server) removeKey(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.trustOff(w) {
		return
	}
	ns, ok := s.ownNamespace(w, r, p, false)
	if !ok {
		return
	}
	id := r.PathValue("id")
	now := s.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyRemove, Time: now, Subject: ns.Name, Detail: id})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.PublisherKeyRemoved, Subject: "namespace:" + ns.Name, Reason: "key " + id}
	err = s.cfg.Store.RetirePublisherKey(r.Context(), ns.Name, id, now, p.Subject, entry, ev)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.publish(r)
	w.WriteHeader(http.StatusNoContent)
}

// publish appends what a request queued to the log at once; the background
// publisher retries a failure.
func (s *Server) publish(r *http.Request) {
	if _, err := s.cfg.Trust.Publish(r.Context()); err != nil {
		s.cfg.Log.Warn("publishing trust events; they stay queued", "err", err)
	}
}

func (s *Server) setSignatureRequirement(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req api.SignatureRequirement
	if !decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "say why the requirement changes (reason)")
		return
	}
	ns := r.PathValue("namespace")
	data, _ := json.Marshal(map[string]bool{"signaturesRequired": req.Required})
	ev := audit.Event{Time: s.cfg.Now(), Actor: p.Subject, Action: audit.NamespaceSignatureRequirement, Subject: "namespace:" + ns, Reason: req.Reason, Data: data}
	err := s.cfg.Store.SetSignaturesRequired(r.Context(), ns, req.Required, ev)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no namespace "+ns)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.trustAction(w, r, p, func(a api.TrustAction) error {
		var deadline time.Time
		if a.Deadline != nil {
			deadline = *a.Deadline
		}
		return s.cfg.Trust.Suspend(r.Context(), r.PathValue("id"), p.Subject, a.Reason, deadline)
	})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.trustAction(w, r, p, func(a api.TrustAction) error {
		return s.cfg.Trust.Revoke(r.Context(), r.PathValue("id"), p.Subject, a.Reason)
	})
}

func (s *Server) trustAction(w http.ResponseWriter, r *http.Request, p auth.Principal, do func(api.TrustAction) error) {
	if s.trustOff(w) {
		return
	}
	var a api.TrustAction
	if !decodeJSON(w, r, &a) {
		return
	}
	err := do(a)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no submission "+r.PathValue("id"))
		return
	case errors.Is(err, certify.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", err.Error())
		return
	case errors.Is(err, certify.ErrState), errors.Is(err, store.ErrStateChanged):
		writeError(w, http.StatusConflict, "wrong_state", err.Error())
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	v, err := s.cfg.Store.GetVersion(r.Context(), r.PathValue("id"))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, submissionJSON(v, false))
}

// signature decodes the submission's Gatehouse-Signature header (nil when
// absent).
func signature(r *http.Request) ([]byte, error) {
	h := r.Header.Get(api.SignatureHeader)
	if h == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return nil, fmt.Errorf("the %s header is not standard base64: %w", api.SignatureHeader, err)
	}
	return b, nil
}

// optionalPrincipal authenticates a caller of a public route who sent a
// token; ok is false for an anonymous caller (or an unusable token, which
// the public answer serves just the same).
func (s *Server) optionalPrincipal(r *http.Request) (auth.Principal, bool) {
	if r.Header.Get("Authorization") == "" {
		return auth.Principal{}, false
	}
	p, err := s.authenticate(r)
	return p, err == nil
}

// publicState reports whether anyone may see a version: it holds a
// certificate that has not been revoked.
func publicState(st lifecycle.State) bool {
	return st == lifecycle.Certified || st == lifecycle.Suspended
}

// semverLess reports whether version a sorts before b; a version that does
// not parse sorts first.
func semverLess(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	switch {
	case errB != nil:
		return false
	case errA != nil:
		return true
	}
	return va.LessThan(vb)
}

// badge draws a plugin's certification badge: the state of its highest
// version that ever held a certificate. A plugin with none shows "not
// certified", so the badge reveals no more than the public catalog.
func (s *Server) badge(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || name == "" {
		writeError(w, http.StatusNotFound, "not_found", "a badge is at /badge/NAMESPACE/NAME.svg")
		return
	}
	st := badge.Status{State: "none", Now: s.cfg.Now()}
	vs, err := s.cfg.Store.ListVersions(r.Context(), r.PathValue("namespace")+"/"+name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	var shown *store.Version
	for i, v := range vs {
		if (publicState(v.State) || v.State == lifecycle.Revoked) && (shown == nil || semverLess(shown.Version, v.Version)) {
			shown = &vs[i]
		}
	}
	if shown != nil && s.cfg.Trust != nil {
		cert, err := s.cfg.Trust.LatestCertificate(r.Context(), shown.ID)
		switch {
		case err == nil:
			st.State, st.ExpiresAt, st.Checks = string(shown.State), cert.ExpiresAt, cert.Checks
		case !errors.Is(err, store.ErrNotFound):
			s.internal(w, r, err)
			return
		}
	}
	svg := badge.SVG(st)
	sum := sha256.Sum256(svg)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	// Short-lived: a revocation must reach READMEs soon.
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(svg)
}
