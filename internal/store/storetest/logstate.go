package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

func init() {
	trustTests = append(trustTests,
		suiteTest{"LogIntegratorsNeverFork", testLogIntegratorsNeverFork},
		suiteTest{"Leases", testLeases},
	)
}

// testLogIntegratorsNeverFork races two integrators, each with its own
// tile cache, over one database and one log storage while writers queue
// events, as two processes that both believe they hold the integrator's
// lease would. Every checkpoint either writes is recorded: no size may
// ever get two different ones, and at the end the log holds every event
// exactly once, at the index the database gave it.
func testLogIntegratorsNeverFork(t *testing.T, s store.Store) {
	ctx := context.Background()
	const origin = "conformance.example/log"
	storage := tlog.DirStorage(t.TempDir())
	integrators := make([]*tlog.Integrator, 2)
	signer, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	for i := range integrators {
		ns, err := tlog.NewNoteSigner(origin, signer)
		if err != nil {
			t.Fatal(err)
		}
		if integrators[i], err = tlog.NewIntegrator(storage, ns); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.LogState(ctx); err != nil || st.Size != -1 {
		t.Fatalf("a new store's log state = %+v, %v; want size -1 (not recorded)", st, err)
	}
	if _, err := s.IntegrateLog(ctx, 0, func(domain.LogState, []domain.TrustEvent) (domain.LogState, error) {
		t.Error("integrated a log whose state was never recorded")
		return domain.LogState{}, nil
	}); err == nil {
		t.Error("IntegrateLog before InitLogState succeeded")
	}
	empty := integrators[0].Empty()
	signed, err := integrators[0].Publish(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	init := domain.LogState{Size: 0, Root: empty.Hash[:], Checkpoint: signed, UpdatedAt: time.Now()}
	if err := s.InitLogState(ctx, init); err != nil {
		t.Fatal(err)
	}
	if err := s.InitLogState(ctx, init); !errors.Is(err, domain.ErrStateChanged) {
		t.Errorf("recording the log's state twice: %v, want ErrStateChanged", err)
	}

	const writers, perWriter = 4, 40
	var (
		mu    sync.Mutex
		notes = map[int64][]byte{} // every checkpoint written, by size
		wg    sync.WaitGroup
		done  = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				e := fmt.Appendf(nil, `{"writer":%d,"n":%d}`, w, i)
				if _, err := s.ApplyTrustChange(ctx, store.TrustChange{Entries: [][]byte{e}, Audit: []audit.Event{event(audit.TrustEvent, "log:test", i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	integrate := func(in *tlog.Integrator) error {
		if _, err := s.SequenceTrustEvents(ctx, 7); err != nil {
			return err
		}
		_, err := s.IntegrateLog(ctx, 5, func(cur domain.LogState, events []domain.TrustEvent) (domain.LogState, error) {
			entries := make([][]byte, len(events))
			for i, e := range events {
				entries[i] = e.Entry
			}
			cp := tlog.Checkpoint{Origin: origin, Size: uint64(cur.Size), Hash: tlog.Hash(cur.Root)}
			next, signed, err := in.Integrate(ctx, cp, entries)
			if err != nil {
				return cur, err
			}
			mu.Lock()
			if prev, ok := notes[int64(next.Size)]; ok && !bytes.Equal(prev, signed) {
				t.Errorf("two different checkpoints of size %d:\n%s\n%s", next.Size, prev, signed)
			}
			notes[int64(next.Size)] = signed
			mu.Unlock()
			return domain.LogState{Size: int64(next.Size), Root: next.Hash[:], Checkpoint: signed, UpdatedAt: time.Now()}, nil
		})
		if errors.Is(err, domain.ErrStateChanged) {
			return nil // the other integrator recorded this tree first
		}
		return err
	}
	var racers sync.WaitGroup
	for _, in := range integrators {
		racers.Go(func() {
			for {
				if err := integrate(in); err != nil {
					t.Error(err)
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	close(done)
	racers.Wait()
	for range 100 {
		if err := integrate(integrators[0]); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.LogState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != writers*perWriter {
		t.Fatalf("the log holds %d entries, want %d", st.Size, writers*perWriter)
	}
	if pending, _ := s.PendingTrustEvents(ctx, 0); len(pending) != 0 {
		t.Errorf("%d events were never sequenced", len(pending))
	}
	stored, err := storage.ReadFile(ctx, tlog.CheckpointPath)
	if err != nil || !bytes.Equal(stored, st.Checkpoint) {
		t.Errorf("the storage's checkpoint is not the recorded one: %v", err)
	}
	verifier, err := note.NewVerifier(mustVerifierKey(t, origin, signer))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.VerifyCheckpoint(stored, verifier)
	if err != nil {
		t.Fatal(err)
	}
	prover := tlog.TileProver{Fetch: tlog.StorageFetcher(storage)}
	seen := map[string]bool{}
	for b := uint64(0); b*256 < cp.Size; b++ {
		entries, err := prover.Entries(ctx, b, cp)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			if seen[string(e)] {
				t.Errorf("entry %s is in the log twice", e)
			}
			seen[string(e)] = true
			// Each entry sits where the database sequenced it.
			idx := b*256 + uint64(i)
			p, err := prover.InclusionProof(ctx, idx, cp)
			if err != nil || tlog.VerifyInclusion(e, idx, p, cp) != nil {
				t.Errorf("entry %d does not prove: %v", idx, err)
			}
		}
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d distinct entries in the log, want %d", len(seen), writers*perWriter)
	}
	// Every older checkpoint either integrator wrote is a prefix of the
	// final tree.
	for size, signed := range notes {
		old, err := tlog.VerifyCheckpoint(signed, verifier)
		if err != nil {
			t.Fatal(err)
		}
		p, err := prover.ConsistencyProof(ctx, uint64(size), cp)
		if err != nil || tlog.VerifyConsistency(old, cp, p) != nil {
			t.Errorf("the checkpoint of size %d is not a prefix of the final tree: %v", size, err)
		}
	}
}

func mustVerifierKey(t *testing.T, origin string, s *trust.FileSigner) string {
	t.Helper()
	k, err := tlog.VerifierKey(origin, s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testLeases: one holder at a time; a lease that ran out is taken over; a
// released lease is free at once.
func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	got := func(holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, "work", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !got("a", time.Hour) {
		t.Fatal("a free lease was not taken")
	}
	if got("b", time.Hour) {
		t.Error("a held lease was taken by another holder")
	}
	if !got("a", time.Hour) {
		t.Error("the holder could not renew its lease")
	}
	if ok, err := s.AcquireLease(ctx, "other", "b", time.Hour); err != nil || !ok {
		t.Errorf("another lease name is independent: %v, %v", ok, err)
	}
	// a renews for a moment only; once that passes, b takes over.
	if !got("a", time.Millisecond) {
		t.Fatal("renewing")
	}
	time.Sleep(20 * time.Millisecond)
	if !got("b", time.Hour) {
		t.Error("a lease that ran out was not taken over")
	}
	if got("a", time.Hour) {
		t.Error("the old holder took its lease back from the new one")
	}
	if err := s.ReleaseLease(ctx, "work", "a"); err != nil {
		t.Fatal(err)
	}
	if got("a", time.Hour) {
		t.Error("releasing a lease one does not hold freed it")
	}
	if err := s.ReleaseLease(ctx, "work", "b"); err != nil {
		t.Fatal(err)
	}
	if !got("a", time.Hour) {
		t.Error("a released lease was not free")
	}
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Second}, {"work", "", time.Second}, {"work", "a", 0}} {
		if _, err := s.AcquireLease(ctx, bad.name, bad.holder, bad.ttl); err == nil {
			t.Errorf("AcquireLease(%q, %q, %s) succeeded", bad.name, bad.holder, bad.ttl)
		}
	}
}

// BenchLogWriters measures entries per second into the shared log: writers
// goroutines each queue one trust event per transaction (as certificates
// are issued), while one integrator sequences and integrates them into a
// log in a local directory. The clock stops when all b.N are integrated.
// Without integrate it measures the queueing alone: the floor the log's
// throughput is held against.
func BenchLogWriters(b *testing.B, s store.Store, writers int, integrate bool) {
	ctx := context.Background()
	const origin = "bench.example/log"
	signer, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		b.Fatal(err)
	}
	ns, _ := tlog.NewNoteSigner(origin, signer)
	in, _ := tlog.NewIntegrator(tlog.DirStorage(b.TempDir()), ns)
	empty := in.Empty()
	signed, err := in.Publish(ctx, empty)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.InitLogState(ctx, domain.LogState{Size: 0, Root: empty.Hash[:], Checkpoint: signed}); err != nil {
		b.Fatal(err)
	}
	integrateOnce := func() (int64, error) {
		if _, err := s.SequenceTrustEvents(ctx, 0); err != nil {
			return 0, err
		}
		st, err := s.IntegrateLog(ctx, 0, func(cur domain.LogState, events []domain.TrustEvent) (domain.LogState, error) {
			entries := make([][]byte, len(events))
			for i, e := range events {
				entries[i] = e.Entry
			}
			next, note, err := in.Integrate(ctx, tlog.Checkpoint{Origin: origin, Size: uint64(cur.Size), Hash: tlog.Hash(cur.Root)}, entries)
			if err != nil {
				return cur, err
			}
			return domain.LogState{Size: int64(next.Size), Root: next.Hash[:], Checkpoint: note}, nil
		})
		return st.Size, err
	}
	b.ResetTimer()
	next := make(chan int, b.N)
	for i := range b.N {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range next {
				e := fmt.Appendf(nil, `{"kind":"bench","n":%d}`, i)
				if _, err := s.ApplyTrustChange(ctx, store.TrustChange{Entries: [][]byte{e}, Audit: []audit.Event{event(audit.TrustEvent, "log:bench", i)}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if !integrate {
		<-done
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		return
	}
	for {
		size, err := integrateOnce()
		if err != nil {
			b.Fatal(err)
		}
		if size >= int64(b.N) {
			break
		}
		select {
		case <-done:
		default:
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
