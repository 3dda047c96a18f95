// Package installtest is a marketplace for tests of hosts: it serves the
// public files a Gatehouse marketplace serves (trust root, revocation list,
// catalog, packages, certificate bundles, transparency log), built from the
// real signing, certificate and log code, without a database or a vetting
// pipeline. Tests publish certified versions directly and revoke them.
package installtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"

	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// Origin is the test log's origin.
const Origin = "market.test/log"

// Market is a test marketplace. Its methods are safe for concurrent use.
type Market struct {
	t         testing.TB
	Server    *httptest.Server
	Signer    *trust.FileSigner // the marketplace key
	Publisher *trust.FileSigner // the publisher key every version is signed with
	Log       *tlog.Log
	// LogSigner signs the log's checkpoints; a test forks the log with it.
	LogSigner note.Signer
	Root      *verify.TrustRoot

	mu       sync.Mutex
	versions map[string][]*Version // by plugin id
	packages map[string][]byte     // by digest
	revList  []byte
	feeds    map[string][]byte // status feeds by environment
	revNum   uint64
	revoked  []trust.Revocation
	// Now is the clock used for signing times; tests move it.
	Now time.Time
}

// Version is a published version.
type Version struct {
	ID, Version, Digest string
	State               string
	// Reason is why it is in State, as the catalog says (a suspension's).
	Reason  string
	Package []byte
	Bundle  *verify.Bundle
}

// New starts a marketplace; it is closed when the test ends.
func New(t testing.TB, now time.Time) *Market {
	t.Helper()
	m := &Market{t: t, versions: map[string][]*Version{}, packages: map[string][]byte{}, Now: now}
	var err error
	if m.Signer, err = trust.GenerateKey(trust.Ed25519); err != nil {
		t.Fatal(err)
	}
	if m.Publisher, err = trust.GenerateKey(trust.Ed25519); err != nil {
		t.Fatal(err)
	}
	logKey, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := tlog.NewNoteSigner(Origin, logKey)
	if err != nil {
		t.Fatal(err)
	}
	m.LogSigner = ns
	if m.Log, err = tlog.Open(t.TempDir(), tlog.Options{Origin: Origin, Signer: ns}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Log.Close() })
	vkey, err := tlog.VerifierKey(Origin, logKey.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := trust.NewKeyring(trust.Key{PublicKey: m.Signer.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlog.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	m.Root = &verify.TrustRoot{MarketplaceKeys: keys, LogOrigin: Origin, LogKey: vkey, LogVerifier: v, RevocationMaxAge: 7 * 24 * time.Hour}
	m.PublishRevocations()
	m.Server = httptest.NewServer(m.handler())
	t.Cleanup(m.Server.Close)
	return m
}

// URL is the marketplace's base URL.
func (m *Market) URL() string { return m.Server.URL }

// Plugin describes a version to publish.
type Plugin struct {
	ID, Version string
	// Permissions are asked for in the manifest and granted.
	Permissions []string
	// Dependencies are "namespace/name" → range.
	Dependencies map[string]string
	// Module is the WebAssembly module; nil means a small placeholder.
	Module []byte
}

// Pack builds the package for p.
func Pack(t testing.TB, p Plugin) []byte {
	t.Helper()
	type dep struct {
		ID    string `json:"id"`
		Range string `json:"range"`
	}
	man := map[string]any{
		"manifestVersion": 1, "id": p.ID, "version": p.Version, "name": "Test plugin",
		"owners": []map[string]string{{"name": "Test"}}, "license": "MIT",
		"runtime":     map[string]any{"module": "plugin.wasm", "exports": []string{"run"}, "hostApi": "^1.0.0"},
		"permissions": append([]string{}, p.Permissions...),
	}
	var deps []dep
	for _, id := range slices.Sorted(maps.Keys(p.Dependencies)) {
		deps = append(deps, dep{id, p.Dependencies[id]})
	}
	if len(deps) > 0 {
		man["dependencies"] = deps
	}
	mdata, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	mod := p.Module
	if mod == nil {
		mod = []byte("\x00asm\x01\x00\x00\x00")
	}
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: mdata}, {Path: "plugin.wasm", Data: mod}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Publish packs, signs, certifies and logs a version and lists it as
// certified.
func (m *Market) Publish(p Plugin) *Version {
	m.t.Helper()
	return m.PublishPackage(p.ID, p.Version, Pack(m.t, p), p.Permissions)
}

// PublishPackage signs, certifies and logs the given package bytes as
// id@version.
func (m *Market) PublishPackage(id, version string, pkg []byte, perms []string) *Version {
	t := m.t
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(pkg)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	m.mu.Lock()
	now := m.Now
	m.mu.Unlock()
	pubEnv, err := trust.SignPackageAt(ctx, m.Publisher, digest, id, version, now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := trust.IssueCertificate(ctx, m.Signer, trust.CertificateInput{
		PluginID: id, Version: version, Digest: digest, Permissions: perms, RiskTier: "low",
		Checks: []string{"reviewed"}, PolicyDigest: "sha256:" + strings.Repeat("0", 64), VulnDBVersion: "test",
		IssuedAt: now, Lifetime: 90 * 24 * time.Hour, PublisherSignature: pubEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := trust.CertificateEvent(trust.EventCertificateIssued, cert)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := trust.MarshalEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := m.Log.Append(ctx, entry)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := m.Publisher.PublicKey().MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	v := &Version{ID: id, Version: version, Digest: digest, State: "certified", Package: pkg, Bundle: &verify.Bundle{
		MediaType: verify.BundleMediaType, PublisherSignature: pubEnv, PublisherKey: string(pemKey), Certificate: cert,
		Log: verify.LogProof{Index: idx, Entry: entry},
	}}
	m.mu.Lock()
	m.versions[id] = append(m.versions[id], v)
	m.packages[digest] = pkg
	m.mu.Unlock()
	return v
}

// Revoke puts a version's digest on a new revocation list and lists the
// version as revoked.
func (m *Market) Revoke(v *Version, reason string) {
	m.mu.Lock()
	v.State = "revoked"
	m.revoked = append(m.revoked, trust.Revocation{Digest: v.Digest, Reason: reason, Time: m.Now})
	m.mu.Unlock()
	m.PublishRevocations()
}

// PublishRevocations signs a new revocation list, valid for a day from Now.
func (m *Market) PublishRevocations() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revNum++
	l, err := trust.NewRevocationList(m.revNum, m.Now, m.Now.Add(24*time.Hour), slices.Clone(m.revoked))
	if err != nil {
		m.t.Fatal(err)
	}
	env, err := trust.SignRevocationList(context.Background(), m.Signer, l)
	if err != nil {
		m.t.Fatal(err)
	}
	if m.revList, err = trust.MarshalEnvelope(env); err != nil {
		m.t.Fatal(err)
	}
}

// Revocations returns the current signed list.
func (m *Market) Revocations() *dsse.Envelope {
	m.mu.Lock()
	defer m.mu.Unlock()
	env, err := trust.ParseEnvelope(m.revList)
	if err != nil {
		m.t.Fatal(err)
	}
	return env
}

// TrustRootJSON is the trust root file.
func (m *Market) TrustRootJSON() []byte {
	data, err := m.Root.Marshal()
	if err != nil {
		m.t.Fatal(err)
	}
	return data
}

// FreshBundle returns v's bundle with an inclusion proof against the log's
// current checkpoint, as the marketplace serves it.
func (m *Market) FreshBundle(v *Version) *verify.Bundle {
	b := *v.Bundle
	cp, signed := m.Log.Checkpoint()
	p, err := m.Log.InclusionProof(b.Log.Index, cp.Size)
	if err != nil {
		m.t.Fatal(err)
	}
	b.Log.InclusionProof, b.Log.Checkpoint = p, string(signed)
	return &b
}

func (m *Market) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/gatehouse/trust-root.json", func(w http.ResponseWriter, r *http.Request) {
		w.Write(m.TrustRootJSON())
	})
	mux.HandleFunc("GET /api/v1/environments/{env}/status", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		b, ok := m.feeds[r.PathValue("env")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("GET /api/v1/revocations", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		w.Write(m.revList)
	})
	mux.HandleFunc("GET /api/v1/plugins/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("ns") + "/" + r.PathValue("name")
		m.mu.Lock()
		vs := m.versions[id]
		type ver struct {
			Version string `json:"version"`
			Digest  string `json:"digest"`
			State   string `json:"state"`
			Reason  string `json:"reason,omitempty"`
		}
		out := struct {
			ID       string `json:"id"`
			Versions []ver  `json:"versions"`
		}{ID: id, Versions: []ver{}}
		for _, v := range vs {
			out.Versions = append(out.Versions, ver{v.Version, v.Digest, v.State, v.Reason})
		}
		m.mu.Unlock()
		if len(vs) == 0 {
			http.Error(w, `{"error":{"code":"not_found","message":"no plugin `+id+`"}}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/v1/plugins/{ns}/{name}/versions/{version}/bundle", func(w http.ResponseWriter, r *http.Request) {
		v := m.find(r.PathValue("ns")+"/"+r.PathValue("name"), r.PathValue("version"))
		if v == nil {
			http.NotFound(w, r)
			return
		}
		data, err := m.FreshBundle(v).Marshal()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(data)
	})
	mux.HandleFunc("GET /api/v1/packages/{digest}", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		pkg, ok := m.packages[r.PathValue("digest")]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(pkg)
	})
	mux.HandleFunc("GET /log/", func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/log/")
		if p != tlog.CheckpointPath && !strings.HasPrefix(p, "tile/") || strings.Contains(p, "..") {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(m.Log.Dir(), filepath.FromSlash(p)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	})
	return mux
}

// Suspend marks v suspended for reason in the catalog: its certificate
// and bundle stay as they are, as the marketplace's do.
func (m *Market) Suspend(v *Version, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v.State, v.Reason = "suspended", reason
}

// Versions returns the published versions of a plugin.
func (m *Market) Versions(id string) []*Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.versions[id])
}

func (m *Market) find(id, version string) *Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.versions[id] {
		if v.Version == version {
			return v
		}
	}
	return nil
}

// SetNow moves the clock used for new signatures.
func (m *Market) SetNow(t time.Time) {
	m.mu.Lock()
	m.Now = t
	m.mu.Unlock()
}

// SignStatusFeed signs a status feed of env with the marketplace key
// (sequence, times and environment as given) and returns its envelope.
func (m *Market) SignStatusFeed(f trust.StatusFeed) []byte {
	m.t.Helper()
	feed, err := trust.NewStatusFeed(f)
	if err != nil {
		m.t.Fatal(err)
	}
	env, err := trust.SignStatusFeed(context.Background(), m.Signer, feed)
	if err != nil {
		m.t.Fatal(err)
	}
	b, err := trust.MarshalEnvelope(env)
	if err != nil {
		m.t.Fatal(err)
	}
	return b
}

// ServeStatusFeed makes the market serve envelope as env's status feed.
func (m *Market) ServeStatusFeed(env string, envelope []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.feeds == nil {
		m.feeds = map[string][]byte{}
	}
	m.feeds[env] = envelope
}
