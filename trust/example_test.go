package trust_test

import (
	"context"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"

	"gatehouse.dev/gatehouse/trust"
)

// Gatehouse's envelopes are plain DSSE, so the ecosystem's own verifier
// checks them. Its one catch is the key id: go-securesystemslib ignores a
// signature whose keyid differs from its verifier's, and it derives a
// key's id its own way (from the key's securesystemslib JSON form). A
// Gatehouse key id is the lowercase hex of the first 16 bytes of the
// SHA-256 of the key's PKIX (DER) encoding, as trust-root.json lists it
// beside each key ("id"); set it on the loaded key before verifying.
func Example_goSecuresystemslib() {
	ctx := context.Background()
	signer, _ := trust.GenerateKey(trust.Ed25519) // the marketplace's key
	env, _ := trust.SignEnvelope(ctx, signer, "application/vnd.gatehouse.example+json", []byte(`{"hello":"world"}`))

	// What a verifier has: the public key's PEM and its id, from the
	// trust root.
	pem, _ := signer.PublicKey().MarshalPEM()
	id := signer.KeyID()

	key, err := signerverifier.LoadKey(pem)
	if err != nil {
		fmt.Println(err)
		return
	}
	verifyWith := func(key *signerverifier.SSLibKey) int {
		sv, err := signerverifier.NewED25519SignerVerifierFromSSLibKey(key)
		if err != nil {
			return -1
		}
		ev, _ := dsse.NewEnvelopeVerifier(sv)
		accepted, err := ev.Verify(ctx, env)
		if err != nil {
			return 0
		}
		return len(accepted)
	}
	fmt.Println("with securesystemslib's own key id:", verifyWith(key))
	key.KeyID = id
	fmt.Println("with the trust root's key id:", verifyWith(key))
	// Output:
	// with securesystemslib's own key id: 0
	// with the trust root's key id: 1
}
