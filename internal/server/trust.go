package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/badge"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// namespaceOwners change a namespace: its owners and admins.
var namespaceOwners = Access{Roles: []domain.Role{domain.RolePublisher}, Owners: true}

// keyCompromise: a namespace's owners report their key stolen; stewards
// may too, for any namespace (a key found leaked must not wait for an
// owner who may be the one compromised).
var keyCompromise = Access{Roles: []domain.Role{domain.RolePublisher, domain.RoleSteward},
	Note: "publishers only for a namespace they own (403 otherwise); stewards and admins for any"}

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
		{Method: "GET", Path: "/api/v1/plugins/{namespace}/{name}/versions/{version}/sbom/{format}", Summary: "The marketplace's SBOM of a certified version, format cyclonedx (CycloneDX 1.6 JSON) or spdx (SPDX 2.3 JSON): the package's files and the Go modules compiled into its WebAssembly module. Its SHA-256 is listed in the version's certificate (sboms); the same bytes every time.", Access: anyone.reading(PublishedVersion), handler: s.sbom},
		{Method: "GET", Path: "/api/v1/namespaces/{namespace}/keys", Summary: "A namespace's publisher keys (retired ones included) and whether it requires signatures.", Access: anyone, handler: s.listKeys},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/keys", Summary: "Register a publisher key (the body: a PEM public key, Ed25519 or ECDSA P-256). An owner of the namespace or an admin; a namespace that does not exist is created, owned by the caller. Logged.", Access: namespaceOwners, Body: "application/x-pem-file", handler: s.addKey},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/identities", Summary: "Bind a keyless Sigstore signer to a namespace ({issuer, subject}: the OIDC issuer and the SAN its Fulcio certificates name); keyless bundles by it are then accepted as publisher signatures. It is listed, retired and reported compromised with the keys, by its id. An owner of the namespace or an admin. Logged.", Access: namespaceOwners, Body: "application/json", handler: s.addIdentity},
		{Method: "DELETE", Path: "/api/v1/namespaces/{namespace}/keys/{id}", Summary: "Retire a publisher key: what it signed stays verifiable, new submissions signed with it are refused; every certified version it signed is queued for revalidation. Logged.", Access: namespaceOwners, handler: s.removeKey},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/keys/{id}/compromised", Summary: "Report a publisher key stolen ({reason}): it is retired and trusted for nothing; the certified versions only it signed are suspended, those also signed by another key queued for revalidation (an api.Recheck). Logged.", Access: keyCompromise, Body: "application/json", handler: s.compromiseKey},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/transfer", Summary: "Give a namespace to a new owner ({to, reason}); its webhooks hear it, every certified version is queued for revalidation (an api.Recheck). Logged.", Access: admins, Body: "application/json", handler: s.transferNamespace},
		{Method: "POST", Path: "/api/v1/namespaces/{namespace}/signature-requirement", Summary: "Require publisher signatures in a namespace or not ({required, reason}). Audited.", Access: admins, Body: "application/json", handler: s.setSignatureRequirement},
		{Method: "POST", Path: "/api/v1/submissions/{id}/suspend", Summary: "Suspend a certified version ({reason, deadline}); logged.", Access: stewards.reading(SubmissionRecord), Body: "application/json", handler: s.suspend},
		{Method: "POST", Path: "/api/v1/submissions/{id}/revoke", Summary: "Revoke a certified or suspended version ({reason}): its digest goes on a new signed revocation list; logged.", Access: stewards.reading(SubmissionRecord), Body: "application/json", handler: s.revoke},
		{Method: "GET", Path: "/api/v1/submissions/{id}/certificate", Summary: "The newest certificate of a version (a DSSE envelope).", Access: signedIn.reading(PublishedVersion), handler: s.certificate},
		{Method: "GET", Path: "/badge/{namespace}/{file}", Summary: "A plugin's certification badge (NAME.svg) for READMEs: certified, suspended, revoked, expired or not certified, with the checks passed.", Access: anyone.noting("shows only a state the revocation list and the transparency log already publish: certified, suspended, revoked, expired or not certified"), handler: s.badge},
	}
}

func (s *Server) trustRoot(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	root, err := s.app.TrustRoot()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, root)
}

// logFile serves the log's checkpoint and tiles from its storage, never
// anything else.
func (s *Server) logFile(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	if s.cfg.TransparencyLog == nil {
		writeError(w, http.StatusServiceUnavailable, "trust_disabled", "this server runs without a transparency log")
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, "/log/")
	if !tlog.PublishedPath(rel) {
		writeError(w, http.StatusNotFound, "not_found", "no log file "+rel)
		return
	}
	b, err := s.cfg.TransparencyLog.ReadFile(r.Context(), rel)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, "not_found", "no log file "+rel)
		return
	}
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

func (s *Server) revocations(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	b, err := s.app.Revocations(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	b, err := s.app.Bundle(r.Context(), p, v)
	if err != nil {
		if k, code, _ := app.Classify(err); k == app.KindUnavailable && code == "not_logged_yet" {
			w.Header().Set("Retry-After", "5")
		}
		s.fail(w, r, err)
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

func (s *Server) provenance(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	b, err := s.app.Provenance(r.Context(), p, v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) sbom(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	b, err := s.app.SBOM(r.Context(), p, v, r.PathValue("format"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The document never changes (the certificate lists its digest), so
	// its digest is its entity tag.
	etag := `"` + b.Digest + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", sbom.MediaType(b.Format))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", sbomFileName(v, b.Format)))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(b.Document)
}

// sbomFileName is the conventional name of an SBOM file (dependencies
// analyzers find *.cdx.json and *.spdx.json).
func sbomFileName(v domain.Version, format string) string {
	name := strings.ReplaceAll(v.PluginID, "/", "-") + "-" + v.Version
	if format == "cyclonedx" {
		return name + ".cdx.json"
	}
	return name + ".spdx.json"
}

func (s *Server) certificate(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	v, ok := s.pathVersion(w, r)
	if !ok {
		return
	}
	env, err := s.app.Certificate(r.Context(), p, v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(env)
}

func keyJSON(k domain.PublisherKey) api.PublisherKey {
	out := api.PublisherKey{ID: k.ID, Namespace: k.Namespace, Algorithm: k.Algorithm, PublicKey: string(k.PEM), AddedBy: k.AddedBy, AddedAt: k.AddedAt, RetiredBy: k.RetiredBy,
		CompromisedBy: k.CompromisedBy, CompromisedReason: k.CompromisedReason}
	if k.Algorithm == trust.AlgorithmSigstoreOIDC {
		if id, err := trust.ParseSigstoreIdentity(k.PEM); err == nil {
			out.PublicKey, out.Issuer, out.Subject = "", id.Issuer, id.Subject
		}
	}
	if !k.RetiredAt.IsZero() {
		t := k.RetiredAt
		out.RetiredAt = &t
	}
	if k.Compromised() {
		t := k.CompromisedAt
		out.CompromisedAt = &t
	}
	return out
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	nk, err := s.app.PublisherKeys(r.Context(), r.PathValue("namespace"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.NamespaceKeys{Namespace: nk.Namespace, SignaturesRequired: nk.SignaturesRequired, Keys: []api.PublisherKey{}}
	for _, k := range nk.Keys {
		out.Keys = append(out.Keys, keyJSON(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addKey(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublicKeyBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("a public key is at most %d bytes", MaxPublicKeyBody))
		return
	}
	k, err := s.app.AddPublisherKey(r.Context(), p, r.PathValue("namespace"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, keyJSON(k))
}

func (s *Server) addIdentity(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	if err := s.app.MayManageNamespace(r.Context(), p, r.PathValue("namespace")); err != nil {
		s.fail(w, r, err)
		return
	}
	var req api.PublisherIdentity
	if !decodeJSON(w, r, &req) {
		return
	}
	k, err := s.app.AddPublisherIdentity(r.Context(), p, r.PathValue("namespace"), req.Issuer, req.Subject)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, keyJSON(k))
}

func (s *Server) removeKey(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	// 204 as before this route queued re-checks, so that older clients
	// keep working; the queued versions are in the audit event's data.
	if _, err := s.app.RetirePublisherKey(r.Context(), p, r.PathValue("namespace"), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) compromiseKey(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.KeyCompromise
	if !decodeJSON(w, r, &req) {
		return
	}
	rc, err := s.app.CompromisePublisherKey(r.Context(), p, r.PathValue("namespace"), r.PathValue("id"), req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, recheckJSON(rc))
}

func (s *Server) transferNamespace(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.NamespaceTransfer
	if !decodeJSON(w, r, &req) {
		return
	}
	rc, err := s.app.TransferNamespace(r.Context(), p, r.PathValue("namespace"), req.To, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, recheckJSON(rc))
}

func recheckJSON(rc app.Recheck) api.Recheck {
	out := api.Recheck{Namespace: rc.Namespace, Suspended: []api.RecheckedVersion{}, Queued: []api.RecheckedVersion{}, AlreadyReported: rc.AlreadyReported}
	for _, v := range rc.Suspended {
		out.Suspended = append(out.Suspended, api.RecheckedVersion{ID: v.VersionID, Plugin: v.PluginID, Version: v.Version})
	}
	for _, v := range rc.Queued {
		out.Queued = append(out.Queued, api.RecheckedVersion{ID: v.VersionID, Plugin: v.PluginID, Version: v.Version})
	}
	return out
}

func (s *Server) setSignatureRequirement(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	var req api.SignatureRequirement
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := s.app.SetSignatureRequirement(r.Context(), p, r.PathValue("namespace"), req.Required, req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (s *Server) suspend(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	s.trustAction(w, r, func(a api.TrustAction) (domain.Version, error) {
		var deadline time.Time
		if a.Deadline != nil {
			deadline = *a.Deadline
		}
		return s.app.Suspend(r.Context(), p, r.PathValue("id"), a.Reason, deadline)
	})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p domain.Principal) {
	s.trustAction(w, r, func(a api.TrustAction) (domain.Version, error) {
		return s.app.Revoke(r.Context(), p, r.PathValue("id"), a.Reason)
	})
}

func (s *Server) trustAction(w http.ResponseWriter, r *http.Request, do func(api.TrustAction) (domain.Version, error)) {
	var a api.TrustAction
	if !decodeJSON(w, r, &a) {
		return
	}
	v, err := do(a)
	if err != nil {
		s.fail(w, r, err)
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
func (s *Server) optionalPrincipal(r *http.Request) (domain.Principal, bool) {
	if r.Header.Get("Authorization") == "" {
		return domain.Principal{}, false
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
func (s *Server) badge(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || name == "" {
		writeError(w, http.StatusNotFound, "not_found", "a badge is at /badge/NAMESPACE/NAME.svg")
		return
	}
	st, err := s.app.Badge(r.Context(), r.PathValue("namespace")+"/"+name)
	if err != nil {
		s.fail(w, r, err)
		return
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
