package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
)

// The release pages (issue 18): a plugin's release timeline, and the
// rollout page where stewards and the plugin's publishers grow, pause,
// resume or abort a staged rollout. Everything comes from the application
// layer, under its access rules: releases for anyone signed in (as GET
// /api/v1/plugins/{namespace}/{name}/releases), host health for the
// overseers (as GET /api/v1/health/{id}), changes for whom
// app.ChangeRollout lets change them.

// historyShown bounds the release history a page shows.
const historyShown = 50

// envRelease is one environment's row.
type envRelease struct {
	Env     string
	Release *domain.Release
	// Partial is a rollout that has not reached every host.
	Partial bool
	Health  []app.VersionHealth
}

type releasesData struct {
	PluginID string
	Envs     []envRelease
	History  []domain.ReleaseRecord
	// HealthShown is false when the caller may not read host health.
	HealthShown bool
	// MayChange shows the rollout controls (or the link to them).
	MayChange bool
	Rollouts  template.HTML // rollout percentage over time
	Errors    template.HTML // error rate per version and environment
	// Refusal is the application's answer to a refused change.
	Refusal *refusal
}

type refusal struct {
	Rule, Message string
}

var rolloutNotices = map[string]string{
	"grow":   "The rollout grows: more hosts take the new version at their next sync.",
	"pause":  "The rollout is paused: no more hosts take the new version until it is resumed.",
	"resume": "The rollout is resumed.",
	"abort":  "The rollout is aborted: every host goes back to the previous version at its next sync.",
}

func init() {
	for k, v := range rolloutNotices {
		notices["rollout-"+k] = v
	}
}

// releaseData gathers what both release pages show.
func (h *Handler) releaseData(r *http.Request, c *call, pluginID string) (*releasesData, error) {
	ctx := r.Context()
	rel, err := h.app.Releases(ctx, c.p, pluginID, historyShown)
	if err != nil {
		return nil, err
	}
	d := &releasesData{PluginID: pluginID, History: rel.History, MayChange: h.app.MayChangeReleases(ctx, c.p, pluginID) == nil}
	health, err := h.app.ReleaseHealth(ctx, c.p, pluginID)
	switch k, _, _ := app.Classify(err); {
	case err == nil:
		d.HealthShown = true
	case k == app.KindForbidden || k == app.KindUnauthenticated:
	default:
		return nil, err
	}
	for _, env := range rel.Environments {
		er := envRelease{Env: env}
		if i := slices.IndexFunc(rel.Releases, func(x domain.Release) bool { return x.Environment == env }); i >= 0 {
			x := rel.Releases[i]
			er.Release, er.Partial = &x, !x.Complete()
		}
		for _, vh := range health {
			if vh.Environment == env {
				er.Health = append(er.Health, vh)
			}
		}
		d.Envs = append(d.Envs, er)
	}
	// The chart: each environment's rollout percentage after each change,
	// oldest first.
	var series []Series
	for _, env := range rel.Environments {
		s := Series{Label: env}
		for i := len(rel.History) - 1; i >= 0; i-- {
			x := rel.History[i]
			if x.Environment != env {
				continue
			}
			s.Points = append(s.Points, Point{At: x.At, Value: float64(x.Rollout), Note: fmt.Sprintf("%s %s at %d%%", x.Version, x.Action, x.Rollout)})
		}
		series = append(series, s)
	}
	d.Rollouts = stepChart("Rollout percentage over time", "The share of each environment's hosts that run its newest release, after each change of the last "+strconv.Itoa(historyShown)+".", series, h.cfg.Now())
	if d.HealthShown {
		var bars []Bar
		for _, vh := range health {
			label := vh.Environment + " · " + vh.Version
			if vh.Previous {
				label += " (previous)"
			}
			b := Bar{Label: label, Value: 100 * vh.ErrorRate,
				Note: fmt.Sprintf("%.2f%% of %d calls · %d hosts · %d breaker trips", 100*vh.ErrorRate, vh.Calls, vh.Hosts, vh.BreakerTrips)}
			if vh.ErrorRate > 0.05 || vh.BreakerTrips > 0 {
				b.Class = "bad"
			} else if vh.ErrorRate > 0.01 {
				b.Class = "warn"
			}
			bars = append(bars, b)
		}
		d.Errors = barList("Error rate per version and environment", "Share of calls that failed on the hosts of each environment since its release began, from host health reports.", bars)
	}
	return d, nil
}

func (h *Handler) releases(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("namespace") + "/" + r.PathValue("name")
	d, err := h.releaseData(r, c, id)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "releases.html", "Releases of "+id, d)
}

func (h *Handler) rolloutPage(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("namespace") + "/" + r.PathValue("name")
	if err := h.app.MayChangeReleases(r.Context(), c.p, id); err != nil {
		h.failApp(w, r, c, err)
		return
	}
	d, err := h.releaseData(r, c, id)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "rollout.html", "Rollout of "+id, d)
}

// rolloutAction grows, pauses, resumes or aborts a rollout through
// app.ChangeRollout (audited, logged, a webhook event). A refusal shows
// the rollout page again with the rule that refused it.
func (h *Handler) rolloutAction(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("namespace") + "/" + r.PathValue("name")
	action := app.RolloutAction(r.PostFormValue("action"))
	percent := 0
	if s := strings.TrimSpace(r.PostFormValue("rollout")); s != "" && action == app.RolloutGrow {
		n, err := domain.ParseRollout(s)
		if err != nil {
			h.fail(w, r, c, http.StatusUnprocessableEntity, sentence(err.Error()))
			return
		}
		percent = n
	}
	_, err := h.app.ChangeRollout(r.Context(), c.p, id, r.PostFormValue("environment"), action, percent, strings.TrimSpace(r.PostFormValue("reason")))
	if err == nil {
		redirect(w, r, "/plugins/"+id+"/rollout", "rollout-"+string(action))
		return
	}
	k, code, msg := app.Classify(err)
	if k == app.KindInternal || k == app.KindForbidden || k == app.KindUnauthenticated {
		h.failApp(w, r, c, err)
		return
	}
	d, derr := h.releaseData(r, c, id)
	if derr != nil {
		h.failApp(w, r, c, err)
		return
	}
	d.Refusal = &refusal{Rule: code, Message: sentence(msg)}
	h.render(w, r, c, k.HTTPStatus(), "rollout.html", "Rollout of "+id, d)
}
