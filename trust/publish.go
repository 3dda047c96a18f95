package trust

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PredicatePublish is the predicate type of a publisher's package signature.
const PredicatePublish = "https://gatehouse.dev/publish/v1"

// publishPredicate is what the publisher asserts besides the subject.
type publishPredicate struct {
	SignedAt time.Time `json:"signedAt"`
}

// PackageSignature is a verified publisher signature.
type PackageSignature struct {
	KeyID    string
	PluginID string
	Version  string
	Digest   string // "sha256:HEX"
	SignedAt time.Time
}

// SignPackage signs a package digest ("sha256:HEX") as its publisher: a DSSE
// envelope around an in-toto statement whose subject is
// {name: "namespace/name@version", digest: {sha256: HEX}}.
func SignPackage(ctx context.Context, s Signer, digest, pluginID, version string) (*dsse.Envelope, error) {
	return SignPackageAt(ctx, s, digest, pluginID, version, time.Now())
}

// SignPackageAt is SignPackage with the signing time given.
func SignPackageAt(ctx context.Context, s Signer, digest, pluginID, version string, at time.Time) (*dsse.Envelope, error) {
	payload, err := newStatement(digest, pluginID, version, PredicatePublish, publishPredicate{SignedAt: at.UTC().Truncate(time.Second)})
	if err != nil {
		return nil, err
	}
	return SignEnvelope(ctx, s, PayloadTypeInToto, payload)
}

// VerifyPackageSignature checks that env is a publisher signature over
// digest by a key in keyring that was active when it was signed. The error
// names the reason: ErrWrongDigest, ErrUnknownKey, ErrBadSignature,
// ErrKeyNotActive or ErrMalformed.
//
// The plugin id and version in the subject are returned, not checked: the
// caller compares them with the package's manifest.
func VerifyPackageSignature(env *dsse.Envelope, digest string, keyring *Keyring) (*PackageSignature, error) {
	if _, err := digestHex(digest); err != nil {
		return nil, err
	}
	payload, key, err := OpenEnvelope(env, PayloadTypeInToto, keyring)
	if err != nil {
		return nil, fmt.Errorf("publisher signature: %w", err)
	}
	var pred publishPredicate
	st, err := parseStatement(payload, PredicatePublish, &pred)
	if err != nil {
		return nil, fmt.Errorf("publisher signature: %w", err)
	}
	got, _ := st.SubjectDigest()
	if got != digest {
		return nil, fmt.Errorf("publisher signature: %w: it signs %s, the package is %s", ErrWrongDigest, got, digest)
	}
	if !key.ActiveAt(pred.SignedAt) {
		return nil, fmt.Errorf("publisher signature: %w: key %s signed at %s, outside its window", ErrKeyNotActive, key.ID, pred.SignedAt.Format(time.RFC3339))
	}
	id, version, err := splitSubjectName(st.Subject[0].Name)
	if err != nil {
		return nil, fmt.Errorf("publisher signature: %w", err)
	}
	return &PackageSignature{KeyID: key.ID, PluginID: id, Version: version, Digest: got, SignedAt: pred.SignedAt}, nil
}

// splitSubjectName splits "namespace/name@version".
func splitSubjectName(s string) (id, version string, err error) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			if i == 0 || i == len(s)-1 {
				break
			}
			return s[:i], s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("%w: subject name %q is not \"namespace/name@version\"", ErrMalformed, s)
}

// CosignPackage adds s's signature to env, a publisher signature over
// digest that another key made: the same statement, signed again, so the
// version stays vouched for when one of its keys is later retired or
// reported compromised. env is not changed; the co-signed envelope is
// returned. It refuses an envelope over another digest, one s has signed
// already, and one that would carry more than MaxSignatures signatures.
// The signatures already in env are not verified (their keys' public
// halves are the marketplace's to check).
func CosignPackage(ctx context.Context, s Signer, env *dsse.Envelope, digest string) (*dsse.Envelope, error) {
	if env == nil {
		return nil, fmt.Errorf("%w: no envelope to co-sign", ErrMalformed)
	}
	if _, err := digestHex(digest); err != nil {
		return nil, err
	}
	if env.PayloadType != PayloadTypeInToto {
		return nil, fmt.Errorf("%w: envelope holds %q, want %q", ErrMalformed, env.PayloadType, PayloadTypeInToto)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64: %v", ErrMalformed, err)
	}
	var pred publishPredicate
	st, err := parseStatement(payload, PredicatePublish, &pred)
	if err != nil {
		return nil, fmt.Errorf("co-signing: %w", err)
	}
	if got, _ := st.SubjectDigest(); got != digest {
		return nil, fmt.Errorf("co-signing: %w: the signature signs %s, the package is %s", ErrWrongDigest, got, digest)
	}
	for _, sig := range env.Signatures {
		if sig.KeyID == s.KeyID() {
			return nil, fmt.Errorf("co-signing: key %s signed this package already", s.KeyID())
		}
	}
	if len(env.Signatures) >= MaxSignatures {
		return nil, fmt.Errorf("co-signing: the envelope carries %d signatures already; at most %d are accepted", len(env.Signatures), MaxSignatures)
	}
	one, err := SignEnvelope(ctx, s, PayloadTypeInToto, payload)
	if err != nil {
		return nil, err
	}
	out := &dsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload, Signatures: append(slices.Clone(env.Signatures), one.Signatures...)}
	return out, nil
}
