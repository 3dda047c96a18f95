// Package verify is what a host platform imports to decide, before it runs a
// plugin, that the package is the one its publisher signed and the
// marketplace certified, that the certificate is valid, published in the
// transparency log and not revoked, that the log has not been rolled back or
// forked since the host last looked, and that the host's own policy allows
// what the plugin was granted. It works offline from files and has no
// database, HTTP-server or CLI dependency.
//
// # Publisher keys
//
// A host either keeps its own keyring of publisher keys (Options.PublisherKeys)
// and accepts only signatures by those keys, or trusts the marketplace to
// have checked the publisher's key against the namespace's registered keys:
// then the bundle carries the publisher's public key, the package signature
// must verify with it, and the marketplace-signed certificate must name that
// key id and that exact publisher envelope. Either way both signatures are
// checked (dual signing).
//
// # Checkpoints
//
// The state folder remembers the newest checkpoint this host accepted. A
// bundle's checkpoint must be that one, or a newer one proven consistent with
// it (Options.Prover supplies the proof, from the log's tiles or a local
// mirror); an older one is refused, so keep bundles fresh: fetch them again
// when the log moves on.
//
// # Rollback
//
// The state folder also remembers the highest revocation list number this
// host has seen; an older list is refused with ErrRevocationRollback. Both
// are recorded as soon as their signatures (and, for a checkpoint, its
// consistency with the last one) verify, whatever the package's verdict: a
// host that refuses a package because a newer list revokes it must not
// accept an older list replayed afterwards. Observe records the
// marketplace's current checkpoint and list without a package. The state is
// written atomically. Two processes verifying against one state folder at
// the same moment may each write it; the newer checkpoint is the one to
// keep, so give each host process its own folder or serialise
// verifications.
package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// Check names one step of verification.
type Check string

// The checks, in the order Verify runs them.
const (
	CheckDigest               Check = "digest"
	CheckPublisherSignature   Check = "publisher-signature"
	CheckCertificateSignature Check = "certificate-signature"
	CheckSubject              Check = "certificate-subject"
	CheckValidity             Check = "validity-window"
	CheckCheckpoint           Check = "checkpoint-signature"
	CheckInclusion            Check = "log-inclusion"
	CheckConsistency          Check = "log-consistency"
	CheckRevocationList       Check = "revocation-list"
	CheckRevoked              Check = "revocation"
	CheckPolicy               Check = "host-policy"
	// CheckStatusFeed and CheckStatus (issue 18): the environment's
	// status feed is genuine, not older than one seen and fresh, and does
	// not suspend, revoke or kill what is verified.
	CheckStatusFeed Check = "status-feed"
	CheckStatus     Check = "status"
	// CheckHostAPI (issue 19 item 6): the host's policy refuses plugins
	// that do not work with the host API version replacing its own once
	// its own has passed its sunset date.
	CheckHostAPI Check = "host-api"
	// CheckSetup is reported for a mistake in the Options, not the package.
	CheckSetup Check = "setup"
)

// Error is a failed verification: which check failed and why.
type Error struct {
	Check Check
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("verify: %s check failed: %v", e.Check, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// ErrRollback is wrapped when the bundle's checkpoint is older than the
// newest one this host has seen.
var ErrRollback = errors.New("checkpoint is older than the last one seen")

// ErrRevocationRollback is wrapped when the revocation list is older than
// the newest one this host has seen: a replayed list, which could hide a
// revocation. It wraps trust.ErrRollback.
var ErrRevocationRollback = fmt.Errorf("replayed list: %w", trust.ErrRollback)

// ErrRevoked is wrapped when the package's digest is on the revocation list.
var ErrRevoked = errors.New("package is revoked")

// ErrNotAllowed is wrapped when the host's policy refuses a granted
// permission.
var ErrNotAllowed = errors.New("permission not accepted by the host policy")

// Prover supplies a consistency proof from the tree of oldSize entries to
// newer. tlog.TileProver is one, reading the log's tiles.
type Prover interface {
	ConsistencyProof(ctx context.Context, oldSize uint64, newer tlog.Checkpoint) (tlog.Proof, error)
}

// Options are what the host trusts and knows.
type Options struct {
	// MarketplaceKeys are the marketplace's certificate and revocation-list
	// keys, retired ones included.
	MarketplaceKeys *trust.Keyring
	// LogVerifier verifies the log's checkpoints (tlog.NewVerifier).
	LogVerifier note.Verifier
	// PublisherKeys, if set, are the only publisher keys accepted. If nil,
	// the bundle's publisher key is accepted when the certificate names it.
	PublisherKeys *trust.Keyring
	// StateDir is the host's state folder. Required.
	StateDir string
	// Prover supplies consistency proofs when the bundle's checkpoint is
	// newer than the last one seen. Without one, such a bundle fails (fail
	// closed) until the state has caught up.
	Prover Prover
	// Revocations is the current signed revocation list. Required.
	Revocations *dsse.Envelope
	// RevocationMaxAge is the oldest revocation list accepted. Required.
	RevocationMaxAge time.Duration
	// Policy is the host's allow-list of permissions.
	Policy Policy
	// ExpectedDigest, if set, pins the package digest (from a lock file).
	ExpectedDigest string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Status is the host environment's signed status feed (issue 18),
	// from `gatehouse sync`; nil checks none. When set, StatusMaxAge is
	// required and a stale or replayed feed fails closed.
	Status       *dsse.Envelope
	StatusMaxAge time.Duration
	// Environment is the host's environment; empty accepts the feed's.
	Environment string
	// HostAPIs are the host API versions the marketplace published (its
	// /api/v1/host-api/versions), which Policy.HostAPI is checked
	// against; none checks nothing.
	HostAPIs []hostapi.Published
}

// Result describes a package that passed every check.
type Result struct {
	Digest           string
	PluginID         string
	Version          string
	Certificate      *trust.Certificate
	PublisherKeyID   string
	MarketplaceKeyID string
	LogIndex         uint64
	Checkpoint       tlog.Checkpoint
	RevocationList   uint64 // number of the list checked
	// Warnings are what verification found that does not refuse the
	// plugin: functions or capabilities it uses that a host API version
	// deprecates, or that a version replacing the host's lacks.
	Warnings []string
}

// Verify checks pkg against bundle, in the order of the Check constants,
// and returns an *Error naming the first check that failed.
func Verify(ctx context.Context, pkg []byte, b *Bundle, opts Options) (*Result, error) {
	fail := func(c Check, err error) (*Result, error) { return nil, &Error{Check: c, Err: err} }
	if b == nil || b.Certificate == nil {
		return fail(CheckSetup, errors.New("no bundle, or a bundle without its certificate"))
	}
	if opts.MarketplaceKeys.Len() == 0 || opts.LogVerifier == nil || opts.StateDir == "" || opts.Revocations == nil || opts.RevocationMaxAge <= 0 {
		return fail(CheckSetup, errors.New("the marketplace keys, the log verifier key, a state folder, a revocation list and its maximum age are all required"))
	}
	now := timeNow
	if opts.Now != nil {
		now = opts.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := now()

	// Before the package is judged, the host's state moves on to the
	// bundle's checkpoint and the revocation list if they are genuine and
	// newer, so that refusing this package cannot leave an older list or
	// checkpoint acceptable afterwards.
	unlock, err := lockState(ctx, opts.StateDir)
	if err != nil {
		return fail(CheckSetup, err)
	}
	defer unlock()
	st, err := loadState(opts.StateDir)
	if err != nil {
		return fail(CheckSetup, err)
	}
	seen, err := observe(ctx, &st, []byte(b.Log.Checkpoint), opts)
	if err != nil {
		return fail(CheckSetup, err)
	}

	// 1. The bytes are the ones the bundle is about.
	sum := sha256.Sum256(pkg)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	want := opts.ExpectedDigest
	if want == "" {
		claimed, err := trust.ParseCertificate(b.Certificate)
		if err != nil {
			return fail(CheckCertificateSignature, err)
		}
		want = claimed.Digest
	}
	if digest != want {
		return fail(CheckDigest, fmt.Errorf("%w: the package's bytes hash to %s, expected %s; the file is damaged or was altered", trust.ErrWrongDigest, digest, want))
	}

	// 2. The publisher signed these bytes: a DSSE envelope beside the
	// certificate, or a Sigstore bundle inside it (its evidence).
	pubKeys := opts.PublisherKeys
	if pubKeys == nil && b.PublisherKey != "" {
		k, err := trust.ParsePublicKeyPEM([]byte(b.PublisherKey))
		if err != nil {
			return fail(CheckPublisherSignature, fmt.Errorf("the host keeps no publisher keyring and the bundle's publisher key is unusable: %w", err))
		}
		pubKeys, _ = trust.NewKeyring(trust.Key{PublicKey: k})
	}
	claimed, err := trust.ParseCertificate(b.Certificate)
	if err != nil {
		return fail(CheckCertificateSignature, err)
	}
	sigstore := claimed.Publisher.Format == trust.FormatSigstoreBundle
	var pubKeyID string
	var pubSig *trust.PackageSignature
	switch {
	case sigstore:
		// The bundle is read from the certificate; step 3 checks that the
		// marketplace signed that certificate.
		ss, err := trust.VerifyCertifiedSigstoreBundle(claimed, digest, pubKeys)
		if err != nil {
			return fail(CheckPublisherSignature, err)
		}
		pubKeyID = ss.KeyID
	case b.PublisherSignature == nil:
		return fail(CheckPublisherSignature, errors.New("the bundle has no publisher signature and its certificate carries no Sigstore bundle: fetch the bundle again from the marketplace"))
	default:
		if pubKeys == nil {
			return fail(CheckPublisherSignature, errors.New("the host keeps no publisher keyring and the bundle carries no publisher key"))
		}
		pubSig, err = trust.VerifyPackageSignature(b.PublisherSignature, digest, pubKeys)
		if err != nil {
			return fail(CheckPublisherSignature, err)
		}
		pubKeyID = pubSig.KeyID
	}

	// 3. The marketplace certified them, naming that publisher signature.
	cert, mkey, err := trust.VerifyCertificate(b.Certificate, opts.MarketplaceKeys)
	if err != nil {
		return fail(CheckCertificateSignature, err)
	}
	if cert.Publisher.KeyID != pubKeyID {
		// The signature verifies with the key the bundle carries, but the
		// marketplace certified a signature by another: this key is not the
		// namespace's.
		ns, _, _ := strings.Cut(cert.PluginID, "/")
		return fail(CheckPublisherSignature, fmt.Errorf("publisher signature: key ID %s is not registered for namespace %s (%w; the marketplace certified a signature by key %s); a publisher registers its key with `gatehouse namespace key add` and the marketplace certifies what that key signed",
			pubKeyID, ns, trust.ErrUnknownKey, cert.Publisher.KeyID))
	}
	if !sigstore {
		envDigest, err := trust.EnvelopeDigest(b.PublisherSignature)
		if err != nil {
			return fail(CheckCertificateSignature, err)
		}
		if cert.Publisher.Envelope != envDigest {
			return fail(CheckCertificateSignature, fmt.Errorf("%w: the certificate names publisher envelope %s; the package comes with envelope %s by the same key %s",
				trust.ErrUnknownKey, cert.Publisher.Envelope, envDigest, pubKeyID))
		}
	}

	// 4. The certificate and the signature are about this plugin version.
	id, version, err := manifestIdentity(pkg)
	if err != nil {
		return fail(CheckSubject, err)
	}
	if err := cert.CheckSubject(digest, id, version); err != nil {
		return fail(CheckSubject, err)
	}
	if pubSig != nil && (pubSig.PluginID != id || pubSig.Version != version) {
		return fail(CheckSubject, fmt.Errorf("%w: the publisher signed %s, the manifest says %s", trust.ErrWrongSubject, trust.SubjectName(pubSig.PluginID, pubSig.Version), trust.SubjectName(id, version)))
	}

	// 5. The certificate is valid now.
	if err := cert.CheckValidAt(t); err != nil {
		return fail(CheckValidity, err)
	}

	// 6. The checkpoint is the log's.
	if seen.cpErr != nil {
		return fail(CheckCheckpoint, seen.cpErr)
	}
	cp := seen.cp

	// 7. The certificate is published in that tree.
	if err := trust.CheckCertificateEntry(b.Log.Entry, b.Certificate, cert); err != nil {
		return fail(CheckInclusion, fmt.Errorf("the bundle's log entry is not this certificate's: %w", err))
	}
	if err := tlog.VerifyInclusion(b.Log.Entry, b.Log.Index, b.Log.InclusionProof, cp); err != nil {
		return fail(CheckInclusion, err)
	}

	// 8. The tree extends the newest one this host has seen.
	if seen.consErr != nil {
		return fail(CheckConsistency, seen.consErr)
	}

	// 9. The revocation list is genuine, not older than one seen, and fresh.
	if seen.rlErr != nil {
		return fail(CheckRevocationList, seen.rlErr)
	}
	rl := seen.rl
	if err := rl.CheckFresh(t, opts.RevocationMaxAge); err != nil {
		return fail(CheckRevocationList, err)
	}
	// 10. ... and does not list this package.
	if r, ok := rl.Revoked(digest); ok {
		return fail(CheckRevoked, fmt.Errorf("%w: %s was revoked at %s: %s", ErrRevoked, trust.SubjectName(id, version), r.Time.Format(time.RFC3339), r.Reason))
	}

	// 10b. The environment's status feed does not suspend, revoke or kill it.
	if opts.Status != nil {
		f, err := observeStatusFeed(opts.Status, opts)
		if err != nil {
			return fail(CheckStatusFeed, err)
		}
		if err := Obeys(f, id, version, digest); err != nil {
			return fail(CheckStatus, err)
		}
	}

	// 11. The host lets this plugin load, with every permission the
	// marketplace granted.
	if err := opts.Policy.Check(id, cert.Permissions); err != nil {
		return fail(CheckPolicy, err)
	}

	// 12. Host API deprecations: warn, or refuse after a sunset when the
	// host's policy says so.
	warnings, err := checkHostAPI(pkg, trust.SubjectName(id, version), cert.Permissions, opts, t)
	if err != nil {
		return fail(CheckHostAPI, err)
	}

	return &Result{
		Warnings: warnings,
		Digest:   digest, PluginID: id, Version: version, Certificate: cert,
		PublisherKeyID: pubKeyID, MarketplaceKeyID: mkey.ID,
		LogIndex: b.Log.Index, Checkpoint: cp, RevocationList: rl.Number,
	}, nil
}

// checkConsistency compares a checkpoint with the last one seen and reports
// whether the state should move to it.
func checkConsistency(ctx context.Context, st state, cp tlog.Checkpoint, opts Options) (bool, error) {
	if st.Checkpoint == "" {
		return true, nil // first contact: trust on first use of this log
	}
	last, err := tlog.VerifyCheckpoint([]byte(st.Checkpoint), opts.LogVerifier)
	if err != nil {
		return false, fmt.Errorf("the last checkpoint in the state folder does not verify with the log key: %w", err)
	}
	switch {
	case cp.Size < last.Size:
		return false, fmt.Errorf("%w: the checkpoint has %d entries, this host has already seen %d; the log was rolled back, or the bundle is stale (fetch it again)", ErrRollback, cp.Size, last.Size)
	case cp.Size == last.Size:
		return false, tlog.VerifyConsistency(last, cp, nil)
	}
	if opts.Prover == nil {
		return false, fmt.Errorf("the checkpoint (%d entries) is newer than the last seen (%d) and no consistency proof source is configured (pass the log's URL, --log)", cp.Size, last.Size)
	}
	proof, err := opts.Prover.ConsistencyProof(ctx, last.Size, cp)
	if err != nil {
		return false, fmt.Errorf("getting a consistency proof: %w", err)
	}
	if err := tlog.VerifyConsistency(last, cp, proof); err != nil {
		return false, err
	}
	return true, nil
}

// Limits on reading the manifest out of a package whose digest is already
// authenticated.
const (
	manifestName     = "manifest.json" // manifest.FileName, without importing the schema machinery
	maxManifestBytes = 1 << 20
	maxEntriesBefore = 10_000
)

// manifestIdentity reads the plugin id and version from the package's
// manifest.json. Only the tar entries up to the manifest are decompressed:
// the bytes are already authenticated by both signatures, so the full
// hostile-input checks of pkgfile.Read belong to loading, not to this step.
func manifestIdentity(pkg []byte) (id, version string, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(pkg))
	if err != nil {
		return "", "", fmt.Errorf("the package is not gzip-compressed: %w", err)
	}
	tr := tar.NewReader(zr)
	for range maxEntriesBefore {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", fmt.Errorf("reading the package: %w", err)
		}
		if hdr.Name != manifestName {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxManifestBytes+1))
		if err != nil {
			return "", "", fmt.Errorf("reading the manifest: %w", err)
		}
		if len(data) > maxManifestBytes {
			return "", "", fmt.Errorf("the manifest is larger than %d bytes", maxManifestBytes)
		}
		var m struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		}
		if err := json.Unmarshal(data, &m); err != nil || m.ID == "" || m.Version == "" {
			return "", "", fmt.Errorf("the manifest has no readable id and version")
		}
		return m.ID, m.Version, nil
	}
	return "", "", fmt.Errorf("the package has no %s", manifestName)
}
