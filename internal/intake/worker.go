package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/pkgfile"
)

// Triager decides where a vetted version in triage that nothing blocked
// goes next: auto-approval, review or rejection by policy. It moves the
// version out of triage itself.
type Triager interface {
	Triage(ctx context.Context, v domain.Version, in *vet.Input, results []vet.Result, cfg vet.Config) error
	// Undecided sends a version in triage to people with reason, opening
	// its review, when the pipeline cannot decide on it.
	Undecided(ctx context.Context, v domain.Version, reason string) error
}

// VetStep is the pipeline's vetting step: it runs the analyzers over a
// stored version, records the run, and moves the version on to triage,
// which decides on the run (rejection when an enforced check blocked it).
// A re-run (args.Rerun) of a version past vetting records its run and
// moves nothing. Like every step it is idempotent: a version already past
// vetting is left alone.
func (s *Service) VetStep(ctx context.Context, id string, args pipeline.VetArgs) error {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return fmt.Errorf("reading submission: %w", err)
	}
	if v.State == lifecycle.Received {
		ev := audit.Event{Time: s.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}
		if err := s.Store.Transition(ctx, id, lifecycle.Received, lifecycle.Vetting, "vetting started", ev); errors.Is(err, domain.ErrStateChanged) {
			return nil // another worker started it
		} else if err != nil {
			return err
		}
		v.State = lifecycle.Vetting
	}
	if !args.Rerun && v.State != lifecycle.Vetting {
		return nil // already past vetting (a duplicate job after a crash)
	}
	pkg, release, err := s.packageToVet(ctx, v.Digest)
	if err != nil {
		return err
	}
	defer release()
	_, results, err := s.Vet(ctx, v.PluginID, v.Version, pkg)
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
	return s.move(ctx, id, lifecycle.Vetting, lifecycle.Triage, "vetting finished ("+summary+"); the policy decides")
}

// move changes a version's state by compare-and-set; a version another
// worker moved meanwhile is not an error, as that worker owns it now.
func (s *Service) move(ctx context.Context, id string, from, to lifecycle.State, reason string) error {
	ev := audit.Event{Time: s.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}
	err := s.Store.Transition(ctx, id, from, to, reason, ev)
	if errors.Is(err, domain.ErrStateChanged) {
		return nil
	}
	return err
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

// LoadPackage reads a stored package, checking its digest. The packages
// read last are kept in memory (packageCache): the result is shared and
// must not be modified.
func (s *Service) LoadPackage(ctx context.Context, digest string) (*pkgfile.Package, error) {
	if pkg, ok := s.packageCache().get(digest); ok {
		return pkg, nil
	}
	return s.readPackage(ctx, digest)
}

// readPackage reads a stored package from the blob store whether or not
// it is kept in memory, checking its digest, and keeps it.
func (s *Service) readPackage(ctx context.Context, digest string) (*pkgfile.Package, error) {
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
	if pkg.Digest != digest {
		// VerifyingReader checked the bytes; this would be a blob store
		// that served another package under the name.
		return nil, fmt.Errorf("reading package %s: its bytes have digest %s", digest, pkg.Digest)
	}
	s.packageCache().put(pkg)
	return pkg, nil
}

// packageCache returns the Service's cache of packages, made on first use
// with PackageCacheBytes (DefaultPackageCacheBytes when not positive).
func (s *Service) packageCache() *packageCache {
	s.pkgsOnce.Do(func() {
		n := s.PackageCacheBytes
		if n <= 0 {
			n = DefaultPackageCacheBytes
		}
		s.pkgs = newPackageCache(n)
	})
	return s.pkgs
}
