package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Tokens: who may call, and the credentials they call with. Only admins
// issue and revoke tokens; the API's bearer check, the web sign-in and
// every web request's session check all find the caller through here.

// NewToken validates a token request and makes the token. The secret is
// returned once; only its hash is in the record.
func NewToken(now time.Time, req api.TokenRequest) (domain.Token, string, error) {
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		return domain.Token{}, "", err
	}
	if req.Subject == "" || len(req.Subject) > 128 || strings.ContainsAny(req.Subject, " \t\r\n") {
		return domain.Token{}, "", errors.New("subject is required: who holds the token, 1 to 128 characters without spaces")
	}
	if req.Namespace != "" && role != domain.RolePublisher {
		return domain.Token{}, "", errors.New("only publisher tokens take a namespace scope")
	}
	if req.Environment != "" && role != domain.RoleHost {
		return domain.Token{}, "", errors.New("only host tokens take an environment")
	}
	ttl := auth.DefaultLifetime
	if req.TTL != "" {
		ttl, err = time.ParseDuration(req.TTL)
		if err != nil || ttl <= 0 || ttl > auth.MaxLifetime {
			return domain.Token{}, "", fmt.Errorf("ttl %q must be a positive duration such as 720h, at most %s", req.TTL, auth.MaxLifetime)
		}
	}
	secret, hash := auth.NewSecret()
	now = now.UTC().Truncate(time.Microsecond)
	return domain.Token{ID: auth.NewID(), Subject: req.Subject, Role: role, Namespace: req.Namespace, Environment: req.Environment, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}, secret, nil
}

// TokenEvent is the audit event of a token's creation.
func TokenEvent(t domain.Token, actor string, now time.Time) audit.Event {
	data, _ := json.Marshal(map[string]any{"subject": t.Subject, "role": t.Role, "namespace": t.Namespace, "environment": t.Environment, "expiresAt": t.ExpiresAt})
	return audit.Event{Time: now, Actor: actor, Action: audit.TokenCreate, Subject: "token:" + t.ID, Data: data}
}

// CreateToken issues a token (admins only). The secret is returned once.
func (a *App) CreateToken(ctx context.Context, caller domain.Principal, req api.TokenRequest) (domain.Token, string, error) {
	if err := allow(caller, "create tokens", domain.RoleAdmin); err != nil {
		return domain.Token{}, "", err
	}
	now := a.cfg.Now()
	t, secret, err := NewToken(now, req)
	if err != nil {
		return domain.Token{}, "", &Error{Kind: KindInvalid, Code: "invalid_token_request", Msg: err.Error(), Err: err}
	}
	if t.Role == domain.RoleHost {
		// A host enrolls into one of the declared environments; the
		// first when none is named.
		envs := a.environments()
		if t.Environment == "" {
			t.Environment = envs.First()
		}
		if err := envs.Check(t.Environment); err != nil {
			return domain.Token{}, "", &Error{Kind: KindInvalid, Code: "invalid_token_request", Msg: err.Error(), Err: err}
		}
	}
	if err := a.cfg.Store.CreateToken(ctx, t, TokenEvent(t, caller.Subject, now)); err != nil {
		return domain.Token{}, "", fmt.Errorf("creating token: %w", err)
	}
	return t, secret, nil
}

// ListTokens lists every token (admins only); the records hold hashes,
// never secrets.
func (a *App) ListTokens(ctx context.Context, caller domain.Principal) ([]domain.Token, error) {
	if err := allow(caller, "list tokens", domain.RoleAdmin); err != nil {
		return nil, err
	}
	return a.cfg.Store.ListTokens(ctx)
}

// RevokeToken revokes a token (admins only): every request and web
// session made with it is refused from now on.
func (a *App) RevokeToken(ctx context.Context, caller domain.Principal, id string) error {
	if err := allow(caller, "revoke tokens", domain.RoleAdmin); err != nil {
		return err
	}
	now := a.cfg.Now()
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.TokenRevoke, Subject: "token:" + id}
	err := a.cfg.Store.RevokeToken(ctx, id, now, ev)
	if errors.Is(err, domain.ErrNotFound) {
		return &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no token " + id, Err: err}
	}
	return err
}

// Authenticate finds the caller a bearer secret stands for. A refused
// token's error says why (expired, revoked), so its holder can act.
func (a *App) Authenticate(ctx context.Context, secret string) (domain.Principal, error) {
	t, err := a.checkSecret(ctx, secret)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Code == "token_refused" {
			// The token id is safe to log, the secret never is.
			a.cfg.Log.InfoContext(ctx, "token refused", "token", t.ID, "reason", ae.Err)
		}
		return domain.Principal{}, err
	}
	return principal(t), nil
}

// SignIn exchanges a token's secret for the token a web session is made
// from. A known token refused for a reason (expired, revoked) is recorded
// in the trail; unknown ones are not, or anyone could fill it.
func (a *App) SignIn(ctx context.Context, secret string) (domain.Token, error) {
	t, err := a.checkSecret(ctx, secret)
	var ae *Error
	switch {
	case err == nil:
		a.recordSignin(ctx, t, audit.WebSignin, "")
	case errors.As(err, &ae) && ae.Code == "token_refused":
		a.recordSignin(ctx, t, audit.WebSigninRefused, ae.Err.Error())
	}
	return t, err
}

func (a *App) recordSignin(ctx context.Context, t domain.Token, action, reason string) {
	ev := audit.Event{Time: a.cfg.Now(), Actor: t.Subject, Action: action, Subject: "token:" + t.ID, Reason: reason}
	if err := a.cfg.Store.AppendAudit(ctx, ev); err != nil {
		// Signing in does not wait on the trail; the log keeps the failure.
		a.cfg.Log.ErrorContext(ctx, "recording a sign-in", "token", t.ID, "err", err)
	}
}

// SessionPrincipal finds the caller of a web session by the hash of the
// token it was made from (the cookie is MACed, so the hash is one the
// holder proved the secret of at sign-in). A token since revoked, expired
// or deleted ends the session: KindUnauthenticated.
func (a *App) SessionPrincipal(ctx context.Context, tokenHash []byte) (domain.Principal, error) {
	t, err := a.cfg.Store.TokenByHash(ctx, tokenHash)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Principal{}, Errorf(KindUnauthenticated, "the session's token is not recognised")
	}
	if err != nil {
		return domain.Principal{}, fmt.Errorf("checking the session's token: %w", err)
	}
	// What auth.Check checks besides the secret: revocation and expiry.
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !a.cfg.Now().Before(t.ExpiresAt)) {
		return domain.Principal{}, Errorf(KindUnauthenticated, "the session's token is revoked or expired")
	}
	return principal(t), nil
}

// checkSecret finds and checks the token of secret. Its refusals are
// KindUnauthenticated with code "unknown_token" or "token_refused" (the
// cause, auth.ErrExpired or auth.ErrRevoked, in Err); the token comes back
// with a refusal too, for the log and the trail.
func (a *App) checkSecret(ctx context.Context, secret string) (domain.Token, error) {
	t, err := a.cfg.Store.TokenByHash(ctx, auth.Hash(secret))
	if errors.Is(err, domain.ErrNotFound) {
		return t, &Error{Kind: KindUnauthenticated, Code: "unknown_token", Msg: "the token is not recognised", Err: err}
	}
	if err != nil {
		return t, fmt.Errorf("checking token: %w", err)
	}
	if err := auth.Check(t, secret, a.cfg.Now()); err != nil {
		return t, &Error{Kind: KindUnauthenticated, Code: "token_refused", Msg: "the token was refused: " + err.Error(), Err: err}
	}
	return t, nil
}

func principal(t domain.Token) domain.Principal {
	return domain.Principal{TokenID: t.ID, Subject: t.Subject, Role: t.Role, Namespace: t.Namespace, Environment: t.Environment}
}

// allow refuses a caller whose role is not one of roles (admins always
// may), saying what it may not do. A caller without a token is
// unauthenticated rather than forbidden.
func allow(caller domain.Principal, what string, roles ...domain.Role) error {
	if caller.Role == "" {
		return Errorf(KindUnauthenticated, "sign in to %s", what)
	}
	if !caller.Allowed(roles...) {
		return Errorf(KindForbidden, "role %s may not %s", caller.Role, what)
	}
	return nil
}

// signedIn refuses an anonymous caller and a host: a host token reports
// health and reads only what is public.
func signedIn(caller domain.Principal, what string) error {
	if caller.Role == "" {
		return Errorf(KindUnauthenticated, "sign in to %s", what)
	}
	if caller.Role == domain.RoleHost {
		return Errorf(KindForbidden, "role %s may not %s", caller.Role, what)
	}
	return nil
}
