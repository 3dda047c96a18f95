// Package incident is the steward's response when something goes wrong
// with plugins already certified: an incident names the versions
// involved; from it the steward contains them (suspends or revokes them
// all), tells every subscriber, and adds hunting rules that search every
// stored version and then every new submission. The incident keeps its
// timeline (its audit trail), a post-mortem, and two measures: time to
// contain (until no named version was installable) and time to remediate
// (until every named version was revoked or superseded by a certified,
// fixed version).
//
// Every change is an audit event with subject "incident:ID" whose data
// lists the plugins involved, so webhook subscribers of those plugins
// (and stewards, who subscribe to everything) receive incident.* events.
package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/ids"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
)

// Certifier changes a version's trust; certify.Service is one.
type Certifier interface {
	Suspend(ctx context.Context, versionID, actor, reason string, deadline time.Time) error
	Revoke(ctx context.Context, versionID, actor, reason string) error
}

// Limits.
const (
	MaxVersionsPerCall = 1000
	MaxNote            = 16 << 10
	// DefaultDeadline is how long a suspended version has to be replaced
	// by a fixed one before revocation, when the steward names none.
	DefaultDeadline = 7 * 24 * time.Hour
	// maxHitsInEvent bounds the hits one audit event lists.
	maxHitsInEvent = 100
)

// Severities an incident may have.
var Severities = []string{"low", "medium", "high", "critical"}

// ErrClosed is returned for changes to a closed incident.
var ErrClosed = errors.New("the incident is closed")

// Records is what the service reads and writes: incidents and the
// versions they name, hunting rules, versions, and the audit trail that is
// an incident's timeline. store.Store is one.
type Records interface {
	CreateIncident(ctx context.Context, inc domain.Incident, ev audit.Event) error
	GetIncident(ctx context.Context, id string) (domain.Incident, error)
	ListIncidents(ctx context.Context, q domain.IncidentQuery) ([]domain.Incident, error)
	UpdateIncident(ctx context.Context, inc domain.Incident, ev audit.Event) error
	AddIncidentVersions(ctx context.Context, incidentID string, vs []domain.IncidentVersion, ev audit.Event) (int, error)
	ListIncidentVersions(ctx context.Context, incidentID string) ([]domain.IncidentVersion, error)
	CreateHuntRule(ctx context.Context, r domain.HuntRule, ev audit.Event) error
	ListHuntRules(ctx context.Context, activeOnly bool) ([]domain.HuntRule, error)
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	AppendAudit(ctx context.Context, ev audit.Event) error
	ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error
}

// Config configures a Service.
type Config struct {
	Store     Records
	Certifier Certifier // nil: containment is refused, saying why
	Corpus    hunt.Corpus
	Now       func() time.Time
	Log       *slog.Logger
}

// Service runs incidents.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("incident: a store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}, nil
}

// OpenRequest opens an incident.
type OpenRequest struct {
	Title    string   `json:"title"`
	Summary  string   `json:"summary,omitempty"`
	Severity string   `json:"severity,omitempty"` // default high
	Versions []string `json:"versions,omitempty"` // submission ids or namespace/name@version
}

// Open opens an incident naming versions.
func (s *Service) Open(ctx context.Context, actor string, req OpenRequest) (domain.Incident, error) {
	req.Title = strings.TrimSpace(req.Title)
	if req.Title == "" {
		return domain.Incident{}, domain.Invalid("an incident needs a title saying what went wrong")
	}
	if req.Severity == "" {
		req.Severity = "high"
	}
	if !slices.Contains(Severities, req.Severity) {
		return domain.Incident{}, domain.Invalidf("severity %q is not one of %s", req.Severity, strings.Join(Severities, ", "))
	}
	vs, err := s.resolve(ctx, req.Versions)
	if err != nil {
		return domain.Incident{}, err
	}
	now := s.cfg.Now()
	inc := domain.Incident{ID: ids.New("inc"), Title: req.Title, Summary: req.Summary, Severity: req.Severity,
		State: domain.IncidentOpen, OpenedBy: actor, OpenedAt: now}
	if err := s.cfg.Store.CreateIncident(ctx, inc, s.event(inc.ID, actor, audit.IncidentOpened, req.Title, map[string]any{
		"title": inc.Title, "severity": inc.Severity, "plugins": plugins(vs), "versions": versionIDs(vs),
	})); err != nil {
		return domain.Incident{}, err
	}
	if len(vs) > 0 {
		if _, err := s.addVersions(ctx, inc.ID, actor, vs, "named"); err != nil {
			return inc, err
		}
	}
	return inc, nil
}

// AddVersions names more versions in an incident.
func (s *Service) AddVersions(ctx context.Context, id, actor string, refs []string) (int, error) {
	if _, err := s.openIncident(ctx, id); err != nil {
		return 0, err
	}
	vs, err := s.resolve(ctx, refs)
	if err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, domain.Invalid("name at least one version (a submission id or namespace/name@version)")
	}
	return s.addVersions(ctx, id, actor, vs, "named")
}

func (s *Service) addVersions(ctx context.Context, id, actor string, vs []domain.Version, source string) (int, error) {
	now := s.cfg.Now()
	ivs := make([]domain.IncidentVersion, len(vs))
	for i, v := range vs {
		ivs[i] = domain.IncidentVersion{VersionID: v.ID, Source: source, AddedBy: actor, AddedAt: now}
	}
	return s.cfg.Store.AddIncidentVersions(ctx, id, ivs, s.event(id, actor, audit.IncidentVersionsAdded, "", map[string]any{
		"source": source, "plugins": plugins(vs), "versions": versionIDs(vs),
	}))
}

// AddNote adds a note to the timeline.
func (s *Service) AddNote(ctx context.Context, id, actor, note string) error {
	note = strings.TrimSpace(note)
	if note == "" || len(note) > MaxNote {
		return domain.Invalidf("a note must be 1 to %d bytes", MaxNote)
	}
	if _, err := s.openIncident(ctx, id); err != nil {
		return err
	}
	ps, err := s.incidentPlugins(ctx, id)
	if err != nil {
		return err
	}
	return s.cfg.Store.AppendAudit(ctx, s.event(id, actor, audit.IncidentNote, note, map[string]any{"plugins": ps}))
}

// Notify sends a notice to every webhook subscriber, whatever their
// scope: the incident.notice event is a broadcast.
func (s *Service) Notify(ctx context.Context, id, actor, message string) error {
	message = strings.TrimSpace(message)
	if message == "" || len(message) > MaxNote {
		return domain.Invalidf("a notice must be 1 to %d bytes", MaxNote)
	}
	inc, err := s.cfg.Store.GetIncident(ctx, id)
	if err != nil {
		return err
	}
	ps, err := s.incidentPlugins(ctx, id)
	if err != nil {
		return err
	}
	return s.cfg.Store.AppendAudit(ctx, s.event(id, actor, audit.IncidentNotice, message, map[string]any{
		"broadcast": true, "title": inc.Title, "severity": inc.Severity, "plugins": ps, "message": message,
	}))
}

// RuleRequest adds a hunting rule.
type RuleRequest struct {
	Kind        string `json:"kind"`
	Pattern     string `json:"pattern"`
	Description string `json:"description,omitempty"`
}

// AddRule adds a hunting rule to the incident, runs it backward over
// every stored version, and names the certified and suspended versions it
// finds in the incident (so they can be contained). The rule joins the
// vetting of every new submission at once. It returns the rule and the
// backward hunt's report.
func (s *Service) AddRule(ctx context.Context, id, actor string, req RuleRequest) (domain.HuntRule, hunt.Report, error) {
	if _, err := s.openIncident(ctx, id); err != nil {
		return domain.HuntRule{}, hunt.Report{}, err
	}
	if len(req.Description) > MaxNote {
		return domain.HuntRule{}, hunt.Report{}, domain.Invalidf("a rule's description is limited to %d bytes", MaxNote)
	}
	now := s.cfg.Now()
	r := domain.HuntRule{ID: ids.New("hr"), IncidentID: id, Kind: req.Kind, Pattern: req.Pattern, Description: req.Description, CreatedBy: actor, CreatedAt: now}
	compiled, err := hunt.Compile(r)
	if err != nil {
		return domain.HuntRule{}, hunt.Report{}, domain.Invalid(err.Error())
	}
	// A content rule's pattern may spell the very secret it hunts: the
	// rule keeps it, the timeline (and so webhooks) shows it redacted.
	shown := r.Pattern
	if r.Kind == domain.HuntContent {
		shown = secrets.Redact(r.Pattern)
	}
	if err := s.cfg.Store.CreateHuntRule(ctx, r, s.event(id, actor, audit.IncidentRuleAdded, req.Description, map[string]any{
		"rule": r.ID, "kind": r.Kind, "pattern": shown,
	})); err != nil {
		return domain.HuntRule{}, hunt.Report{}, err
	}
	if s.cfg.Corpus == nil {
		return r, hunt.Report{}, nil
	}
	rep, err := hunt.Scan(ctx, s.cfg.Corpus, []*hunt.Rule{compiled})
	if err != nil {
		return r, rep, fmt.Errorf("the rule is added, but the backward hunt failed: %w", err)
	}
	if err := s.recordHunt(ctx, id, actor, r, rep); err != nil {
		return r, rep, err
	}
	return r, rep, nil
}

// recordHunt puts a backward hunt on the timeline and names the
// installable versions it found.
func (s *Service) recordHunt(ctx context.Context, id, actor string, r domain.HuntRule, rep hunt.Report) error {
	var (
		certified []domain.Version
		hits      = rep.Hits
		ps        = []string{}
	)
	for _, h := range rep.Hits {
		st := lifecycle.State(h.State)
		if st == lifecycle.Certified || st == lifecycle.Suspended || st == lifecycle.AutoApproved {
			certified = append(certified, domain.Version{ID: h.VersionID, PluginID: h.Plugin, Version: h.Version, State: st})
		}
		if !slices.Contains(ps, h.Plugin) {
			ps = append(ps, h.Plugin)
		}
	}
	// The event lists the hits, not every match (the audit trail bounds
	// an event's size); the API's answer to AddRule has them all.
	type hitSummary struct {
		VersionID string `json:"submission"`
		Plugin    string `json:"plugin"`
		Version   string `json:"version"`
		State     string `json:"state"`
		Matches   int    `json:"matches"`
		First     string `json:"first"`
	}
	summary := []hitSummary{}
	for _, h := range hits[:min(len(hits), maxHitsInEvent)] {
		first := h.Matches[0].File + ": " + h.Matches[0].Subject
		summary = append(summary, hitSummary{h.VersionID, h.Plugin, h.Version, h.State, len(h.Matches), first[:min(len(first), 160)]})
	}
	reason := fmt.Sprintf("rule %s matched %d of %d stored versions (%d installable)", r.ID, len(rep.Hits), rep.Scanned, len(certified))
	if err := s.cfg.Store.AppendAudit(ctx, s.event(id, actor, audit.IncidentHunted, reason, map[string]any{
		"rule": r.ID, "scanned": rep.Scanned, "matched": len(rep.Hits), "hits": summary, "unreadable": len(rep.Unreadable), "plugins": ps[:min(len(ps), maxHitsInEvent)],
	})); err != nil {
		return err
	}
	if len(certified) == 0 {
		return nil
	}
	_, err := s.addVersions(ctx, id, actor, certified, "hunt:"+r.ID)
	return err
}

// ContainRequest says how to contain.
type ContainRequest struct {
	// Action is "suspend" (the default: hosts stop installing, the
	// publisher has until Deadline to certify a fixed version) or
	// "revoke".
	Action   string    `json:"action,omitempty"`
	Reason   string    `json:"reason"`
	Deadline time.Time `json:"deadline,omitzero"`
}

// Outcome is what containment did to one version.
type Outcome struct {
	VersionID string `json:"submission"`
	Plugin    string `json:"plugin"`
	Version   string `json:"version"`
	Before    string `json:"before"`
	After     string `json:"after"`
	Error     string `json:"error,omitempty"`
}

// Contain suspends or revokes every installable version the incident
// names. A version that fails is reported and the others still proceed;
// the incident is contained once no named version is installable.
func (s *Service) Contain(ctx context.Context, id, actor string, req ContainRequest) (domain.Incident, []Outcome, error) {
	inc, err := s.openIncident(ctx, id)
	if err != nil {
		return inc, nil, err
	}
	if s.cfg.Certifier == nil {
		return inc, nil, domain.Invalid("this server has no certifier configured, so versions cannot be suspended or revoked")
	}
	if req.Action == "" {
		req.Action = "suspend"
	}
	if req.Action != "suspend" && req.Action != "revoke" {
		return inc, nil, domain.Invalidf("containment action %q is not suspend or revoke", req.Action)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		req.Reason = "incident " + id + ": " + inc.Title
	}
	if len(req.Reason) > MaxNote {
		return inc, nil, domain.Invalidf("the reason is limited to %d bytes", MaxNote)
	}
	now := s.cfg.Now()
	if req.Deadline.IsZero() {
		req.Deadline = now.Add(DefaultDeadline)
	}
	if !req.Deadline.After(now) {
		return inc, nil, domain.Invalid("the remediation deadline must be in the future")
	}
	vs, err := s.versions(ctx, id)
	if err != nil {
		return inc, nil, err
	}
	if len(vs) == 0 {
		return inc, nil, domain.Invalid("the incident names no versions: add some first")
	}
	var outs []Outcome
	for _, v := range vs {
		o := Outcome{VersionID: v.ID, Plugin: v.PluginID, Version: v.Version, Before: string(v.State), After: string(v.State)}
		var err error
		switch {
		case v.State == lifecycle.Certified && req.Action == "suspend":
			err = s.cfg.Certifier.Suspend(ctx, v.ID, actor, req.Reason, req.Deadline)
		case (v.State == lifecycle.Certified || v.State == lifecycle.Suspended) && req.Action == "revoke":
			err = s.cfg.Certifier.Revoke(ctx, v.ID, actor, req.Reason)
		}
		if err != nil {
			o.Error = err.Error()
		}
		if cur, gerr := s.cfg.Store.GetVersion(ctx, v.ID); gerr == nil {
			o.After = string(cur.State)
		}
		outs = append(outs, o)
	}
	failed := 0
	for _, o := range outs {
		if o.Error != "" || installable(lifecycle.State(o.After)) {
			failed++
		}
	}
	reason := fmt.Sprintf("%s: %d of %d versions are still installable", req.Action, failed, len(outs))
	if err := s.cfg.Store.AppendAudit(ctx, s.event(id, actor, audit.IncidentContain, reason, map[string]any{
		"action": req.Action, "deadline": req.Deadline, "outcomes": outs[:min(len(outs), maxHitsInEvent)], "plugins": pluginsOf(outs),
	})); err != nil {
		return inc, outs, err
	}
	inc, err = s.Refresh(ctx, id)
	return inc, outs, err
}

// installable reports whether hosts may install a version in st.
func installable(st lifecycle.State) bool {
	return st == lifecycle.Certified || st == lifecycle.AutoApproved
}

// Refresh records containment and remediation when they have happened:
// contained once no named version is installable; remediated once every
// named version is revoked or superseded by a certified higher version of
// its plugin that the incident does not name.
func (s *Service) Refresh(ctx context.Context, id string) (domain.Incident, error) {
	inc, err := s.cfg.Store.GetIncident(ctx, id)
	if err != nil || inc.State == domain.IncidentClosed {
		return inc, err
	}
	vs, err := s.versions(ctx, id)
	if err != nil || len(vs) == 0 {
		return inc, err
	}
	contained, remediated := true, true
	named := map[string]bool{}
	for _, v := range vs {
		named[v.ID] = true
	}
	for _, v := range vs {
		if installable(v.State) {
			contained = false
		}
		if v.State == lifecycle.Revoked {
			continue
		}
		ok, err := s.superseded(ctx, v, named)
		if err != nil {
			return inc, err
		}
		if !ok {
			remediated = false
		}
	}
	now := s.cfg.Now()
	ps := plugins(vs)
	if contained && inc.ContainedAt.IsZero() {
		inc.ContainedAt, inc.State = now, domain.IncidentContained
		if err := s.cfg.Store.UpdateIncident(ctx, inc, s.event(id, "system", audit.IncidentContained,
			fmt.Sprintf("no named version is installable, %s after the incident was opened", now.Sub(inc.OpenedAt).Round(time.Second)),
			map[string]any{"timeToContainSeconds": int64(now.Sub(inc.OpenedAt).Seconds()), "plugins": ps})); err != nil {
			return inc, err
		}
	}
	if remediated && inc.RemediatedAt.IsZero() {
		inc.RemediatedAt = now
		if err := s.cfg.Store.UpdateIncident(ctx, inc, s.event(id, "system", audit.IncidentRemediated,
			fmt.Sprintf("every named version is revoked or superseded by a certified fix, %s after the incident was opened", now.Sub(inc.OpenedAt).Round(time.Second)),
			map[string]any{"timeToRemediateSeconds": int64(now.Sub(inc.OpenedAt).Seconds()), "plugins": ps})); err != nil {
			return inc, err
		}
	}
	return inc, nil
}

// superseded reports whether a certified version of v's plugin, higher
// than v and not named in the incident, exists.
func (s *Service) superseded(ctx context.Context, v domain.Version, named map[string]bool) (bool, error) {
	cur, err := semver.NewVersion(v.Version)
	if err != nil {
		return false, nil
	}
	all, err := s.cfg.Store.ListVersions(ctx, v.PluginID)
	if err != nil {
		return false, err
	}
	for _, o := range all {
		if o.State != lifecycle.Certified || named[o.ID] {
			continue
		}
		if ov, err := semver.NewVersion(o.Version); err == nil && ov.GreaterThan(cur) {
			return true, nil
		}
	}
	return false, nil
}

// RefreshOpen refreshes every incident not yet closed.
func (s *Service) RefreshOpen(ctx context.Context) error {
	for _, state := range []string{domain.IncidentOpen, domain.IncidentContained} {
		incs, err := s.cfg.Store.ListIncidents(ctx, domain.IncidentQuery{State: state, Limit: 1000})
		if err != nil {
			return err
		}
		for _, inc := range incs {
			if inc.State == domain.IncidentContained && !inc.RemediatedAt.IsZero() {
				continue
			}
			if _, err := s.Refresh(ctx, inc.ID); err != nil {
				return fmt.Errorf("incident %s: %w", inc.ID, err)
			}
		}
	}
	return nil
}

// Close closes an incident with its post-mortem.
func (s *Service) Close(ctx context.Context, id, actor, postmortem string) (domain.Incident, error) {
	postmortem = strings.TrimSpace(postmortem)
	if postmortem == "" {
		return domain.Incident{}, domain.Invalid("closing an incident needs a post-mortem: what happened, what was done, what changes (the hunting rules it added stay)")
	}
	if len(postmortem) > MaxNote*4 {
		return domain.Incident{}, domain.Invalidf("the post-mortem is limited to %d bytes", MaxNote*4)
	}
	inc, err := s.Refresh(ctx, id)
	if err != nil {
		return inc, err
	}
	if inc.State == domain.IncidentClosed {
		return inc, fmt.Errorf("incident %s: %w", id, ErrClosed)
	}
	now := s.cfg.Now()
	inc.State, inc.ClosedAt, inc.ClosedBy, inc.Postmortem = domain.IncidentClosed, now, actor, postmortem
	vs, err := s.versions(ctx, id)
	if err != nil {
		return inc, err
	}
	m := Measure(inc)
	if err := s.cfg.Store.UpdateIncident(ctx, inc, s.event(id, actor, audit.IncidentClosed, "", map[string]any{
		"plugins": plugins(vs), "timeToContainSeconds": secondsOrNil(m.TimeToContain), "timeToRemediateSeconds": secondsOrNil(m.TimeToRemediate),
	})); err != nil {
		return inc, err
	}
	return inc, nil
}

// Measures are an incident's times.
type Measures struct {
	TimeToContain   time.Duration `json:"timeToContain,omitempty"`
	TimeToRemediate time.Duration `json:"timeToRemediate,omitempty"`
}

// Measure computes an incident's times (zero while not reached).
func Measure(inc domain.Incident) Measures {
	var m Measures
	if !inc.ContainedAt.IsZero() {
		m.TimeToContain = inc.ContainedAt.Sub(inc.OpenedAt)
	}
	if !inc.RemediatedAt.IsZero() {
		m.TimeToRemediate = inc.RemediatedAt.Sub(inc.OpenedAt)
	}
	return m
}

func secondsOrNil(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return int64(d.Seconds())
}

// Detail is everything about one incident.
type Detail struct {
	Incident domain.Incident
	Versions []VersionState
	Rules    []domain.HuntRule
	Timeline []audit.Event
	Measures Measures
}

// VersionState is a named version and where it stands now.
type VersionState struct {
	domain.IncidentVersion
	Plugin  string
	Version string
	State   lifecycle.State
}

// Get returns an incident with its versions, rules and timeline.
func (s *Service) Get(ctx context.Context, id string) (Detail, error) {
	inc, err := s.cfg.Store.GetIncident(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Incident: inc, Measures: Measure(inc)}
	ivs, err := s.cfg.Store.ListIncidentVersions(ctx, id)
	if err != nil {
		return d, err
	}
	for _, iv := range ivs {
		v, err := s.cfg.Store.GetVersion(ctx, iv.VersionID)
		if err != nil {
			return d, err
		}
		d.Versions = append(d.Versions, VersionState{IncidentVersion: iv, Plugin: v.PluginID, Version: v.Version, State: v.State})
	}
	rules, err := s.cfg.Store.ListHuntRules(ctx, false)
	if err != nil {
		return d, err
	}
	for _, r := range rules {
		if r.IncidentID == id {
			d.Rules = append(d.Rules, r)
		}
	}
	err = s.cfg.Store.ScanAudit(ctx, domain.AuditQuery{Subject: "incident:" + id, Limit: 10000}, func(e audit.Event) error {
		d.Timeline = append(d.Timeline, e)
		return nil
	})
	return d, err
}

// List returns incidents, newest first.
func (s *Service) List(ctx context.Context, state string) ([]domain.Incident, error) {
	return s.cfg.Store.ListIncidents(ctx, domain.IncidentQuery{State: state})
}

// ---- helpers ---------------------------------------------------------------

func (s *Service) openIncident(ctx context.Context, id string) (domain.Incident, error) {
	inc, err := s.cfg.Store.GetIncident(ctx, id)
	if err != nil {
		return inc, err
	}
	if inc.State == domain.IncidentClosed {
		return inc, fmt.Errorf("incident %s: %w; open a new one", id, ErrClosed)
	}
	return inc, nil
}

// resolve turns references (submission ids or namespace/name@version)
// into versions.
func (s *Service) resolve(ctx context.Context, refs []string) ([]domain.Version, error) {
	if len(refs) > MaxVersionsPerCall {
		return nil, domain.Invalidf("name at most %d versions at once", MaxVersionsPerCall)
	}
	var out []domain.Version
	seen := map[string]bool{}
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		var v domain.Version
		var err error
		if plugin, version, ok := strings.Cut(ref, "@"); ok {
			v, err = s.cfg.Store.GetVersionByName(ctx, plugin, version)
		} else {
			v, err = s.cfg.Store.GetVersion(ctx, ref)
		}
		if errors.Is(err, domain.ErrNotFound) {
			return nil, fmt.Errorf("no version %q (name a submission id or namespace/name@version): %w", ref, domain.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		if !seen[v.ID] {
			seen[v.ID] = true
			out = append(out, v)
		}
	}
	return out, nil
}

// versions returns the named versions as they are now.
func (s *Service) versions(ctx context.Context, id string) ([]domain.Version, error) {
	ivs, err := s.cfg.Store.ListIncidentVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Version, 0, len(ivs))
	for _, iv := range ivs {
		v, err := s.cfg.Store.GetVersion(ctx, iv.VersionID)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) incidentPlugins(ctx context.Context, id string) ([]string, error) {
	vs, err := s.versions(ctx, id)
	return plugins(vs), err
}

func (s *Service) event(id, actor, action, reason string, data map[string]any) audit.Event {
	b, err := json.Marshal(data)
	if err != nil {
		b = nil // every value above is plain data; cannot happen
	}
	return audit.Event{Time: s.cfg.Now(), Actor: actor, Action: action, Subject: "incident:" + id, Reason: reason, Data: b}
}

func plugins(vs []domain.Version) []string {
	out := []string{}
	for _, v := range vs {
		if !slices.Contains(out, v.PluginID) {
			out = append(out, v.PluginID)
		}
	}
	return out
}

func pluginsOf(os []Outcome) []string {
	out := []string{}
	for _, o := range os {
		if !slices.Contains(out, o.Plugin) {
			out = append(out, o.Plugin)
		}
	}
	return out
}

func versionIDs(vs []domain.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}
