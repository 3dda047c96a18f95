package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
)

// Reading says which versions a read admits. The API's route table names
// one per route (server.Reads); the pages use the same.
type Reading int

const (
	// ReadReleased: a released version (domain.Released) is read by anyone;
	// one that is not by its namespace's members and the overseers only
	// (domain.Principal.CanSeeVersion).
	ReadReleased Reading = iota
	// ReadPublished: as ReadReleased, and also a version revoked since
	// (domain.Published): what its certificate made public stays public.
	ReadPublished
	// ReadRecord: a version's submission record (history, findings,
	// review, thread), read by its namespace's members and the overseers
	// only, released or not (domain.Principal.CanSee).
	ReadRecord
)

// VersionRef names a version: by submission id, by plugin and version, or
// by package digest. The first field set is used.
type VersionRef struct {
	ID              string
	Plugin, Version string
	Digest          string
}

// Version returns the version ref names if caller may read it under rule.
// A version caller may not read is refused as one that does not exist
// (KindNotFound), so the answer does not disclose it.
func (a *App) Version(ctx context.Context, caller domain.Principal, ref VersionRef, rule Reading) (domain.Version, error) {
	var (
		v       domain.Version
		err     error
		missing string
	)
	switch {
	case ref.ID != "":
		v, err = a.cfg.Store.GetVersion(ctx, ref.ID)
		missing = "no submission " + ref.ID
	case ref.Version != "":
		v, err = a.cfg.Store.GetVersionByName(ctx, ref.Plugin, ref.Version)
		missing = fmt.Sprintf("no version %s@%s", ref.Plugin, ref.Version)
	case ref.Digest != "":
		// A digest is of bytes that hold the manifest, so it names one
		// namespace/name@version; the store answers with the earliest
		// version of the digest, and the rule decides on that one.
		v, err = a.cfg.Store.VersionByDigest(ctx, ref.Digest)
		missing = "no package with digest " + ref.Digest
	default:
		return v, Errorf(KindInvalid, "name a version: by id, by plugin and version, or by digest")
	}
	if errors.Is(err, domain.ErrNotFound) {
		return v, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: missing, Err: err}
	}
	if err != nil {
		return v, fmt.Errorf("reading version: %w", err)
	}
	ok, err := a.mayRead(ctx, caller, v, rule)
	if err != nil {
		return v, err
	}
	if !ok {
		return domain.Version{}, Errorf(KindNotFound, "%s", missing)
	}
	return v, nil
}

// mayRead reports whether caller may read v under rule.
func (a *App) mayRead(ctx context.Context, caller domain.Principal, v domain.Version, rule Reading) (bool, error) {
	switch rule {
	case ReadReleased:
		return caller.CanSeeVersion(ctx, a.cfg.Store, v.PluginID, v.State)
	case ReadPublished:
		if domain.Published(v.State) {
			return true, nil
		}
	}
	return caller.CanSee(ctx, a.cfg.Store, v.PluginID)
}

// Submission is a version's submission record: the version, its newest
// vetting, its review, the plugin's thread and the version's history.
type Submission struct {
	Version domain.Version
	// Vetting is nil before the first run.
	Vetting *Vetting
	// Review is nil when the version was never sent to review.
	Review    *domain.ReviewItem
	Approvals []domain.Approval
	Thread    []domain.Message
	History   []audit.Event
}

// Vetting is a version's newest run of the analyzers, with today's
// false-positive decisions applied to its findings.
type Vetting struct {
	Run     domain.VetRun
	Results []vet.Result
}

// maxHistory bounds the events a submission's history shows.
const maxHistory = 1000

// Submission returns submission id's record, for its namespace's members
// and the overseers (ReadRecord).
func (a *App) Submission(ctx context.Context, caller domain.Principal, id string) (Submission, error) {
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return Submission{}, err
	}
	out := Submission{Version: v}
	if out.Vetting, err = a.vetting(ctx, v); err != nil {
		return out, err
	}
	it, err := a.cfg.Store.GetReview(ctx, v.ID)
	switch {
	case err == nil:
		out.Review = &it
		if out.Approvals, err = a.cfg.Store.ListApprovals(ctx, v.ID); err != nil {
			return out, err
		}
	case !errors.Is(err, domain.ErrNotFound):
		return out, err
	}
	if out.Thread, err = a.cfg.Store.ListMessages(ctx, v.PluginID); err != nil {
		return out, err
	}
	err = a.cfg.Store.ScanAudit(ctx, domain.AuditQuery{Subject: "submission:" + v.ID, Limit: maxHistory}, func(e audit.Event) error {
		out.History = append(out.History, e)
		return nil
	})
	return out, err
}

// SubmissionQuery selects submissions.
type SubmissionQuery struct {
	State lifecycle.State // "" for any
	Limit int             // 0 for the default, 500
}

// Submissions lists the submissions caller may read: every namespace's
// for the overseers, the namespaces it publishes in for anyone else.
func (a *App) Submissions(ctx context.Context, caller domain.Principal, q SubmissionQuery) ([]domain.Version, error) {
	if q.State != "" && !lifecycle.Valid(q.State) {
		return nil, Refuse(KindInvalid, "bad_state", fmt.Sprintf("unknown state %q", q.State))
	}
	if q.Limit <= 0 {
		q.Limit = 500
	}
	if caller.Oversees() {
		return a.cfg.Store.FindVersions(ctx, domain.VersionQuery{State: q.State, Limit: q.Limit})
	}
	nss, err := a.ownNamespaces(ctx, caller)
	if err != nil {
		return nil, err
	}
	var out []domain.Version
	for _, ns := range nss {
		ps, err := a.cfg.Store.ListPlugins(ctx, domain.PluginQuery{Namespace: ns, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			vs, err := a.cfg.Store.ListVersions(ctx, p.ID)
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				if q.State == "" || v.State == q.State {
					out = append(out, v)
				}
			}
		}
	}
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// ownNamespaces are the namespaces caller publishes in: its token's scope,
// or those it owns.
func (a *App) ownNamespaces(ctx context.Context, caller domain.Principal) ([]string, error) {
	if caller.Role != domain.RolePublisher {
		return nil, nil
	}
	if caller.Namespace != "" {
		return []string{caller.Namespace}, nil
	}
	all, err := a.cfg.Store.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if slices.Contains(n.Owners, caller.Subject) {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// ownsNamespace reports whether caller is an owner of the plugin's
// namespace.
func (a *App) ownsNamespace(ctx context.Context, caller domain.Principal, pluginID string) (bool, error) {
	ns, _, _ := strings.Cut(pluginID, "/")
	n, err := a.cfg.Store.GetNamespace(ctx, ns)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	return slices.Contains(n.Owners, caller.Subject), nil
}

// vetting returns v's newest run with today's false-positive decisions
// applied, or nil when it has not been vetted.
func (a *App) vetting(ctx context.Context, v domain.Version) (*Vetting, error) {
	run, err := a.cfg.Store.LatestVetRun(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var results []vet.Result
	if err := json.Unmarshal(run.Results, &results); err != nil {
		return nil, fmt.Errorf("decoding stored results of %s: %w", v.ID, err)
	}
	sups, err := a.cfg.Store.ListSuppressions(ctx, v.PluginID)
	if err != nil {
		return nil, err
	}
	byFP := map[string]domain.Suppression{}
	for _, x := range sups {
		byFP[x.Fingerprint] = x
	}
	for i := range results {
		for j := range results[i].Findings {
			f := &results[i].Findings[j]
			if x, ok := byFP[f.Fingerprint]; ok && f.Suppressed == nil {
				f.Suppressed = &vet.Suppression{By: x.By, Reason: x.Reason, At: x.CreatedAt}
			}
		}
	}
	return &Vetting{Run: run, Results: results}, nil
}

// Findings returns submission id's newest vetting run (for SARIF); a
// version not vetted yet is refused with "not_vetted".
func (a *App) Findings(ctx context.Context, caller domain.Principal, id string) (*Vetting, error) {
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return nil, err
	}
	vt, err := a.vetting(ctx, v)
	if err != nil {
		return nil, err
	}
	if vt == nil {
		return nil, Refuse(KindNotFound, "not_vetted", "this version has not been vetted yet")
	}
	return vt, nil
}

// Rules are the rules of the analyzers this marketplace runs, by analyzer.
func (a *App) Rules() map[string][]vet.Rule {
	rules := map[string][]vet.Rule{}
	if a.cfg.Intake != nil && a.cfg.Intake.Analyzers != nil {
		for _, an := range a.cfg.Intake.Analyzers() {
			rules[an.Name()] = an.Rules()
		}
	}
	return rules
}

// reviewers may re-vet versions and decide on findings.
var reviewers = []domain.Role{domain.RoleReviewer, domain.RoleSteward}

// Revet queues a new run of the analyzers over submission id; queued is
// false when one is already queued or running.
func (a *App) Revet(ctx context.Context, caller domain.Principal, id string) (queued bool, err error) {
	if !caller.Allowed(reviewers...) {
		return false, Errorf(KindForbidden, "role %s may not vet versions again", caller.Role)
	}
	if a.cfg.Pipeline == nil {
		return false, unavailable("vetting")
	}
	if _, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord); err != nil {
		return false, err
	}
	queued, err = a.cfg.Pipeline.RequestVet(ctx, id, caller.Subject)
	if errors.Is(err, domain.ErrNotFound) {
		return false, Errorf(KindNotFound, "no submission %s", id)
	}
	return queued, err
}

// finding returns the finding with fingerprint fp in v's newest run, or a
// KindNotFound error.
func (a *App) finding(ctx context.Context, v domain.Version, fp string) (*vet.Finding, error) {
	vt, err := a.vetting(ctx, v)
	if err != nil {
		return nil, err
	}
	if vt != nil {
		for i := range vt.Results {
			for j := range vt.Results[i].Findings {
				if vt.Results[i].Findings[j].Fingerprint == fp {
					return &vt.Results[i].Findings[j], nil
				}
			}
		}
	}
	return nil, Errorf(KindNotFound, "the newest vetting run of this version has no finding with fingerprint %s", fp)
}

// ConfirmFinding records a reviewer's confirmation that a finding of
// submission id is real, in the audit trail and the plugin's review
// thread.
func (a *App) ConfirmFinding(ctx context.Context, caller domain.Principal, id, fp, reason string) error {
	if !caller.Allowed(reviewers...) {
		return Errorf(KindForbidden, "role %s may not confirm findings", caller.Role)
	}
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return err
	}
	f, err := a.finding(ctx, v, fp)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	body := fmt.Sprintf("confirmed finding %s at %s: %s", f.RuleID, f.Location.File, reason)
	data, _ := json.Marshal(map[string]string{"fingerprint": fp, "rule": f.RuleID, "submission": v.ID})
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.FindingTruePositive, Subject: "submission:" + v.ID, Reason: reason, Data: data}
	_, err = a.cfg.Store.AddMessage(ctx, domain.Message{PluginID: v.PluginID, VersionID: v.ID, Author: caller.Subject, Kind: "comment", Body: body, CreatedAt: now}, ev)
	return err
}

// SuppressFinding marks a finding of submission id a false positive for
// its plugin, with a reason; the decision carries forward to later
// versions with the same fingerprint. Nobody clears a finding of a
// namespace they own, except a steward.
func (a *App) SuppressFinding(ctx context.Context, caller domain.Principal, id, fp, reason string) error {
	if !caller.Allowed(reviewers...) {
		return Errorf(KindForbidden, "role %s may not clear findings", caller.Role)
	}
	if strings.TrimSpace(reason) == "" {
		return Refuse(KindInvalid, "reason_required", "say why the finding is a false positive: the reason is audited and shown to later reviewers")
	}
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return err
	}
	if !caller.Allowed(domain.RoleSteward) {
		owns, err := a.ownsNamespace(ctx, caller, v.PluginID)
		if err != nil {
			return err
		}
		if owns {
			return Refuse(KindForbidden, "separation_of_duties", "you publish in this plugin's namespace, so you may not clear its findings")
		}
	}
	f, err := a.finding(ctx, v, fp)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	data, _ := json.Marshal(map[string]string{"fingerprint": fp, "rule": f.RuleID, "version": v.Version, "submission": v.ID})
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.FindingFalsePositive, Subject: "plugin:" + v.PluginID, Reason: reason, Data: data}
	sup := domain.Suppression{PluginID: v.PluginID, Fingerprint: fp, RuleID: f.RuleID, By: caller.Subject, Reason: reason, CreatedAt: now}
	return a.cfg.Store.AddSuppression(ctx, sup, ev)
}

// Submit takes a package (its bytes from r) with its publisher signature
// (a DSSE envelope; nil when none came). created is false when the same
// bytes were submitted before: v is that submission.
func (a *App) Submit(ctx context.Context, caller domain.Principal, r io.Reader, sig []byte) (v domain.Version, created bool, err error) {
	if a.cfg.Intake == nil {
		return v, false, unavailable("submission")
	}
	v, created, err = a.cfg.Intake.SubmitSigned(ctx, caller, r, sig)
	var ie *intake.Error
	if errors.As(err, &ie) {
		k, code := KindInvalid, "invalid_package"
		switch ie.Kind {
		case intake.Forbidden:
			k, code = KindForbidden, "forbidden"
		case intake.Conflict:
			k, code = KindConflict, "version_exists"
		case intake.TooLarge:
			k, code = KindTooLarge, "too_large"
		case intake.Unsigned:
			code = "signature_refused"
		}
		return v, false, &Error{Kind: k, Code: code, Msg: ie.Error(), Err: err}
	}
	return v, created, err
}

// Ready reports whether the parts every request needs answer: the
// database, the blob store and the transparency log's storage. The
// readiness probe calls it with a short deadline; each failing part is a
// ProbeError.
func (a *App) Ready(ctx context.Context) error {
	var errs []error
	if err := a.cfg.Store.Ping(ctx); err != nil {
		errs = append(errs, &ProbeError{Part: "database", Err: err})
	}
	if p, ok := a.cfg.Blobs.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			errs = append(errs, &ProbeError{Part: "blob store", Err: err})
		}
	}
	if a.cfg.Trust != nil {
		if err := a.cfg.Trust.LogReachable(ctx); err != nil {
			errs = append(errs, &ProbeError{Part: "transparency log", Err: err})
		}
	}
	return errors.Join(errs...)
}

// ProbeError names the part a readiness probe found unreachable. Part is
// safe to show anyone; Err may name hosts and is for the operator's log.
type ProbeError struct {
	Part string
	Err  error
}

func (e *ProbeError) Error() string { return e.Part + ": " + e.Err.Error() }
func (e *ProbeError) Unwrap() error { return e.Err }

// Limits of OpenPackage: a package up to maxPackageInMemory bytes is
// checked in memory; a larger one (up to maxPackage; intake refuses
// larger uploads long before) in a temporary file, so that concurrent
// downloads of large packages do not hold their bytes in memory.
const (
	maxPackageInMemory = 8 << 20
	maxPackage         = 1 << 30
)

// A Package is the bytes of a stored package, checked against its digest
// in full: read and seek them (http.ServeContent answers ranges from
// it), then Close.
type Package struct {
	io.ReadSeeker
	Size  int64
	close func() error
}

// Close releases the bytes (removes the temporary file of a large one).
func (p *Package) Close() error {
	if p.close == nil {
		return nil
	}
	return p.close()
}

// Bytes returns the bytes of a package checked in memory, and false for
// one checked in a temporary file.
func (p *Package) Bytes() ([]byte, bool) {
	if r, ok := p.ReadSeeker.(*bytesReader); ok {
		return r.b, true
	}
	return nil, false
}

// bytesReader is a bytes.Reader that keeps its slice, for Bytes.
type bytesReader struct {
	*bytes.Reader
	b []byte
}

// OpenPackage returns v's package, checked against its digest in full
// before any byte is returned: a client must never receive bytes that do
// not match the digest it asked for. The caller has already been allowed
// to read v (the API's guard).
func (a *App) OpenPackage(ctx context.Context, v domain.Version) (*Package, error) {
	rc, size, err := a.cfg.Blobs.Open(ctx, v.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening the package of recorded version %s: %w", v.ID, err)
	}
	vr := store.VerifyingReader(rc, v.Digest)
	defer vr.Close()
	if size > maxPackage {
		return nil, fmt.Errorf("stored package %s has %d bytes, more than the %d a download may hold", v.Digest, size, maxPackage)
	}
	if size <= maxPackageInMemory {
		buf, err := io.ReadAll(io.LimitReader(vr, size+1))
		if err != nil || int64(len(buf)) != size {
			return nil, fmt.Errorf("stored package %s does not match its digest: %v", v.Digest, err)
		}
		return &Package{ReadSeeker: &bytesReader{bytes.NewReader(buf), buf}, Size: size}, nil
	}
	f, err := os.CreateTemp("", "gatehouse-download-*")
	if err != nil {
		return nil, fmt.Errorf("a temporary file to check package %s in: %w", v.Digest, err)
	}
	// Unlinked at once: the open file is all there is, and it goes away
	// with Close or with the process, whatever happens.
	os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(vr, size+1))
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes, not the %d recorded", n, size)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stored package %s does not match its digest: %w", v.Digest, err)
	}
	return &Package{ReadSeeker: f, Size: size, close: f.Close}, nil
}

// CatalogState names the state of the plugins and versions in every
// process sharing the store: what was read for an anonymous caller under
// one state may be served again while CatalogState returns it (compare
// with ==). See store.Catalog.CatalogGeneration.
type CatalogState struct{ g store.Generation }

// CatalogState returns the catalog's current state.
func (a *App) CatalogState(ctx context.Context) (CatalogState, error) {
	g, err := a.cfg.Store.CatalogGeneration(ctx)
	return CatalogState{g}, err
}
