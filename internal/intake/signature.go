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
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// signedBy is a verified publisher signature.
type signedBy struct {
	keyID    string
	envelope []byte // as received, JSON
}

// checkSignature verifies the publisher signature sent with a submission
// against the namespace's current keys. A namespace that requires
// signatures (the default) refuses a submission without one; a signature
// that is sent is always checked, whatever the namespace requires.
func (s *Service) checkSignature(ctx context.Context, ns string, m *manifest.Manifest, digest string, sig []byte) (*signedBy, error) {
	required, err := s.Store.SignaturesRequired(ctx, ns)
	if err != nil {
		return nil, err
	}
	if len(sig) == 0 {
		if required {
			return nil, refuse(Unsigned, "namespace %s requires a publisher signature: sign the package with `gatehouse plugin sign PACKAGE --key KEY` and submit it (the CLI sends PACKAGE.sig; over HTTP, send the envelope base64-encoded in the Gatehouse-Signature header)", ns)
		}
		return nil, nil
	}
	env, err := trust.ParseEnvelope(sig)
	if err != nil {
		return nil, refuse(Unsigned, "the publisher signature is not a DSSE envelope: %v", err)
	}
	keys, err := s.Store.ListPublisherKeys(ctx, ns)
	if err != nil {
		return nil, err
	}
	// Any signature by a key reported stolen refuses the submission, even
	// beside a good one: whoever holds the key may be the one submitting,
	// and the owners must hear why it is refused.
	if msg := compromisedKey(ns, env, keys); msg != "" {
		return nil, refuse(Unsigned, "%s", msg)
	}
	var current []domain.PublisherKey
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			current = append(current, k)
		}
	}
	if len(current) == 0 {
		return nil, refuse(Unsigned, "publisher signature: namespace %s has no registered publisher key: register your public key with `gatehouse namespace key add %s KEY.pub`", ns, ns)
	}
	kr, err := certify.Keyring(current)
	if err != nil {
		return nil, err
	}
	ps, err := trust.VerifyPackageSignature(env, digest, kr)
	if err != nil {
		if errors.Is(err, trust.ErrUnknownKey) {
			return nil, refuse(Unsigned, "%s", unregisteredKey(ns, env, keys))
		}
		return nil, refuse(Unsigned, "the publisher signature does not verify: %v", err)
	}
	if ps.PluginID != m.ID || ps.Version != m.Version {
		return nil, refuse(Unsigned, "the publisher signature is for %s, but the manifest says %s: %v", trust.SubjectName(ps.PluginID, ps.Version), trust.SubjectName(m.ID, m.Version), trust.ErrWrongSubject)
	}
	return &signedBy{keyID: ps.KeyID, envelope: sig}, nil
}

// compromisedKey names a signature of env by a key of ns reported stolen,
// and what to do instead; "" when there is none.
func compromisedKey(ns string, env *dsse.Envelope, keys []domain.PublisherKey) string {
	for _, sig := range env.Signatures {
		for _, k := range keys {
			if k.ID == sig.KeyID && k.Compromised() {
				return fmt.Sprintf("publisher signature: key ID %s of namespace %s was reported compromised at %s (%s) and is trusted for nothing; sign with a current key only (`gatehouse namespace key list %s`) or register a new one with `gatehouse namespace key add %s KEY.pub`",
					k.ID, ns, k.CompromisedAt.UTC().Format(time.RFC3339), k.CompromisedReason, ns, ns)
			}
		}
	}
	return ""
}

// unregisteredKey says which key signed a package the namespace ns does
// not accept signatures by, and what to do about it.
func unregisteredKey(ns string, env *dsse.Envelope, keys []domain.PublisherKey) string {
	var ids []string
	for _, sig := range env.Signatures {
		for _, k := range keys {
			if k.ID == sig.KeyID && !k.RetiredAt.IsZero() {
				return fmt.Sprintf("publisher signature: key ID %s was retired from namespace %s at %s and signs no new version; sign with a current key (`gatehouse namespace key list %s`) or register a new one with `gatehouse namespace key add %s KEY.pub`",
					k.ID, ns, k.RetiredAt.UTC().Format(time.RFC3339), ns, ns)
			}
		}
		ids = append(ids, sig.KeyID)
	}
	return fmt.Sprintf("publisher signature: key ID %s is not registered for namespace %s; register it with `gatehouse namespace key add %s KEY.pub` (the public half of the key you signed with), or sign with a key the namespace has (`gatehouse namespace key list %s`)",
		strings.Join(ids, ", "), ns, ns, ns)
}

// keepSignature stores the signature of version v, if any.
func (s *Service) keepSignature(ctx context.Context, p domain.Principal, v domain.Version, sig *signedBy) error {
	if sig == nil {
		return nil
	}
	ev := audit.Event{Time: s.Now(), Actor: p.Subject, Action: audit.SubmissionSignature, Subject: "submission:" + v.ID, Reason: "publisher signature by key " + sig.keyID}
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
