// Package intake takes a submitted package from the wire to a stored,
// audited version, and provides the pipeline's first steps: vetting
// (VetStep) and the preparation of triage (TriageStep).
//
// The order of the steps is what makes a 202 safe against a crash at any
// point: the bytes are made durable under their digest before the record
// that names them is committed, so a record never lacks its blob; a blob
// whose record never committed is removed by Sweep before the server takes
// requests again, so no blob outlives a failed submission.
package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/ids"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/tracing"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// Kind classifies a refused submission, so the API can answer with the
// right status code.
type Kind int

const (
	Invalid   Kind = iota + 1 // the package or its manifest is malformed (422)
	Forbidden                 // the caller may not publish there (403)
	Conflict                  // the version exists with other bytes (409)
	TooLarge                  // over the package size limit (413)
	// Unsigned: the publisher signature is missing, invalid, by a key the
	// namespace has not registered, or about another package (422).
	Unsigned
)

// Error is a refused submission. Its message names what is wrong.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// Submissions is what the submission path stores: namespaces, versions,
// publisher keys and signatures.
type Submissions interface {
	GetNamespace(ctx context.Context, name string) (domain.Namespace, error)
	CreateNamespace(ctx context.Context, ns domain.Namespace, ev audit.Event) error
	GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error)
	CreateVersion(ctx context.Context, v domain.Version, events []audit.Event) (stored domain.Version, created bool, err error)
	DigestReferenced(ctx context.Context, digest string) (bool, error)
	SignaturesRequired(ctx context.Context, namespace string) (bool, error)
	ListPublisherKeys(ctx context.Context, namespace string) ([]domain.PublisherKey, error)
	PutSignature(ctx context.Context, sig domain.Signature, ev audit.Event) error
}

// Vetting is what the vetting and triage steps read and writes: versions and their
// state, vetting runs, suppressions, the component index, the audit trail.
type Vetting interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error
	SaveVetRun(ctx context.Context, r domain.VetRun, ev audit.Event) (domain.VetRun, error)
	LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error)
	ListSuppressions(ctx context.Context, pluginID string) ([]domain.Suppression, error)
	IndexComponents(ctx context.Context, versionID string, cs []domain.Component) error
}

// Records is everything the Service stores; store.Store is one.
type Records interface {
	Submissions
	Vetting
}

// Service is the submission path. Its fields are set once before use.
type Service struct {
	Store    Records
	Blobs    store.Blobs
	Limits   pkgfile.Limits
	Manifest manifest.Options // legacy-form handling (PLUGIN_SIGNING_KEY)
	// SigstoreRoot is the Sigstore trusted root keyless publisher bundles
	// are verified against; nil refuses keyless bundles (keyed ones verify
	// with the namespace's keys).
	SigstoreRoot root.TrustedMaterial
	Log          *slog.Logger
	Now          func() time.Time

	// Analyzers returns the analyzers to run (read per run, so a newly
	// imported vulnerability database is used at once); VetConfig says
	// which count and how.
	Analyzers func() []vet.Analyzer
	VetConfig vet.Config
	// KeepBlob, when set, keeps from the orphan sweep a blob no version
	// names that another service uses (the shared vulnerability database).
	KeepBlob func(ctx context.Context, digest string) (bool, error)
	// Triager decides what follows vetting; nil sends every version that
	// vetting did not block to review.
	Triager Triager
	// TrustLog, when set, records namespace claims in the transparency
	// log (certify.Service does).
	TrustLog interface {
		LogEvent(ctx context.Context, e trust.Event) error
	}
	// VetRunSaved, when set, is told of every recorded vetting run (for
	// metrics); it must not block.
	VetRunSaved func(results []vet.Result, blocked bool)
	// MaxConcurrentVets bounds the vetting runs held at once;
	// DefaultMaxConcurrentVets when not positive. Set it before use.
	MaxConcurrentVets int
	// MaxConcurrentReads bounds the submitted packages read into memory
	// at once; DefaultMaxConcurrentReads when not positive.
	MaxConcurrentReads int

	// Submitted, when set, is told that a new version was stored (the
	// pipeline's Wake), so that its vetting starts at once rather than at
	// the worker's next poll. It must not block.
	Submitted func()

	// PackageCacheBytes bounds the packages LoadPackage keeps in memory
	// (by their files' sizes); DefaultPackageCacheBytes when not
	// positive. Set it before use.
	PackageCacheBytes int64

	vets, reads slots
	pkgsOnce    sync.Once
	pkgs        *packageCache
}

// New returns a Service with its defaults filled in.
func New(st Records, blobs store.Blobs, lim pkgfile.Limits, mopts manifest.Options, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{Store: st, Blobs: blobs, Limits: lim, Manifest: mopts, Log: log, Now: time.Now}
}

// Submit is SubmitSigned without a signature: accepted only by a namespace
// that does not require signatures.
func (s *Service) Submit(ctx context.Context, p domain.Principal, r io.Reader) (v domain.Version, created bool, err error) {
	return s.SubmitSigned(ctx, p, r, nil)
}

// SubmitSigned reads a package from r on behalf of p and records it as a
// new version in state received, with sig, the publisher's DSSE envelope
// (JSON) over the package digest, kept beside it. When
// namespace/name@version already exists with the same bytes, it returns
// that version and created=false.
func (s *Service) SubmitSigned(ctx context.Context, p domain.Principal, r io.Reader, sig []byte) (v domain.Version, created bool, err error) {
	max := s.Limits.MaxPackageBytes
	staged, err := s.Blobs.Stage(ctx, r, max)
	if err != nil {
		if errors.Is(err, store.ErrTooLarge) {
			return v, false, refuse(TooLarge, "the package is larger than the limit of %d bytes", max)
		}
		return v, false, fmt.Errorf("receiving package: %w", err)
	}
	defer staged.Abort() // a no-op once committed

	release, err := s.acquireRead(ctx)
	if err != nil {
		return v, false, err
	}
	defer release()
	pkg, err := readStaged(staged.Path(), s.Limits)
	if err != nil {
		var re *pkgfile.RefusalError
		if errors.As(err, &re) {
			return v, false, &Error{Kind: Invalid, Err: err}
		}
		return v, false, fmt.Errorf("reading staged package: %w", err)
	}
	if pkg.Digest != staged.Digest() {
		return v, false, fmt.Errorf("package digest %s differs from the staged bytes' %s", pkg.Digest, staged.Digest())
	}
	m, err := manifest.Parse(pkg.Manifest(), s.Manifest)
	if err != nil {
		return v, false, &Error{Kind: Invalid, Err: fmt.Errorf("manifest.json: %w", err)}
	}
	if _, ok := pkg.File(m.Runtime.Module); !ok {
		return v, false, refuse(Invalid, "manifest.json: runtime.module names %q, which is not in the package", m.Runtime.Module)
	}
	canonical, err := manifest.Marshal(m)
	if err != nil {
		return v, false, fmt.Errorf("encoding manifest: %w", err)
	}

	ns, err := s.claimNamespace(ctx, p, m.Namespace())
	if err != nil {
		return v, false, err
	}
	if err := p.CanPublish(ns.Name, ns.Owners); err != nil {
		return v, false, &Error{Kind: Forbidden, Err: err}
	}

	signed, err := s.checkSignature(ctx, ns.Name, m, pkg.Digest, sig)
	if err != nil {
		return v, false, err
	}

	if existing, err := s.Store.GetVersionByName(ctx, m.ID, m.Version); err == nil {
		if existing.Digest == pkg.Digest {
			// The same bytes again: keep the signature if the first
			// submission's was lost (a crash between record and signature).
			if err := s.keepSignature(ctx, p, existing, signed); err != nil && !errors.Is(err, domain.ErrConflict) {
				return v, false, err
			}
			return existing, false, nil
		}
		return v, false, refuse(Conflict, "%s@%s exists with other bytes (%s); versions are immutable, submit a new version", m.ID, m.Version, existing.Digest)
	} else if !errors.Is(err, domain.ErrNotFound) {
		return v, false, fmt.Errorf("looking up %s@%s: %w", m.ID, m.Version, err)
	}

	// The blob becomes durable before the record that names it.
	if err := staged.Commit(ctx); err != nil {
		return v, false, fmt.Errorf("storing package: %w", err)
	}
	now := s.Now().UTC()
	files := make([]domain.File, len(pkg.Files))
	for i, f := range pkg.Files {
		files[i] = domain.File{Path: f.Path, Size: f.Size, SHA256: f.SHA256}
	}
	v = domain.Version{
		ID:        NewSubmissionID(),
		PluginID:  m.ID,
		Version:   m.Version,
		Digest:    pkg.Digest,
		Size:      pkg.Size,
		Manifest:  canonical,
		Files:     files,
		Submitter: p.Subject,
		State:     lifecycle.Received,
		Reason:    "package received; waiting for vetting",
		CreatedAt: now,
		UpdatedAt: now,
	}
	// From here on the request's spans name the new version.
	ctx = tracing.WithVersion(ctx, v.ID)
	// The signature is kept before the record that makes the version
	// visible to the worker, so no version is ever vetted, and perhaps
	// auto-approved, before its signature is there.
	if err := s.keepSignature(ctx, p, v, signed); err != nil {
		return v, false, fmt.Errorf("keeping the signature of %s@%s: %w", m.ID, m.Version, err)
	}
	data, _ := json.Marshal(map[string]any{"plugin": m.ID, "version": m.Version, "digest": pkg.Digest, "size": pkg.Size, "legacy": m.Legacy != nil, "signed": signed != nil})
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.SubmissionCreate, Subject: "submission:" + v.ID, NewState: string(lifecycle.Received), Reason: v.Reason, Data: data}
	stored, created, err := s.Store.CreateVersion(ctx, v, []audit.Event{ev})
	switch {
	case errors.Is(err, domain.ErrConflict):
		return v, false, refuse(Conflict, "%s@%s was just submitted with other bytes; versions are immutable", m.ID, m.Version)
	case err != nil:
		return v, false, fmt.Errorf("recording submission: %w", err)
	}
	// The bytes just read and checked are what vetting would read back
	// from the blob store, which would unpack and check them again (a
	// tenth of a second for a 2.4 MB package): keep them, as LoadPackage
	// keeps a package it read. Only now, once blob and record are both
	// there: a package kept earlier could be served for a digest whose
	// submission failed.
	s.packageCache().put(pkg)
	if created {
		s.Log.Info("submission received", "id", stored.ID, "plugin", m.ID, "version", m.Version, "digest", pkg.Digest, "actor", p.Subject)
		if s.Submitted != nil {
			s.Submitted()
		}
	}
	return stored, created, nil
}

// readStaged reads a staged package. It opens the file itself rather than
// using pkgfile.ReadFile, whose errors name the file: a refusal must name
// the entry and the rule, never a path inside the server.
func readStaged(path string, lim pkgfile.Limits) (*pkgfile.Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return pkgfile.Read(f, lim)
}

// claimNamespace returns the namespace, creating it owned by p when it does
// not exist. Creation comes before the ownership check so that two
// publishers racing for a new namespace cannot both pass it.
func (s *Service) claimNamespace(ctx context.Context, p domain.Principal, name string) (domain.Namespace, error) {
	ns, err := s.Store.GetNamespace(ctx, name)
	if err == nil {
		return ns, nil
	}
	if !errors.Is(err, domain.ErrNotFound) {
		return ns, fmt.Errorf("looking up namespace %q: %w", name, err)
	}
	if err := p.CanPublish(name, nil); err != nil {
		return ns, &Error{Kind: Forbidden, Err: err}
	}
	now := s.Now().UTC()
	ns = domain.Namespace{Name: name, Owners: []string{p.Subject}, CreatedAt: now}
	ev := audit.Event{Time: now, Actor: p.Subject, Action: audit.NamespaceClaim, Subject: "namespace:" + name, Reason: "first submission to an unclaimed namespace"}
	err = s.Store.CreateNamespace(ctx, ns, ev)
	switch {
	case err == nil && s.TrustLog != nil:
		// Who owns a namespace decides whose keys sign for it: the claim
		// is a change of trust.
		if err := s.TrustLog.LogEvent(ctx, trust.Event{Kind: trust.EventNamespaceOwner, Time: now, Subject: name, Detail: "claimed by " + p.Subject}); err != nil {
			return ns, fmt.Errorf("logging the claim of namespace %q: %w", name, err)
		}
	case err != nil && !errors.Is(err, domain.ErrConflict):
		return ns, fmt.Errorf("claiming namespace %q: %w", name, err)
	}
	return s.Store.GetNamespace(ctx, name)
}

// NewSubmissionID returns a random, URL-safe submission id.
func NewSubmissionID() string { return ids.New("sub") }

// Sweep deletes blobs that no record names and that are older than grace.
// Run it before serving: a blob committed by a submission whose record did
// not commit (a crash in between) is removed, so none outlives its failed
// submission. With several processes sharing one store, a grace longer than
// any submission keeps a blob another process is about to record.
func (s *Service) Sweep(ctx context.Context, grace time.Duration) (removed int, err error) {
	cutoff := s.Now().Add(-grace)
	var orphans []string
	err = s.Blobs.List(ctx, func(digest string, mod time.Time) error {
		if mod.After(cutoff) {
			return nil
		}
		ok, err := s.Store.DigestReferenced(ctx, digest)
		if err != nil {
			return err
		}
		if !ok && s.KeepBlob != nil {
			if ok, err = s.KeepBlob(ctx, digest); err != nil {
				return err
			}
		}
		if !ok {
			orphans = append(orphans, digest)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing blobs: %w", err)
	}
	for _, d := range orphans {
		if err := s.Blobs.Delete(ctx, d); err != nil {
			return removed, fmt.Errorf("deleting orphan blob %s: %w", d, err)
		}
		s.Log.Warn("removed a blob with no record (a submission interrupted before it was recorded)", "digest", d)
		removed++
	}
	return removed, nil
}
