package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Sessions are signed cookies, not server-side records. The cookie holds
// the SHA-256 of the API token it was exchanged for (the same value the
// store indexes, useless as a credential), a random session id, and the
// issue and expiry times, MACed with HMAC-SHA256 under a key kept in the
// data folder. Every request looks the token up again by that hash, so
// revoking or expiring the API token ends every session made from it at
// once, on every server process sharing the data folder's key, without a
// sessions table. Sign-out deletes the cookie; a copy taken before sign-out
// stays valid until its expiry (SessionTTL, 8 hours by default) unless the
// token is revoked, which is the documented way to cut a stolen session
// short. Deleting the key file signs everyone out.

// KeySize is the session key's length in bytes.
const KeySize = 32

// KeyFile is the session key's file name in the data folder.
const KeyFile = "web-session.key"

// DefaultSessionTTL is how long a session lasts (never beyond its token).
const DefaultSessionTTL = 8 * time.Hour

// maxCookieBytes bounds a session cookie we are willing to parse.
const maxCookieBytes = 1024

// LoadOrCreateKey reads the session key from dir/KeyFile, creating it
// (mode 0600, written then renamed so a crash leaves no short key) when
// missing.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != KeySize {
			return nil, fmt.Errorf("the session key %s has %d bytes, want %d: delete it to make a new one (everyone is signed out)", path, len(b), KeySize)
		}
		return b, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("reading the session key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, fmt.Errorf("writing the session key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("writing the session key: %w", err)
	}
	return key, nil
}

// session is what the cookie carries.
type session struct {
	ID        string `json:"sid"` // random; binds the CSRF token
	TokenHash []byte `json:"th"`
	Issued    int64  `json:"iat"`
	Expires   int64  `json:"exp"`
}

type sessions struct {
	key    []byte
	secure bool
	ttl    time.Duration
	now    func() time.Time
	app    *app.App
}

// cookie names: with TLS the __Host- prefix makes the browser refuse a
// cookie set by a sibling subdomain or over plain HTTP.
func (s *sessions) name() string {
	if s.secure {
		return "__Host-gatehouse_session"
	}
	return "gatehouse_session"
}

func (s *sessions) csrfName() string {
	if s.secure {
		return "__Host-gatehouse_csrf"
	}
	return "gatehouse_csrf"
}

func (s *sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// issue makes the cookie for a token.
func (s *sessions) issue(w http.ResponseWriter, t domain.Token) {
	now := s.now()
	exp := now.Add(s.ttl)
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(exp) {
		exp = t.ExpiresAt
	}
	sid := make([]byte, 18)
	_, _ = rand.Read(sid)
	body, _ := json.Marshal(session{ID: b64.EncodeToString(sid), TokenHash: t.Hash, Issued: now.Unix(), Expires: exp.Unix()})
	payload := b64.EncodeToString(body)
	value := payload + "." + b64.EncodeToString(s.mac("session", payload))
	http.SetCookie(w, &http.Cookie{
		Name: s.name(), Value: value, Path: "/", Expires: exp, MaxAge: int(exp.Sub(now).Seconds()),
		HttpOnly: true, Secure: s.secure,
		// Lax, not Strict: a reviewer following a link to a review from
		// mail or chat arrives signed in. Lax still withholds the cookie
		// from cross-site POSTs, and no GET changes anything; every form
		// also carries a CSRF token.
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.name(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// errNoSession: no cookie, or one that is not ours or no longer valid.
var errNoSession = errors.New("no valid session")

// read returns the session and its principal, checking the MAC, the
// expiry and the token behind it.
func (s *sessions) read(ctx context.Context, r *http.Request) (session, domain.Principal, error) {
	c, err := r.Cookie(s.name())
	if err != nil || len(c.Value) > maxCookieBytes {
		return session{}, domain.Principal{}, errNoSession
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, domain.Principal{}, errNoSession
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("session", payload)) {
		return session{}, domain.Principal{}, errNoSession
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return session{}, domain.Principal{}, errNoSession
	}
	var ss session
	if err := json.Unmarshal(body, &ss); err != nil || ss.ID == "" || len(ss.TokenHash) != sha256.Size {
		return session{}, domain.Principal{}, errNoSession
	}
	now := s.now()
	if now.Unix() >= ss.Expires {
		return session{}, domain.Principal{}, errNoSession
	}
	// The hash came from a MACed cookie, so it is the hash stored when the
	// holder proved the secret; the application checks the token is still
	// there, unrevoked and unexpired.
	p, err := s.app.SessionPrincipal(ctx, ss.TokenHash)
	if k, _, _ := app.Classify(err); err != nil && k == app.KindUnauthenticated {
		return session{}, domain.Principal{}, errNoSession
	}
	if err != nil {
		return session{}, domain.Principal{}, err
	}
	return ss, p, nil
}

// csrfToken is the synchronizer token of a session: a MAC of its id, so it
// needs no storage and differs per session.
func (s *sessions) csrfToken(ss session) string {
	return b64.EncodeToString(s.mac("csrf", ss.ID))
}

// preSessionToken returns the double-submit token for the sign-in form,
// setting its cookie when the visitor has none.
func (s *sessions) preSessionToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.csrfName()); err == nil && len(c.Value) == 43 {
		if _, err := b64.DecodeString(c.Value); err == nil {
			return c.Value
		}
	}
	v := make([]byte, 32)
	_, _ = rand.Read(v)
	tok := b64.EncodeToString(v)
	http.SetCookie(w, &http.Cookie{Name: s.csrfName(), Value: tok, Path: "/", MaxAge: 3600, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	return tok
}

// checkPreSession compares the sign-in form's token with its cookie.
func (s *sessions) checkPreSession(r *http.Request) bool {
	c, err := r.Cookie(s.csrfName())
	if err != nil || c.Value == "" {
		return false
	}
	return tokensEqual(c.Value, r.PostFormValue(csrfField))
}

// tokensEqual compares two tokens in constant time.
func tokensEqual(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// csrfField is the form field carrying the CSRF token.
const csrfField = "csrf"
