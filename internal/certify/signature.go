package certify

import (
	"fmt"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/sigstore"
	"gatehouse.dev/gatehouse/trust"
)

// VerifiedSignature is a publisher signature checked against a namespace's
// keys and identities: a DSSE envelope (`gatehouse plugin sign`) or a
// Sigstore bundle (`cosign sign-blob --bundle`).
type VerifiedSignature struct {
	KeyID string
	// Envelope is set for the DSSE form, with the plugin and version it
	// names.
	Envelope          *dsse.Envelope
	PluginID, Version string
	// Bundle and Sigstore are set for the Sigstore form. A bundle names
	// no plugin: its digest is the package's, whose manifest names it.
	Bundle   []byte
	Sigstore *trust.SigstoreSignature
}

// CertificateInput fills in the publisher half of a certificate.
func (v *VerifiedSignature) certificateInput(in *trust.CertificateInput) {
	in.PublisherSignature, in.PublisherBundle, in.PublisherBundleSig = v.Envelope, v.Bundle, v.Sigstore
}

// SignatureCheck is what VerifySignature checks a signature against.
type SignatureCheck struct {
	// Keys are the namespace's keys and keyless identities to accept
	// (callers leave out the compromised ones, and the retired ones where
	// only current keys may sign).
	Keys []domain.PublisherKey
	// Root is the Sigstore trusted root keyless bundles chain to (nil:
	// keyless bundles are refused).
	Root root.TrustedMaterial
	// ReceivedAt is when the marketplace received the signature: a keyed
	// Sigstore bundle's key must have been active then.
	ReceivedAt time.Time
}

// VerifySignature checks a publisher signature of either form over digest.
// Errors wrap the trust package's reasons (trust.ErrUnknownKey and the
// rest).
func VerifySignature(raw []byte, digest string, c SignatureCheck) (*VerifiedSignature, error) {
	if trust.IsSigstoreBundle(raw) {
		b, err := sigstore.Parse(raw)
		if err != nil {
			return nil, err
		}
		kr, err := Keyring(c.Keys)
		if err != nil {
			return nil, err
		}
		st := sigstore.Trust{Keys: kr, Root: c.Root, KeyTime: c.ReceivedAt}
		windows := map[string]time.Time{}
		for _, k := range c.Keys {
			if k.Algorithm != trust.AlgorithmSigstoreOIDC {
				continue
			}
			id, err := trust.ParseSigstoreIdentity(k.PEM)
			if err != nil {
				return nil, fmt.Errorf("stored identity %s of namespace %s: %w", k.ID, k.Namespace, err)
			}
			st.Identities = append(st.Identities, id)
			windows[id.ID()] = k.RetiredAt
		}
		sig, err := sigstore.Verify(b, digest, st)
		if err != nil {
			return nil, err
		}
		// A keyless identity removed from the namespace vouches for what
		// it signed before its removal, by the verified timestamp.
		if end := windows[sig.KeyID]; sig.Keyless() && !end.IsZero() && sig.SignedAt.After(end) {
			return nil, fmt.Errorf("Sigstore bundle: %w: identity %s was removed at %s, and the signature is timestamped %s", trust.ErrKeyNotActive, sig.Identity, end.UTC().Format(time.RFC3339), sig.SignedAt.Format(time.RFC3339))
		}
		return &VerifiedSignature{KeyID: sig.KeyID, Bundle: raw, Sigstore: sig}, nil
	}
	env, err := trust.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	kr, err := Keyring(c.Keys)
	if err != nil {
		return nil, err
	}
	ps, err := trust.VerifyPackageSignature(env, digest, kr)
	if err != nil {
		return nil, err
	}
	return &VerifiedSignature{KeyID: ps.KeyID, Envelope: env, PluginID: ps.PluginID, Version: ps.Version}, nil
}

// CheckSubject checks that a DSSE signature names pluginID@version (a
// Sigstore bundle names no plugin and passes).
func (v *VerifiedSignature) CheckSubject(pluginID, version string) error {
	if v.Envelope == nil || (v.PluginID == pluginID && v.Version == version) {
		return nil
	}
	return fmt.Errorf("the publisher signature is for %s, but the manifest says %s: %w", trust.SubjectName(v.PluginID, v.Version), trust.SubjectName(pluginID, version), trust.ErrWrongSubject)
}

// SignerOf names who made a signature without verifying it: the key ids a
// DSSE envelope names, or the key or identity a Sigstore bundle verifies
// with among keys, windows ignored. It is for explaining a refusal.
func SignerOf(raw []byte, digest string, keys []domain.PublisherKey, r root.TrustedMaterial) []string {
	if !trust.IsSigstoreBundle(raw) {
		env, err := trust.ParseEnvelope(raw)
		if err != nil {
			return nil
		}
		var ids []string
		for _, s := range env.Signatures {
			ids = append(ids, s.KeyID)
		}
		return ids
	}
	open := make([]domain.PublisherKey, len(keys))
	for i, k := range keys {
		k.RetiredAt = time.Time{}
		open[i] = k
	}
	v, err := VerifySignature(raw, digest, SignatureCheck{Keys: open, Root: r})
	if err != nil {
		return nil
	}
	return []string{v.KeyID}
}
