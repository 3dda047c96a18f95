package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

// dashboardWeeks is the period the dashboard covers.
const dashboardWeeks = 12

// dashboardTTL is how long computed figures are reused: the dashboard's
// queries scan the audit trail, and a steward reloading it (or several
// looking at once) should not repeat them every time.
const dashboardTTL = 30 * time.Second

type dashCache struct {
	mu   sync.Mutex
	at   time.Time
	data *dashData
}

type figure struct {
	Label, Value, Note string
	Class              string
}

type dashData struct {
	From, To    time.Time
	Figures     []figure
	Submissions template.HTML
	AutoRate    template.HTML
	ReviewTime  template.HTML
	RemedyTime  template.HTML
	States      template.HTML
	ByPerm      template.HTML
	ByPublisher template.HTML
	ByRule      template.HTML
	Expiring    []domain.ExpiringCertificate
	ErrorRates  template.HTML
	Rates       []domain.ErrorRate
	Computed    time.Time
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := h.dashData(r.Context(), c)
	if err != nil {
		h.failApp(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "dashboard.html", "Dashboard", d)
}

func (h *Handler) dashData(ctx context.Context, c *call) (*dashData, error) {
	now := h.cfg.Now()
	h.dash.mu.Lock()
	defer h.dash.mu.Unlock()
	if h.dash.data != nil && now.Sub(h.dash.at) < dashboardTTL && !now.Before(h.dash.at) {
		return h.dash.data, nil
	}
	fig, err := h.app.Dashboard(ctx, c.p, app.DashboardQuery{Weeks: dashboardWeeks, ExpiringWithin: expiringSoon,
		Hotspots: 8, Expiring: 20, ErrorRatesSince: 7 * 24 * time.Hour, ErrorRates: 8})
	if err != nil {
		return nil, err
	}
	d := dashboardView(fig)
	h.dash.at, h.dash.data = now, d
	return d, nil
}

// dashboardView draws the application's figures as the page shows them.
func dashboardView(fig app.Dashboard) *dashData {
	now, weeks := fig.Now, fig.Weeks
	d := &dashData{From: fig.From, To: now, Computed: now}
	// Columns are labelled by the day the week starts, with the month
	// under the first column of each month: full dates would not fit.
	week := func(i int, wk time.Time, value float64, note string) Bar {
		b := Bar{Label: wk.Format("2"), Title: "Week of " + wk.Format("2 Jan 2006"), Value: value, Note: note}
		if i == 0 || wk.Month() != weeks[i-1].Month() {
			b.Sub = wk.Format("Jan")
		}
		return b
	}

	byWeek := map[time.Time]domain.WeekActivity{}
	totalSubs, totalAuto, totalTriaged := 0, 0, 0
	for _, a := range fig.Activity {
		byWeek[a.Week] = a
		totalSubs += a.Submissions
		totalAuto += a.AutoApproved
		totalTriaged += a.AutoApproved + a.InReview + a.Rejected
	}
	var subs, rate []Bar
	for i, wk := range weeks {
		a := byWeek[wk]
		subs = append(subs, week(i, wk, float64(a.Submissions), fmt.Sprint(a.Submissions)))
		triaged := a.AutoApproved + a.InReview + a.Rejected
		b := week(i, wk, 0, "–")
		if triaged > 0 {
			b.Value = 100 * float64(a.AutoApproved) / float64(triaged)
			b.Note = fmt.Sprintf("%.0f%%", b.Value)
		}
		rate = append(rate, b)
	}
	d.Submissions = columnChart("Submissions per week", "Versions received in each of the last 12 weeks.", subs)
	d.AutoRate = columnChart("Auto-approval rate", "Share of triaged versions approved automatically, per week.", rate)

	durations := func(ws []domain.WeekDurations, title, desc string) (template.HTML, time.Duration, int) {
		m := map[time.Time]domain.WeekDurations{}
		var total time.Duration
		n := 0
		for _, w := range ws {
			m[w.Week] = w
			total += w.Total
			n += w.Count
		}
		var bars []Bar
		for i, wk := range weeks {
			w := m[wk]
			b := week(i, wk, 0, "–")
			if w.Count > 0 {
				b.Value = w.Mean().Hours()
				b.Note = hours(w.Mean())
			}
			bars = append(bars, b)
		}
		mean := time.Duration(0)
		if n > 0 {
			mean = total / time.Duration(n)
		}
		return columnChart(title, desc, bars), mean, n
	}
	var reviewMean, remedyMean time.Duration
	var reviewN, remedyN int
	d.ReviewTime, reviewMean, reviewN = durations(fig.ReviewTimes, "Time to review", "Mean time from entering review to the first decision, by week of the decision.")
	d.RemedyTime, remedyMean, remedyN = durations(fig.RemediationTimes, "Time to remediate", "Mean time from a version being sent back to the plugin's next certified version, by week of the fix.")

	q, counts := fig.Queue, fig.States
	var stateBars []Bar
	for _, s := range lifecycle.States {
		if n := counts[s]; n > 0 {
			cls := ""
			switch s {
			case lifecycle.Rejected, lifecycle.Revoked:
				cls = "bad"
			case lifecycle.Suspended, lifecycle.ChangesRequested:
				cls = "warn"
			}
			stateBars = append(stateBars, Bar{Label: string(s), Value: float64(n), Note: fmt.Sprint(n), Class: cls})
		}
	}
	d.States = barList("Versions by state", "How many versions are in each lifecycle state now.", stateBars)
	live := counts[lifecycle.Certified] + counts[lifecycle.Suspended]
	compliance := "–"
	if live > 0 {
		compliance = fmt.Sprintf("%.0f%%", 100*float64(counts[lifecycle.Certified])/float64(live))
	}
	autoRate := "–"
	if totalTriaged > 0 {
		autoRate = fmt.Sprintf("%.0f%%", 100*float64(totalAuto)/float64(totalTriaged))
	}
	oldest := "–"
	if !q.OldestCreated.IsZero() {
		oldest = hours(now.Sub(q.OldestCreated))
	}
	overdueClass := ""
	if q.Overdue > 0 {
		overdueClass = "bad"
	}
	d.Figures = []figure{
		{Label: "Submissions", Value: fmt.Sprint(totalSubs), Note: "in 12 weeks"},
		{Label: "Auto-approval rate", Value: autoRate, Note: fmt.Sprintf("of %d triaged", totalTriaged)},
		{Label: "Review queue", Value: fmt.Sprint(q.Open), Note: "oldest waiting " + oldest},
		{Label: "Overdue reviews", Value: fmt.Sprint(q.Overdue), Note: fmt.Sprintf("%d deadlines missed in all", q.MissedDeadlines), Class: overdueClass},
		{Label: "Time to review", Value: orDash(reviewMean, reviewN), Note: fmt.Sprintf("mean of %d", reviewN)},
		{Label: "Time to remediate", Value: orDash(remedyMean, remedyN), Note: fmt.Sprintf("mean of %d", remedyN)},
		{Label: "Compliance rate", Value: compliance, Note: "certified ÷ (certified + suspended)"},
		{Label: "Vetting backlog", Value: fmt.Sprint(q.VetQueued), Note: "jobs queued or running"},
	}

	hot := func(by domain.HotspotKind, hs []domain.Hotspot, title, desc string) template.HTML {
		var bars []Bar
		for _, x := range hs {
			b := Bar{Label: x.Key}
			switch by {
			case domain.ByRule:
				b.Value, b.Note = float64(x.Findings), plural(x.Findings, "finding", "findings")+" in "+plural(x.Versions, "version", "versions")
			default:
				b.Value = x.MeanWeight * float64(x.Versions)
				b.Note = fmt.Sprintf("%s · %d rejected · mean weight %.0f", plural(x.Versions, "version", "versions"), x.Rejected, x.MeanWeight)
			}
			if x.Rejected > 0 || (by == domain.ByRule && x.Findings > 0) {
				b.Class = "warn"
			}
			bars = append(bars, b)
		}
		return barList(title, desc, bars)
	}
	d.ByPerm = hot(domain.ByPermission, fig.ByPermission, "Risk by permission", "Permissions asked for by versions received in the period, by total risk weight.")
	d.ByPublisher = hot(domain.ByPublisher, fig.ByPublisher, "Risk by publisher", "Namespaces by rejections, then total risk weight.")
	d.ByRule = hot(domain.ByRule, fig.ByRule, "Findings by rule", "Unsuppressed failing findings in the newest vetting runs, by rule.")
	d.Expiring, d.Rates = fig.ExpiringSoon, fig.HostErrorRates
	var rb []Bar
	for _, e := range d.Rates {
		b := Bar{Label: e.PluginID + "@" + e.Version, Value: 100 * e.Rate(),
			Note: fmt.Sprintf("%.2f%% of %d calls · %d hosts · %d denials", 100*e.Rate(), e.Calls, e.Hosts, e.Denials)}
		if e.Rate() > 0.05 || e.BreakerTrips > 0 {
			b.Class = "bad"
		}
		rb = append(rb, b)
	}
	d.ErrorRates = barList("Runtime error rates reported by hosts", "Share of calls that failed in the last 7 days, per version, from host health reports.", rb)
	return d
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func hours(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%.0f min", d.Minutes())
	case d < 72*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.1f d", d.Hours()/24)
}

func orDash(d time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return hours(d)
}
