package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/trust"
)

// Ownership and key changes (issue 19 item 7). A change of who may sign
// for a namespace re-checks what was certified under the old arrangement:
// a transfer and a removed key queue a revalidation of every certified
// version they cover; a key reported stolen suspends the versions only it
// vouches for. Each change is audited and in the transparency log.

// MaxChangeReason bounds the reason given for a transfer or a compromise.
const MaxChangeReason = 4096

// Recheck is what a change of a namespace's owners or keys did to the
// certified versions it covers.
type Recheck struct {
	Namespace string
	// Suspended are the versions suspended at once (a compromised key
	// was their only trusted signer).
	Suspended []domain.SignedVersion
	// Queued are the versions queued for revalidation.
	Queued []domain.SignedVersion
	// AlreadyReported: the key was reported compromised before; this
	// call only finished suspending and queueing.
	AlreadyReported bool
}

// TransferNamespace gives a namespace to a new owner (admins only: a
// transfer moves the right to sign for every plugin in it, and the
// current owner asking is the same request an attacker holding the
// owner's token would make). The change is audited with the reason and
// logged; the namespace's webhooks hear it; every certified version of the
// namespace is queued for revalidation.
func (a *App) TransferNamespace(ctx context.Context, caller domain.Principal, ns, to, reason string) (Recheck, error) {
	if err := a.trustOn(); err != nil {
		return Recheck{}, err
	}
	if err := allow(caller, "transfer a namespace", domain.RoleAdmin); err != nil {
		return Recheck{}, err
	}
	to = strings.TrimSpace(to)
	if err := changeReason(reason); err != nil {
		return Recheck{}, err
	}
	if to == "" || len(to) > 256 || strings.ContainsAny(to, "\n\r\t") {
		return Recheck{}, Refuse(KindInvalid, "invalid_request", "name the new owner (--to SUBJECT): the token subject of the publisher who takes the namespace over")
	}
	cur, err := a.namespace(ctx, ns)
	if err != nil {
		return Recheck{}, err
	}
	if slices.Equal(cur.Owners, []string{to}) {
		return Recheck{}, Refuse(KindConflict, "no_change", fmt.Sprintf("%s owns namespace %s already", to, ns))
	}
	covered, err := a.cfg.Store.NamespaceVersions(ctx, ns, []lifecycle.State{lifecycle.Certified})
	if err != nil {
		return Recheck{}, fmt.Errorf("finding the certified versions of namespace %s: %w", ns, err)
	}
	now := a.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventNamespaceOwner, Time: now, Subject: ns,
		Detail: truncateDetail("transferred from " + strings.Join(cur.Owners, ", ") + " to " + to + ": " + reason)})
	if err != nil {
		return Recheck{}, err
	}
	data, _ := json.Marshal(map[string]any{"from": cur.Owners, "to": []string{to}, "recheck": len(covered)})
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.NamespaceOwnerTransfer, Subject: "namespace:" + ns, Reason: reason, Data: data}
	err = a.cfg.Store.TransferNamespace(ctx, ns, []string{to}, now, entry, ev)
	if errors.Is(err, domain.ErrNotFound) {
		return Recheck{}, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no namespace " + ns, Err: err}
	}
	if err != nil {
		return Recheck{}, err
	}
	a.publish(ctx)
	out := Recheck{Namespace: ns}
	out.Queued, err = a.recheck(ctx, caller, covered, revalidate.TriggerOwnerChange, "namespace "+ns+" transferred to "+to)
	return out, err
}

// RetirePublisherKey retires a key (owners and admins): what it signed
// stays verifiable; new submissions signed with it are refused; every
// certified version it signed is queued for revalidation, which confirms
// its signature still verifies within the key's window.
func (a *App) RetirePublisherKey(ctx context.Context, caller domain.Principal, ns, id string) (Recheck, error) {
	if err := a.trustOn(); err != nil {
		return Recheck{}, err
	}
	owned, err := a.ownNamespace(ctx, caller, ns, false)
	if err != nil {
		return Recheck{}, err
	}
	covered, err := a.signedBy(ctx, owned.Name, id)
	if err != nil {
		return Recheck{}, err
	}
	now := a.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyRemove, Time: now, Subject: owned.Name, Detail: id})
	if err != nil {
		return Recheck{}, err
	}
	data, _ := json.Marshal(map[string]any{"key": id, "recheck": len(covered)})
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.PublisherKeyRemoved, Subject: "namespace:" + owned.Name, Reason: "key " + id, Data: data}
	err = a.cfg.Store.RetirePublisherKey(ctx, owned.Name, id, now, caller.Subject, entry, ev)
	if errors.Is(err, domain.ErrNotFound) {
		return Recheck{}, Wrap(KindNotFound, err)
	}
	if err != nil {
		return Recheck{}, err
	}
	a.publish(ctx)
	out := Recheck{Namespace: owned.Name}
	out.Queued, err = a.recheck(ctx, caller, covered, revalidate.TriggerKeyRemoved, "publisher key "+id+" of namespace "+owned.Name+" retired")
	return out, err
}

// CompromisePublisherKey records that a namespace's key was stolen: it is
// retired, no signature by it is trusted any more (the thief can claim any
// signing time, so its window means nothing), and every certified version
// it signed is dealt with: suspended, through the stewards' suspension
// path, when no other trusted key of the namespace signed it; queued for
// revalidation when another one did. New submissions signed by it are
// refused (intake).
//
// The namespace's owners may report it (they are the first to know, and
// may already retire the key), and stewards and admins (a leaked key found
// by the secrets scan or an incident must not wait for an owner who may
// be the one compromised). Reporting again finishes an interrupted run:
// it suspends and queues what is still certified, without a second event.
func (a *App) CompromisePublisherKey(ctx context.Context, caller domain.Principal, ns, id, reason string) (Recheck, error) {
	if err := a.trustOn(); err != nil {
		return Recheck{}, err
	}
	if err := changeReason(reason); err != nil {
		return Recheck{}, err
	}
	var owned domain.Namespace
	var err error
	if caller.Allowed(domain.RoleSteward) {
		owned, err = a.namespace(ctx, ns)
	} else {
		owned, err = a.ownNamespace(ctx, caller, ns, false)
	}
	if err != nil {
		return Recheck{}, err
	}
	keys, err := a.cfg.Store.ListPublisherKeys(ctx, owned.Name)
	if err != nil {
		return Recheck{}, err
	}
	var trusted []domain.PublisherKey
	known := false
	for _, k := range keys {
		if k.ID == id {
			known = true
			continue
		}
		if !k.Compromised() {
			trusted = append(trusted, k)
		}
	}
	if !known {
		return Recheck{}, &Error{Kind: KindNotFound, Code: KindNotFound.Code(),
			Msg: fmt.Sprintf("namespace %s has no key %s; list its keys with `gatehouse namespace key list %s`", owned.Name, id, owned.Name)}
	}
	covered, err := a.signedBy(ctx, owned.Name, id)
	if err != nil {
		return Recheck{}, err
	}
	out := Recheck{Namespace: owned.Name}
	for _, sv := range covered {
		if a.alsoSignedBy(sv, trusted) {
			out.Queued = append(out.Queued, sv)
		} else {
			out.Suspended = append(out.Suspended, sv)
		}
	}
	now := a.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyCompromised, Time: now, Subject: owned.Name, Detail: truncateDetail(id + ": " + reason)})
	if err != nil {
		return Recheck{}, err
	}
	data, _ := json.Marshal(map[string]any{"key": id, "suspend": len(out.Suspended), "recheck": len(out.Queued)})
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.PublisherKeyCompromised, Subject: "namespace:" + owned.Name, Reason: reason, Data: data}
	err = a.cfg.Store.CompromisePublisherKey(ctx, owned.Name, id, now, caller.Subject, reason, entry, ev)
	switch {
	case errors.Is(err, domain.ErrConflict):
		out.AlreadyReported = true
	case errors.Is(err, domain.ErrNotFound):
		return Recheck{}, Wrap(KindNotFound, err)
	case err != nil:
		return Recheck{}, err
	}
	// The suspensions go through certify.Suspend, as a steward's do, so
	// each is audited, logged, heard by webhooks and counted as any other;
	// the caller's role was checked above (an owner suspends only their
	// own namespace's versions, and only those the stolen key vouches for).
	why := truncateDetail("publisher key " + id + " of namespace " + owned.Name + " was reported compromised and was this version's only trusted signer: " + reason)
	for _, sv := range out.Suspended {
		err := a.cfg.Trust.Suspend(ctx, sv.VersionID, caller.Subject, why, time.Time{})
		if errors.Is(err, certify.ErrState) || errors.Is(err, domain.ErrStateChanged) {
			continue // no longer certified: suspended or revoked meanwhile
		}
		if err != nil {
			return out, fmt.Errorf("suspending %s@%s (run the report again to finish): %w", sv.PluginID, sv.Version, err)
		}
	}
	a.publish(ctx)
	if _, err := a.recheck(ctx, caller, out.Queued, revalidate.TriggerKeyCompromised, "publisher key "+id+" of namespace "+owned.Name+" reported compromised; the version is also signed by another key"); err != nil {
		return out, err
	}
	return out, nil
}

// signedBy returns the certified versions of namespace ns whose publisher
// signature envelope carries a signature by key id (the stored key is the
// one that verified at submission; an envelope may carry several).
func (a *App) signedBy(ctx context.Context, ns, id string) ([]domain.SignedVersion, error) {
	all, err := a.cfg.Store.NamespaceVersions(ctx, ns, []lifecycle.State{lifecycle.Certified})
	if err != nil {
		return nil, fmt.Errorf("finding the certified versions of namespace %s: %w", ns, err)
	}
	var out []domain.SignedVersion
	for _, sv := range all {
		if sv.Signature.KeyID == id {
			out = append(out, sv)
			continue
		}
		if env, err := trust.ParseEnvelope(sv.Signature.Envelope); err == nil {
			for _, s := range env.Signatures {
				if s.KeyID == id {
					out = append(out, sv)
					break
				}
			}
		}
	}
	return out, nil
}

// alsoSignedBy reports whether sv's publisher signature verifies with a
// key or identity of keys (the namespace's but the compromised ones),
// within its window.
func (a *App) alsoSignedBy(sv domain.SignedVersion, keys []domain.PublisherKey) bool {
	v, err := certify.VerifySignature(sv.Signature.Envelope, sv.Digest, certify.SignatureCheck{Keys: keys, Root: a.cfg.SigstoreRoot, ReceivedAt: sv.Signature.CreatedAt})
	return err == nil && v.CheckSubject(sv.PluginID, sv.Version) == nil
}

// recheck queues revalidations of vs for trigger. Without a revalidation
// scheduler (a marketplace running without one) nothing is queued; the
// change itself stands.
func (a *App) recheck(ctx context.Context, caller domain.Principal, vs []domain.SignedVersion, trigger revalidate.Trigger, why string) ([]domain.SignedVersion, error) {
	if a.cfg.Revalidate == nil || len(vs) == 0 {
		return vs, nil
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.VersionID
	}
	if _, err := a.cfg.Revalidate.EnqueueVersions(ctx, ids, caller.Subject, trigger, why); err != nil {
		return vs, fmt.Errorf("the change is recorded, but queueing the re-checks failed (the cadence re-checks them later; `gatehouse revalidate` queues them now): %w", err)
	}
	return vs, nil
}

func changeReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return Refuse(KindInvalid, "invalid_request", "say why (--reason TEXT): it goes into the audit trail and the transparency log")
	case len(reason) > MaxChangeReason:
		return Refuse(KindInvalid, "invalid_request", fmt.Sprintf("the reason is %d bytes; at most %d", len(reason), MaxChangeReason))
	}
	return nil
}

// truncateDetail keeps a log entry's detail well under trust.MaxEventBytes.
func truncateDetail(s string) string {
	if len(s) <= 2048 {
		return s
	}
	return strings.ToValidUTF8(s[:2048], "") + "…"
}
