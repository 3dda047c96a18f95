package app

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// Insight: the figures stewards and auditors watch the marketplace by.

// DashboardQuery says what period a dashboard covers.
type DashboardQuery struct {
	// Weeks is how many whole weeks (Monday to Monday, UTC) the weekly
	// figures cover, ending with the current one.
	Weeks int
	// ExpiringWithin lists the certificates that expire within it.
	ExpiringWithin time.Duration
	// Hotspots is how many permissions, publishers and rules to rank.
	Hotspots int
	// ErrorRatesSince lists hosts' error rates over this last stretch.
	ErrorRatesSince time.Duration
	// ErrorRates and Expiring bound those lists.
	ErrorRates, Expiring int
}

// Dashboard is the marketplace's figures at Now: weekly activity and stage
// times over Weeks (which lists each week's start), the review queue and
// vetting backlog, versions by state, the riskiest permissions, publishers
// and rules since From, certificates expiring soon and hosts' error rates.
type Dashboard struct {
	From, To, Now     time.Time
	Weeks             []time.Time
	Activity          []domain.WeekActivity
	ReviewTimes       []domain.WeekDurations
	RemediationTimes  []domain.WeekDurations
	Queue             domain.QueueStats
	States            map[lifecycle.State]int
	ByPermission      []domain.Hotspot
	ByPublisher       []domain.Hotspot
	ByRule            []domain.Hotspot
	ExpiringSoon      []domain.ExpiringCertificate
	HostErrorRates    []domain.ErrorRate
	ErrorRatesFrom    time.Time
	ExpiringThreshold time.Time
}

// Dashboard computes the figures (stewards and auditors). Each query is
// bounded by the period and the store's row limit.
func (a *App) Dashboard(ctx context.Context, caller domain.Principal, q DashboardQuery) (Dashboard, error) {
	if err := allow(caller, "read the dashboard", domain.RoleSteward, domain.RoleAuditor); err != nil {
		return Dashboard{}, err
	}
	st := a.cfg.Store
	now := a.cfg.Now()
	to := domain.WeekStart(now).AddDate(0, 0, 7)
	from := to.AddDate(0, 0, -7*q.Weeks)
	d := Dashboard{From: from, To: to, Now: now, Weeks: make([]time.Time, q.Weeks),
		ErrorRatesFrom: now.Add(-q.ErrorRatesSince), ExpiringThreshold: now.Add(q.ExpiringWithin)}
	for i := range d.Weeks {
		d.Weeks[i] = from.AddDate(0, 0, 7*i)
	}
	var err error
	if d.Activity, err = st.WeeklyActivity(ctx, from, to); err != nil {
		return d, err
	}
	if d.ReviewTimes, err = st.StageTimes(ctx, domain.StageReview, from, to); err != nil {
		return d, err
	}
	if d.RemediationTimes, err = st.StageTimes(ctx, domain.StageRemediation, from, to); err != nil {
		return d, err
	}
	if d.Queue, err = st.QueueStats(ctx, now); err != nil {
		return d, err
	}
	if d.States, err = st.StateCounts(ctx); err != nil {
		return d, err
	}
	for _, h := range []struct {
		by  domain.HotspotKind
		out *[]domain.Hotspot
	}{{domain.ByPermission, &d.ByPermission}, {domain.ByPublisher, &d.ByPublisher}, {domain.ByRule, &d.ByRule}} {
		if *h.out, err = st.Hotspots(ctx, domain.HotspotQuery{By: h.by, Since: from, Limit: q.Hotspots}); err != nil {
			return d, err
		}
	}
	if d.ExpiringSoon, err = st.ExpiringCertificates(ctx, d.ExpiringThreshold, q.Expiring); err != nil {
		return d, err
	}
	if d.HostErrorRates, err = st.HostErrorRates(ctx, d.ErrorRatesFrom, q.ErrorRates); err != nil {
		return d, err
	}
	return d, nil
}
