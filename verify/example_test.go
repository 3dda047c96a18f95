package verify_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// A host verifies a downloaded package from files alone before loading it.
func Example() {
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			panic(err)
		}
		return b
	}
	keys, err := trust.ParseKeyring(read("plugins/marketplace-keys.json"))
	if err != nil {
		panic(err)
	}
	logKey, err := tlog.NewVerifier(string(read("plugins/log.vkey")))
	if err != nil {
		panic(err)
	}
	revocations, err := trust.ParseEnvelope(read("plugins/revocations.json"))
	if err != nil {
		panic(err)
	}
	bundle, err := verify.ParseBundle(read("plugins/acme-hello-1.2.0.bundle.json"))
	if err != nil {
		panic(err)
	}
	res, err := verify.Verify(context.Background(), read("plugins/acme-hello-1.2.0.gpkg"), bundle, verify.Options{
		MarketplaceKeys:  keys,
		LogVerifier:      logKey,
		StateDir:         "plugins/.state",
		Revocations:      revocations,
		RevocationMaxAge: 7 * 24 * time.Hour,
		Policy:           verify.Policy{Allow: []string{"kv:*"}},
	})
	if err != nil {
		fmt.Println(err) // e.g. "verify: validity-window check failed: certificate: certificate expired: ..."
		return
	}
	fmt.Println("verified", res.PluginID, res.Version, res.Digest)
}
