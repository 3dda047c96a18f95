package web

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// tokenStore answers TokenByHash from a map; nothing else is called.
type tokenStore struct {
	store.Store
	tokens map[[32]byte]domain.Token
}

func (s tokenStore) TokenByHash(_ context.Context, h []byte) (domain.Token, error) {
	if len(h) != 32 {
		return domain.Token{}, domain.ErrNotFound
	}
	t, ok := s.tokens[[32]byte(h)]
	if !ok {
		return domain.Token{}, domain.ErrNotFound
	}
	return t, nil
}

func testSessions(now time.Time) (*sessions, domain.Token) {
	h := sha256.Sum256([]byte("secret"))
	tok := domain.Token{ID: "t1", Subject: "rita", Role: domain.RoleReviewer, Hash: h[:], ExpiresAt: now.Add(time.Hour)}
	st := tokenStore{tokens: map[[32]byte]domain.Token{h: tok}}
	clock := func() time.Time { return now }
	return &sessions{key: []byte(strings.Repeat("k", KeySize)), ttl: 8 * time.Hour, now: clock, app: app.New(app.Config{Store: st, Now: clock})}, tok
}

func cookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "gatehouse_session" {
			return c
		}
	}
	return nil
}

func TestSessionExpiry(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s, tok := testSessions(now)
	rec := httptest.NewRecorder()
	s.issue(rec, tok)
	c := cookieOf(rec)
	// The session ends with its token (1h), not after the 8h TTL.
	if c.MaxAge != 3600 {
		t.Errorf("MaxAge = %d, want 3600 (the token's remaining life)", c.MaxAge)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(c)
	if _, p, err := s.read(context.Background(), req); err != nil || p.Subject != "rita" {
		t.Fatalf("fresh session: %+v, %v", p, err)
	}
	s.now = func() time.Time { return now.Add(61 * time.Minute) }
	if _, _, err := s.read(context.Background(), req); err != errNoSession {
		t.Errorf("a session past its expiry: %v", err)
	}
	// A session made under another key is not ours.
	s.now = func() time.Time { return now }
	other := *s
	other.key = []byte(strings.Repeat("x", KeySize))
	if _, _, err := other.read(context.Background(), req); err != errNoSession {
		t.Errorf("another key's session: %v", err)
	}
	// CSRF tokens differ per session.
	rec2 := httptest.NewRecorder()
	s.issue(rec2, tok)
	req2 := httptest.NewRequest("GET", "/", nil)
	req2.AddCookie(cookieOf(rec2))
	a, _, _ := s.read(context.Background(), req)
	b, _, _ := s.read(context.Background(), req2)
	if s.csrfToken(a) == s.csrfToken(b) {
		t.Error("two sessions share a CSRF token")
	}
}

// FuzzSessionCookie feeds arbitrary cookies to the session reader, both as
// they come (the MAC must refuse them) and MACed with the key, so the
// payload's decoding and checks see hostile input too.
func FuzzSessionCookie(f *testing.F) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s, tok := testSessions(now)
	rec := httptest.NewRecorder()
	s.issue(rec, tok)
	good := cookieOf(rec).Value
	payload, _, _ := strings.Cut(good, ".")
	f.Add(good)
	f.Add(payload)
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Add(b64.EncodeToString([]byte(`{"sid":"x","th":"AAAA","exp":99999999999}`)))
	f.Fuzz(func(t *testing.T, v string) {
		for _, value := range []string{v, v + "." + b64.EncodeToString(s.mac("session", v))} {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Cookie", "gatehouse_session="+value)
			ss, p, err := s.read(context.Background(), req)
			if err != nil {
				if err != errNoSession {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			// Only a payload naming rita's token, unexpired, gets in.
			if p.Subject != "rita" || ss.ID == "" || now.Unix() >= ss.Expires {
				t.Fatalf("accepted %q as %+v / %+v", value, p, ss)
			}
		}
	})
}

// FuzzSafeNext: whatever comes in, the sign-in redirect stays on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/reviews", "//evil.example", "/\\evil.example", "https://evil.example", "/a\r\nSet-Cookie: x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := safeNext(in)
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.HasPrefix(out, "/\\") || strings.ContainsAny(out, "\r\n") {
			t.Fatalf("safeNext(%q) = %q", in, out)
		}
	})
}
