package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/pkgfile"
)

// JobVet is the kind of the job that vets one version; its key is the
// submission id, so one version is never vetted twice at once.
const JobVet = "vet"

// Job tuning: a vetting run holds its lease for at most jobLease (the
// analyzers' own timeouts are far shorter); a failed run is retried with
// exponential backoff, then given up.
const (
	jobLease       = 10 * time.Minute
	maxJobAttempts = 5
	firstBackoff   = 5 * time.Second
)

type vetArgs struct {
	// Rerun asks for a new run on a version that has left vetting; it
	// records results and moves no state.
	Rerun bool   `json:"rerun,omitempty"`
	Actor string `json:"actor,omitempty"`
}

// Work moves versions on until ctx ends. It polls as well as listening
// for Wake, so versions left mid-way by a crash or by another process are
// picked up: jobs are leased, and every state change is a compare-and-set,
// so two workers never both apply one.
func (s *Service) Work(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := s.ProcessPending(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("processing submissions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// ProcessPending queues a vetting job for every received version, resumes
// versions abandoned in vetting or triage (Resume), and runs every due job.
func (s *Service) ProcessPending(ctx context.Context) error {
	for {
		vs, err := s.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Received, Limit: 500})
		if err != nil {
			return fmt.Errorf("finding received versions: %w", err)
		}
		for _, v := range vs {
			if _, err := s.Store.EnqueueJob(ctx, domain.Job{Kind: JobVet, Key: v.ID, RunAt: s.Now()}); err != nil {
				return fmt.Errorf("queueing vetting of %s: %w", v.ID, err)
			}
			if err := s.Store.Transition(ctx, v.ID, lifecycle.Received, lifecycle.Vetting, "queued for vetting",
				audit.Event{Time: s.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + v.ID}); err != nil && !errors.Is(err, domain.ErrStateChanged) {
				return fmt.Errorf("moving %s to vetting: %w", v.ID, err)
			}
		}
		if len(vs) < 500 {
			break
		}
	}
	// Versions a stopped process left in vetting or triage; another live
	// worker holds a version for at most a lease.
	if _, err := s.Resume(ctx, jobLease); err != nil && ctx.Err() == nil {
		s.Log.Error("resuming submissions left mid-way", "err", err)
	}
	for ctx.Err() == nil {
		job, err := s.Store.ClaimJob(ctx, []string{JobVet}, s.Now(), jobLease)
		if errors.Is(err, domain.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claiming a job: %w", err)
		}
		s.runJob(ctx, job)
	}
	return ctx.Err()
}

// RequestVet queues a new vetting run of a version on demand.
func (s *Service) RequestVet(ctx context.Context, id, actor string) (bool, error) {
	if _, err := s.Store.GetVersion(ctx, id); err != nil {
		return false, err
	}
	args, _ := json.Marshal(vetArgs{Rerun: true, Actor: actor})
	ok, err := s.Store.EnqueueJob(ctx, domain.Job{Kind: JobVet, Key: id, Args: args, RunAt: s.Now()})
	if ok {
		s.Wake()
	}
	return ok, err
}

func (s *Service) runJob(ctx context.Context, job domain.Job) {
	var args vetArgs
	if len(job.Args) > 0 {
		if err := json.Unmarshal(job.Args, &args); err != nil {
			s.Log.Error("unreadable job arguments", "job", job.ID, "err", err)
		}
	}
	err := s.vetVersion(ctx, job.Key, args)
	switch {
	case err == nil:
		err = s.Store.FinishJob(ctx, job.ID, s.Now())
	case ctx.Err() != nil:
		return // shutting down: the lease runs out and another run picks it up
	case job.Attempts >= maxJobAttempts:
		s.Log.Error("vetting failed; giving up", "submission", job.Key, "attempts", job.Attempts, "err", err)
		if ferr := s.Store.FailJob(ctx, job.ID, err.Error(), s.Now()); ferr != nil {
			s.Log.Error("recording a failed job", "job", job.ID, "err", ferr)
		}
		// Fail closed, but not on the author: the version cannot pass
		// automatically, so a person looks at it with the cause.
		s.moveOn(ctx, job.Key, lifecycle.InReview, "vetting could not complete after "+fmt.Sprint(job.Attempts)+" attempts ("+err.Error()+"); a reviewer must decide")
		return
	default:
		backoff := firstBackoff << (job.Attempts - 1)
		s.Log.Warn("vetting failed; will retry", "submission", job.Key, "attempt", job.Attempts, "retry_in", backoff, "err", err)
		err = s.Store.RetryJob(ctx, job.ID, err.Error(), s.Now().Add(backoff))
	}
	if err != nil {
		s.Log.Error("recording a job's outcome", "job", job.ID, "err", err)
	}
}

// Triager decides where a vetted version that nothing blocked goes next:
// auto-approval, review or rejection by policy. It moves the version out of
// vetting itself.
type Triager interface {
	Triage(ctx context.Context, v domain.Version, in *vet.Input, results []vet.Result, cfg vet.Config) error
}

// moveOn walks a version in vetting through triage to state to.
func (s *Service) moveOn(ctx context.Context, id string, to lifecycle.State, reason string) {
	steps := [][2]lifecycle.State{{lifecycle.Vetting, lifecycle.Triage}, {lifecycle.Triage, to}}
	for _, st := range steps {
		ev := audit.Event{Time: s.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}
		r := reason
		if st[1] == lifecycle.Triage {
			r = "vetting finished"
		}
		if err := s.Store.Transition(ctx, id, st[0], st[1], r, ev); err != nil && !errors.Is(err, domain.ErrStateChanged) {
			s.Log.Error("moving a submission on", "submission", id, "to", st[1], "err", err)
			return
		}
	}
}

// vetVersion runs the analyzers over a stored version, records the run,
// and (unless this is a re-run) moves the version on: rejected when an
// enforced check blocks it, otherwise to review.
func (s *Service) vetVersion(ctx context.Context, id string, args vetArgs) error {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return fmt.Errorf("reading submission: %w", err)
	}
	if !args.Rerun && v.State != lifecycle.Vetting {
		return nil // already past vetting (a duplicate job after a crash)
	}
	pkg, release, err := s.packageToVet(ctx, v.Digest)
	if err != nil {
		return err
	}
	defer release()
	in, results, err := s.Vet(ctx, v.PluginID, v.Version, pkg)
	if err != nil {
		return err
	}
	blocked, reasons := vet.Summary(results)
	summary := "every enforced check passed"
	if len(results) == 0 {
		summary = "no analyzers are configured on this server; nothing was checked automatically"
	}
	if blocked {
		summary = "blocked: " + strings.Join(reasons, "; ")
	}
	body, err := json.Marshal(results)
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	actor := "system"
	if args.Actor != "" {
		actor = args.Actor
	}
	data, _ := json.Marshal(map[string]any{"blocked": blocked, "analyzers": statusCounts(results)})
	ev := audit.Event{Time: s.Now(), Actor: actor, Action: audit.SubmissionVet, Subject: "submission:" + id, Reason: summary, Data: data}
	if _, err := s.saveVetRun(ctx, domain.VetRun{VersionID: id, Results: body, Blocked: blocked, Summary: summary, CreatedAt: s.Now()}, ev, results); err != nil {
		return fmt.Errorf("saving results: %w", err)
	}
	if s.VetRunSaved != nil {
		s.VetRunSaved(results, blocked)
	}
	if args.Rerun && v.State != lifecycle.Vetting {
		return nil
	}
	if blocked {
		s.moveOn(ctx, id, lifecycle.Rejected, summary+". Fix these and submit a new version; `gatehouse vet` runs the same checks locally.")
		return nil
	}
	if s.Triager != nil {
		return s.Triager.Triage(ctx, v, in, results, s.VetConfig)
	}
	if blocked {
		s.moveOn(ctx, id, lifecycle.Rejected, summary+". Fix these and submit a new version; `gatehouse vet` runs the same checks locally.")
	} else {
		s.moveOn(ctx, id, lifecycle.InReview, summary+"; no auto-approval policy is active, so a reviewer looks at every version")
	}
	return nil
}

func statusCounts(results []vet.Result) map[string]int {
	out := map[string]int{}
	for _, r := range results {
		out[string(r.Status)]++
	}
	return out
}

// Vet runs the analyzers over a package of pluginID@version: the same code
// path as `gatehouse vet`, plus the plugin's last approved version (for the
// diff) and its reviewers' false-positive decisions.
func (s *Service) Vet(ctx context.Context, pluginID, version string, pkg *pkgfile.Package) (*vet.Input, []vet.Result, error) {
	in, err := s.input(ctx, pluginID, version, pkg)
	if err != nil {
		return nil, nil, err
	}
	sups, err := s.Store.ListSuppressions(ctx, pluginID)
	if err != nil {
		return nil, nil, fmt.Errorf("reading suppressions: %w", err)
	}
	sm := vet.SuppressionMap{}
	for _, x := range sups {
		sm[x.Fingerprint] = vet.Suppression{By: x.By, Reason: x.Reason, At: x.CreatedAt}
	}
	var as []vet.Analyzer
	if s.Analyzers != nil {
		as = s.Analyzers()
	}
	return in, vet.Run(ctx, as, in, s.VetConfig, sm), nil
}

// input is what the analyzers and the triager read about pkg: its
// manifest and module, and the plugin's last approved version.
func (s *Service) input(ctx context.Context, pluginID, version string, pkg *pkgfile.Package) (*vet.Input, error) {
	in, err := analyzers.LoadInput(pkg, s.Manifest)
	if err != nil {
		return nil, err
	}
	if in.Previous, err = s.previousApproved(ctx, pluginID, version); err != nil {
		return nil, err
	}
	return in, nil
}

// PreviousApproved returns the highest certified version of pluginID below
// version, or nil when there is none.
func (s *Service) PreviousApproved(ctx context.Context, pluginID, version string) (*domain.Version, error) {
	cur, err := semver.NewVersion(version)
	if err != nil {
		return nil, nil
	}
	vs, err := s.Store.ListVersions(ctx, pluginID)
	if err != nil {
		return nil, fmt.Errorf("listing versions: %w", err)
	}
	var best *domain.Version
	var bestV *semver.Version
	for i := range vs {
		if vs[i].State != lifecycle.Certified {
			continue
		}
		sv, err := semver.NewVersion(vs[i].Version)
		if err != nil || !sv.LessThan(cur) || (bestV != nil && !sv.GreaterThan(bestV)) {
			continue
		}
		best, bestV = &vs[i], sv
	}
	return best, nil
}

// previousApproved loads the last approved version for the analyzers.
func (s *Service) previousApproved(ctx context.Context, pluginID, version string) (*vet.Previous, error) {
	best, err := s.PreviousApproved(ctx, pluginID, version)
	if err != nil || best == nil {
		return nil, err
	}
	pkg, err := s.LoadPackage(ctx, best.Digest)
	if err != nil {
		return nil, fmt.Errorf("loading previous version %s: %w", best.Version, err)
	}
	in, err := analyzers.LoadInput(pkg, s.Manifest)
	if err != nil {
		return nil, fmt.Errorf("loading previous version %s: %w", best.Version, err)
	}
	return &vet.Previous{Version: best.Version, Package: pkg, Manifest: in.Manifest, Module: in.Module}, nil
}

// LoadPackage reads a stored package, checking its digest.
func (s *Service) LoadPackage(ctx context.Context, digest string) (*pkgfile.Package, error) {
	rc, _, err := s.Blobs.Open(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("opening package %s: %w", digest, err)
	}
	vr := store.VerifyingReader(rc, digest)
	defer vr.Close()
	b, err := io.ReadAll(io.LimitReader(vr, s.Limits.MaxPackageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading package %s: %w", digest, err)
	}
	pkg, err := pkgfile.Read(bytes.NewReader(b), s.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading package %s: %w", digest, err)
	}
	return pkg, nil
}
