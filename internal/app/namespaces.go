package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/trust"
)

// Namespaces: who owns the first part of a plugin id, the publisher keys
// that sign for it, and whether it requires signatures.

// ListNamespaces lists namespaces and their owners: every one to the
// overseers, the ones a publisher may publish to (owned, or its token's
// scope) to a publisher; a host may not list them.
func (a *App) ListNamespaces(ctx context.Context, caller domain.Principal) ([]domain.Namespace, error) {
	if err := signedIn(caller, "list namespaces"); err != nil {
		return nil, err
	}
	all, err := a.cfg.Store.ListNamespaces(ctx)
	if err != nil || caller.Role != domain.RolePublisher {
		return all, err
	}
	// A publisher sees the namespaces it may publish to, not every other
	// publisher's owners.
	mine := all[:0]
	for _, n := range all {
		if caller.CanPublish(n.Name, n.Owners) == nil {
			mine = append(mine, n)
		}
	}
	return mine, nil
}

// NamespaceKeys is a namespace's publisher keys (retired ones included)
// and whether it requires signatures.
type NamespaceKeys struct {
	Namespace          string
	SignaturesRequired bool
	Keys               []domain.PublisherKey
}

// PublisherKeys returns a namespace's keys. They are public: hosts verify
// publisher signatures with them.
func (a *App) PublisherKeys(ctx context.Context, ns string) (NamespaceKeys, error) {
	if _, err := a.namespace(ctx, ns); err != nil {
		return NamespaceKeys{}, err
	}
	keys, err := a.cfg.Store.ListPublisherKeys(ctx, ns)
	if err != nil {
		return NamespaceKeys{}, err
	}
	req, err := a.cfg.Store.SignaturesRequired(ctx, ns)
	if err != nil {
		return NamespaceKeys{}, err
	}
	return NamespaceKeys{Namespace: ns, SignaturesRequired: req, Keys: keys}, nil
}

// AddPublisherKey registers a PEM public key (Ed25519 or ECDSA P-256) for
// a namespace: its owners and admins may. A namespace that does not
// exist yet is claimed by the caller. The key goes into the audit trail
// and the transparency log.
func (a *App) AddPublisherKey(ctx context.Context, caller domain.Principal, ns string, pemKey []byte) (domain.PublisherKey, error) {
	if err := a.trustOn(); err != nil {
		return domain.PublisherKey{}, err
	}
	pub, err := trust.ParsePublicKeyPEM(pemKey)
	if err != nil {
		return domain.PublisherKey{}, &Error{Kind: KindInvalid, Code: "invalid_key", Err: err,
			Msg: "the body must be a PEM public key (Ed25519 or ECDSA P-256), as `gatehouse keys generate` writes to FILE.pub: " + err.Error()}
	}
	owned, err := a.ownNamespace(ctx, caller, ns, true)
	if err != nil {
		return domain.PublisherKey{}, err
	}
	pemBytes, err := pub.MarshalPEM()
	if err != nil {
		return domain.PublisherKey{}, err
	}
	now := a.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: now, Subject: owned.Name, Detail: pub.ID})
	if err != nil {
		return domain.PublisherKey{}, err
	}
	k := domain.PublisherKey{ID: pub.ID, Namespace: owned.Name, Algorithm: string(pub.Algorithm), PEM: pemBytes, AddedBy: caller.Subject, AddedAt: now}
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.PublisherKeyAdded, Subject: "namespace:" + owned.Name, Reason: "key " + pub.ID}
	err = a.cfg.Store.AddPublisherKey(ctx, k, entry, ev)
	if errors.Is(err, domain.ErrConflict) {
		return domain.PublisherKey{}, &Error{Kind: KindConflict, Code: "key_exists", Msg: err.Error(), Err: err}
	}
	if err != nil {
		return domain.PublisherKey{}, err
	}
	a.publish(ctx)
	return k, nil
}

// MayManageNamespace reports whether caller may add signers to ns (its
// owners and admins; anyone who may publish there when it is unclaimed),
// so that a transport refuses a stranger before reading the request.
func (a *App) MayManageNamespace(ctx context.Context, caller domain.Principal, name string) error {
	ns, err := a.cfg.Store.GetNamespace(ctx, name)
	if errors.Is(err, domain.ErrNotFound) {
		return Wrap(KindForbidden, caller.CanPublish(name, nil))
	}
	if err != nil {
		return err
	}
	return Wrap(KindForbidden, caller.CanPublish(ns.Name, ns.Owners))
}

// AddPublisherIdentity binds a keyless Sigstore signer (an OIDC issuer and
// the subject Fulcio writes into the certificate's SAN) to a namespace,
// the way AddPublisherKey binds a key: the namespace then accepts keyless
// bundles whose certificate names exactly that issuer and subject. It is
// kept, retired and reported compromised as a key is (by its id,
// trust.SigstoreIdentity.ID), and goes into the audit trail and the
// transparency log.
func (a *App) AddPublisherIdentity(ctx context.Context, caller domain.Principal, ns, issuer, subject string) (domain.PublisherKey, error) {
	if err := a.trustOn(); err != nil {
		return domain.PublisherKey{}, err
	}
	id := trust.SigstoreIdentity{Issuer: strings.TrimSpace(issuer), Subject: strings.TrimSpace(subject)}
	if err := id.Check(); err != nil {
		return domain.PublisherKey{}, &Error{Kind: KindInvalid, Code: "invalid_identity", Err: err,
			Msg: "a keyless identity is the OIDC issuer your signing certificate names and its subject (SAN): " + err.Error()}
	}
	owned, err := a.ownNamespace(ctx, caller, ns, true)
	if err != nil {
		return domain.PublisherKey{}, err
	}
	now := a.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: now, Subject: owned.Name, Detail: truncateDetail(id.ID() + ": keyless " + id.String())})
	if err != nil {
		return domain.PublisherKey{}, err
	}
	k := domain.PublisherKey{ID: id.ID(), Namespace: owned.Name, Algorithm: trust.AlgorithmSigstoreOIDC, PEM: trust.MarshalSigstoreIdentity(id), AddedBy: caller.Subject, AddedAt: now}
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.PublisherKeyAdded, Subject: "namespace:" + owned.Name, Reason: "keyless identity " + id.ID() + ": " + id.String()}
	err = a.cfg.Store.AddPublisherKey(ctx, k, entry, ev)
	if errors.Is(err, domain.ErrConflict) {
		return domain.PublisherKey{}, &Error{Kind: KindConflict, Code: "key_exists", Msg: fmt.Sprintf("namespace %s has identity %s already (id %s)", owned.Name, id, id.ID()), Err: err}
	}
	if err != nil {
		return domain.PublisherKey{}, err
	}
	a.publish(ctx)
	return k, nil
}

// SetSignatureRequirement makes a namespace require publisher signatures,
// or not (admins only, with a reason for the trail).
func (a *App) SetSignatureRequirement(ctx context.Context, caller domain.Principal, ns string, required bool, reason string) error {
	if err := allow(caller, "change a namespace's signature requirement", domain.RoleAdmin); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return Refuse(KindInvalid, "invalid_request", "say why the requirement changes (reason)")
	}
	data, _ := json.Marshal(map[string]bool{"signaturesRequired": required})
	ev := audit.Event{Time: a.cfg.Now(), Actor: caller.Subject, Action: audit.NamespaceSignatureRequirement, Subject: "namespace:" + ns, Reason: reason, Data: data}
	err := a.cfg.Store.SetSignaturesRequired(ctx, ns, required, ev)
	if errors.Is(err, domain.ErrNotFound) {
		return &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no namespace " + ns, Err: err}
	}
	return err
}

// namespace loads a namespace; one that does not exist is KindNotFound.
func (a *App) namespace(ctx context.Context, name string) (domain.Namespace, error) {
	ns, err := a.cfg.Store.GetNamespace(ctx, name)
	if errors.Is(err, domain.ErrNotFound) {
		return ns, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no namespace " + name, Err: err}
	}
	return ns, err
}

// ownNamespace returns the namespace if caller may manage it (its owners,
// a publisher token scoped to it, admins), claiming it for caller when it
// does not exist yet and create is set.
func (a *App) ownNamespace(ctx context.Context, caller domain.Principal, name string, create bool) (domain.Namespace, error) {
	ns, err := a.cfg.Store.GetNamespace(ctx, name)
	if errors.Is(err, domain.ErrNotFound) && create {
		if err := caller.CanPublish(name, nil); err != nil {
			return ns, Wrap(KindForbidden, err)
		}
		now := a.cfg.Now().UTC()
		ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.NamespaceClaim, Subject: "namespace:" + name, Reason: "a publisher key registered for an unclaimed namespace"}
		err = a.cfg.Store.CreateNamespace(ctx, domain.Namespace{Name: name, Owners: []string{caller.Subject}, CreatedAt: now}, ev)
		switch {
		case err == nil && a.cfg.Trust != nil:
			if err := a.cfg.Trust.LogEvent(ctx, trust.Event{Kind: trust.EventNamespaceOwner, Time: now, Subject: name, Detail: "claimed by " + caller.Subject}); err != nil {
				return ns, fmt.Errorf("logging the claim of namespace %s: %w", name, err)
			}
		case err != nil && !errors.Is(err, domain.ErrConflict):
			// A concurrent claim is a conflict, and the owners decide
			// below; anything else is a name the store refuses.
			return ns, &Error{Kind: KindInvalid, Code: "invalid_namespace", Msg: err.Error(), Err: err}
		}
		ns, err = a.cfg.Store.GetNamespace(ctx, name)
	}
	if errors.Is(err, domain.ErrNotFound) {
		return ns, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no namespace " + name, Err: err}
	}
	if err != nil {
		return ns, err
	}
	if err := caller.CanPublish(ns.Name, ns.Owners); err != nil {
		return ns, Wrap(KindForbidden, err)
	}
	return ns, nil
}
