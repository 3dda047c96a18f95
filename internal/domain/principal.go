package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Principal is who is asking: the holder of an authenticated token, or the
// zero Principal of an anonymous caller. Its methods decide who may do what;
// the API, the web pages and the CLI all decide with them.
type Principal struct {
	TokenID   string
	Subject   string
	Role      Role
	Namespace string // scope; empty when unscoped
	// Environment is a host's environment (issue 18); empty otherwise.
	Environment string
}

// Allowed reports whether p's role is one of roles. Admin is allowed
// everywhere.
func (p Principal) Allowed(roles ...Role) bool {
	if p.Role == RoleAdmin {
		return true
	}
	return slices.Contains(roles, p.Role)
}

// Oversees reports whether p reads every namespace's versions, released
// or not: admins, reviewers, stewards and auditors.
func (p Principal) Oversees() bool {
	return p.Allowed(RoleReviewer, RoleSteward, RoleAuditor)
}

// Namespaces finds a namespace's owners, for the checks that depend on
// them (store.Store is one).
type Namespaces interface {
	GetNamespace(ctx context.Context, name string) (Namespace, error)
}

// CanSee reports whether p may read the submissions of pluginID ("ns/name"),
// whatever their state: the overseers read every plugin's; a publisher
// token scoped to a namespace reads that namespace's; an unscoped publisher
// the namespaces it owns. Nobody else does: not a host, not an anonymous
// caller.
func (p Principal) CanSee(ctx context.Context, nss Namespaces, pluginID string) (bool, error) {
	if p.Oversees() {
		return true, nil
	}
	if p.Role != RolePublisher {
		return false, nil
	}
	ns, _, _ := strings.Cut(pluginID, "/")
	if p.Namespace != "" {
		return p.Namespace == ns, nil
	}
	n, err := nss.GetNamespace(ctx, ns)
	if errors.Is(err, ErrNotFound) {
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
	if !p.Allowed(RolePublisher) {
		return fmt.Errorf("role %s may not publish", p.Role)
	}
	if p.Namespace != "" && p.Namespace != ns {
		return fmt.Errorf("this token is scoped to namespace %q and cannot publish to %q", p.Namespace, ns)
	}
	if owners == nil || p.Role == RoleAdmin || p.Namespace == ns {
		return nil
	}
	if slices.Contains(owners, p.Subject) {
		return nil
	}
	return fmt.Errorf("namespace %q belongs to other publishers", ns)
}

// Released reports whether a version in state st is released: it holds a
// certificate that has not been revoked, so hosts may install it and
// anyone may read it, as the anonymous catalog shows. A version in any
// other state is read only by its namespace's members and the overseers
// (CanSeeVersion).
func Released(st lifecycle.State) bool {
	return st == lifecycle.Certified || st == lifecycle.Suspended
}

// ReleasedStates lists the states Released admits, in lifecycle order, for
// queries that select released versions in the store.
func ReleasedStates() []lifecycle.State {
	var out []lifecycle.State
	for _, st := range lifecycle.States {
		if Released(st) {
			out = append(out, st)
		}
	}
	return out
}

// Published reports whether a version in state st was released at some
// point: released, or revoked since. Its certificate is in the public
// transparency log and a revocation names its digest, so what the
// certificate made public (certificate, bundle, provenance) stays public.
func Published(st lifecycle.State) bool {
	return Released(st) || st == lifecycle.Revoked
}
