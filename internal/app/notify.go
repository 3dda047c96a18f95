package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/incident"
	"gatehouse.dev/gatehouse/internal/webhook"
)

// Notification and incident response: webhook subscriptions and their
// deliveries, incidents (open, add versions, note, hunt, contain, notify,
// close) and hunting rules. A publisher manages its own subscriptions
// only; stewards manage all of them and run incidents; auditors read.

var (
	subscriberRoles = []domain.Role{domain.RolePublisher, domain.RoleSteward}
	incidentReaders = []domain.Role{domain.RoleSteward, domain.RoleAuditor}
	incidentRunners = []domain.Role{domain.RoleSteward}
)

// notifyErr classifies the errors of the webhook and incident services.
func notifyErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrInvalid):
		return &Error{Kind: KindInvalid, Code: "invalid", Msg: err.Error(), Err: err}
	case errors.Is(err, incident.ErrClosed):
		return &Error{Kind: KindConflict, Code: "conflict", Msg: err.Error(), Err: err}
	}
	return err // not found and conflicts: Classify knows the store's
}

func (a *App) webhooksOn() error {
	if a.cfg.Webhooks == nil {
		return Refuse(KindUnavailable, "not_configured", "webhooks are not configured on this server")
	}
	return nil
}

func (a *App) incidentsOn() error {
	if a.cfg.Incidents == nil {
		return Refuse(KindUnavailable, "not_configured", "incidents are not configured on this server")
	}
	return nil
}

// seesAllWebhooks reports whether caller manages every subscription.
func seesAllWebhooks(caller domain.Principal) bool { return caller.Allowed(domain.RoleSteward) }

// Subscribe subscribes a URL to events and returns the subscription with
// its signing secret, shown this once. A publisher hears only about
// namespaces it publishes in (a token scoped to one subscribes for it by
// default); stewards may leave the scope empty for everything.
func (a *App) Subscribe(ctx context.Context, caller domain.Principal, req webhook.Subscription) (domain.Webhook, string, error) {
	if err := a.webhooksOn(); err != nil {
		return domain.Webhook{}, "", err
	}
	if err := allow(caller, "subscribe to webhooks", subscriberRoles...); err != nil {
		return domain.Webhook{}, "", err
	}
	if !seesAllWebhooks(caller) {
		if req.Namespace == "" && req.Plugin == "" {
			req.Namespace = caller.Namespace
		}
		ns := req.Namespace
		if ns == "" && req.Plugin != "" {
			ns, _, _ = strings.Cut(req.Plugin, "/")
		}
		if ns == "" {
			return domain.Webhook{}, "", Refuse(KindInvalid, "invalid", "a publisher's subscription names the namespace (or plugin) it is for")
		}
		ok, err := caller.CanSee(ctx, a.cfg.Store, ns+"/")
		if err != nil {
			return domain.Webhook{}, "", err
		}
		if !ok {
			return domain.Webhook{}, "", Errorf(KindForbidden, "%s does not publish in namespace %s", caller.Subject, ns)
		}
	}
	hook, secret, err := a.cfg.Webhooks.Subscribe(ctx, caller.Subject, req)
	return hook, secret, notifyErr(err)
}

// Webhooks lists the subscriptions caller may see: a publisher's own,
// every one for stewards. Never their secrets.
func (a *App) Webhooks(ctx context.Context, caller domain.Principal) ([]domain.Webhook, error) {
	if err := allow(caller, "list webhooks", subscriberRoles...); err != nil {
		return nil, err
	}
	all, err := a.cfg.Store.ListWebhooks(ctx)
	if err != nil || seesAllWebhooks(caller) {
		return all, err
	}
	var out []domain.Webhook
	for _, h := range all {
		if h.Owner == caller.Subject {
			out = append(out, h)
		}
	}
	return out, nil
}

// ownWebhook loads a subscription caller may manage; another publisher's
// is not found, so its existence is not disclosed.
func (a *App) ownWebhook(ctx context.Context, caller domain.Principal, id string) (domain.Webhook, error) {
	if err := allow(caller, "manage webhooks", subscriberRoles...); err != nil {
		return domain.Webhook{}, err
	}
	h, err := a.cfg.Store.GetWebhook(ctx, id)
	if err == nil && !seesAllWebhooks(caller) && h.Owner != caller.Subject {
		err = fmt.Errorf("webhook %s: %w", id, domain.ErrNotFound)
	}
	return h, err
}

// DisableWebhook disables a subscription; its pending deliveries become
// dead letters.
func (a *App) DisableWebhook(ctx context.Context, caller domain.Principal, id string) (domain.Webhook, error) {
	if err := a.webhooksOn(); err != nil {
		return domain.Webhook{}, err
	}
	h, err := a.ownWebhook(ctx, caller, id)
	if err != nil {
		return h, err
	}
	if err := a.cfg.Webhooks.Disable(ctx, caller.Subject, h.ID, "disabled by "+caller.Subject); err != nil {
		return h, notifyErr(err)
	}
	return a.cfg.Store.GetWebhook(ctx, h.ID)
}

// ReplayDeadLetters sends every dead letter of a subscription again, with
// a fresh retry budget, and says how many.
func (a *App) ReplayDeadLetters(ctx context.Context, caller domain.Principal, id string) (int, error) {
	if err := a.webhooksOn(); err != nil {
		return 0, err
	}
	h, err := a.ownWebhook(ctx, caller, id)
	if err != nil {
		return 0, err
	}
	n, err := a.cfg.Webhooks.ReplayDead(ctx, caller.Subject, h.ID)
	return n, notifyErr(err)
}

// Deliveries is the delivery log of the subscriptions caller may see.
func (a *App) Deliveries(ctx context.Context, caller domain.Principal, q domain.DeliveryQuery) ([]domain.WebhookDelivery, error) {
	if err := allow(caller, "list deliveries", subscriberRoles...); err != nil {
		return nil, err
	}
	if !seesAllWebhooks(caller) {
		hooks, err := a.Webhooks(ctx, caller)
		if err != nil {
			return nil, err
		}
		q.Webhooks = []string{}
		for _, h := range hooks {
			q.Webhooks = append(q.Webhooks, h.ID)
		}
	}
	return a.cfg.Store.ListDeliveries(ctx, q)
}

// ownDelivery loads a delivery of a subscription caller may manage.
func (a *App) ownDelivery(ctx context.Context, caller domain.Principal, id int64) (domain.WebhookDelivery, error) {
	if err := allow(caller, "read deliveries", subscriberRoles...); err != nil {
		return domain.WebhookDelivery{}, err
	}
	d, err := a.cfg.Store.GetDelivery(ctx, id)
	if err != nil {
		return d, err
	}
	_, err = a.ownWebhook(ctx, caller, d.WebhookID)
	return d, err
}

// Delivery is one delivery with every attempt.
func (a *App) Delivery(ctx context.Context, caller domain.Principal, id int64) (domain.WebhookDelivery, []domain.WebhookAttempt, error) {
	d, err := a.ownDelivery(ctx, caller, id)
	if err != nil {
		return d, nil, err
	}
	as, err := a.cfg.Store.ListAttempts(ctx, d.ID)
	return d, as, err
}

// ReplayDelivery sends a delivered or dead delivery again (same
// webhook-id, new signature).
func (a *App) ReplayDelivery(ctx context.Context, caller domain.Principal, id int64) (domain.WebhookDelivery, error) {
	if err := a.webhooksOn(); err != nil {
		return domain.WebhookDelivery{}, err
	}
	d, err := a.ownDelivery(ctx, caller, id)
	if err != nil {
		return d, err
	}
	if err := a.cfg.Webhooks.Replay(ctx, caller.Subject, d.ID); err != nil {
		return d, notifyErr(err)
	}
	return a.cfg.Store.GetDelivery(ctx, d.ID)
}

// OpenIncident opens an incident (stewards).
func (a *App) OpenIncident(ctx context.Context, caller domain.Principal, req incident.OpenRequest) (domain.Incident, error) {
	if err := a.incidentsOn(); err != nil {
		return domain.Incident{}, err
	}
	if err := allow(caller, "open incidents", incidentRunners...); err != nil {
		return domain.Incident{}, err
	}
	inc, err := a.cfg.Incidents.Open(ctx, caller.Subject, req)
	return inc, notifyErr(err)
}

// Incidents lists incidents, newest first, in state ("" for any).
func (a *App) Incidents(ctx context.Context, caller domain.Principal, state string) ([]domain.Incident, error) {
	if err := allow(caller, "list incidents", incidentReaders...); err != nil {
		return nil, err
	}
	return a.cfg.Store.ListIncidents(ctx, domain.IncidentQuery{State: state})
}

// Incident is everything about one incident: its versions and their
// states, hunting rules, timeline and measures.
func (a *App) Incident(ctx context.Context, caller domain.Principal, id string) (incident.Detail, error) {
	if err := a.incidentsOn(); err != nil {
		return incident.Detail{}, err
	}
	if err := allow(caller, "read incidents", incidentReaders...); err != nil {
		return incident.Detail{}, err
	}
	d, err := a.cfg.Incidents.Get(ctx, id)
	return d, notifyErr(err)
}

// incidentStep runs one step of an incident's response (stewards) and
// returns the incident as it stands after it.
func (a *App) incidentStep(ctx context.Context, caller domain.Principal, id, what string, step func() error) (domain.Incident, error) {
	if err := a.incidentsOn(); err != nil {
		return domain.Incident{}, err
	}
	if err := allow(caller, what, incidentRunners...); err != nil {
		return domain.Incident{}, err
	}
	if err := step(); err != nil {
		return domain.Incident{}, notifyErr(err)
	}
	inc, err := a.cfg.Incidents.Refresh(ctx, id)
	return inc, notifyErr(err)
}

// AddIncidentVersions names more versions (submission ids or
// NS/NAME@VERSION) in an incident; added says how many were new.
func (a *App) AddIncidentVersions(ctx context.Context, caller domain.Principal, id string, refs []string) (inc domain.Incident, added int, err error) {
	inc, err = a.incidentStep(ctx, caller, id, "add versions to incidents", func() (err error) {
		added, err = a.cfg.Incidents.AddVersions(ctx, id, caller.Subject, refs)
		return err
	})
	return inc, added, err
}

// AddIncidentNote adds a note to an incident's timeline.
func (a *App) AddIncidentNote(ctx context.Context, caller domain.Principal, id, note string) (domain.Incident, error) {
	return a.incidentStep(ctx, caller, id, "add notes to incidents", func() error {
		return a.cfg.Incidents.AddNote(ctx, id, caller.Subject, note)
	})
}

// AddHuntRule adds a hunting rule to an incident; it runs backward over
// every stored version at once (the report) and joins vetting.
func (a *App) AddHuntRule(ctx context.Context, caller domain.Principal, id string, req incident.RuleRequest) (inc domain.Incident, rule domain.HuntRule, rep hunt.Report, err error) {
	inc, err = a.incidentStep(ctx, caller, id, "add hunting rules", func() (err error) {
		rule, rep, err = a.cfg.Incidents.AddRule(ctx, id, caller.Subject, req)
		return err
	})
	return inc, rule, rep, err
}

// ContainIncident suspends or revokes every version an incident names.
func (a *App) ContainIncident(ctx context.Context, caller domain.Principal, id string, req incident.ContainRequest) (inc domain.Incident, outcomes []incident.Outcome, err error) {
	inc, err = a.incidentStep(ctx, caller, id, "contain incidents", func() (err error) {
		_, outcomes, err = a.cfg.Incidents.Contain(ctx, id, caller.Subject, req)
		return err
	})
	return inc, outcomes, err
}

// NotifyIncident sends a message about an incident to every subscriber.
func (a *App) NotifyIncident(ctx context.Context, caller domain.Principal, id, message string) (domain.Incident, error) {
	return a.incidentStep(ctx, caller, id, "notify about incidents", func() error {
		return a.cfg.Incidents.Notify(ctx, id, caller.Subject, message)
	})
}

// CloseIncident closes an incident with its postmortem.
func (a *App) CloseIncident(ctx context.Context, caller domain.Principal, id, postmortem string) (domain.Incident, error) {
	return a.incidentStep(ctx, caller, id, "close incidents", func() error {
		_, err := a.cfg.Incidents.Close(ctx, id, caller.Subject, postmortem)
		return err
	})
}

// HuntRules lists every hunting rule, active and disabled.
func (a *App) HuntRules(ctx context.Context, caller domain.Principal) ([]domain.HuntRule, error) {
	if err := allow(caller, "list hunting rules", incidentReaders...); err != nil {
		return nil, err
	}
	return a.cfg.Store.ListHuntRules(ctx, false)
}

// DisableHuntRule disables a hunting rule (stewards): new submissions are
// no longer checked for it.
func (a *App) DisableHuntRule(ctx context.Context, caller domain.Principal, id string) error {
	if err := allow(caller, "disable hunting rules", incidentRunners...); err != nil {
		return err
	}
	now := a.cfg.Now()
	data, _ := json.Marshal(map[string]string{"rule": id})
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.HuntRuleDisable, Subject: "hunt-rule:" + id, Data: data}
	return notifyErr(a.cfg.Store.DisableHuntRule(ctx, id, now, ev))
}
