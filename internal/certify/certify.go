// Package certify is where a plugin version's trust changes: it issues the
// marketplace's certificate when a version is approved, renews, suspends and
// revokes it, signs the revocation list, and publishes every change to the
// transparency log.
//
// Each change is one store transaction holding the new state, the signed
// document, the audit events and the trust event queued for the log (an
// outbox). A publisher appends queued events to the log after the commit
// and records where each landed; a change is therefore never logged without
// having happened, nor lost from the log once it happened.
//
// The package is domain code: it imports no HTTP or CLI code.
package certify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/vet"
	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// TrustRootMediaType identifies the trust root document (verify.ParseTrustRoot
// reads it on a host).
const TrustRootMediaType = verify.TrustRootMediaType

// Defaults for the revocation list.
const (
	// DefaultRevocationMaxAge is the oldest revocation list a host should
	// accept; the marketplace re-signs the list at half this age.
	DefaultRevocationMaxAge = 24 * time.Hour
	// MaxReason bounds a suspension or revocation reason.
	MaxReason = 4 << 10
)

// Errors callers map to answers.
var (
	// ErrState: the version is not in a state the change applies to.
	ErrState = errors.New("wrong state")
	// ErrUnsigned: the version has no valid publisher signature, and a
	// certificate always carries one (dual signing).
	ErrUnsigned = errors.New("no valid publisher signature")
)

// Certificates is what issuing and changing certificates reads and writes:
// the version, its vetting and its publisher's signature and key, and the
// changes of trust with their certificates, provenance and revocations.
type Certificates interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error)
	GetSignature(ctx context.Context, versionID string) (domain.Signature, error)
	PublisherKey(ctx context.Context, namespace, id string) (domain.PublisherKey, error)
	ApplyTrustChange(ctx context.Context, c store.TrustChange) ([]int64, error)
	LatestCertificate(ctx context.Context, versionID string) (domain.CertificateRecord, error)
	ProvenanceStatement(ctx context.Context, versionID string) ([]byte, error)
	SBOMs(ctx context.Context, versionID string) ([]domain.SBOM, error)
	LatestRevocationList(ctx context.Context) (domain.RevocationListRecord, error)
	ListRevocations(ctx context.Context) ([]domain.Revocation, error)
}

// Outbox is the transparency log's outbox, which the publisher drains.
type Outbox interface {
	TrustEvent(ctx context.Context, seq int64) (domain.TrustEvent, error)
	PendingTrustEvents(ctx context.Context, limit int) ([]domain.TrustEvent, error)
	LastLoggedIndex(ctx context.Context) (int64, error)
	MarkTrustEventsLogged(ctx context.Context, seqs []int64, firstIndex int64) error
	SequenceTrustEvents(ctx context.Context, limit int) (int, error)
	LogState(ctx context.Context) (domain.LogState, error)
	InitLogState(ctx context.Context, st domain.LogState) error
	IntegrateLog(ctx context.Context, limit int, integrate func(domain.LogState, []domain.TrustEvent) (domain.LogState, error)) (domain.LogState, error)
	SequencedTrustEvents(ctx context.Context, first int64, limit int) ([]domain.TrustEvent, error)
	AdoptLogEntries(ctx context.Context, first int64, entries [][]byte, at time.Time, ev audit.Event) error
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Records is everything the Service stores; store.Store is one.
type Records interface {
	Certificates
	Outbox
}

// Config is what a Service needs.
type Config struct {
	Store Records
	// Signer is the marketplace key: certificates and revocation lists.
	Signer trust.Signer
	// Keyring holds the marketplace keys a host should trust, retired ones
	// included; nil means the Signer's key alone.
	Keyring *trust.Keyring
	// LogSigner is the log's key: it signs checkpoints as LogOrigin, the
	// log's name (the checkpoint's first line).
	LogSigner trust.Signer
	LogOrigin string
	// LogStorage holds the log's tiles and checkpoint: the one storage
	// every process serving the marketplace reads and the integrator
	// writes.
	LogStorage tlog.Storage
	// ReadOnlyLog: this process never integrates the log (an API process);
	// Publish leaves queued events to the processes that do.
	ReadOnlyLog bool
	// Holder names this process for the integrator's lease; empty means
	// the host name, the process id and a random suffix, the same for
	// every Service of the process.
	Holder string
	// RevocationMaxAge is announced in the trust root; zero means
	// DefaultRevocationMaxAge.
	RevocationMaxAge time.Duration
	// Packages reads a version's package, to emit its SBOMs; nil means
	// certificates list none (tests of other parts only: the marketplace
	// always sets it).
	Packages PackageLoader
	// FirstEnvironment, when set, is where a newly certified version is
	// released (issue 18), in the transaction that certifies it.
	FirstEnvironment string
	// SigstoreRoot is the Sigstore trusted root (Fulcio CAs, timestamp
	// authorities, Rekor logs) keyless publisher bundles are verified
	// against; nil refuses keyless bundles.
	SigstoreRoot root.TrustedMaterial
	Now          func() time.Time
	Logger       *slog.Logger
}

// Decision is what approval decided about a version.
type Decision struct {
	Granted []string // the permissions granted
	// Flows are the approved data flows, RefusedFlows the refused ones;
	// Granted holds no permission a refused flow rests on.
	Flows        []trust.Flow
	RefusedFlows []trust.Flow
	Tier         string
	PolicyDigest string
	Reviewers    []string // empty for auto-approval
	Lifetime     time.Duration
	// From is the state the version is in: auto_approved or in_review.
	From lifecycle.State
}

// TrustRoot is what a host trusts: the marketplace keys, the log's identity
// and key, and how old a revocation list it should accept. It is the
// document verify.ParseTrustRoot reads.
type TrustRoot struct {
	MediaType               string          `json:"mediaType"`
	MarketplaceKeys         json.RawMessage `json:"marketplaceKeys"`
	LogOrigin               string          `json:"logOrigin"`
	LogKey                  string          `json:"logKey"`
	RevocationMaxAgeSeconds int64           `json:"revocationMaxAgeSeconds"`
	// KeyIDScheme says how the marketplace keys' ids are made
	// (trust.KeyIDScheme), for verifiers that must be given them.
	KeyIDScheme string `json:"keyIdScheme"`
}

// Service issues and changes certificates.
type Service struct {
	st         Records
	signer     trust.Signer
	integ      *tlog.Integrator
	logStorage tlog.Storage
	holder     string
	readOnly   bool
	// logVerifier checks checkpoints against this process's log key.
	logVerifier note.Verifier
	now         func() time.Time
	logger      *slog.Logger
	maxAge      time.Duration
	root        TrustRoot
	firstEnv    string
	packages    PackageLoader
	// sigstoreRoot verifies keyless Sigstore bundles (nil: none are).
	sigstoreRoot root.TrustedMaterial

	pubMu sync.Mutex // one publisher at a time
	revMu sync.Mutex // revocation lists are numbered one after the other
}

// New returns a Service.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Signer == nil || cfg.LogSigner == nil || cfg.LogStorage == nil || cfg.LogOrigin == "" {
		return nil, errors.New("certify: the store, the marketplace signer, the log signer, the log's origin and its storage are required")
	}
	if cfg.Holder == "" {
		cfg.Holder = processName()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RevocationMaxAge <= 0 {
		cfg.RevocationMaxAge = DefaultRevocationMaxAge
	}
	kr := cfg.Keyring
	if kr == nil {
		pub, err := trust.NewPublicKey(cfg.Signer.Public())
		if err != nil {
			return nil, fmt.Errorf("certify: the marketplace key: %w", err)
		}
		if kr, err = trust.NewKeyring(trust.Key{PublicKey: pub}); err != nil {
			return nil, err
		}
	}
	if k, ok := kr.Lookup(cfg.Signer.KeyID()); !ok || !k.ActiveAt(cfg.Now()) {
		return nil, fmt.Errorf("certify: the marketplace key %s is not an active key of the keyring", cfg.Signer.KeyID())
	}
	keys, err := kr.MarshalJSON()
	if err != nil {
		return nil, err
	}
	logPub, err := trust.NewPublicKey(cfg.LogSigner.Public())
	if err != nil {
		return nil, fmt.Errorf("certify: the log key: %w", err)
	}
	vkey, err := tlog.VerifierKey(cfg.LogOrigin, logPub)
	if err != nil {
		return nil, fmt.Errorf("certify: the log key: %w", err)
	}
	ns, err := tlog.NewNoteSigner(cfg.LogOrigin, cfg.LogSigner)
	if err != nil {
		return nil, fmt.Errorf("certify: the log key: %w", err)
	}
	integ, err := tlog.NewIntegrator(cfg.LogStorage, ns)
	if err != nil {
		return nil, err
	}
	verifier, err := tlog.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("certify: the log key: %w", err)
	}
	s := &Service{
		st: cfg.Store, signer: cfg.Signer, integ: integ, logStorage: cfg.LogStorage, holder: cfg.Holder, readOnly: cfg.ReadOnlyLog, logVerifier: verifier,
		now: cfg.Now, logger: cfg.Logger, maxAge: cfg.RevocationMaxAge, firstEnv: cfg.FirstEnvironment, packages: cfg.Packages, sigstoreRoot: cfg.SigstoreRoot,
		root: TrustRoot{MediaType: TrustRootMediaType, MarketplaceKeys: keys, LogOrigin: cfg.LogOrigin, LogKey: vkey, RevocationMaxAgeSeconds: int64(cfg.RevocationMaxAge / time.Second), KeyIDScheme: trust.KeyIDScheme},
	}
	if err := s.openLog(ctx); err != nil {
		return nil, fmt.Errorf("certify: opening the transparency log: %w", err)
	}
	return s, nil
}

// TrustRoot returns what hosts trust.
func (s *Service) TrustRoot() TrustRoot { return s.root }

// RevocationMaxAge is the oldest revocation list hosts accept.
func (s *Service) RevocationMaxAge() time.Duration { return s.maxAge }

func auditEvent(at time.Time, actor, action, versionID, reason string, data any) audit.Event {
	var raw json.RawMessage
	if data != nil {
		raw, _ = json.Marshal(data) // maps of strings and times always encode
	}
	return audit.Event{Time: at, Actor: actor, Action: action, Subject: "submission:" + versionID, Reason: reason, Data: raw}
}

// publisherSignature loads and re-verifies a version's publisher
// signature against the namespace key or identity that made it (retired
// ones verify what they signed while current).
func (s *Service) publisherSignature(ctx context.Context, v domain.Version) (*VerifiedSignature, domain.PublisherKey, error) {
	sig, err := s.st.GetSignature(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, domain.PublisherKey{}, fmt.Errorf("%s@%s was submitted without a publisher signature, and a certificate needs one (dual signing): sign the package with `gatehouse plugin sign` and submit it as a new version: %w", v.PluginID, v.Version, ErrUnsigned)
	}
	if err != nil {
		return nil, domain.PublisherKey{}, err
	}
	ns, _, _ := strings.Cut(v.PluginID, "/")
	pk, err := s.st.PublisherKey(ctx, ns, sig.KeyID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, pk, fmt.Errorf("%s@%s is signed by key %s, which namespace %s no longer has: %w", v.PluginID, v.Version, sig.KeyID, ns, ErrUnsigned)
	}
	if err != nil {
		return nil, pk, err
	}
	vs, err := VerifySignature(sig.Envelope, v.Digest, SignatureCheck{Keys: []domain.PublisherKey{pk}, Root: s.sigstoreRoot, ReceivedAt: sig.CreatedAt})
	if err != nil {
		return nil, pk, fmt.Errorf("the publisher signature of %s@%s: %w (%w)", v.PluginID, v.Version, err, ErrUnsigned)
	}
	if err := vs.CheckSubject(v.PluginID, v.Version); err != nil {
		return nil, pk, fmt.Errorf("%w (%w)", err, ErrUnsigned)
	}
	return vs, pk, nil
}

// Keyring turns stored publisher keys into a keyring: a retired key's
// window closes at its retirement.
func Keyring(keys []domain.PublisherKey) (*trust.Keyring, error) {
	kr, err := trust.NewKeyring()
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Algorithm == trust.AlgorithmSigstoreOIDC {
			continue // a keyless identity, checked by VerifySignature
		}
		pub, err := trust.ParsePublicKeyPEM(k.PEM)
		if err != nil {
			return nil, fmt.Errorf("stored key %s of namespace %s: %w", k.ID, k.Namespace, err)
		}
		if err := kr.Add(trust.Key{PublicKey: pub, NotAfter: k.RetiredAt}); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// Certify issues the certificate and moves the version to certified in one
// store transaction.
func (s *Service) Certify(ctx context.Context, versionID, actor string, in Decision) (*trust.Certificate, error) {
	if in.From != lifecycle.AutoApproved && in.From != lifecycle.InReview {
		return nil, fmt.Errorf("a version is certified from auto_approved or in_review, not %q: %w", in.From, domain.ErrInvalid)
	}
	if in.Lifetime <= 0 {
		return nil, fmt.Errorf("the certificate lifetime %s must be positive: %w", in.Lifetime, domain.ErrInvalid)
	}
	v, err := s.st.GetVersion(ctx, versionID)
	if err != nil {
		return nil, err
	}
	if v.State != in.From {
		return nil, fmt.Errorf("%s@%s is %s, not %s: %w", v.PluginID, v.Version, v.State, in.From, ErrState)
	}
	checks, vulndbVersion, prov, err := s.checks(ctx, versionID, len(in.Reviewers) > 0)
	if err != nil {
		return nil, err
	}
	statement, err := s.provenanceStatement(ctx, v, prov)
	if err != nil {
		return nil, err
	}
	reason := "certified on auto-approval (policy " + in.PolicyDigest + ")"
	if len(in.Reviewers) > 0 {
		reason = "approved by " + strings.Join(in.Reviewers, " and ")
	}
	return s.issue(ctx, v, actor, trust.EventCertificateIssued, in.From, reason, statement, trust.CertificateInput{
		PluginID: v.PluginID, Version: v.Version, Digest: v.Digest,
		Permissions: in.Granted, Flows: in.Flows, RefusedFlows: in.RefusedFlows, RiskTier: in.Tier, Checks: checks,
		PolicyDigest: in.PolicyDigest, VulnDBVersion: vulndbVersion, Reviewers: in.Reviewers,
		Lifetime: in.Lifetime,
	})
}

// Renew issues a new certificate for a certified (or suspended → certified)
// version after a passing revalidation: the same grants, tier and reviewers,
// today's checks, a fresh validity window of the same length.
func (s *Service) Renew(ctx context.Context, versionID, actor, reason string) (*trust.Certificate, error) {
	if len(reason) > MaxReason {
		return nil, fmt.Errorf("the reason is over %d bytes: %w", MaxReason, domain.ErrInvalid)
	}
	v, err := s.st.GetVersion(ctx, versionID)
	if err != nil {
		return nil, err
	}
	if v.State != lifecycle.Certified && v.State != lifecycle.Suspended {
		return nil, fmt.Errorf("only a certified or suspended version is renewed; %s@%s is %s: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	prev, err := s.LatestCertificate(ctx, versionID)
	if err != nil {
		return nil, err
	}
	checks, vulndbVersion, _, err := s.checks(ctx, versionID, len(prev.Reviewers) > 0)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "certificate renewed"
	}
	return s.issue(ctx, v, actor, trust.EventCertificateRenewed, v.State, reason, nil, trust.CertificateInput{
		PluginID: v.PluginID, Version: v.Version, Digest: v.Digest,
		Permissions: prev.Permissions, Flows: prev.Flows, RefusedFlows: prev.RefusedFlows, RiskTier: prev.RiskTier, Checks: checks,
		PolicyDigest: prev.PolicyDigest, VulnDBVersion: vulndbVersion, Reviewers: prev.Reviewers,
		Lifetime: prev.ExpiresAt.Sub(prev.IssuedAt),
	})
}

// issue signs a certificate and records it with the move to certified.
func (s *Service) issue(ctx context.Context, v domain.Version, actor string, kind trust.EventKind, from lifecycle.State, reason string, statement []byte, in trust.CertificateInput) (*trust.Certificate, error) {
	pub, _, err := s.publisherSignature(ctx, v)
	if err != nil {
		return nil, err
	}
	pub.certificateInput(&in)
	in.IssuedAt = s.now().UTC().Truncate(time.Second)
	refs, fresh, err := s.sboms(ctx, v, in.IssuedAt)
	if err != nil {
		return nil, err
	}
	in.SBOMs = refs
	env, err := trust.IssueCertificate(ctx, s.signer, in)
	if err != nil {
		return nil, fmt.Errorf("signing the certificate of %s@%s: %w", v.PluginID, v.Version, err)
	}
	cert, err := trust.ParseCertificate(env)
	if err != nil {
		return nil, err
	}
	ev, err := trust.CertificateEvent(kind, env)
	if err != nil {
		return nil, err
	}
	entry, err := trust.MarshalEvent(ev)
	if err != nil {
		return nil, err
	}
	envJSON, err := trust.MarshalEnvelope(env)
	if err != nil {
		return nil, err
	}
	now := s.now()
	action := audit.CertificateIssued // the audit action matches the log entry's kind
	if kind == trust.EventCertificateRenewed {
		action = audit.CertificateRenewed
	}
	audits := []audit.Event{auditEvent(now, actor, action, v.ID, reason, map[string]any{
		"document": ev.Document, "keyId": s.signer.KeyID(), "expiresAt": cert.ExpiresAt, "checks": cert.Checks, "permissions": cert.Permissions,
		"sboms": sbomDigests(refs, fresh),
	})}
	c := store.TrustChange{
		VersionID:   v.ID,
		Certificate: &domain.CertificateRecord{Kind: string(kind), Envelope: envJSON, KeyID: s.signer.KeyID(), IssuedAt: cert.IssuedAt, ExpiresAt: cert.ExpiresAt},
		Entries:     [][]byte{entry},
		Provenance:  statement,
		SBOMs:       fresh,
	}
	if from != lifecycle.Certified {
		c.From, c.To, c.Reason = from, lifecycle.Certified, reason
		audits = append([]audit.Event{auditEvent(now, actor, audit.SubmissionTransition, v.ID, reason, nil)}, audits...)
		if s.firstEnv != "" && from != lifecycle.Suspended {
			// Released into the first environment in the same
			// transaction: certified and not released cannot be seen.
			rel, err := trust.MarshalEvent(trust.Event{Kind: trust.EventReleaseChanged, Time: now.UTC(), Subject: trust.SubjectName(v.PluginID, v.Version),
				Digest: v.Digest, Detail: "released into " + s.firstEnv + " on certification"})
			if err != nil {
				return nil, err
			}
			c.Entries = append(c.Entries, rel)
			c.ReleaseInto, c.ReleaseActor = s.firstEnv, actor
			data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "environment": s.firstEnv, "action": "released", "version": v.Version, "rollout": 100})
			audits = append(audits, audit.Event{Time: now, Actor: actor, Action: audit.ReleaseChanged, Subject: "plugin:" + v.PluginID,
				Reason: "released into " + s.firstEnv + " on certification", Data: data})
		}
	}
	c.Audit = audits
	if _, err := s.st.ApplyTrustChange(ctx, c); err != nil {
		return nil, err
	}
	s.logger.Info(string(kind), "plugin", v.PluginID, "version", v.Version, "expires", cert.ExpiresAt, "checks", cert.Checks)
	s.publishSoon(ctx)
	return cert, nil
}

// Suspend moves a certified version to suspended, with the deadline by
// which a fixed version must be certified.
func (s *Service) Suspend(ctx context.Context, versionID, actor, reason string, deadline time.Time) error {
	return s.SuspendAudited(ctx, versionID, actor, reason, deadline, nil)
}

// SuspendAudited is Suspend with further audit events recorded in the same
// transaction as the suspension, for a caller whose own record must not
// exist without it or it without the record (the health quorum that names
// the hosts behind it).
func (s *Service) SuspendAudited(ctx context.Context, versionID, actor, reason string, deadline time.Time, extra []audit.Event) error {
	if strings.TrimSpace(reason) == "" || len(reason) > MaxReason {
		return fmt.Errorf("a suspension needs a reason (at most %d bytes) the publisher and hosts read: %w", MaxReason, domain.ErrInvalid)
	}
	v, err := s.st.GetVersion(ctx, versionID)
	if err != nil {
		return err
	}
	if v.State != lifecycle.Certified {
		return fmt.Errorf("only a certified version is suspended; %s@%s is %s: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	now := s.now()
	detail := reason
	if !deadline.IsZero() {
		detail += " (remediate by " + deadline.UTC().Format(time.RFC3339) + ")"
	}
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventVersionSuspended, Time: now.UTC(), Subject: trust.SubjectName(v.PluginID, v.Version), Digest: v.Digest, Detail: detail})
	if err != nil {
		return err
	}
	_, err = s.st.ApplyTrustChange(ctx, store.TrustChange{
		VersionID: v.ID, From: lifecycle.Certified, To: lifecycle.Suspended, Reason: "suspended: " + detail,
		Entries: [][]byte{entry},
		Audit: append([]audit.Event{
			auditEvent(now, actor, audit.SubmissionTransition, v.ID, "suspended: "+detail, nil),
			auditEvent(now, actor, audit.VersionSuspended, v.ID, reason, map[string]any{"deadline": deadline}),
		}, extra...),
	})
	if err != nil {
		return err
	}
	s.publishSoon(ctx)
	return nil
}

// Revoke moves a certified or suspended version to revoked and publishes a
// new signed revocation list naming its digest.
func (s *Service) Revoke(ctx context.Context, versionID, actor, reason string) error {
	if strings.TrimSpace(reason) == "" || len(reason) > MaxReason {
		return fmt.Errorf("a revocation needs a reason (at most %d bytes) hosts read: %w", MaxReason, domain.ErrInvalid)
	}
	v, err := s.st.GetVersion(ctx, versionID)
	if err != nil {
		return err
	}
	if v.State != lifecycle.Certified && v.State != lifecycle.Suspended {
		return fmt.Errorf("only a certified or suspended version is revoked; %s@%s is %s: %w", v.PluginID, v.Version, v.State, ErrState)
	}
	now := s.now()
	rev := domain.Revocation{VersionID: v.ID, Digest: v.Digest, Reason: reason, Time: now.UTC().Truncate(time.Second)}
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventVersionRevoked, Time: now.UTC(), Subject: trust.SubjectName(v.PluginID, v.Version), Digest: v.Digest, Detail: reason})
	if err != nil {
		return err
	}
	err = s.publishList(ctx, actor, &rev, store.TrustChange{
		VersionID: v.ID, From: v.State, To: lifecycle.Revoked, Reason: "revoked: " + reason,
		Revocation: &rev,
		Entries:    [][]byte{entry},
		Audit: []audit.Event{
			auditEvent(now, actor, audit.SubmissionTransition, v.ID, "revoked: "+reason, nil),
			auditEvent(now, actor, audit.VersionRevoked, v.ID, reason, map[string]any{"digest": v.Digest}),
		},
	})
	if err != nil {
		return err
	}
	s.publishSoon(ctx)
	return nil
}

// publishList signs the next revocation list (the stored revocations plus
// add) and records it with c in one transaction.
func (s *Service) publishList(ctx context.Context, actor string, add *domain.Revocation, c store.TrustChange) error {
	s.revMu.Lock()
	defer s.revMu.Unlock()
	revs, err := s.st.ListRevocations(ctx)
	if err != nil {
		return err
	}
	if add != nil {
		revs = append(revs, *add)
	}
	var number int64 = 1
	if l, err := s.st.LatestRevocationList(ctx); err == nil {
		number = l.Number + 1
	} else if !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	entries := make([]trust.Revocation, len(revs))
	for i, r := range revs {
		entries[i] = trust.Revocation{Digest: r.Digest, Reason: r.Reason, Time: r.Time.UTC()}
	}
	issued := s.now().UTC().Truncate(time.Second)
	list, err := trust.NewRevocationList(uint64(number), issued, issued.Add(s.maxAge), dedupe(entries))
	if err != nil {
		return err
	}
	env, err := trust.SignRevocationList(ctx, s.signer, list)
	if err != nil {
		return fmt.Errorf("signing revocation list %d: %w", number, err)
	}
	envJSON, err := trust.MarshalEnvelope(env)
	if err != nil {
		return err
	}
	ev, err := trust.RevocationListEvent(env)
	if err != nil {
		return err
	}
	entry, err := trust.MarshalEvent(ev)
	if err != nil {
		return err
	}
	c.RevocationList = &domain.RevocationListRecord{Number: number, Envelope: envJSON, IssuedAt: list.IssuedAt, NextUpdate: list.NextUpdate}
	c.Entries = append(c.Entries, entry)
	c.Audit = append(c.Audit, audit.Event{Time: s.now(), Actor: actor, Action: audit.RevocationListPublished, Subject: "revocation-list",
		Reason: fmt.Sprintf("list %d with %d entries, next update %s", number, len(entries), list.NextUpdate.Format(time.RFC3339))})
	_, err = s.st.ApplyTrustChange(ctx, c)
	return err
}

// dedupe keeps the first entry per digest: two versions with one digest
// (the same bytes under two names cannot happen, but a list must never
// fail to publish) revoke one package.
func dedupe(rs []trust.Revocation) []trust.Revocation {
	seen := map[string]bool{}
	out := rs[:0:0]
	for _, r := range rs {
		if !seen[r.Digest] {
			seen[r.Digest] = true
			out = append(out, r)
		}
	}
	return out
}

// RefreshRevocations publishes a new revocation list when there is none or
// the current one is past half its life, so hosts never see a stale one
// while the marketplace runs. It reports whether it published.
func (s *Service) RefreshRevocations(ctx context.Context) (bool, error) {
	l, err := s.st.LatestRevocationList(ctx)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return false, err
	case s.now().Before(l.IssuedAt.Add(l.NextUpdate.Sub(l.IssuedAt) / 2)):
		return false, nil
	}
	if err := s.publishList(ctx, "system", nil, store.TrustChange{}); err != nil {
		return false, err
	}
	s.publishSoon(ctx)
	return true, nil
}

// Revocations returns the current signed revocation list (DSSE envelope
// JSON), publishing a new one first if there is none or the current one is
// past half its life.
func (s *Service) Revocations(ctx context.Context) ([]byte, error) {
	l, err := s.st.LatestRevocationList(ctx)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && !s.now().Before(l.IssuedAt.Add(l.NextUpdate.Sub(l.IssuedAt)/2))) {
		// None yet, or past half its life because the background
		// refresher is behind: hosts must never be served a stale list.
		if _, err := s.RefreshRevocations(ctx); err != nil && !errors.Is(err, domain.ErrStateChanged) {
			return nil, err
		}
		l, err = s.st.LatestRevocationList(ctx)
	}
	if err != nil {
		return nil, err
	}
	return l.Envelope, nil
}

// LogEvent queues a trust event whose change is recorded elsewhere
// (policy applied, namespace owner changed) for the log, with an audit
// event saying so.
func (s *Service) LogEvent(ctx context.Context, e trust.Event) error {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	entry, err := trust.MarshalEvent(e)
	if err != nil {
		return err
	}
	_, err = s.st.ApplyTrustChange(ctx, store.TrustChange{
		Entries: [][]byte{entry},
		Audit:   []audit.Event{{Time: s.now(), Actor: "system", Action: audit.TrustEvent, Subject: "log:" + string(e.Kind), Reason: e.Subject}},
	})
	if err != nil {
		return err
	}
	s.publishSoon(ctx)
	return nil
}

// LatestCertificate returns a version's newest certificate
// (domain.ErrNotFound when none).
func (s *Service) LatestCertificate(ctx context.Context, versionID string) (*trust.Certificate, error) {
	rec, err := s.st.LatestCertificate(ctx, versionID)
	if err != nil {
		return nil, err
	}
	env, err := trust.ParseEnvelope(rec.Envelope)
	if err != nil {
		return nil, fmt.Errorf("the stored certificate of %s: %w", versionID, err)
	}
	return trust.ParseCertificate(env)
}

// ErrNotLogged is returned by Bundle when the certificate is not in the log
// yet (the publisher is behind); asking again shortly succeeds.
var ErrNotLogged = errors.New("the certificate is not in the transparency log yet")

// Bundle returns what a host needs to verify a version offline: the
// publisher's signature and key, the newest certificate, and its inclusion
// proof against the log's current checkpoint.
func (s *Service) Bundle(ctx context.Context, versionID string) (*verify.Bundle, error) {
	v, err := s.st.GetVersion(ctx, versionID)
	if err != nil {
		return nil, err
	}
	rec, err := s.st.LatestCertificate(ctx, versionID)
	if err != nil {
		return nil, err
	}
	te, err := s.st.TrustEvent(ctx, rec.EventSeq)
	if err != nil {
		return nil, err
	}
	state, err := s.st.LogState(ctx)
	if err != nil {
		return nil, err
	}
	if te.LogIndex < 0 || te.LogIndex >= state.Size {
		// Integrate now if this process holds the integrator's lease;
		// otherwise the holder does shortly.
		if _, err := s.Publish(ctx); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotLogged, err)
		}
		if te, err = s.st.TrustEvent(ctx, rec.EventSeq); err != nil {
			return nil, err
		}
		if state, err = s.st.LogState(ctx); err != nil {
			return nil, err
		}
		if te.LogIndex < 0 || te.LogIndex >= state.Size {
			return nil, ErrNotLogged
		}
	}
	cp, err := s.checkpointOf(state)
	if err != nil {
		return nil, err
	}
	note := state.Checkpoint
	proof, err := s.integ.InclusionProof(ctx, uint64(te.LogIndex), cp)
	if err != nil {
		return nil, fmt.Errorf("proving entry %d of the log: %w", te.LogIndex, err)
	}
	certEnv, err := trust.ParseEnvelope(rec.Envelope)
	if err != nil {
		return nil, err
	}
	sig, err := s.st.GetSignature(ctx, versionID)
	if err != nil {
		return nil, err
	}
	ns, _, _ := strings.Cut(v.PluginID, "/")
	pk, err := s.st.PublisherKey(ctx, ns, sig.KeyID)
	if err != nil {
		return nil, err
	}
	// A Sigstore bundle travels inside the certificate (its evidence);
	// only a DSSE envelope travels beside it.
	var pubEnv *dsse.Envelope
	if !trust.IsSigstoreBundle(sig.Envelope) {
		if pubEnv, err = trust.ParseEnvelope(sig.Envelope); err != nil {
			return nil, err
		}
	}
	pubKey := string(pk.PEM)
	if pk.Algorithm == trust.AlgorithmSigstoreOIDC {
		pubKey = "" // an identity, not a key: the certificate names it
	}
	return &verify.Bundle{
		MediaType:          verify.BundleMediaType,
		PublisherSignature: pubEnv,
		PublisherKey:       pubKey,
		Certificate:        certEnv,
		Log:                verify.LogProof{Index: uint64(te.LogIndex), Entry: te.Entry, InclusionProof: proof, Checkpoint: string(note)},
	}, nil
}

// provenanceAnalyzer is the name of the analyzer (internal/vet/provenance) whose
// detail earns the provenance and reproducible checks.
const provenanceAnalyzer = "provenance"

// provenanceStatement signs the marketplace's own SLSA provenance statement
// for a version whose module it rebuilt reproducibly (nil otherwise).
func (s *Service) provenanceStatement(ctx context.Context, v domain.Version, d *provenance.Detail) ([]byte, error) {
	if d == nil || !slices.Contains(d.Checks(), "reproducible") {
		return nil, nil
	}
	var m struct {
		Runtime struct {
			Module string `json:"module"`
		} `json:"runtime"`
	}
	if err := json.Unmarshal(v.Manifest, &m); err != nil {
		return nil, fmt.Errorf("reading the manifest of %s@%s: %w", v.PluginID, v.Version, err)
	}
	module := ""
	for _, f := range v.Files {
		if f.Path == m.Runtime.Module {
			module = "sha256:" + f.SHA256
		}
	}
	if module == "" {
		return nil, fmt.Errorf("%s@%s has no file %q, its module", v.PluginID, v.Version, m.Runtime.Module)
	}
	stmt, err := provenance.MarketplaceStatement(*d, module, provenance.StatementInput{PluginID: v.PluginID, Version: v.Version, PackageDigest: v.Digest})
	if err != nil {
		return nil, fmt.Errorf("the provenance statement of %s@%s: %w", v.PluginID, v.Version, err)
	}
	env, err := trust.SignEnvelope(ctx, s.signer, trust.PayloadTypeInToto, stmt)
	if err != nil {
		return nil, fmt.Errorf("signing the provenance statement of %s@%s: %w", v.PluginID, v.Version, err)
	}
	return trust.MarshalEnvelope(env)
}

// ProvenanceStatement returns the marketplace's signed provenance statement
// for a version (domain.ErrNotFound when it rebuilt none reproducibly).
func (s *Service) ProvenanceStatement(ctx context.Context, versionID string) ([]byte, error) {
	return s.st.ProvenanceStatement(ctx, versionID)
}

// checks returns the badges of a version: the analyzers whose latest
// result passed, "reviewed" when people approved, "provenance" and
// "reproducible" when the provenance analyzer says so; and the
// vulnerability database versions the run used.
func (s *Service) checks(ctx context.Context, versionID string, reviewed bool) ([]string, string, *provenance.Detail, error) {
	var checks []string
	var prov *provenance.Detail
	dbs := map[string]string{}
	run, err := s.st.LatestVetRun(ctx, versionID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, "", nil, err
	default:
		var results []vet.Result
		if err := json.Unmarshal(run.Results, &results); err != nil {
			return nil, "", nil, fmt.Errorf("reading the vetting results of %s: %w", versionID, err)
		}
		for _, r := range results {
			for k, v := range r.Databases {
				dbs[k] = v
			}
			if r.Status != vet.Passed {
				continue
			}
			if r.Analyzer != provenanceAnalyzer {
				checks = append(checks, r.Analyzer)
				continue
			}
			// The provenance analyzer's badges say what it found, not
			// merely that it ran.
			if d, err := provenance.ParseDetail(r.Detail); err == nil {
				checks = append(checks, d.Checks()...)
				prov = &d
			}
		}
	}
	if reviewed {
		checks = append(checks, "reviewed")
	}
	sort.Strings(checks)
	checks = slices.Compact(checks)
	names := make([]string, 0, len(dbs))
	for k := range dbs {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "@" + dbs[k]
	}
	return checks, strings.Join(parts, ","), prov, nil
}

// SignStatusFeed signs an environment's status feed with the marketplace
// key and returns the envelope and the log entry that publishes it.
func (s *Service) SignStatusFeed(ctx context.Context, f *trust.StatusFeed) (envelope, entry []byte, err error) {
	env, err := trust.SignStatusFeed(ctx, s.signer, f)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the status feed of %s: %w", f.Environment, err)
	}
	if envelope, err = trust.MarshalEnvelope(env); err != nil {
		return nil, nil, err
	}
	ev, err := trust.StatusFeedEvent(env)
	if err != nil {
		return nil, nil, err
	}
	if entry, err = trust.MarshalEvent(ev); err != nil {
		return nil, nil, err
	}
	return envelope, entry, nil
}

// Queued tells the publisher that entries were queued by a change made
// elsewhere (a release), so they reach the log soon.
func (s *Service) Queued(ctx context.Context) { s.publishSoon(ctx) }
