// Package review is the human half of the lifecycle: triage of a vetted
// version by the active policy, and the review queue that follows (claims,
// approvals by distinct reviewers, rejections, requests for changes that
// the author's next version picks up, appeals and escalation of missed
// deadlines). Every decision is a compare-and-set transition with its
// audit event.
package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/dataflow"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/trust"
)

// Certifier issues the certificate that makes a version certified (package
// certify). A version becomes certified only through it.
type Certifier interface {
	Certify(ctx context.Context, versionID, actor string, in certify.Decision) (*trust.Certificate, error)
}

// ClaimTTL is how long a claim holds before another reviewer may take the
// item.
const ClaimTTL = 2 * time.Hour

// Errors callers map to answers.
var (
	ErrForbidden = errors.New("forbidden")
	ErrState     = errors.New("wrong state")
)

// Versions reads versions, their namespaces and signatures, and moves
// them through the lifecycle.
type Versions interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	FindVersions(ctx context.Context, q domain.VersionQuery) ([]domain.Version, error)
	Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error
	GetNamespace(ctx context.Context, name string) (domain.Namespace, error)
	GetSignature(ctx context.Context, versionID string) (domain.Signature, error)
}

// Triage is what triage decides from and records: the active policy,
// verdicts, the auto-approval switches, hosts' reports and namespaces'
// history.
type Triage interface {
	ActivePolicy(ctx context.Context) (domain.PolicyRecord, error)
	SaveVerdict(ctx context.Context, v domain.Verdict, ev audit.Event) (domain.Verdict, error)
	LatestVerdict(ctx context.Context, versionID string) (domain.Verdict, error)
	AutoApprovalOff(ctx context.Context, pluginID string) (plugin, namespace bool, err error)
	ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthReport, error)
	ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error
}

// Queue is the review queue: items, claims, approvals and the plugin's
// review thread, and the audit trail of what people decide.
type Queue interface {
	OpenReview(ctx context.Context, item domain.ReviewItem, ev audit.Event) error
	GetReview(ctx context.Context, versionID string) (domain.ReviewItem, error)
	ListReviews(ctx context.Context, q domain.ReviewQuery) ([]domain.ReviewItem, error)
	ClaimReview(ctx context.Context, versionID, reviewer string, now, until time.Time, ev audit.Event) (domain.ReviewItem, error)
	EscalateOverdue(ctx context.Context, now time.Time) ([]domain.ReviewItem, error)
	AddApproval(ctx context.Context, a domain.Approval, ev audit.Event) (int, error)
	ListApprovals(ctx context.Context, versionID string) ([]domain.Approval, error)
	AddMessage(ctx context.Context, m domain.Message, ev audit.Event) (domain.Message, error)
	ListMessages(ctx context.Context, pluginID string) ([]domain.Message, error)
	AppendAudit(ctx context.Context, ev audit.Event) error
}

// VetRuns reads the vetting runs, whose dataflow result holds a version's
// data flows.
type VetRuns interface {
	LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error)
}

// Records is everything the Service stores; store.Store is one.
type Records interface {
	Versions
	Triage
	Queue
	VetRuns
}

// Service runs triage and the review workflow.
type Service struct {
	Store Records
	Log   *slog.Logger
	Now   func() time.Time
	// Certifier issues certificates; without one, approval fails rather
	// than certify a version without a certificate.
	Certifier Certifier

	engine atomic.Pointer[policy.Engine]
}

// New returns a Service deciding with the store's active policy, or the
// embedded default when none was applied.
func New(ctx context.Context, st Records, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{Store: st, Log: log, Now: time.Now}
	p := policy.Default()
	rec, err := st.ActivePolicy(ctx)
	switch {
	case err == nil:
		var mods map[string]string
		if err := json.Unmarshal(rec.Modules, &mods); err != nil {
			return nil, fmt.Errorf("reading the active policy %s: %w", rec.Digest, err)
		}
		p = policy.New(mods)
	case !errors.Is(err, domain.ErrNotFound):
		return nil, fmt.Errorf("reading the active policy: %w", err)
	}
	e, err := policy.Compile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("compiling the active policy: %w", err)
	}
	s.engine.Store(e)
	return s, nil
}

// Engine returns the active policy engine.
func (s *Service) Engine() *policy.Engine { return s.engine.Load() }

func (s *Service) event(actor, action, id, reason string, data any) audit.Event {
	var raw json.RawMessage
	if data != nil {
		raw, _ = json.Marshal(data)
	}
	return audit.Event{Time: s.Now(), Actor: actor, Action: action, Subject: "submission:" + id, Reason: reason, Data: raw}
}

func (s *Service) move(ctx context.Context, actor, id string, from, to lifecycle.State, reason string) error {
	return s.Store.Transition(ctx, id, from, to, reason, s.event(actor, audit.SubmissionTransition, id, reason, nil))
}

// Triage decides where a vetted version in triage goes: rejected,
// auto-approved (the pipeline's certify step then issues its
// certificate), or into the review queue. It is the policy half of the
// pipeline's triage step (intake.Service.TriageStep prepares its input).
func (s *Service) Triage(ctx context.Context, v domain.Version, in *vet.Input, results []vet.Result, cfg vet.Config) error {
	if v.State != lifecycle.Triage {
		return fmt.Errorf("%s@%s is %s, not in triage: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	if in.Manifest == nil {
		// The manifest no longer parses under today's rules: nothing for
		// the policy to read, and the manifest analyzer says why.
		return s.move(ctx, "system", v.ID, lifecycle.Triage, lifecycle.Rejected, "the manifest is invalid; see the manifest check's findings")
	}
	facts := triage.Facts{Manifest: in.Manifest, Results: results, VetConfig: cfg}
	if in.Previous != nil {
		facts.Previous = in.Previous.Manifest
	}
	var err error
	if facts.Publisher, err = s.publisher(ctx, v); err != nil {
		return err
	}
	if facts.AutoApprovalOff.Plugin, facts.AutoApprovalOff.Namespace, err = s.Store.AutoApprovalOff(ctx, v.PluginID); err != nil {
		return err
	}
	if facts.HostErrorRate, err = hostErrorRate(ctx, s.Store, v, s.Now()); err != nil {
		return err
	}
	pin, err := triage.NewInput(facts)
	if err != nil {
		return fmt.Errorf("building the policy input: %w", err)
	}
	engine := s.Engine()
	verdict, err := triage.Triage(ctx, engine, pin)
	if err != nil {
		return fmt.Errorf("deciding: %w", err)
	}
	body, err := json.Marshal(verdict)
	if err != nil {
		return err
	}
	reason := strings.Join(verdict.Reasons, "; ")
	rec := domain.Verdict{VersionID: v.ID, PolicyDigest: verdict.PolicyDigest, Outcome: string(verdict.Outcome), Tier: string(verdict.Tier), Weight: verdict.Weight.Total, Body: body, CreatedAt: s.Now()}
	ev := s.event("system", audit.TriageVerdict, v.ID, string(verdict.Outcome)+": "+reason,
		map[string]any{"policy": verdict.PolicyDigest, "tier": verdict.Tier, "weight": verdict.Weight.Total, "dryRun": verdict.DryRun.Summary})
	if _, err := s.Store.SaveVerdict(ctx, rec, ev); err != nil {
		return err
	}
	state := verdict.State()
	if state == lifecycle.AutoApproved {
		// A certificate needs the publisher's signature; a version
		// without one (from a namespace that does not require them) goes
		// to people instead of being approved into a dead end.
		if _, err := s.Store.GetSignature(ctx, v.ID); errors.Is(err, domain.ErrNotFound) {
			state, reason = lifecycle.InReview, reason+"; not auto-approved: the package is unsigned, and a certificate needs the publisher's signature"
		} else if err != nil {
			return err
		}
	}
	switch state {
	case lifecycle.Rejected:
		return s.move(ctx, "system", v.ID, lifecycle.Triage, lifecycle.Rejected, "rejected by policy: "+reason)
	case lifecycle.AutoApproved:
		return s.move(ctx, "system", v.ID, lifecycle.Triage, lifecycle.AutoApproved, "auto-approved: "+reason)
	}
	item := domain.ReviewItem{
		VersionID: v.ID, PluginID: v.PluginID, Tier: string(verdict.Tier), Weight: verdict.Weight.Total,
		ApprovalsRequired: max(1, verdict.ApprovalsRequired), Deadline: verdict.ReviewDeadline(s.Now()), CreatedAt: s.Now(),
	}
	// The author's answer to a request for changes goes back to the
	// reviewer who asked, who picks the review up where it stopped.
	if asked, err := s.changesRequestedBy(ctx, v.PluginID); err != nil {
		return err
	} else if asked != "" {
		item.PreferredReviewer, item.ClaimedBy, item.ClaimUntil = asked, asked, s.Now().Add(ClaimTTL)
	}
	if err := s.Store.OpenReview(ctx, item, s.event("system", audit.ReviewOpen, v.ID, fmt.Sprintf("tier %s, weight %d, %d approval(s), due %s", item.Tier, item.Weight, item.ApprovalsRequired, item.Deadline.Format(time.RFC3339)), nil)); err != nil {
		return err
	}
	return s.move(ctx, "system", v.ID, lifecycle.Triage, lifecycle.InReview, "in review: "+reason)
}

// Undecided sends a version in triage that the pipeline could not decide
// on (its vetting or triage was given up) to people: it opens its review,
// as a high-risk one needing two approvals since nothing weighed it, and
// moves it to review with reason. Without the review item no reviewer
// could decide, and the version would be stuck.
func (s *Service) Undecided(ctx context.Context, v domain.Version, reason string) error {
	if v.State != lifecycle.Triage {
		return fmt.Errorf("%s@%s is %s, not in triage: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	item := domain.ReviewItem{VersionID: v.ID, PluginID: v.PluginID, Tier: string(policy.High), ApprovalsRequired: 2,
		Deadline: s.Now().Add(72 * time.Hour), CreatedAt: s.Now()}
	if err := s.Store.OpenReview(ctx, item, s.event("system", audit.ReviewOpen, v.ID, "the pipeline could not decide: "+reason, nil)); err != nil {
		return err
	}
	return s.move(ctx, "system", v.ID, lifecycle.Triage, lifecycle.InReview, reason)
}

// publisher gathers the publisher facts the policy reads.
func (s *Service) publisher(ctx context.Context, v domain.Version) (policy.Publisher, error) {
	ns, _, _ := strings.Cut(v.PluginID, "/")
	n, err := s.Store.GetNamespace(ctx, ns)
	if err != nil {
		return policy.Publisher{}, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	vs, err := s.Store.ListVersions(ctx, v.PluginID)
	if err != nil {
		return policy.Publisher{}, err
	}
	p := policy.Publisher{InGoodStanding: true, AccountAgeDays: int(s.Now().Sub(n.CreatedAt).Hours() / 24)}
	if p.OwnershipChangedDaysAgo, p.KeyChangedDaysAgo, err = namespaceChanges(ctx, s.Store, ns, s.Now()); err != nil {
		return policy.Publisher{}, err
	}
	for _, x := range vs {
		switch x.State {
		case lifecycle.Rejected:
			p.PriorRejections++
		case lifecycle.Revoked, lifecycle.Suspended:
			// A version pulled for cause costs the publisher its standing
			// until a steward restores it.
			p.InGoodStanding = false
		}
	}
	return p, nil
}

// changesRequestedBy returns who asked for changes on the plugin's newest
// version in changes_requested, if any.
func (s *Service) changesRequestedBy(ctx context.Context, pluginID string) (string, error) {
	ms, err := s.Store.ListMessages(ctx, pluginID)
	if err != nil {
		return "", err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind != "changes_requested" {
			continue
		}
		v, err := s.Store.GetVersion(ctx, ms[i].VersionID)
		if err == nil && v.State == lifecycle.ChangesRequested {
			return ms[i].Author, nil
		}
		return "", nil
	}
	return "", nil
}

// reviewable loads an open review of id and checks that p may decide it:
// nobody reviews a plugin of a namespace they publish in, nor one they
// submitted.
func (s *Service) reviewable(ctx context.Context, p domain.Principal, id string) (domain.Version, domain.ReviewItem, error) {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return v, domain.ReviewItem{}, err
	}
	if v.State != lifecycle.InReview {
		return v, domain.ReviewItem{}, fmt.Errorf("%s@%s is %s, not in review: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	it, err := s.Store.GetReview(ctx, id)
	if err != nil {
		return v, it, err
	}
	ns, _, _ := strings.Cut(v.PluginID, "/")
	n, err := s.Store.GetNamespace(ctx, ns)
	if err != nil {
		return v, it, err
	}
	if slices.Contains(n.Owners, p.Subject) || v.Submitter == p.Subject {
		return v, it, fmt.Errorf("%s publishes in namespace %s, so may not review its plugins (separation of duties): %w", p.Subject, ns, ErrForbidden)
	}
	if it.ClaimedBy != "" && it.ClaimedBy != p.Subject && it.ClaimUntil.After(s.Now()) {
		return v, it, fmt.Errorf("%s has claimed this review until %s: %w", it.ClaimedBy, it.ClaimUntil.Format(time.RFC3339), ErrForbidden)
	}
	return v, it, nil
}

// Claim takes the review of id for p for ClaimTTL.
func (s *Service) Claim(ctx context.Context, p domain.Principal, id string) (domain.ReviewItem, error) {
	if _, _, err := s.reviewable(ctx, p, id); err != nil {
		return domain.ReviewItem{}, err
	}
	until := s.Now().Add(ClaimTTL)
	return s.Store.ClaimReview(ctx, id, p.Subject, s.Now(), until, s.event(p.Subject, audit.ReviewClaim, id, "claimed until "+until.Format(time.RFC3339), nil))
}

// Approve records p's approval, granting the manifest's permissions or the
// subset in granted, and approving every data flow. The version is
// certified once the tier's number of distinct reviewers approved; until
// then it stays in review.
func (s *Service) Approve(ctx context.Context, p domain.Principal, id string, granted []string, note string) (lifecycle.State, error) {
	return s.ApproveFlows(ctx, p, id, granted, nil, note)
}

// ApproveFlows is Approve with p's decision on each data flow: the flows
// named in refused are refused, every other flow of the version approved.
// A flow refused by any approver is refused in the certificate, and no
// permission it rests on is granted.
func (s *Service) ApproveFlows(ctx context.Context, p domain.Principal, id string, granted, refused []string, note string) (lifecycle.State, error) {
	v, it, err := s.reviewable(ctx, p, id)
	if err != nil {
		return "", err
	}
	asked, err := manifestPermissions(v.Manifest)
	if err != nil {
		return "", err
	}
	if granted == nil {
		granted = asked
	}
	for _, g := range granted {
		if !slices.Contains(asked, g) {
			return "", fmt.Errorf("permission %q is not one the manifest asks for; a reviewer may grant fewer, never more: %w", g, domain.ErrInvalid)
		}
	}
	flows, err := s.Flows(ctx, v)
	if err != nil {
		return "", err
	}
	decided := make(map[string]bool, len(flows))
	var ids []string
	for _, f := range flows {
		decided[f.ID] = true
		ids = append(ids, f.ID)
	}
	for _, r := range refused {
		if _, ok := decided[r]; !ok {
			known := "it has none"
			if len(ids) > 0 {
				known = "its flows are " + strings.Join(ids, ", ")
			}
			return "", fmt.Errorf("%q is not a data flow of %s@%s (%s): %w", r, v.PluginID, v.Version, known, domain.ErrInvalid)
		}
		decided[r] = false
	}
	n, err := s.Store.AddApproval(ctx, domain.Approval{VersionID: id, Reviewer: p.Subject, Granted: granted, Flows: decided, CreatedAt: s.Now()},
		s.event(p.Subject, audit.ReviewApprove, id, note, map[string]any{"granted": granted, "flows": decided}))
	if errors.Is(err, domain.ErrConflict) {
		return "", fmt.Errorf("%v: %w", err, domain.ErrInvalid)
	}
	if err != nil {
		return "", err
	}
	if note != "" {
		if _, err := s.Store.AddMessage(ctx, domain.Message{PluginID: v.PluginID, VersionID: id, Author: p.Subject, Kind: "approval", Body: note, CreatedAt: s.Now()},
			s.event(p.Subject, audit.ReviewMessage, id, "approval note", nil)); err != nil {
			return "", err
		}
	}
	if n < it.ApprovalsRequired {
		return lifecycle.InReview, nil
	}
	approvals, err := s.Store.ListApprovals(ctx, id)
	if err != nil {
		return "", err
	}
	if err := s.certifyApproved(ctx, p.Subject, v, asked, it, approvals); err != nil {
		return "", err
	}
	return lifecycle.Certified, nil
}

// Flows returns the data flows of version v: the dataflow analyzer's from
// its last vetting run, or, when that run has none, those its manifest
// declares.
func (s *Service) Flows(ctx context.Context, v domain.Version) ([]dataflow.Flow, error) {
	run, err := s.Store.LatestVetRun(ctx, v.ID)
	switch {
	case err == nil:
		var results []vet.Result
		if err := json.Unmarshal(run.Results, &results); err != nil {
			return nil, fmt.Errorf("reading vetting run %d of %s: %w", run.Run, v.ID, err)
		}
		if d, err := dataflow.FromResults(results); err == nil {
			return d.Flows, nil
		}
	case !errors.Is(err, domain.ErrNotFound):
		return nil, err
	}
	m, err := manifest.Parse(v.Manifest, manifest.Options{})
	if err != nil {
		// A manifest only the legacy form (with its signing key) reads
		// has no v1 data section: there is no flow to decide, and the
		// version is approved as a whole, as before flows existed.
		s.Log.Warn("no data flows: the stored manifest does not parse", "submission", v.ID, "err", err)
		return nil, nil
	}
	return dataflow.Declared(m, v.Manifest)
}

// CertFlow is a flow as the certificate lists it.
func CertFlow(f dataflow.Flow) trust.Flow {
	return trust.Flow{ID: f.ID, Category: f.Category, Destination: f.Destination, Purpose: f.Purpose, Retention: f.Retention, Permissions: slices.Clone(f.Permissions)}
}

// splitFlows divides flows into those every approval approved and those
// one refused, and removes from granted every permission a refused flow
// rests on.
func splitFlows(flows []dataflow.Flow, approvals []domain.Approval, granted []string) (ok, refused []trust.Flow, final []string) {
	withheld := map[string]bool{}
	for _, f := range flows {
		if slices.ContainsFunc(approvals, func(a domain.Approval) bool { return a.Refuses(f.ID) }) {
			refused = append(refused, CertFlow(f))
			for _, p := range f.Permissions {
				withheld[p] = true
			}
			continue
		}
		ok = append(ok, CertFlow(f))
	}
	final = slices.DeleteFunc(slices.Clone(granted), func(g string) bool {
		if p, err := manifest.ParsePermission(g); err == nil {
			return withheld[p.String()]
		}
		return withheld[g]
	})
	return ok, refused, final
}

// certifyApproved certifies a version its reviewers approved, granting
// what every approver granted of what the manifest asks.
func (s *Service) certifyApproved(ctx context.Context, actor string, v domain.Version, asked []string, it domain.ReviewItem, approvals []domain.Approval) error {
	id := v.ID
	var who []string
	final := asked
	for _, a := range approvals {
		who = append(who, a.Reviewer)
		final = slices.DeleteFunc(slices.Clone(final), func(g string) bool { return !slices.Contains(a.Granted, g) })
	}
	flows, err := s.Flows(ctx, v)
	if err != nil {
		return err
	}
	ok, refused, final := splitFlows(flows, approvals, final)
	d := certify.Decision{Granted: final, Flows: ok, RefusedFlows: refused, Tier: it.Tier, Reviewers: who, Lifetime: fallbackLifetime, From: lifecycle.InReview}
	if vd, err := s.Store.LatestVerdict(ctx, id); err == nil {
		var tv triage.Verdict
		if err := json.Unmarshal(vd.Body, &tv); err != nil {
			return fmt.Errorf("reading the verdict of %s: %w", id, err)
		}
		d.PolicyDigest, d.Lifetime = vd.PolicyDigest, tv.CertificateLifetime()
	} else if !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return s.certify(ctx, actor, id, d)
}

// Approved lists (up to limit) versions in review that their reviewers
// approved (as many approvals since the review opened as it requires) but
// that have no certificate: the process stopped between the last approval
// and the certificate. Nobody could finish them otherwise, as no reviewer
// may approve twice; the pipeline's certify step does (CertifyStep).
func (s *Service) Approved(ctx context.Context, limit int) ([]string, error) {
	vs, err := s.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.InReview, Limit: limit})
	if err != nil {
		return nil, err
	}
	var ids []string
	var errs []error
	for _, v := range vs {
		_, approvals, err := s.approvedReview(ctx, v.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if approvals != nil {
			ids = append(ids, v.ID)
		}
	}
	return ids, errors.Join(errs...)
}

// approvedReview returns the review of a version in review and its
// approvals since the review opened, or nil approvals when they are fewer
// than the review requires (or there is no review).
func (s *Service) approvedReview(ctx context.Context, id string) (domain.ReviewItem, []domain.Approval, error) {
	it, err := s.Store.GetReview(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return it, nil, nil
	} else if err != nil {
		return it, nil, err
	}
	all, err := s.Store.ListApprovals(ctx, id)
	if err != nil {
		return it, nil, err
	}
	approvals := slices.DeleteFunc(all, func(a domain.Approval) bool { return a.CreatedAt.Before(it.CreatedAt) })
	if len(approvals) < it.ApprovalsRequired {
		return it, nil, nil
	}
	return it, approvals, nil
}

// CertifyStep is the pipeline's certify step: it issues the certificate
// of an auto-approved version with what its verdict decided, or of a
// version in review that its reviewers approved (see Approved). A version
// in any other state, or certified meanwhile, is left alone.
func (s *Service) CertifyStep(ctx context.Context, id string) error {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return err
	}
	switch v.State {
	case lifecycle.AutoApproved:
		vd, err := s.Store.LatestVerdict(ctx, v.ID)
		if err != nil {
			return fmt.Errorf("the verdict of %s: %w", v.ID, err)
		}
		var tv triage.Verdict
		if err := json.Unmarshal(vd.Body, &tv); err != nil {
			return fmt.Errorf("reading the verdict of %s: %w", v.ID, err)
		}
		err = s.certifyAutoApproved(ctx, v, &tv)
		if errors.Is(err, certify.ErrState) || errors.Is(err, domain.ErrStateChanged) {
			return nil // certified meanwhile
		}
		return err
	case lifecycle.InReview:
		it, approvals, err := s.approvedReview(ctx, v.ID)
		if err != nil || approvals == nil {
			return err
		}
		asked, err := manifestPermissions(v.Manifest)
		if err != nil {
			return err
		}
		err = s.certifyApproved(ctx, "system", v, asked, it, approvals)
		if errors.Is(err, certify.ErrState) || errors.Is(err, domain.ErrStateChanged) {
			return nil
		}
		return err
	}
	return nil
}

// certifyAutoApproved certifies an auto-approved version with what its
// verdict decided and the permissions its manifest asks for.
func (s *Service) certifyAutoApproved(ctx context.Context, v domain.Version, verdict *triage.Verdict) error {
	granted, err := manifestPermissions(v.Manifest)
	if err != nil {
		return err
	}
	flows, err := s.Flows(ctx, v)
	if err != nil {
		return err
	}
	ok, _, _ := splitFlows(flows, nil, granted)
	return s.certify(ctx, "system", v.ID, certify.Decision{
		Granted: granted, Flows: ok, Tier: string(verdict.Tier), PolicyDigest: verdict.PolicyDigest,
		Lifetime: verdict.CertificateLifetime(), From: lifecycle.AutoApproved,
	})
}

// fallbackLifetime is the certificate lifetime of a version approved
// without a verdict of its own (reopened by an appeal): the shortest tier's.
const fallbackLifetime = 14 * 24 * time.Hour

// certify makes a version certified through the certifier.
func (s *Service) certify(ctx context.Context, actor, id string, d certify.Decision) error {
	if s.Certifier == nil {
		return fmt.Errorf("no certifier is configured, and a version is certified only with a certificate: %w", ErrState)
	}
	if d.Lifetime <= 0 {
		d.Lifetime = fallbackLifetime
	}
	if _, err := s.Certifier.Certify(ctx, id, actor, d); err != nil {
		if errors.Is(err, certify.ErrUnsigned) {
			return fmt.Errorf("%w: %w", err, ErrState)
		}
		return fmt.Errorf("certifying %s: %w", id, err)
	}
	return nil
}

// RejectCodes are the reasons a reviewer may give for a rejection.
var RejectCodes = []string{"security", "privacy", "policy", "quality", "malicious", "other"}

// Reject rejects id with a reason code and a message the author reads.
func (s *Service) Reject(ctx context.Context, p domain.Principal, id, code, msg string) error {
	if !slices.Contains(RejectCodes, code) {
		return fmt.Errorf("reason code %q: one of %s: %w", code, strings.Join(RejectCodes, ", "), domain.ErrInvalid)
	}
	if strings.TrimSpace(msg) == "" {
		return fmt.Errorf("a rejection needs a message the author can act on: %w", domain.ErrInvalid)
	}
	v, _, err := s.reviewable(ctx, p, id)
	if err != nil {
		return err
	}
	if _, err := s.Store.AddMessage(ctx, domain.Message{PluginID: v.PluginID, VersionID: id, Author: p.Subject, Kind: "rejection", Body: "[" + code + "] " + msg, CreatedAt: s.Now()},
		s.event(p.Subject, audit.ReviewMessage, id, "rejection", nil)); err != nil {
		return err
	}
	return s.move(ctx, p.Subject, id, lifecycle.InReview, lifecycle.Rejected, "rejected ("+code+"): "+msg)
}

// RequestChanges sends id back to its author with a message; the author's
// next version comes back to the same reviewer.
func (s *Service) RequestChanges(ctx context.Context, p domain.Principal, id, msg string) error {
	if strings.TrimSpace(msg) == "" {
		return fmt.Errorf("say which changes are needed: %w", domain.ErrInvalid)
	}
	v, _, err := s.reviewable(ctx, p, id)
	if err != nil {
		return err
	}
	if _, err := s.Store.AddMessage(ctx, domain.Message{PluginID: v.PluginID, VersionID: id, Author: p.Subject, Kind: "changes_requested", Body: msg, CreatedAt: s.Now()},
		s.event(p.Subject, audit.ReviewMessage, id, "changes requested", nil)); err != nil {
		return err
	}
	return s.move(ctx, p.Subject, id, lifecycle.InReview, lifecycle.ChangesRequested, "changes requested by "+p.Subject+": "+msg)
}

// Comment adds a message to a plugin's review thread: a reviewer's note,
// or the author's answer.
func (s *Service) Comment(ctx context.Context, p domain.Principal, id, msg string) (domain.Message, error) {
	if strings.TrimSpace(msg) == "" {
		return domain.Message{}, fmt.Errorf("the message is empty: %w", domain.ErrInvalid)
	}
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return domain.Message{}, err
	}
	return s.Store.AddMessage(ctx, domain.Message{PluginID: v.PluginID, VersionID: id, Author: p.Subject, Kind: "comment", Body: msg, CreatedAt: s.Now()},
		s.event(p.Subject, audit.ReviewMessage, id, "comment", nil))
}

// Appeal reopens the review of a rejected version with the author's case.
func (s *Service) Appeal(ctx context.Context, p domain.Principal, id, msg string) error {
	if strings.TrimSpace(msg) == "" {
		return fmt.Errorf("an appeal needs the author's case: %w", domain.ErrInvalid)
	}
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return err
	}
	if v.State != lifecycle.Rejected {
		return fmt.Errorf("only a rejected version can be appealed; %s@%s is %s: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	tier, weight := "medium", 0
	if vd, err := s.Store.LatestVerdict(ctx, id); err == nil {
		tier, weight = vd.Tier, vd.Weight
	}
	if _, err := s.Store.AddMessage(ctx, domain.Message{PluginID: v.PluginID, VersionID: id, Author: p.Subject, Kind: "appeal", Body: msg, CreatedAt: s.Now()},
		s.event(p.Subject, audit.ReviewMessage, id, "appeal", nil)); err != nil {
		return err
	}
	// An appeal is decided by two people other than whoever rejected it.
	item := domain.ReviewItem{VersionID: id, PluginID: v.PluginID, Tier: tier, Weight: weight, ApprovalsRequired: 2, Deadline: s.Now().Add(72 * time.Hour), CreatedAt: s.Now()}
	if err := s.Store.OpenReview(ctx, item, s.event(p.Subject, audit.ReviewOpen, id, "appeal", nil)); err != nil {
		return err
	}
	return s.move(ctx, p.Subject, id, lifecycle.Rejected, lifecycle.InReview, "appealed by "+p.Subject+": "+msg)
}

// Escalate raises an event for every review past its deadline; the queue
// orders by deadline, so overdue items are at its top.
func (s *Service) Escalate(ctx context.Context) ([]domain.ReviewItem, error) {
	items, err := s.Store.EscalateOverdue(ctx, s.Now())
	for _, it := range items {
		s.Log.Warn("review deadline missed", "submission", it.VersionID, "plugin", it.PluginID, "tier", it.Tier, "deadline", it.Deadline)
	}
	return items, err
}

func manifestPermissions(raw []byte) ([]string, error) {
	var m struct {
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("reading the stored manifest: %w", err)
	}
	if m.Permissions == nil {
		m.Permissions = []string{}
	}
	return m.Permissions, nil
}

// Use makes e the active policy engine (after the store recorded it).
func (s *Service) Use(e *policy.Engine) { s.engine.Store(e) }

// MaxDryRun bounds how many pending versions a dry run replays.
const MaxDryRun = 10_000

// DryRun replays the stored policy inputs of every version waiting in
// review through the active and the proposed policy, and reports those the
// proposed one would decide differently.
func (s *Service) DryRun(ctx context.Context, proposed *policy.Engine) ([]policy.Difference, error) {
	var inputs []policy.Input
	for offset := 0; offset < MaxDryRun; offset += 500 {
		items, err := s.Store.ListReviews(ctx, domain.ReviewQuery{Limit: 500, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			vd, err := s.Store.LatestVerdict(ctx, it.VersionID)
			if errors.Is(err, domain.ErrNotFound) {
				continue // reopened by an appeal without a verdict of its own
			}
			if err != nil {
				return nil, err
			}
			var tv triage.Verdict
			if err := json.Unmarshal(vd.Body, &tv); err != nil {
				return nil, fmt.Errorf("reading the verdict of %s: %w", it.VersionID, err)
			}
			inputs = append(inputs, tv.Input)
		}
		if len(items) < 500 {
			break
		}
	}
	return policy.DryRun(ctx, s.Engine(), proposed, inputs)
}
