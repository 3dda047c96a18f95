package verify

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

const origin = "gatehouse.example/log"

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// world is a marketplace (keys, log) and a publisher, built from real parts.
type world struct {
	t           testing.TB
	market      *trust.FileSigner
	marketKeys  *trust.Keyring
	publisher   *trust.FileSigner
	log         *tlog.Log
	logDir      string
	verifier    note.Verifier
	logSigner   note.Signer
	revIssued   time.Time
	revocations *dsse.Envelope
	revNumber   uint64
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t}
	var err error
	w.market = mustKey(t, trust.Ed25519)
	w.marketKeys, err = trust.NewKeyring(trust.Key{PublicKey: w.market.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	w.publisher = mustKey(t, trust.ECDSAP256)
	logKey := mustKey(t, trust.Ed25519)
	ns, err := tlog.NewNoteSigner(origin, logKey)
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := tlog.VerifierKey(origin, logKey.PublicKey())
	w.verifier, _ = tlog.NewVerifier(vkey)
	w.logSigner = ns
	w.revIssued = t0
	w.logDir = t.TempDir()
	w.log, err = tlog.Open(w.logDir, tlog.Options{Origin: origin, Signer: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.log.Close() })
	w.revoke() // an empty list
	return w
}

func mustKey(t testing.TB, alg trust.Algorithm) *trust.FileSigner {
	s, err := trust.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pack builds a real package for id@version with a module of moduleSize
// random-looking bytes.
func pack(t testing.TB, id, version string, moduleSize int) []byte {
	t.Helper()
	m := `{"manifestVersion":1,"id":"` + id + `","version":"` + version + `","name":"x","owners":[{"name":"a"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	mod := make([]byte, moduleSize)
	x := uint32(2463534242)
	for i := range mod {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		mod[i] = byte(x)
	}
	copy(mod, "\x00asm\x01\x00\x00\x00")
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: mod}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// certify signs pkg as the publisher, certifies it as the marketplace,
// logs the certificate and returns the bundle.
func (w *world) certify(pkg []byte, id, version string, perms []string, issued time.Time, life time.Duration) *Bundle {
	t := w.t
	ctx := context.Background()
	digest := digestOf(pkg)
	pubEnv, err := trust.SignPackageAt(ctx, w.publisher, digest, id, version, issued.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := trust.IssueCertificate(ctx, w.market, trust.CertificateInput{
		PluginID: id, Version: version, Digest: digest, Permissions: perms, RiskTier: "low",
		Checks: []string{"malware", "licence"}, PolicyDigest: "sha256:" + strings.Repeat("ab", 32),
		VulnDBVersion: "osv-2026-11-01", Reviewers: []string{"rev@example.com"},
		IssuedAt: issued, Lifetime: life, PublisherSignature: pubEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := trust.CertificateEvent(trust.EventCertificateIssued, cert)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := trust.MarshalEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := w.log.Append(ctx, entry)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := w.publisher.PublicKey().MarshalPEM()
	b := &Bundle{MediaType: BundleMediaType, PublisherSignature: pubEnv, PublisherKey: string(pemKey), Certificate: cert,
		Log: LogProof{Index: idx, Entry: entry}}
	w.refresh(b)
	return b
}

// refresh points the bundle's proof at the log's current checkpoint.
func (w *world) refresh(b *Bundle) {
	cp, signed := w.log.Checkpoint()
	p, err := w.log.InclusionProof(b.Log.Index, cp.Size)
	if err != nil {
		w.t.Fatal(err)
	}
	b.Log.InclusionProof, b.Log.Checkpoint = p, string(signed)
}

func (w *world) revoke(entries ...trust.Revocation) {
	w.revNumber++
	l, err := trust.NewRevocationList(w.revNumber, w.revIssued, w.revIssued.Add(7*24*time.Hour), entries)
	if err != nil {
		w.t.Fatal(err)
	}
	w.revocations, err = trust.SignRevocationList(context.Background(), w.market, l)
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) options(stateDir string, now time.Time) Options {
	return Options{
		MarketplaceKeys:  w.marketKeys,
		LogVerifier:      w.verifier,
		StateDir:         stateDir,
		Prover:           tlog.TileProver{Fetch: func(_ context.Context, p string) ([]byte, error) { return os.ReadFile(filepath.Join(w.logDir, p)) }},
		Revocations:      w.revocations,
		RevocationMaxAge: 14 * 24 * time.Hour,
		Policy:           Policy{Allow: []string{"kv:*", "net:https://api.example.com"}},
		Now:              func() time.Time { return now },
	}
}

func digestOf(pkg []byte) string {
	p, err := pkgfile.Read(bytes.NewReader(pkg), pkgfile.DefaultLimits())
	if err != nil {
		panic(err)
	}
	return p.Digest
}

func wantCheck(t *testing.T, err error, c Check, reason error) {
	t.Helper()
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a %s failure", err, c)
	}
	if ve.Check != c {
		t.Fatalf("failed check %s (%v), want %s", ve.Check, ve.Err, c)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Fatalf("err = %v, want reason %v", err, reason)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	pkg := pack(t, "acme/hello", "1.2.0", 4096)
	now := t0.Add(24 * time.Hour)
	b := w.certify(pkg, "acme/hello", "1.2.0", []string{"kv:read"}, t0, 30*24*time.Hour)

	t.Run("happy path", func(t *testing.T) {
		state := t.TempDir()
		res, err := Verify(ctx, pkg, b, w.options(state, now))
		if err != nil {
			t.Fatal(err)
		}
		if res.PluginID != "acme/hello" || res.Version != "1.2.0" || res.PublisherKeyID != w.publisher.KeyID() || res.MarketplaceKeyID != w.market.KeyID() {
			t.Errorf("result = %+v", res)
		}
		if _, err := os.Stat(filepath.Join(state, stateFile)); err != nil {
			t.Errorf("state not written: %v", err)
		}
		// The bundle survives a round trip through its file form.
		data, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := ParseBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(ctx, pkg, b2, w.options(state, now)); err != nil {
			t.Fatalf("after a round trip: %v", err)
		}
		// With the host's own publisher keyring instead of the bundle's key.
		opts := w.options(t.TempDir(), now)
		opts.PublisherKeys, _ = trust.NewKeyring(trust.Key{PublicKey: w.publisher.PublicKey()})
		if _, err := Verify(ctx, pkg, b, opts); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("one flipped byte in the package", func(t *testing.T) {
		bad := bytes.Clone(pkg)
		bad[len(bad)/2] ^= 1
		_, err := Verify(ctx, bad, b, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckDigest, trust.ErrWrongDigest)
	})

	t.Run("a certificate moved to another plugin", func(t *testing.T) {
		// The thief's package is genuinely signed by the thief's publisher
		// key and uses the victim's certificate and log proof.
		other := pack(t, "evil/hello", "1.2.0", 4096)
		moved := *b
		_, err := Verify(ctx, other, &moved, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckDigest, trust.ErrWrongDigest)
		// Even a certificate issued for the same bytes under another name
		// fails: the subject is the manifest's id@version.
		wrong := w.certify(pkg, "acme/other", "1.2.0", nil, t0, 30*24*time.Hour)
		_, err = Verify(ctx, pkg, wrong, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckSubject, trust.ErrWrongSubject)
	})

	t.Run("an expired certificate", func(t *testing.T) {
		_, err := Verify(ctx, pkg, b, w.options(t.TempDir(), t0.Add(31*24*time.Hour)))
		wantCheck(t, err, CheckValidity, trust.ErrExpired)
		_, err = Verify(ctx, pkg, b, w.options(t.TempDir(), t0.Add(-time.Minute)))
		wantCheck(t, err, CheckValidity, trust.ErrNotYetValid)
	})

	t.Run("a signature by an unregistered key", func(t *testing.T) {
		intruder := mustKey(t, trust.Ed25519)
		env, err := trust.SignPackageAt(ctx, intruder, digestOf(pkg), "acme/hello", "1.2.0", t0)
		if err != nil {
			t.Fatal(err)
		}
		forged := *b
		forged.PublisherSignature = env
		// A host with its own publisher keyring refuses the unknown key.
		opts := w.options(t.TempDir(), now)
		opts.PublisherKeys, _ = trust.NewKeyring(trust.Key{PublicKey: w.publisher.PublicKey()})
		_, err = Verify(ctx, pkg, &forged, opts)
		wantCheck(t, err, CheckPublisherSignature, trust.ErrUnknownKey)
		// A host relying on the bundle's key refuses it too: the intruder's
		// key does not verify against the bundle key, and swapping that in
		// as well is caught by the certificate, which names the real key.
		pemKey, _ := intruder.PublicKey().MarshalPEM()
		forged.PublisherKey = string(pemKey)
		_, err = Verify(ctx, pkg, &forged, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckPublisherSignature, trust.ErrUnknownKey)
	})

	t.Run("an unregistered publisher key is named as the publisher signature", func(t *testing.T) {
		// Guards the reason a host reads: the package is genuinely signed
		// with the key its bundle carries, but that is not the key the
		// marketplace certified, so the publisher signature is what fails.
		intruder := mustKey(t, trust.Ed25519)
		env, err := trust.SignPackageAt(ctx, intruder, digestOf(pkg), "acme/hello", "1.2.0", t0)
		if err != nil {
			t.Fatal(err)
		}
		forged := *b
		forged.PublisherSignature = env
		pemKey, _ := intruder.PublicKey().MarshalPEM()
		forged.PublisherKey = string(pemKey)
		_, err = Verify(ctx, pkg, &forged, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckPublisherSignature, trust.ErrUnknownKey)
		want := "publisher signature: key ID " + intruder.KeyID() + " is not registered for namespace acme"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	})

	t.Run("a certificate signed by another marketplace", func(t *testing.T) {
		rogue := newWorld(t)
		rogue.publisher = w.publisher
		rb := rogue.certify(pkg, "acme/hello", "1.2.0", []string{"kv:read"}, t0, 30*24*time.Hour)
		_, err := Verify(ctx, pkg, rb, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckCertificateSignature, trust.ErrUnknownKey)
	})

	t.Run("a checkpoint signed by another key", func(t *testing.T) {
		otherLog := mustKey(t, trust.Ed25519)
		ns, _ := tlog.NewNoteSigner(origin, otherLog)
		text := b.Log.Checkpoint[:strings.Index(b.Log.Checkpoint, "\n\n")+1]
		signed, err := note.Sign(&note.Note{Text: text}, ns)
		if err != nil {
			t.Fatal(err)
		}
		forged := *b
		forged.Log.Checkpoint = string(signed)
		_, err = Verify(ctx, pkg, &forged, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckCheckpoint, nil)
	})

	t.Run("an inclusion proof for another entry", func(t *testing.T) {
		other := w.certify(pack(t, "acme/second", "0.1.0", 100), "acme/second", "0.1.0", nil, t0, 30*24*time.Hour)
		w.refresh(b)
		forged := *b
		forged.Log.InclusionProof = other.Log.InclusionProof
		_, err := Verify(ctx, pkg, &forged, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckInclusion, tlog.ErrProof)
		// The other entry with its own proof is genuine, but it is not
		// this certificate's entry.
		forged.Log = other.Log
		_, err = Verify(ctx, pkg, &forged, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckInclusion, trust.ErrWrongDigest)
	})

	t.Run("a checkpoint older than the last one seen", func(t *testing.T) {
		state := t.TempDir()
		old := *b
		w.refresh(b)
		if _, err := Verify(ctx, pkg, b, w.options(state, now)); err != nil {
			t.Fatal(err)
		}
		w.certify(pack(t, "acme/third", "0.1.0", 100), "acme/third", "0.1.0", nil, t0, 30*24*time.Hour)
		w.refresh(b)
		// A newer checkpoint is accepted with a consistency proof from the
		// tiles, and the state moves on.
		if _, err := Verify(ctx, pkg, b, w.options(state, now)); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(ctx, pkg, &old, w.options(state, now))
		wantCheck(t, err, CheckConsistency, ErrRollback)
	})

	t.Run("a forked log", func(t *testing.T) {
		state := t.TempDir()
		w.refresh(b)
		if _, err := Verify(ctx, pkg, b, w.options(state, now)); err != nil {
			t.Fatal(err)
		}
		// The log key signs a second history that holds the certificate
		// but not what the host saw before, and serves its tiles.
		forkDir := t.TempDir()
		fork, err := tlog.Open(forkDir, tlog.Options{Origin: origin, Signer: w.logSigner})
		if err != nil {
			t.Fatal(err)
		}
		defer fork.Close()
		for range w.log.Size() {
			fork.Append(ctx, []byte("something else"))
		}
		idx, err := fork.Append(ctx, b.Log.Entry)
		if err != nil {
			t.Fatal(err)
		}
		cp, signed := fork.Checkpoint()
		p, _ := fork.InclusionProof(idx, cp.Size)
		forked := *b
		forked.Log.Index, forked.Log.InclusionProof, forked.Log.Checkpoint = idx, p, string(signed)
		opts := w.options(state, now)
		opts.Prover = tlog.TileProver{Fetch: func(_ context.Context, p string) ([]byte, error) { return os.ReadFile(filepath.Join(forkDir, p)) }}
		_, err = Verify(ctx, pkg, &forked, opts)
		wantCheck(t, err, CheckConsistency, tlog.ErrProof)
	})

	t.Run("a revoked digest", func(t *testing.T) {
		w.revoke(trust.Revocation{Digest: digestOf(pkg), Reason: "malware found", Time: t0})
		defer w.revoke()
		_, err := Verify(ctx, pkg, b, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckRevoked, ErrRevoked)
	})

	t.Run("a revocation list past its next-update time", func(t *testing.T) {
		_, err := Verify(ctx, pkg, b, w.options(t.TempDir(), t0.Add(8*24*time.Hour)))
		wantCheck(t, err, CheckRevocationList, trust.ErrStaleList)
	})

	t.Run("an older revocation list after a newer one", func(t *testing.T) {
		state := t.TempDir()
		stale := w.revocations
		w.revoke()
		if _, err := Verify(ctx, pkg, b, w.options(state, now)); err != nil {
			t.Fatal(err)
		}
		opts := w.options(state, now)
		opts.Revocations = stale
		_, err := Verify(ctx, pkg, b, opts)
		wantCheck(t, err, CheckRevocationList, trust.ErrRollback)
	})

	t.Run("a permission the host does not accept", func(t *testing.T) {
		nb := w.certify(pkg, "acme/hello", "1.2.0", []string{"kv:read", "net:https://evil.example"}, t0, 30*24*time.Hour)
		_, err := Verify(ctx, pkg, nb, w.options(t.TempDir(), now))
		wantCheck(t, err, CheckPolicy, ErrNotAllowed)
	})

	t.Run("a damaged state file is a setup failure, not a reset", func(t *testing.T) {
		state := t.TempDir()
		if err := os.WriteFile(filepath.Join(state, stateFile), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(ctx, pkg, b, w.options(state, now))
		wantCheck(t, err, CheckSetup, nil)
	})
}

// TestRevocationRollbackAfterRefusal guards against replaying an older
// revocation list at a host that refused a package because a newer list
// revoked it: the newer list is recorded although the verdict was a refusal.
func TestRevocationRollbackAfterRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	pkg := pack(t, "acme/hello", "1.2.0", 4096)
	now := t0.Add(24 * time.Hour)
	b := w.certify(pkg, "acme/hello", "1.2.0", []string{"kv:read"}, t0, 30*24*time.Hour)
	state := t.TempDir()
	older := w.revocations
	w.revoke(trust.Revocation{Digest: digestOf(pkg), Reason: "malware found", Time: t0})
	_, err := Verify(ctx, pkg, b, w.options(state, now))
	wantCheck(t, err, CheckRevoked, ErrRevoked)

	opts := w.options(state, now)
	opts.Revocations = older
	_, err = Verify(ctx, pkg, b, opts)
	wantCheck(t, err, CheckRevocationList, ErrRevocationRollback)
	if !errors.Is(err, trust.ErrRollback) || !strings.Contains(err.Error(), "revocation list 1 is older than list 2 already seen") {
		t.Errorf("err = %v, want it to name both list numbers", err)
	}
}

// TestStateRecordedWhateverTheVerdict guards the host's memory: a genuine
// newer checkpoint and revocation list are recorded even when the package
// fails an earlier check, so neither can be rolled back afterwards.
func TestStateRecordedWhateverTheVerdict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	pkg := pack(t, "acme/hello", "1.2.0", 4096)
	now := t0.Add(24 * time.Hour)
	b := w.certify(pkg, "acme/hello", "1.2.0", []string{"kv:read"}, t0, 30*24*time.Hour)
	state := t.TempDir()
	if _, err := Verify(ctx, pkg, b, w.options(state, now)); err != nil {
		t.Fatal(err)
	}
	old := *b
	w.certify(pack(t, "acme/other", "0.1.0", 100), "acme/other", "0.1.0", nil, t0, 30*24*time.Hour)
	w.refresh(b)
	older := w.revocations
	w.revoke()

	// A package damaged in transit fails its first check, yet the newer
	// checkpoint and list it came with are recorded.
	bad := bytes.Clone(pkg)
	bad[len(bad)/2] ^= 1
	_, err := Verify(ctx, bad, b, w.options(state, now))
	wantCheck(t, err, CheckDigest, trust.ErrWrongDigest)

	_, err = Verify(ctx, pkg, &old, w.options(state, now))
	wantCheck(t, err, CheckConsistency, ErrRollback)
	opts := w.options(state, now)
	opts.Revocations = older
	_, err = Verify(ctx, pkg, b, opts)
	wantCheck(t, err, CheckRevocationList, ErrRevocationRollback)
	if _, err := Verify(ctx, pkg, b, w.options(state, now)); err != nil {
		t.Fatalf("the current bundle and list: %v", err)
	}
}

// TestObserve guards what a refresh records: the newest genuine checkpoint
// and list, never a tampered or older one.
func TestObserve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	now := t0.Add(24 * time.Hour)
	w.certify(pack(t, "acme/hello", "1.2.0", 100), "acme/hello", "1.2.0", nil, t0, 30*24*time.Hour)
	state := t.TempDir()
	_, signed := w.log.Checkpoint()
	older := w.revocations
	w.revoke()

	t.Run("a tampered list is refused and not recorded", func(t *testing.T) {
		tampered := *w.revocations
		tampered.Signatures = slices.Clone(w.revocations.Signatures)
		tampered.Payload = strings.Replace(tampered.Payload, tampered.Payload[10:14], "AAAA", 1)
		opts := w.options(state, now)
		opts.Revocations = &tampered
		_, err := Observe(ctx, signed, opts)
		wantCheck(t, err, CheckRevocationList, nil)
		st, err := loadState(state)
		if err != nil {
			t.Fatal(err)
		}
		if st.RevocationNumber != 0 {
			t.Errorf("a tampered list recorded number %d", st.RevocationNumber)
		}
	})

	t.Run("the newest list and checkpoint are recorded", func(t *testing.T) {
		obs, err := Observe(ctx, signed, w.options(state, now))
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Recorded || obs.RevocationList.Number != 2 || obs.Checkpoint.Size != w.log.Size() {
			t.Errorf("observed %+v", obs)
		}
		opts := w.options(state, now)
		opts.Revocations = older
		_, err = Observe(ctx, signed, opts)
		wantCheck(t, err, CheckRevocationList, ErrRevocationRollback)
	})

	t.Run("a tampered checkpoint is refused", func(t *testing.T) {
		forged := strings.Replace(string(signed), "\n1\n", "\n7\n", 1)
		_, err := Observe(ctx, []byte(forged), w.options(state, now))
		wantCheck(t, err, CheckCheckpoint, nil)
	})
}

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	pkg := pack(t, "acme/hello", "1.0.0", 1000)
	oldCert := w.certify(pkg, "acme/hello", "1.0.0", []string{"kv:read"}, t0, 90*24*time.Hour)

	// Rotate the marketplace key ten days later: the old key is retired,
	// not removed.
	rotation := t0.Add(10 * 24 * time.Hour)
	oldKey := w.market
	w.market = mustKey(t, trust.Ed25519)
	if err := w.marketKeys.Retire(oldKey.KeyID(), rotation); err != nil {
		t.Fatal(err)
	}
	if err := w.marketKeys.Add(trust.Key{PublicKey: w.market.PublicKey(), NotBefore: rotation}); err != nil {
		t.Fatal(err)
	}
	w.revIssued = rotation
	w.revoke() // the current list is signed by the new key
	w.refresh(oldCert)
	now := rotation.Add(24 * time.Hour)
	res, err := Verify(ctx, pkg, oldCert, w.options(t.TempDir(), now))
	if err != nil {
		t.Fatalf("a certificate signed before the rotation no longer verifies: %v", err)
	}
	if res.MarketplaceKeyID != oldKey.KeyID() {
		t.Errorf("verified with %s, want the retired key %s", res.MarketplaceKeyID, oldKey.KeyID())
	}

	// The retired key cannot sign anything new.
	w.market = oldKey
	late := w.certify(pkg, "acme/hello", "1.0.0", []string{"kv:read"}, rotation.Add(time.Hour), 30*24*time.Hour)
	_, err = Verify(ctx, pkg, late, w.options(t.TempDir(), now))
	wantCheck(t, err, CheckCertificateSignature, trust.ErrKeyNotActive)
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p := Policy{Allow: []string{"kv:*", "net:https://api.example.com"}}
	for perm, want := range map[string]bool{
		"kv:read": true, "kv:write": true, "net:https://api.example.com": true,
		"net:https://api.example.com.evil": false, "secret:X": false, "": false,
	} {
		if p.Accepts(perm) != want {
			t.Errorf("Accepts(%q) = %v", perm, !want)
		}
	}
	if (Policy{}).Accepts("kv:read") {
		t.Error("the empty policy accepted a permission")
	}
	if _, err := ParsePolicy([]byte(`{"allow":["kv:read"],"extra":1}`)); err == nil {
		t.Error("unknown field accepted")
	}
	for _, bad := range []string{
		`{"plugins": {"": {"permissions": []}}}`,
		`{"plugins": {"acme/x y": {"permissions": []}}}`,
		`{"plugins": {"acme/x": {"permissions": [""]}}}`,
		`{"plugins": {"acme/x": {"permissions": [], "extra": 1}}}`,
		`{"allow": [""]}`,
		`{"allow": []} {}`,
	} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("ParsePolicy(%s) accepted it", bad)
		}
	}
}

// TestPolicyCheck: which plugins and permissions each form of a policy
// lets through (see TestAISWAPolicyAllowsExactlyWhatItLists in cli for
// the files through verify and install).
func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	allow := Policy{Allow: []string{"kv:*"}}
	aiswa := Policy{Plugins: map[string]PluginRule{"acme/a": {Permissions: []string{"kv:read"}}, "acme/none": {}}}
	both := Policy{Allow: []string{"net:*"}, Plugins: map[string]PluginRule{"acme/a": {Permissions: []string{"kv:read", "net:*"}}}}
	for _, tc := range []struct {
		name  string
		p     Policy
		id    string
		perms []string
		ok    bool
	}{
		{"empty policy, no permissions", Policy{}, "acme/a", nil, true},
		{"empty policy, a permission", Policy{}, "acme/a", []string{"kv:read"}, false},
		{"allow list", allow, "any/plugin", []string{"kv:write"}, true},
		{"allow list refuses", allow, "any/plugin", []string{"net:https://x"}, false},
		{"listed", aiswa, "acme/a", []string{"kv:read"}, true},
		{"listed, another permission", aiswa, "acme/a", []string{"kv:write"}, false},
		{"listed with none, none granted", aiswa, "acme/none", nil, true},
		{"not listed, none granted", aiswa, "acme/b", nil, false},
		{"empty plugins", Policy{Plugins: map[string]PluginRule{}}, "acme/a", nil, false},
		{"both accept", both, "acme/a", []string{"net:https://x"}, true},
		{"entry accepts, allow does not", both, "acme/a", []string{"kv:read"}, false},
	} {
		err := tc.p.Check(tc.id, tc.perms)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNotAllowed)) {
			t.Errorf("%s: Check(%s, %v) = %v, want ok %v", tc.name, tc.id, tc.perms, err, tc.ok)
		}
	}
}
