package intake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

func newService(tb testing.TB) (*intake.Service, store.Store, *blobfs.FS) {
	tb.Helper()
	dir := tb.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	return intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil), st, blobs
}

var publisher = domain.Principal{Subject: "alice", Role: "publisher"}

// publisherKey is alice's signing key, made once for the whole test binary.
var publisherKey = func() *trust.FileSigner {
	k, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		panic(err)
	}
	return k
}()

// register claims namespace ns for alice and registers key on it.
func register(tb testing.TB, st store.Store, ns string, key *trust.FileSigner) {
	tb.Helper()
	ctx := context.Background()
	if _, err := st.GetNamespace(ctx, ns); errors.Is(err, domain.ErrNotFound) {
		if err := st.CreateNamespace(ctx, domain.Namespace{Name: ns, Owners: []string{"alice"}, CreatedAt: time.Now()}, audit.Event{Actor: "alice", Action: audit.NamespaceClaim, Subject: "namespace:" + ns}); err != nil {
			tb.Fatal(err)
		}
	}
	pem, _ := key.PublicKey().MarshalPEM()
	entry, _ := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: time.Now(), Subject: ns, Detail: key.KeyID()})
	if err := st.AddPublisherKey(ctx, domain.PublisherKey{ID: key.KeyID(), Namespace: ns, Algorithm: string(key.Algorithm()), PEM: pem, AddedBy: "alice", AddedAt: time.Now()}, entry,
		audit.Event{Actor: "alice", Action: audit.PublisherKeyAdded, Subject: "namespace:" + ns}); err != nil {
		tb.Fatal(err)
	}
}

// sign returns key's signature over package p, as `gatehouse plugin sign`
// writes it.
func sign(tb testing.TB, key trust.Signer, p []byte) []byte {
	tb.Helper()
	env, err := intake.Sign(context.Background(), key, p)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := trust.MarshalEnvelope(env)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// submit submits p signed with alice's key.
func submit(tb testing.TB, svc *intake.Service, p []byte) (domain.Version, bool, error) {
	return svc.SubmitSigned(context.Background(), publisher, bytes.NewReader(p), sign(tb, publisherKey, p))
}

// makePackage returns a valid package of about size bytes; its bytes
// depend on id, version and size only.
func makePackage(tb testing.TB, id, version string, size int) []byte {
	tb.Helper()
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Bench","description":"Bench.","owners":[{"name":"T","email":"t@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":[]}`, id, version)
	filler := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size), byte(len(version))}).Read(filler)
	copy(filler, "filler:") // never the magic of a nested archive
	var buf bytes.Buffer
	_, err := pkgfile.Write(&buf, []pkgfile.File{
		{Path: "manifest.json", Data: []byte(m)},
		{Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")},
		{Path: "assets/data.bin", Data: filler},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestConcurrentSubmissions(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	register(t, st, "load", publisherKey)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := makePackage(t, fmt.Sprintf("load/p%d", i%10), fmt.Sprintf("1.0.%d", i), 4<<10)
			v, created, err := submit(t, svc, p)
			if err != nil {
				errs <- err
				return
			}
			if !created {
				errs <- fmt.Errorf("submission %d was not created", i)
			}
			ids <- v.ID
		}(i)
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	count := 0
	for id := range ids {
		if _, err := st.GetVersion(ctx, id); err != nil {
			t.Errorf("submission %s lost: %v", id, err)
		}
		count++
	}
	if count != n {
		t.Fatalf("%d of %d submissions recorded", count, n)
	}
	rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error { return st.ScanAudit(ctx, domain.AuditQuery{}, fn) })
	if err != nil || rep.Break != nil {
		t.Fatalf("audit chain after concurrent submissions: %v %+v", err, rep.Break)
	}
	// One claim and one key for the namespace; a signature and a create
	// per submission.
	if rep.Count != 2*n+2 {
		t.Errorf("%d audit events, want %d", rep.Count, 2*n+2)
	}
}

func TestTooLarge(t *testing.T) {
	svc, _, blobs := newService(t)
	svc.Limits.MaxPackageBytes = 1 << 20
	p := makePackage(t, "big/one", "1.0.0", 2<<20)
	_, _, err := svc.Submit(context.Background(), publisher, bytes.NewReader(p))
	var ie *intake.Error
	if !errors.As(err, &ie) || ie.Kind != intake.TooLarge {
		t.Fatalf("got %v, want a TooLarge refusal", err)
	}
	n := 0
	blobs.List(context.Background(), func(string, time.Time) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d blobs left behind by a refused upload", n)
	}
}

// TestSweep shows that a blob committed without its record (a crash in
// between) is removed, and a recorded one is kept.
func TestSweep(t *testing.T) {
	svc, st, blobs := newService(t)
	ctx := context.Background()
	register(t, st, "s", publisherKey)
	kept, _, err := submit(t, svc, makePackage(t, "s/kept", "1.0.0", 100))
	if err != nil {
		t.Fatal(err)
	}
	staged, err := blobs.Stage(ctx, bytes.NewReader([]byte("an orphan")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := staged.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	removed, err := svc.Sweep(ctx, 0)
	if err != nil || removed != 1 {
		t.Fatalf("sweep removed %d, err %v", removed, err)
	}
	if ok, _ := blobs.Exists(ctx, kept.Digest); !ok {
		t.Error("sweep removed a recorded blob")
	}
	if ok, _ := blobs.Exists(ctx, staged.Digest()); ok {
		t.Error("orphan blob survived the sweep")
	}
}

// newPipeline is the pipeline a worker process runs over svc (with no
// certifier: these tests stop at the review queue).
func newPipeline(svc *intake.Service, st pipeline.Records) *pipeline.Pipeline {
	return pipeline.New(pipeline.Config{Store: st, Vetting: svc, Now: svc.Now})
}

func TestWorkerIsIdempotent(t *testing.T) {
	svc, st, _ := newService(t)
	ctx := context.Background()
	register(t, st, "w", publisherKey)
	v, _, err := submit(t, svc, makePackage(t, "w/one", "1.0.0", 100))
	if err != nil {
		t.Fatal(err)
	}
	// Two workers at once: every step is a compare-and-set.
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); newPipeline(svc, st).RunPending(ctx) }()
	}
	wg.Wait()
	got, _ := st.GetVersion(ctx, v.ID)
	if got.State != lifecycle.InReview {
		t.Fatalf("state %s", got.State)
	}
	n := 0
	st.ScanAudit(ctx, domain.AuditQuery{Subject: "submission:" + v.ID}, func(audit.Event) error { n++; return nil })
	if n != 6 {
		t.Errorf("%d events for one submission, want 6 (signature, create, three moves and one vetting run)", n)
	}
}

// BenchmarkIngest measures the whole submission path: staging with the
// digest, the hostile-input read, the manifest, the durable blob, the
// record and its audit event.
func BenchmarkIngest(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100KB", 100 << 10}, {"5MB", 5 << 20}, {"50MB", 50 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			svc, st, _ := newService(b)
			register(b, st, "bench", publisherKey)
			b.SetBytes(int64(size.n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := makePackage(b, "bench/ingest", fmt.Sprintf("1.0.%d", i), size.n)
				b.StartTimer()
				if _, _, err := submit(b, svc, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
