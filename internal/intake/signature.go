package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/sigstore"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// signedBy is a verified publisher signature.
type signedBy struct {
	keyID    string
	envelope []byte // as received: a DSSE envelope or a Sigstore bundle, JSON
	sigstore bool
}

// checkSignature verifies the publisher signature sent with a submission
// against the namespace's current keys and keyless identities. A namespace
// that requires signatures (the default) refuses a submission without one;
// a signature that is sent is always checked, whatever the namespace
// requires. The signature is a DSSE envelope (`gatehouse plugin sign`) or
// a Sigstore bundle (`cosign sign-blob --bundle`).
func (s *Service) checkSignature(ctx context.Context, ns string, m *manifest.Manifest, digest string, sig []byte) (*signedBy, error) {
	required, err := s.Store.SignaturesRequired(ctx, ns)
	if err != nil {
		return nil, err
	}
	if len(sig) == 0 {
		if required {
			return nil, refuse(Unsigned, "namespace %s requires a publisher signature: sign the package with `gatehouse plugin sign PACKAGE --key KEY` (or `cosign sign-blob --bundle PACKAGE.sigstore.json PACKAGE`) and submit it (the CLI sends PACKAGE.sig or PACKAGE.sigstore.json; over HTTP, send the signature base64-encoded in the Gatehouse-Signature header)", ns)
		}
		return nil, nil
	}
	isBundle := trust.IsSigstoreBundle(sig)
	if isBundle {
		if _, err := sigstore.Parse(sig); err != nil {
			return nil, refuse(Unsigned, "the publisher signature is not a usable Sigstore bundle: %v", err)
		}
	} else if _, err := trust.ParseEnvelope(sig); err != nil {
		return nil, refuse(Unsigned, "the publisher signature is neither a DSSE envelope nor a Sigstore bundle: %v", err)
	}
	keys, err := s.Store.ListPublisherKeys(ctx, ns)
	if err != nil {
		return nil, err
	}
	signers := certify.SignerOf(sig, digest, keys, s.SigstoreRoot)
	// Any signature by a key reported stolen refuses the submission, even
	// beside a good one: whoever holds the key may be the one submitting,
	// and the owners must hear why it is refused.
	if msg := compromisedKey(ns, signers, keys); msg != "" {
		return nil, refuse(Unsigned, "%s", msg)
	}
	var current []domain.PublisherKey
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			current = append(current, k)
		}
	}
	if len(current) == 0 {
		return nil, refuse(Unsigned, "publisher signature: namespace %s has no registered publisher key or identity: register your public key with `gatehouse namespace key add %s KEY.pub` (or a keyless signer with `gatehouse namespace identity add %s --issuer URL --subject SAN`)", ns, ns, ns)
	}
	v, err := certify.VerifySignature(sig, digest, certify.SignatureCheck{Keys: current, Root: s.SigstoreRoot, ReceivedAt: s.Now()})
	if err != nil {
		if errors.Is(err, trust.ErrUnknownKey) {
			if msg := retiredKey(ns, signers, keys); msg != "" {
				return nil, refuse(Unsigned, "%s", msg)
			}
			if isBundle {
				return nil, refuse(Unsigned, "publisher signature: %v; register the key with `gatehouse namespace key add %s cosign.pub` (an ECDSA P-256 key, as `cosign generate-key-pair` makes), or the keyless signer with `gatehouse namespace identity add %s --issuer URL --subject SAN`", err, ns, ns)
			}
			return nil, refuse(Unsigned, "%s", unregisteredKey(ns, signers))
		}
		return nil, refuse(Unsigned, "the publisher signature does not verify: %v", err)
	}
	if err := v.CheckSubject(m.ID, m.Version); err != nil {
		return nil, refuse(Unsigned, "%v", err)
	}
	return &signedBy{keyID: v.KeyID, envelope: sig, sigstore: isBundle}, nil
}

// compromisedKey names a signer among ids that is a key of ns reported
// stolen, and what to do instead; "" when there is none.
func compromisedKey(ns string, ids []string, keys []domain.PublisherKey) string {
	for _, id := range ids {
		for _, k := range keys {
			if k.ID == id && k.Compromised() {
				return fmt.Sprintf("publisher signature: key ID %s of namespace %s was reported compromised at %s (%s) and is trusted for nothing; sign with a current key only (`gatehouse namespace key list %s`) or register a new one with `gatehouse namespace key add %s KEY.pub`",
					k.ID, ns, k.CompromisedAt.UTC().Format(time.RFC3339), k.CompromisedReason, ns, ns)
			}
		}
	}
	return ""
}

// retiredKey names a signer among ids that was retired from ns; "" when
// there is none.
func retiredKey(ns string, ids []string, keys []domain.PublisherKey) string {
	for _, id := range ids {
		for _, k := range keys {
			if k.ID == id && !k.RetiredAt.IsZero() {
				return fmt.Sprintf("publisher signature: key ID %s was retired from namespace %s at %s and signs no new version; sign with a current key (`gatehouse namespace key list %s`) or register a new one with `gatehouse namespace key add %s KEY.pub`",
					k.ID, ns, k.RetiredAt.UTC().Format(time.RFC3339), ns, ns)
			}
		}
	}
	return ""
}

// unregisteredKey says which key signed a package the namespace ns does
// not accept signatures by, and what to do about it.
func unregisteredKey(ns string, ids []string) string {
	return fmt.Sprintf("publisher signature: key ID %s is not registered for namespace %s; register it with `gatehouse namespace key add %s KEY.pub` (the public half of the key you signed with), or sign with a key the namespace has (`gatehouse namespace key list %s`)",
		strings.Join(ids, ", "), ns, ns, ns)
}

// keepSignature stores the signature of version v, if any.
func (s *Service) keepSignature(ctx context.Context, p domain.Principal, v domain.Version, sig *signedBy) error {
	if sig == nil {
		return nil
	}
	ev := audit.Event{Time: s.Now(), Actor: p.Subject, Action: audit.SubmissionSignature, Subject: "submission:" + v.ID, Reason: "publisher signature by key " + sig.keyID}
	if sig.sigstore {
		ev.Reason = "publisher signature (Sigstore bundle) by " + sig.keyID
	}
	return s.Store.PutSignature(ctx, domain.Signature{VersionID: v.ID, KeyID: sig.keyID, Envelope: sig.envelope, CreatedAt: s.Now()}, ev)
}

// Sign signs a package as its publisher: a DSSE envelope over the
// package's digest naming the plugin and version its manifest declares.
// It is what `gatehouse plugin sign` writes and tests submit.
func Sign(ctx context.Context, signer trust.Signer, pkg []byte) (*dsse.Envelope, error) {
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("reading the package: %w", err)
	}
	m, err := manifest.Parse(p.Manifest(), manifest.Options{})
	if err != nil {
		return nil, fmt.Errorf("reading the package's manifest: %w", err)
	}
	return trust.SignPackage(ctx, signer, p.Digest, m.ID, m.Version)
}

// Cosign adds signer's signature to env, another key's publisher
// signature over pkg (trust.CosignPackage): the package is read again so
// a signature over other bytes is refused here, not at submission.
func Cosign(ctx context.Context, signer trust.Signer, pkg []byte, env *dsse.Envelope) (*dsse.Envelope, error) {
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("reading the package: %w", err)
	}
	return trust.CosignPackage(ctx, signer, env, p.Digest)
}
