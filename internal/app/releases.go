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
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/trust"
)

// Releases (issue 18): which version each environment runs, promotion by
// policy, staged rollouts, release rollback, the kill switch and the
// signed status feed hosts follow.

// DefaultStatusFeedMaxAge is the oldest status feed a host accepts by
// default; the marketplace re-signs a feed at half this age, so a host
// that syncs at least that often never holds a stale one.
const DefaultStatusFeedMaxAge = time.Hour

// Limits of the release operations.
const (
	// maxHealthRows bounds the health reports read for one decision.
	maxHealthRows = 5000
	// maxReleaseRows bounds the releases of one environment in a feed.
	maxReleaseRows = trust.MaxFeedPlugins
)

func (a *App) environments() domain.Environments {
	if len(a.cfg.Environments) == 0 {
		return domain.Environments(domain.DefaultEnvironments)
	}
	return a.cfg.Environments
}

// Environments returns the marketplace's environments in promotion order.
func (a *App) Environments() []string { return slices.Clone(a.environments()) }

func (a *App) feedMaxAge() time.Duration {
	if a.cfg.StatusFeedMaxAge > 0 {
		return a.cfg.StatusFeedMaxAge
	}
	return DefaultStatusFeedMaxAge
}

// PromoteRequest moves a version into an environment.
type PromoteRequest struct {
	Ref     string // NS/NAME@VERSION or a submission id
	To      string
	Rollout int // 1 to 100; 0 means 100
	Reason  string
}

// releaseManagers may change releases: stewards, and publishers of the
// plugin's namespace.
func (a *App) mayRelease(ctx context.Context, caller domain.Principal, pluginID string) error {
	if err := allow(caller, "change releases", domain.RoleSteward, domain.RolePublisher); err != nil {
		return err
	}
	if caller.Allowed(domain.RoleSteward) {
		return nil
	}
	ok, err := caller.CanSee(ctx, a.cfg.Store, pluginID)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(KindForbidden, "only stewards and the publishers of %s change its releases", pluginID)
	}
	return nil
}

func checkReason(reason string) error {
	if len(reason) > domain.MaxReleaseReason || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(KindInvalid, "the reason must be at most %d bytes without control characters", domain.MaxReleaseReason)
	}
	return nil
}

// PromoteRelease moves a version into the environment after the one it
// runs in, at the rollout asked for, when the policy allows it. A refusal
// is KindConflict with code "promotion_refused" naming every rule.
func (a *App) PromoteRelease(ctx context.Context, caller domain.Principal, req PromoteRequest) (domain.Release, error) {
	envs := a.environments()
	if err := envs.Check(req.To); err != nil {
		return domain.Release{}, Wrap(KindInvalid, err)
	}
	if req.Rollout == 0 {
		req.Rollout = 100
	}
	if req.Rollout < 1 || req.Rollout > 100 {
		return domain.Release{}, Errorf(KindInvalid, "rollout %d%% must be 1%% to 100%%", req.Rollout)
	}
	if err := checkReason(req.Reason); err != nil {
		return domain.Release{}, err
	}
	v, err := a.versionByRef(ctx, req.Ref)
	if err != nil {
		return domain.Release{}, err
	}
	if err := a.mayRelease(ctx, caller, v.PluginID); err != nil {
		return domain.Release{}, err
	}
	if v.State != lifecycle.Certified {
		return domain.Release{}, Refuse(KindConflict, "not_certified", fmt.Sprintf("%s@%s is %s; only a certified version is promoted", v.PluginID, v.Version, v.State))
	}
	engine := a.policyEngine()
	if engine == nil {
		return domain.Release{}, Refuse(KindUnavailable, "policy_unavailable", "no policy is active; promotion is refused")
	}
	in, err := a.promotionFacts(ctx, v, envs, req)
	if err != nil {
		return domain.Release{}, err
	}
	d, err := engine.DecidePromotion(ctx, in)
	if err != nil {
		return domain.Release{}, fmt.Errorf("deciding the promotion of %s@%s to %s: %w", v.PluginID, v.Version, req.To, err)
	}
	if !d.Allow {
		msgs := make([]string, len(d.Deny))
		for i, r := range d.Deny {
			msgs[i] = r.Rule + ": " + r.Message
		}
		return domain.Release{}, Refuse(KindConflict, "promotion_refused", fmt.Sprintf("the policy refuses to promote %s@%s to %s: %s", v.PluginID, v.Version, req.To, strings.Join(msgs, "; ")))
	}
	now := a.cfg.Now().UTC()
	cur, err := a.cfg.Store.GetRelease(ctx, v.PluginID, req.To)
	exists := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return domain.Release{}, err
	}
	if exists && cur.VersionID == v.ID {
		return domain.Release{}, Refuse(KindConflict, "already_released", fmt.Sprintf("%s@%s is the release of %s already; grow its rollout with `gatehouse release rollout`", v.PluginID, v.Version, req.To))
	}
	next := domain.Release{PluginID: v.PluginID, Environment: req.To, VersionID: v.ID, Version: v.Version, Digest: v.Digest, Rollout: req.Rollout, Status: domain.RolloutActive, Since: now, UpdatedAt: now}
	if exists {
		// Hosts outside the rollout keep the version they run now: the
		// current release if complete, else the one it was rolling over.
		next.PreviousID, next.Previous, next.PreviousDigest = cur.VersionID, cur.Version, cur.Digest
		if !cur.Complete() {
			next.PreviousID, next.Previous, next.PreviousDigest = cur.PreviousID, cur.Previous, cur.PreviousDigest
		}
	}
	if next.PreviousID == "" && next.Rollout < 100 {
		return domain.Release{}, Refuse(KindConflict, "nothing_to_roll_over", fmt.Sprintf("%s has no release of %s yet, so every host runs the first one: promote at 100%%", req.To, v.PluginID))
	}
	return next, a.applyRelease(ctx, caller.Subject, domain.ReleasePromoted, next, cur, !exists, req.Reason, "")
}

// policyEngine is the active policy's engine.
func (a *App) policyEngine() *policy.Engine {
	if a.cfg.Policy != nil {
		return a.cfg.Policy()
	}
	if a.cfg.Review == nil {
		return nil
	}
	return a.cfg.Review.Engine()
}

// promotionFacts gathers what the policy decides a promotion on.
func (a *App) promotionFacts(ctx context.Context, v domain.Version, envs domain.Environments, req PromoteRequest) (policy.PromotionInput, error) {
	var in policy.PromotionInput
	in.Plugin.ID, in.Plugin.Version = v.PluginID, v.Version
	in.To, in.ToIndex, in.Last, in.Rollout = req.To, envs.Index(req.To), envs.Index(req.To) == len(envs)-1, req.Rollout
	in.From = envs.Previous(req.To)
	in.Approvals = []string{}
	if cert, err := a.cfg.Store.LatestCertificate(ctx, v.ID); err == nil {
		if env, err := trust.ParseEnvelope(cert.Envelope); err == nil {
			if c, err := trust.ParseCertificate(env); err == nil {
				in.Plugin.RiskTier = c.RiskTier
			}
		}
	}
	if in.Plugin.RiskTier == "" {
		in.Plugin.RiskTier = "high" // unknown counts as the strictest tier the rules know
	}
	if in.From != "" {
		prev, err := a.cfg.Store.GetRelease(ctx, v.PluginID, in.From)
		switch {
		case errors.Is(err, domain.ErrNotFound):
		case err != nil:
			return in, err
		case prev.VersionID == v.ID:
			in.Previous.Present = true
			in.Previous.SinceHours = a.cfg.Now().Sub(prev.Since).Hours()
			in.Previous.Rollout, in.Previous.Status = prev.Rollout, string(prev.Status)
			h, err := a.healthFacts(ctx, v.ID, in.From, prev.Since)
			if err != nil {
				return in, err
			}
			in.Health = h
		}
	}
	if in.Health.Hosts == nil {
		in.Health = policy.NewHealthFacts(0, nil)
	}
	aps, err := a.cfg.Store.ReleaseApprovals(ctx, v.ID, req.To)
	if err != nil {
		return in, err
	}
	for _, ap := range aps {
		in.Approvals = append(in.Approvals, ap.Approver)
	}
	n, err := a.openIncidents(ctx, v.PluginID)
	if err != nil {
		return in, err
	}
	in.OpenIncidents = n
	return in, nil
}

// healthFacts sums the reports hosts of env sent about a version since.
func (a *App) healthFacts(ctx context.Context, versionID, env string, since time.Time) (policy.HealthFacts, error) {
	rs, err := a.cfg.Store.ListHealthReports(ctx, versionID, since, maxHealthRows)
	if err != nil {
		return policy.HealthFacts{}, err
	}
	byHost := map[string]*policy.HostHealthFacts{}
	var order []string
	n := 0
	for _, r := range rs {
		if r.Environment != env {
			continue
		}
		n++
		h, ok := byHost[r.Host]
		if !ok {
			h = &policy.HostHealthFacts{Host: r.Host}
			byHost[r.Host] = h
			order = append(order, r.Host)
		}
		h.Calls += r.Calls
		h.Errors += r.ErrorCount()
		h.BreakerTrips += r.BreakerTrips
	}
	slices.Sort(order)
	hosts := make([]policy.HostHealthFacts, 0, len(order))
	for _, k := range order {
		hosts = append(hosts, *byHost[k])
	}
	return policy.NewHealthFacts(n, hosts), nil
}

// openIncidents counts the incidents not closed that name a version of
// the plugin.
func (a *App) openIncidents(ctx context.Context, pluginID string) (int, error) {
	incs, err := a.cfg.Store.ListIncidents(ctx, domain.IncidentQuery{Limit: 1000})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, inc := range incs {
		if inc.State == domain.IncidentClosed {
			continue
		}
		vs, err := a.cfg.Store.ListIncidentVersions(ctx, inc.ID)
		if err != nil {
			return 0, err
		}
		for _, iv := range vs {
			if v, err := a.cfg.Store.GetVersion(ctx, iv.VersionID); err == nil && v.PluginID == pluginID {
				n++
				break
			}
		}
	}
	return n, nil
}

// applyRelease records a change with its history line, audit event (a
// webhook event too) and log entry, then republishes the feed.
func (a *App) applyRelease(ctx context.Context, actor string, action domain.ReleaseAction, next, cur domain.Release, first bool, reason, rule string) error {
	if a.cfg.Trust == nil {
		return unavailable("releases (they are logged in the transparency log)")
	}
	v, err := a.cfg.Store.GetVersion(ctx, next.VersionID)
	if err != nil {
		return err
	}
	prev := ""
	if next.PreviousID != "" {
		if pv, err := a.cfg.Store.GetVersion(ctx, next.PreviousID); err == nil {
			prev = pv.Version
		}
	}
	detail := fmt.Sprintf("%s in %s at %d%%", action, next.Environment, next.Rollout)
	if reason != "" {
		detail += ": " + reason
	}
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventReleaseChanged, Time: next.UpdatedAt, Subject: trust.SubjectName(v.PluginID, v.Version), Digest: v.Digest, Detail: detail})
	if err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "environment": next.Environment, "action": action, "version": v.Version, "rollout": next.Rollout, "previous": prev, "rule": rule})
	c := store.ReleaseChange{
		Release: next, Replace: first,
		Record:  domain.ReleaseRecord{Action: action, Actor: actor, Reason: reason},
		Entries: [][]byte{entry},
		Audit:   []audit.Event{{Time: next.UpdatedAt, Actor: actor, Action: audit.ReleaseChanged, Subject: "plugin:" + v.PluginID, Reason: detail, Data: data}},
	}
	if !first {
		c.Expect = cur
	}
	if err := a.cfg.Store.ApplyRelease(ctx, c); err != nil {
		return fmt.Errorf("recording %s of %s in %s: %w", action, v.PluginID, next.Environment, err)
	}
	a.cfg.Trust.Queued(ctx)
	if _, err := a.publishFeed(ctx, next.Environment, actor, true); err != nil {
		// The feed is re-made on the next request for it; the change stands.
		a.cfg.Log.ErrorContext(ctx, "publishing the status feed", "environment", next.Environment, "err", err)
	}
	return nil
}

// ApproveRelease records a steward's approval of a version for an
// environment (the policy may require one before production).
func (a *App) ApproveRelease(ctx context.Context, caller domain.Principal, ref, env, reason string) error {
	if err := allow(caller, "approve releases", domain.RoleSteward); err != nil {
		return err
	}
	if err := a.environments().Check(env); err != nil {
		return Wrap(KindInvalid, err)
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	v, err := a.versionByRef(ctx, ref)
	if err != nil {
		return err
	}
	if !domain.Released(v.State) {
		return Refuse(KindConflict, "not_certified", fmt.Sprintf("%s@%s is %s; only a released version is approved", v.PluginID, v.Version, v.State))
	}
	now := a.cfg.Now()
	data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "environment": env, "version": v.Version})
	return a.cfg.Store.ApproveRelease(ctx, domain.ReleaseApproval{VersionID: v.ID, Environment: env, Approver: caller.Subject, At: now},
		audit.Event{Time: now, Actor: caller.Subject, Action: audit.ReleaseApproved, Subject: "submission:" + v.ID, Reason: reason, Data: data})
}

// RolloutAction changes a staged rollout.
type RolloutAction string

// The rollout actions.
const (
	RolloutGrow   RolloutAction = "grow"
	RolloutPause  RolloutAction = "pause"
	RolloutResume RolloutAction = "resume"
	RolloutAbort  RolloutAction = "abort"
)

// ChangeRollout grows, pauses, resumes or aborts the rollout of a
// plugin's release in an environment. Growing takes the new percentage,
// which only goes up; hosts keep their place (trust.InRollout), so every
// host in stays in. Aborting puts every host back on the previous version.
func (a *App) ChangeRollout(ctx context.Context, caller domain.Principal, pluginID, env string, action RolloutAction, percent int, reason string) (domain.Release, error) {
	cur, err := a.releaseToChange(ctx, caller, pluginID, env, reason)
	if err != nil {
		return domain.Release{}, err
	}
	next := cur
	next.UpdatedAt = a.cfg.Now().UTC()
	var act domain.ReleaseAction
	switch action {
	case RolloutGrow:
		if percent <= cur.Rollout || percent > 100 {
			return domain.Release{}, Errorf(KindInvalid, "the rollout of %s in %s is at %d%%; grow it to a higher percentage, at most 100%%", pluginID, env, cur.Rollout)
		}
		if cur.Status == domain.RolloutHalted {
			return domain.Release{}, Refuse(KindConflict, "rollout_halted", fmt.Sprintf("the rollout of %s in %s was halted by its health; resume it after looking, or abort it", pluginID, env))
		}
		next.Rollout, act = percent, domain.ReleaseGrown
	case RolloutPause:
		if cur.Complete() || cur.Status != domain.RolloutActive {
			return domain.Release{}, Refuse(KindConflict, "not_rolling_out", fmt.Sprintf("%s in %s has no active rollout to pause (%d%%, %s)", pluginID, env, cur.Rollout, cur.Status))
		}
		next.Status, act = domain.RolloutPaused, domain.ReleasePaused
	case RolloutResume:
		if cur.Status == domain.RolloutActive {
			return domain.Release{}, Refuse(KindConflict, "not_paused", fmt.Sprintf("the rollout of %s in %s is not paused or halted", pluginID, env))
		}
		next.Status, act = domain.RolloutActive, domain.ReleaseResumed
	case RolloutAbort:
		if cur.Complete() {
			return domain.Release{}, Refuse(KindConflict, "not_rolling_out", fmt.Sprintf("%s@%s runs on every host of %s; use `gatehouse release rollback` to go back", pluginID, cur.Version, env))
		}
		next.VersionID, next.Version, next.Digest = cur.PreviousID, cur.Previous, cur.PreviousDigest
		next.PreviousID, next.Previous, next.PreviousDigest = "", "", ""
		next.Rollout, next.Status, next.Since, act = 100, domain.RolloutActive, next.UpdatedAt, domain.ReleaseAborted
	default:
		return domain.Release{}, Errorf(KindInvalid, "rollout action %q must be grow, pause, resume or abort", action)
	}
	return next, a.applyRelease(ctx, caller.Subject, act, next, cur, false, reason, "")
}

// releaseToChange checks what every change of a plugin's release in env
// needs (a known environment, a reason within bounds, a caller who may
// release the plugin) and returns the current release.
func (a *App) releaseToChange(ctx context.Context, caller domain.Principal, pluginID, env, reason string) (domain.Release, error) {
	if err := a.environments().Check(env); err != nil {
		return domain.Release{}, Wrap(KindInvalid, err)
	}
	if err := checkReason(reason); err != nil {
		return domain.Release{}, err
	}
	if err := a.mayRelease(ctx, caller, pluginID); err != nil {
		return domain.Release{}, err
	}
	return a.cfg.Store.GetRelease(ctx, pluginID, env)
}

// RollbackRelease points an environment back at the release before its
// current one; hosts follow at their next sync.
func (a *App) RollbackRelease(ctx context.Context, caller domain.Principal, pluginID, env, reason string) (domain.Release, error) {
	cur, err := a.releaseToChange(ctx, caller, pluginID, env, reason)
	if err != nil {
		return domain.Release{}, err
	}
	if cur.PreviousID == "" {
		return domain.Release{}, Refuse(KindConflict, "no_previous_release", fmt.Sprintf("%s@%s is the first release of %s; there is nothing to roll back to", pluginID, cur.Version, env))
	}
	pv, err := a.cfg.Store.GetVersion(ctx, cur.PreviousID)
	if err != nil {
		return domain.Release{}, err
	}
	if !domain.Released(pv.State) {
		return domain.Release{}, Refuse(KindConflict, "previous_not_released", fmt.Sprintf("the previous release %s@%s is %s; promote a certified version instead", pluginID, pv.Version, pv.State))
	}
	now := a.cfg.Now().UTC()
	// The rolled-back version stays as the previous one, so a second
	// rollback returns to it.
	next := domain.Release{PluginID: pluginID, Environment: env, VersionID: pv.ID, Version: pv.Version, Digest: pv.Digest, Rollout: 100, Status: domain.RolloutActive,
		PreviousID: cur.VersionID, Previous: cur.Version, PreviousDigest: cur.Digest, Since: now, UpdatedAt: now}
	return next, a.applyRelease(ctx, caller.Subject, domain.ReleaseRolledBack, next, cur, false, reason, "")
}

// checkRollout halts a partial rollout whose new version's hosts cross
// the policy's threshold.
func (a *App) checkRollout(ctx context.Context, pluginID, env string) error {
	cur, err := a.cfg.Store.GetRelease(ctx, pluginID, env)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil || cur.Complete() || cur.Status != domain.RolloutActive {
		return err
	}
	engine := a.policyEngine()
	if engine == nil {
		return nil
	}
	h, err := a.healthFacts(ctx, cur.VersionID, env, cur.Since)
	if err != nil {
		return err
	}
	d, err := engine.DecideRolloutHealth(ctx, policy.RolloutInput{Plugin: pluginID, Version: cur.Version, Environment: env, Rollout: cur.Rollout, Health: h})
	if err != nil || !d.Halt {
		return err
	}
	next := cur
	next.Status, next.UpdatedAt = domain.RolloutHalted, a.cfg.Now().UTC()
	rules := make([]string, len(d.Reasons))
	msgs := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		rules[i], msgs[i] = r.Rule, r.Message
	}
	err = a.applyRelease(ctx, "system", domain.ReleaseHalted, next, cur, false, strings.Join(msgs, "; "), strings.Join(rules, ","))
	if errors.Is(err, domain.ErrStateChanged) {
		return nil // another report halted it first, or a person changed it
	}
	return err
}

// KillPlugin is the kill switch: the plugin is named in every
// environment's status feed, and hosts stop running it at their next sync.
func (a *App) KillPlugin(ctx context.Context, caller domain.Principal, pluginID, reason string) error {
	if err := allow(caller, "kill plugins", domain.RoleSteward); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return Errorf(KindInvalid, "a kill needs a reason hosts show their operators: --reason")
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	if vs, err := a.cfg.Store.ListVersions(ctx, pluginID); err != nil || len(vs) == 0 {
		if err == nil {
			err = fmt.Errorf("no plugin %s: %w", pluginID, domain.ErrNotFound)
		}
		return err
	}
	if a.cfg.Trust == nil {
		return unavailable("the kill switch (it is logged in the transparency log)")
	}
	now := a.cfg.Now().UTC()
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPluginKilled, Time: now, Subject: pluginID, Detail: reason})
	if err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{"plugin": pluginID})
	if err := a.cfg.Store.KillPlugin(ctx, domain.PluginKill{PluginID: pluginID, Reason: reason, Actor: caller.Subject, At: now}, entry,
		audit.Event{Time: now, Actor: caller.Subject, Action: audit.PluginKilled, Subject: "plugin:" + pluginID, Reason: reason, Data: data}); err != nil {
		return err
	}
	a.cfg.Trust.Queued(ctx)
	for _, env := range a.environments() {
		if _, err := a.publishFeed(ctx, env, caller.Subject, true); err != nil {
			a.cfg.Log.ErrorContext(ctx, "publishing the status feed", "environment", env, "err", err)
		}
	}
	return nil
}

// PluginReleases is a plugin's releases and their history.
type PluginReleases struct {
	Environments []string
	Releases     []domain.Release
	History      []domain.ReleaseRecord
}

// Releases returns a plugin's releases in every environment and its
// recent history (anyone signed in who may read the plugin's released
// versions: releases hold only released versions).
func (a *App) Releases(ctx context.Context, caller domain.Principal, pluginID string, limit int) (PluginReleases, error) {
	if caller.Role == "" {
		return PluginReleases{}, Errorf(KindUnauthenticated, "sign in to read releases")
	}
	rs, err := a.cfg.Store.PluginReleases(ctx, pluginID)
	if err != nil {
		return PluginReleases{}, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	h, err := a.cfg.Store.ReleaseHistory(ctx, pluginID, "", limit)
	if err != nil {
		return PluginReleases{}, err
	}
	return PluginReleases{Environments: a.Environments(), Releases: rs, History: h}, nil
}

// StatusFeed returns an environment's current signed status feed (DSSE
// envelope JSON), publishing a new one first when there is none, the
// current one is past half its life, or what it says changed (a
// suspension, a revocation). It is public: hosts fetch it anonymously.
func (a *App) StatusFeed(ctx context.Context, env string) ([]byte, error) {
	if err := a.environments().Check(env); err != nil {
		return nil, Wrap(KindNotFound, err)
	}
	if a.cfg.Trust == nil {
		return nil, unavailable("status feeds")
	}
	return a.publishFeed(ctx, env, "system", false)
}

// publishFeed returns env's feed, signing a new one when force is set or
// the latest is missing, old or out of date.
func (a *App) publishFeed(ctx context.Context, env, actor string, force bool) ([]byte, error) {
	content, err := a.feedContent(ctx, env)
	if err != nil {
		return nil, err
	}
	now := a.cfg.Now().UTC().Truncate(time.Second)
	maxAge := a.feedMaxAge()
	latest, err := a.cfg.Store.LatestStatusFeed(ctx, env)
	var seq int64 = 1
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		seq = latest.Sequence + 1
		if !force && now.Before(latest.IssuedAt.Add(maxAge/2)) && sameFeed(latest.Envelope, content) {
			return latest.Envelope, nil
		}
	}
	content.Environment, content.Sequence, content.IssuedAt, content.NextUpdate = env, uint64(seq), now, now.Add(maxAge)
	f, err := trust.NewStatusFeed(content)
	if err != nil {
		return nil, fmt.Errorf("the status feed of %s: %w", env, err)
	}
	envelope, entry, err := a.cfg.Trust.SignStatusFeed(ctx, f)
	if err != nil {
		return nil, err
	}
	ev := audit.Event{Time: now, Actor: actor, Action: audit.StatusFeedPublished, Subject: "status:" + env,
		Reason: fmt.Sprintf("feed %d: %d plugins, %d suspended, %d revoked, %d killed; next update %s", seq, len(f.Plugins), len(f.Suspended), len(f.Revoked), len(f.Killed), f.NextUpdate.Format(time.RFC3339))}
	err = a.cfg.Store.SaveStatusFeed(ctx, domain.StatusFeedRecord{Environment: env, Sequence: seq, Envelope: envelope, IssuedAt: f.IssuedAt, NextUpdate: f.NextUpdate}, entry, ev)
	if errors.Is(err, domain.ErrStateChanged) {
		// Another process published this number first: serve its feed.
		l, err := a.cfg.Store.LatestStatusFeed(ctx, env)
		if err != nil {
			return nil, err
		}
		return l.Envelope, nil
	}
	if err != nil {
		return nil, err
	}
	a.cfg.Trust.Queued(ctx)
	return envelope, nil
}

// sameFeed reports whether a stored feed says what content says (its
// number and times aside).
func sameFeed(envelope []byte, content trust.StatusFeed) bool {
	env, err := trust.ParseEnvelope(envelope)
	if err != nil {
		return false
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return false
	}
	old, err := trust.ParseStatusFeed(payload)
	if err != nil {
		return false
	}
	old.Sequence, old.IssuedAt, old.NextUpdate, old.Environment = 0, time.Time{}, time.Time{}, ""
	c, err := trust.NewStatusFeed(trust.StatusFeed{Environment: "x", Sequence: 1, IssuedAt: time.Unix(0, 0), NextUpdate: time.Unix(1, 0),
		Plugins: content.Plugins, Suspended: content.Suspended, Revoked: content.Revoked, Killed: content.Killed})
	if err != nil {
		return false
	}
	c.Sequence, c.IssuedAt, c.NextUpdate, c.Environment = 0, time.Time{}, time.Time{}, ""
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(c)
	return string(a) == string(b)
}

// feedContent is what env's feed says now: its releases, every suspended
// and revoked version, every killed plugin.
func (a *App) feedContent(ctx context.Context, env string) (trust.StatusFeed, error) {
	var f trust.StatusFeed
	rs, err := a.cfg.Store.ListReleases(ctx, env, maxReleaseRows)
	if err != nil {
		return f, err
	}
	for _, r := range rs {
		fr := trust.FeedRelease{Plugin: r.PluginID, Version: r.Version, Digest: r.Digest, Rollout: r.Rollout, Status: string(r.Status)}
		if !r.Complete() {
			fr.Previous, fr.PreviousDigest = r.Previous, r.PreviousDigest
		}
		f.Plugins = append(f.Plugins, fr)
	}
	susp, err := a.cfg.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Suspended, Limit: trust.MaxFeedEntries / 2})
	if err != nil {
		return f, err
	}
	for _, v := range susp {
		f.Suspended = append(f.Suspended, trust.FeedVersion{Plugin: v.PluginID, Version: v.Version, Digest: v.Digest, Reason: feedReason(v.Reason, "suspended")})
	}
	revs, err := a.cfg.Store.ListRevocations(ctx)
	if err != nil {
		return f, err
	}
	seen := map[string]bool{}
	for _, r := range revs {
		if seen[r.Digest] || len(f.Revoked) >= trust.MaxFeedEntries/2 {
			continue
		}
		seen[r.Digest] = true
		v, err := a.cfg.Store.GetVersion(ctx, r.VersionID)
		if err != nil {
			return f, err
		}
		f.Revoked = append(f.Revoked, trust.FeedVersion{Plugin: v.PluginID, Version: v.Version, Digest: r.Digest, Reason: feedReason(r.Reason, "revoked")})
	}
	kills, err := a.cfg.Store.ListKills(ctx)
	if err != nil {
		return f, err
	}
	for _, k := range kills {
		f.Killed = append(f.Killed, trust.FeedKill{Plugin: k.PluginID, Reason: feedReason(k.Reason, "killed"), Time: k.At})
	}
	return f, nil
}

// feedReason makes a stored reason fit the feed: one line, at most
// trust.MaxFeedReason bytes, never empty.
func feedReason(s, fallback string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > trust.MaxFeedReason {
		s = strings.ToValidUTF8(s[:trust.MaxFeedReason], "")
	}
	if s == "" {
		return fallback
	}
	return s
}
