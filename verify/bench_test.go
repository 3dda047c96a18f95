package verify

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// BenchmarkVerify2MB measures full verification of a certified 2 MB package
// and, in the same run, the raw cost it cannot avoid: hashing the bytes and
// checking the four signatures (publisher, certificate, checkpoint,
// revocation list). It reports both and their ratio.
func BenchmarkVerify2MB(b *testing.B) {
	ctx := context.Background()
	w := newWorld(b)
	pkg := pack(b, "acme/hello", "1.0.0", 2<<20)
	bundle := w.certify(pkg, "acme/hello", "1.0.0", []string{"kv:read"}, t0, 30*24*time.Hour)
	opts := w.options(b.TempDir(), t0.Add(time.Hour))
	if _, err := Verify(ctx, pkg, bundle, opts); err != nil {
		b.Fatal(err)
	}
	pubRing, _ := trust.NewKeyring(trust.Key{PublicKey: w.publisher.PublicKey()})
	digest := digestOf(pkg)

	raw := func() {
		sum := sha256.Sum256(pkg)
		_ = sum
		if _, err := trust.VerifyPackageSignature(bundle.PublisherSignature, digest, pubRing); err != nil {
			b.Fatal(err)
		}
		if _, _, err := trust.VerifyCertificate(bundle.Certificate, w.marketKeys); err != nil {
			b.Fatal(err)
		}
		if _, err := tlog.VerifyCheckpoint([]byte(bundle.Log.Checkpoint), w.verifier); err != nil {
			b.Fatal(err)
		}
		if _, err := trust.VerifyRevocationList(opts.Revocations, w.marketKeys, trust.RevocationCheck{Now: t0.Add(time.Hour), MaxAge: time.Hour * 24 * 14}); err != nil {
			b.Fatal(err)
		}
	}
	var rawTime, fullTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate the two so machine noise hits both alike.
		start := time.Now()
		raw()
		rawTime += time.Since(start)
		start = time.Now()
		if _, err := Verify(ctx, pkg, bundle, opts); err != nil {
			b.Fatal(err)
		}
		fullTime += time.Since(start)
	}
	b.ReportMetric(float64(fullTime.Microseconds())/float64(b.N), "verify-µs/op")
	b.ReportMetric(float64(rawTime.Microseconds())/float64(b.N), "raw-µs/op")
	b.ReportMetric(float64(fullTime)/float64(rawTime), "verify/raw")
}
