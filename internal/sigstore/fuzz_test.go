package sigstore

import (
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/sigstoretest"
	"gatehouse.dev/gatehouse/trust"
)

// FuzzParseSigstoreBundle feeds publisher signatures from outside through
// the Sigstore bundle parser and verifier: none may panic, and nothing but
// the real signature may verify.
func FuzzParseSigstoreBundle(f *testing.F) {
	fx := newSigstoreFixture(f)
	keyed, _ := sigstoretest.KeyedBundle(fx.priv, fx.pkg)
	keyless, _ := fx.ca.KeylessBundle(testSubject, testIssuer, fx.pkg, time.Now().Add(-time.Minute))
	f.Add(keyed)
	f.Add(keyless)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	tr := fx.trust()
	f.Fuzz(func(t *testing.T, data []byte) {
		trust.IsSigstoreBundle(data)
		b, err := Parse(data)
		if err != nil {
			return
		}
		sig, err := Verify(b, fx.digest, tr)
		if err == nil && sig.Digest != fx.digest {
			t.Fatalf("verified for digest %s", sig.Digest)
		}
	})
}
