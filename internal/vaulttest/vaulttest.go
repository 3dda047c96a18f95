// Package vaulttest is a test server for HashiCorp Vault's HTTP API, for
// tests of commands that read secrets from Vault.
package vaulttest

// NOT A REAL VAULT. No Vault or OpenBao server installs on this machine:
// Debian packages neither, the module proxy holds no OpenBao release, and
// `go install github.com/hashicorp/vault@v1.14.10` (the last MPL-2.0
// release) fails on its go.mod's replace directives (docs/decisions.md).
// So tests run the official client against Server, a test server
// that implements the documented HTTP API of the calls the provider makes,
// and nothing else:
//
//   - GET  /v1/{mount}/data/{path}     KV v2 read (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version)
//   - GET  /v1/database/creds/{role}   a dynamic engine's read, with lease_id, lease_duration and renewable (api-docs/secret/databases#generate-credentials)
//   - PUT  /v1/sys/leases/renew        (api-docs/system/leases#renew-lease), capped at the role's max TTL
//   - PUT  /v1/sys/leases/revoke       (api-docs/system/leases#revoke-lease)
//   - GET  /v1/auth/token/lookup-self  (api-docs/auth/token#lookup-a-token-self)
//   - POST /v1/auth/approle/login      (api-docs/auth/approle#login-with-approle)
//
// Every request must carry a live X-Vault-Token (403 "permission denied"
// otherwise, as Vault answers), and errors have Vault's {"errors": [...]}
// body. Time is the test's clock, so a test moves past a lease's end
// without sleeping.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

type fakeLease struct {
	cred    string
	issued  time.Time // first issue, for the max TTL
	expires time.Time
	revoked bool
}

// Server is the test Vault: an http.Handler.
type Server struct {
	mu  sync.Mutex
	now time.Time

	tokens  map[string]time.Time // token -> expiry (zero: none)
	approle struct{ roleID, secretID string }
	kv      map[string]map[string]any // "mount/path" -> data
	leases  map[string]*fakeLease
	ttl     time.Duration // of a dynamic credential
	maxTTL  time.Duration
	logins  int
	reads   int
}

// New returns a test Vault whose root token is rootToken.
func New(rootToken string) *Server {
	return &Server{
		now:    time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		tokens: map[string]time.Time{rootToken: {}},
		kv:     map[string]map[string]any{},
		leases: map[string]*fakeLease{},
		ttl:    time.Hour,
		maxTTL: 3 * time.Hour,
	}
}

// Now is the clock both the fake and the code under test read.
func (f *Server) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the test clock.
func (f *Server) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// CredentialLive is what the service behind the credentials checks: does
// a live lease stand behind cred.
func (f *Server) CredentialLive(cred string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.leases {
		if l.cred == cred {
			return !l.revoked && f.now.Before(l.expires)
		}
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func vaultError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"errors": []string{msg}})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	var body map[string]any
	if r.Body != nil && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
		json.NewDecoder(r.Body).Decode(&body)
	}
	str := func(k string) string { s, _ := body[k].(string); return s }

	if path == "auth/approle/login" && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		if f.approle.roleID == "" || str("role_id") != f.approle.roleID || str("secret_id") != f.approle.secretID {
			vaultError(w, http.StatusBadRequest, "invalid role or secret ID")
			return
		}
		f.logins++
		tok := "hvs." + randHex(12)
		f.tokens[tok] = f.now.Add(20 * time.Minute)
		reply(w, map[string]any{"auth": map[string]any{"client_token": tok, "accessor": randHex(8), "policies": []string{"default", "plugins"}, "lease_duration": 1200, "renewable": true}})
		return
	}
	exp, ok := f.tokens[r.Header.Get("X-Vault-Token")]
	if !ok || (!exp.IsZero() && !f.now.Before(exp)) {
		vaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	switch {
	case path == "auth/token/lookup-self" && r.Method == http.MethodGet:
		ttl := 0
		if !exp.IsZero() {
			ttl = int(exp.Sub(f.now) / time.Second)
		}
		reply(w, map[string]any{"data": map[string]any{"ttl": ttl, "policies": []string{"default"}, "renewable": false}})

	case strings.HasPrefix(path, "database/creds/") && r.Method == http.MethodGet:
		f.reads++
		id := path + "/" + randHex(8)
		user, pass := "v-plugin-"+randHex(4), "A1a-"+randHex(16)
		f.leases[id] = &fakeLease{cred: pass, issued: f.now, expires: f.now.Add(f.ttl)}
		reply(w, map[string]any{"lease_id": id, "lease_duration": int(f.ttl / time.Second), "renewable": true,
			"data": map[string]any{"username": user, "password": pass}})

	case path == "sys/leases/renew" && r.Method == http.MethodPut:
		l := f.leases[str("lease_id")]
		if l == nil || l.revoked || !f.now.Before(l.expires) {
			vaultError(w, http.StatusBadRequest, "lease not found")
			return
		}
		inc := time.Duration(0)
		if n, ok := body["increment"].(float64); ok {
			inc = time.Duration(n) * time.Second
		}
		if inc <= 0 {
			inc = f.ttl
		}
		end := f.now.Add(inc)
		if limit := l.issued.Add(f.maxTTL); end.After(limit) {
			end = limit
		}
		l.expires = end
		reply(w, map[string]any{"lease_id": str("lease_id"), "renewable": true, "lease_duration": int(end.Sub(f.now) / time.Second)})

	case path == "sys/leases/revoke" && r.Method == http.MethodPut:
		if l := f.leases[str("lease_id")]; l != nil {
			l.revoked = true
		}
		w.WriteHeader(http.StatusNoContent)

	case strings.Contains(path, "/data/") && r.Method == http.MethodGet:
		mount, p, _ := strings.Cut(path, "/data/")
		d, ok := f.kv[mount+"/"+p]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[]}`))
			return
		}
		reply(w, map[string]any{"lease_id": "", "renewable": false, "lease_duration": 0,
			"data": map[string]any{"data": d, "metadata": map[string]any{"created_time": f.now.Format(time.RFC3339Nano), "deletion_time": "", "destroyed": false, "version": 1}}})

	default:
		vaultError(w, http.StatusNotFound, "unsupported path")
	}
}

// PutKV stores data as the KV v2 entry path under mount.
func (f *Server) PutKV(mount, path string, data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv[mount+"/"+path] = data
}

// SetAppRole makes AppRole login accept roleID and secretID.
func (f *Server) SetAppRole(roleID, secretID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.approle.roleID, f.approle.secretID = roleID, secretID
}

// Revoked reports how many leases were revoked.
func (f *Server) Revoked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range f.leases {
		if l.revoked {
			n++
		}
	}
	return n
}

// Logins reports how many AppRole logins succeeded.
func (f *Server) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// Reads reports how many dynamic credentials were issued.
func (f *Server) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// LiveLeases lists the ids of the leases neither revoked nor expired.
func (f *Server) LiveLeases() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, l := range f.leases {
		if !l.revoked && l.expires.After(f.now) {
			ids = append(ids, id)
		}
	}
	return ids
}

// Credentials lists every dynamic credential issued, live or not.
func (f *Server) Credentials() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.leases {
		out = append(out, l.cred)
	}
	return out
}
