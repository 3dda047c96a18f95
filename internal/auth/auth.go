// Package auth issues API tokens and decides who may do what. Token secrets
// are never stored: only their SHA-256, which the store indexes, so a lookup
// reveals nothing useful through timing and a leaked database holds no
// usable credential.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Prefix marks a Gatehouse token, so secret scanners (and people) can
// recognise one that leaked.
const Prefix = "ghtk_"

// DefaultLifetime is a token's validity unless its creator says otherwise.
const DefaultLifetime = 90 * 24 * time.Hour

// MaxLifetime bounds how long any token may live.
const MaxLifetime = 366 * 24 * time.Hour

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a fresh token secret (160 bits of randomness after the
// prefix) and its hash.
func NewSecret() (secret string, hash []byte) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on a supported platform.
		panic(fmt.Sprintf("auth: reading randomness: %v", err))
	}
	secret = Prefix + strings.ToLower(enc.EncodeToString(b[:]))
	return secret, Hash(secret)
}

// NewID returns a short random identifier for a token record.
func NewID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("auth: reading randomness: %v", err))
	}
	return "tok_" + strings.ToLower(enc.EncodeToString(b[:]))
}

// Hash is the SHA-256 of a token secret, the only form the store keeps.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Errors from Authenticate. They are deliberately coarse for the caller on
// the wire (all become 401) but distinct in the audit trail.
var (
	ErrMissing = errors.New("no token given")
	ErrInvalid = errors.New("token not recognised")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

// Check validates a token record found by the hash of secret: the stored
// hash matches in constant time, and the token is neither expired nor
// revoked at now.
func Check(t domain.Token, secret string, now time.Time) error {
	if subtle.ConstantTimeCompare(t.Hash, Hash(secret)) != 1 {
		return ErrInvalid
	}
	if !t.RevokedAt.IsZero() {
		return ErrRevoked
	}
	if !now.Before(t.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

// ParseRole turns a role name into a domain.Role.
func ParseRole(s string) (domain.Role, error) {
	for _, r := range domain.Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q: one of %s", s, RoleNames())
}

// RoleNames lists every role for people to read, "admin, publisher, … or
// host", from the one list of roles (domain.Roles).
func RoleNames() string {
	names := make([]string, len(domain.Roles))
	for i, r := range domain.Roles {
		names[i] = string(r)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Principal is the authenticated caller of a request.
type Principal struct {
	TokenID   string
	Subject   string
	Role      domain.Role
	Namespace string // scope; empty when unscoped
}

// Allowed reports whether p's role is one of roles. Admin is allowed
// everywhere.
func (p Principal) Allowed(roles ...domain.Role) bool {
	if p.Role == domain.RoleAdmin {
		return true
	}
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}

// Namespaces finds a namespace's owners; store.Store is one.
type Namespaces interface {
	GetNamespace(ctx context.Context, name string) (domain.Namespace, error)
}

// Released reports whether a version in state st is released: it holds a
// certificate that has not been revoked, so hosts may install it and
// anyone may read it, as the anonymous catalog shows. A version in any
// other state is read only by its namespace's members and the overseers
// (CanSeeVersion).
func Released(st lifecycle.State) bool {
	return st == lifecycle.Certified || st == lifecycle.Suspended
}

// Published reports whether a version in state st was released at some
// point: released, or revoked since. Its certificate is in the public
// transparency log and a revocation names its digest, so what the
// certificate made public (certificate, bundle, provenance) stays public.
func Published(st lifecycle.State) bool {
	return Released(st) || st == lifecycle.Revoked
}

// Oversees reports whether p reads every namespace's versions, released
// or not: admins, reviewers, stewards and auditors.
func (p Principal) Oversees() bool {
	return p.Allowed(domain.RoleReviewer, domain.RoleSteward, domain.RoleAuditor)
}

// CanSee reports whether p may read the submissions of pluginID ("ns/name"),
// whatever their state: the overseers read every plugin's; a publisher
// token scoped to a namespace reads that namespace's; an unscoped publisher
// the namespaces it owns. Nobody else does: not a host, not an anonymous
// caller. The API and the web pages both decide with it.
func (p Principal) CanSee(ctx context.Context, nss Namespaces, pluginID string) (bool, error) {
	if p.Oversees() {
		return true, nil
	}
	if p.Role != domain.RolePublisher {
		return false, nil
	}
	ns, _, _ := strings.Cut(pluginID, "/")
	if p.Namespace != "" {
		return p.Namespace == ns, nil
	}
	n, err := nss.GetNamespace(ctx, ns)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	return slices.Contains(n.Owners, p.Subject), nil
}

// CanSeeVersion reports whether p may read a version of pluginID in state
// st, or anything made from it (its package, manifest, certificate,
// bundle): anyone a released one, and only those CanSee admits one that is
// not released yet. p may be the zero Principal of an anonymous caller.
func (p Principal) CanSeeVersion(ctx context.Context, nss Namespaces, pluginID string, st lifecycle.State) (bool, error) {
	if Released(st) {
		return true, nil
	}
	return p.CanSee(ctx, nss, pluginID)
}

// CanPublish reports whether p may submit to namespace ns, owned by
// owners (nil when the namespace does not exist yet and would be claimed).
// A scoped token publishes only in its namespace, which an administrator
// granted by issuing it; an unscoped publisher publishes in namespaces it
// owns, or claims a new one.
func (p Principal) CanPublish(ns string, owners []string) error {
	if !p.Allowed(domain.RolePublisher) {
		return fmt.Errorf("role %s may not publish", p.Role)
	}
	if p.Namespace != "" && p.Namespace != ns {
		return fmt.Errorf("this token is scoped to namespace %q and cannot publish to %q", p.Namespace, ns)
	}
	if owners == nil || p.Role == domain.RoleAdmin || p.Namespace == ns {
		return nil
	}
	for _, o := range owners {
		if o == p.Subject {
			return nil
		}
	}
	return fmt.Errorf("namespace %q belongs to other publishers", ns)
}
