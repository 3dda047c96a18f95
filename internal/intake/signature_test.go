package intake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/trust"
)

// TestSignatureRefusals: a namespace that requires signatures (the
// default) refuses each bad submission with its own reason and records
// nothing.
func TestSignatureRefusals(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	register(t, st, "acme", publisherKey)
	stranger, _ := trust.GenerateKey(trust.Ed25519)
	p := makePackage(t, "acme/hello", "1.0.0", 100)
	other := makePackage(t, "acme/hello", "1.0.1", 100)
	for name, c := range map[string]struct {
		sig  []byte
		want string
	}{
		"no signature":     {nil, "requires a publisher signature"},
		"unregistered key": {sign(t, stranger, p), "publisher signature: key ID " + stranger.KeyID() + " is not registered for namespace acme; register it with `gatehouse namespace key add acme KEY.pub`"},
		"other package":    {sign(t, publisherKey, other), "digest does not match"},
		"not an envelope":  {[]byte("hello"), "neither a DSSE envelope nor a Sigstore bundle"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), c.sig)
			var ie *intake.Error
			if !errors.As(err, &ie) || ie.Kind != intake.Unsigned || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an Unsigned refusal saying %q", err, c.want)
			}
		})
	}
	// A signature over the right digest naming another plugin.
	pk, _ := trust.SignPackage(ctx, publisherKey, digest(t, p), "acme/other", "1.0.0")
	raw, _ := trust.MarshalEnvelope(pk)
	_, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), raw)
	if err == nil || !strings.Contains(err.Error(), "is for acme/other@1.0.0, but the manifest says acme/hello@1.0.0") {
		t.Fatalf("a signature naming another plugin: %v", err)
	}
	if vs, _ := st.ListVersions(ctx, "acme/hello"); len(vs) != 0 {
		t.Errorf("%d versions recorded by refused submissions", len(vs))
	}

	// A retired key signs no new submission.
	retiredEntry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyRemove, Time: time.Now(), Subject: "acme", Detail: publisherKey.KeyID()})
	if err := st.RetirePublisherKey(ctx, "acme", publisherKey.KeyID(), time.Now(), "alice", retiredEntry, audit.Event{Actor: "alice", Action: audit.PublisherKeyRemoved, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := submit(t, svc, p); err == nil || !strings.Contains(err.Error(), "no registered publisher key") {
		t.Errorf("a submission signed by a retired key: %v", err)
	}
}

func TestSignatureKeptWithVersion(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	register(t, st, "acme", publisherKey)
	p := makePackage(t, "acme/hello", "1.0.0", 100)
	v, created, err := submit(t, svc, p)
	if err != nil || !created {
		t.Fatalf("a signed submission: %v, created %v", err, created)
	}
	sig, err := st.GetSignature(ctx, v.ID)
	if err != nil || sig.KeyID != publisherKey.KeyID() {
		t.Fatalf("the signature kept with the version = %+v, %v", sig, err)
	}
	env, _ := trust.ParseEnvelope(sig.Envelope)
	if _, err := trust.VerifyPackageSignature(env, v.Digest, mustKeyring(t, publisherKey)); err != nil {
		t.Errorf("the kept signature does not verify: %v", err)
	}
}

func TestSignatureOptionalNamespace(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	register(t, st, "lab", publisherKey)
	if err := st.SetSignaturesRequired(ctx, "lab", false, audit.Event{Actor: "admin", Action: audit.NamespaceSignatureRequirement, Subject: "namespace:lab"}); err != nil {
		t.Fatal(err)
	}
	if _, created, err := svc.Submit(ctx, publisher, bytes.NewReader(makePackage(t, "lab/a", "1.0.0", 100))); err != nil || !created {
		t.Fatalf("an unsigned submission to a namespace that does not require signatures: %v", err)
	}
	// A signature that is sent is still checked.
	stranger, _ := trust.GenerateKey(trust.Ed25519)
	p := makePackage(t, "lab/b", "1.0.0", 100)
	if _, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), sign(t, stranger, p)); err == nil {
		t.Error("a signature by an unregistered key was accepted because signatures are optional")
	}
}

// digest is a package's identity: the SHA-256 of its bytes.
func digest(t *testing.T, p []byte) string {
	t.Helper()
	return fmt.Sprintf("sha256:%x", sha256.Sum256(p))
}

func mustKeyring(t *testing.T, keys ...*trust.FileSigner) *trust.Keyring {
	t.Helper()
	kr, err := trust.NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := kr.Add(trust.Key{PublicKey: k.PublicKey()}); err != nil {
			t.Fatal(err)
		}
	}
	return kr
}

// TestUnregisteredPublisherKeyIsNamed guards the reason an author reads: a
// signature by a key the namespace does not have, or no longer has, names
// the publisher signature and the key, not something else.
func TestUnregisteredPublisherKeyIsNamed(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	old, _ := trust.GenerateKey(trust.Ed25519)
	register(t, st, "acme", old)
	register(t, st, "acme", publisherKey)
	retiredEntry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyRemove, Time: time.Now(), Subject: "acme", Detail: old.KeyID()})
	if err := st.RetirePublisherKey(ctx, "acme", old.KeyID(), time.Now(), "alice", retiredEntry, audit.Event{Actor: "alice", Action: audit.PublisherKeyRemoved, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	p := makePackage(t, "acme/hello", "1.0.0", 100)
	_, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), sign(t, old, p))
	if err == nil || !strings.Contains(err.Error(), "publisher signature: key ID "+old.KeyID()+" was retired from namespace acme") {
		t.Errorf("a signature by a retired key: %v", err)
	}
	stranger, _ := trust.GenerateKey(trust.Ed25519)
	_, _, err = svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), sign(t, stranger, p))
	if err == nil || !strings.Contains(err.Error(), "publisher signature: key ID "+stranger.KeyID()+" is not registered for namespace acme; register it with `gatehouse namespace key add acme KEY.pub`") {
		t.Errorf("a signature by an unregistered key: %v", err)
	}
}

// TestSubmissionSignedByCompromisedKeyIsRefused: a key reported stolen
// signs nothing new, even beside a good signature, and the refusal says
// so (not "unregistered", not "retired"), with the fix.
func TestSubmissionSignedByCompromisedKeyIsRefused(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	stolen, _ := trust.GenerateKey(trust.Ed25519)
	register(t, st, "acme", stolen)
	register(t, st, "acme", publisherKey)
	entry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyCompromised, Time: time.Now(), Subject: "acme", Detail: stolen.KeyID()})
	if err := st.CompromisePublisherKey(ctx, "acme", stolen.KeyID(), time.Now(), "alice", "found in a public gist", entry,
		audit.Event{Actor: "alice", Action: audit.PublisherKeyCompromised, Subject: "namespace:acme"}); err != nil {
		t.Fatal(err)
	}
	p := makePackage(t, "acme/hello", "1.0.0", 100)
	want := "publisher signature: key ID " + stolen.KeyID() + " of namespace acme was reported compromised at "
	_, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), sign(t, stolen, p))
	var ie *intake.Error
	if !errors.As(err, &ie) || ie.Kind != intake.Unsigned || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "found in a public gist") ||
		!strings.Contains(err.Error(), "gatehouse namespace key add acme KEY.pub") {
		t.Fatalf("a signature by a compromised key: %v, want an Unsigned refusal saying %q with the reason and the fix", err, want)
	}
	// Beside a good signature over the same statement, still refused.
	at := time.Now()
	env, _ := trust.SignPackageAt(ctx, publisherKey, digest(t, p), "acme/hello", "1.0.0", at)
	bad, _ := trust.SignPackageAt(ctx, stolen, digest(t, p), "acme/hello", "1.0.0", at)
	env.Signatures = append(env.Signatures, bad.Signatures...)
	both, _ := trust.MarshalEnvelope(env)
	if _, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), both); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a package also signed by a compromised key: %v", err)
	}
	if vs, _ := st.ListVersions(ctx, "acme/hello"); len(vs) != 0 {
		t.Errorf("%d versions recorded by refused submissions", len(vs))
	}
	// The good key alone still signs.
	if _, _, err := svc.SubmitSigned(ctx, publisher, bytes.NewReader(p), sign(t, publisherKey, p)); err != nil {
		t.Errorf("a submission signed by the remaining key: %v", err)
	}
}
