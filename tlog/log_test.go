package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/trust"
)

const testOrigin = "gatehouse.example/log"

type testKey struct {
	signer   note.Signer
	verifier note.Verifier
}

func newTestKey(t testing.TB, origin string) testKey {
	t.Helper()
	s, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := NewNoteSigner(origin, s)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := VerifierKey(origin, s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{ns, v}
}

func openLog(t testing.TB, dir string, k testKey) *Log {
	t.Helper()
	l, err := Open(dir, Options{Origin: testOrigin, Signer: k.signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func entry(i int) []byte { return fmt.Appendf(nil, `{"kind":"test","n":%d}`, i) }

func dirFetcher(dir string) Fetcher {
	return func(_ context.Context, p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	}
}

func TestAppendProveVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := newTestKey(t, testOrigin)
	l := openLog(t, dir, k)

	// Concurrent appends: each gets a distinct index, and the entry at that
	// index is the one it appended.
	const n = 700
	idx := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			x, err := l.Append(ctx, entry(i))
			if err != nil {
				t.Error(err)
			}
			idx[i] = x
		})
	}
	wg.Wait()
	if l.Size() != n {
		t.Fatalf("size = %d, want %d", l.Size(), n)
	}
	seen := map[uint64]bool{}
	for _, x := range idx {
		if seen[x] || x >= n {
			t.Fatalf("index %d repeated or out of range", x)
		}
		seen[x] = true
	}

	_, signed := l.Checkpoint()
	onDisk, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil || !bytes.Equal(onDisk, signed) {
		t.Fatalf("checkpoint file differs from the published checkpoint (err %v)", err)
	}
	cp, err := VerifyCheckpoint(signed, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != n || cp.Origin != testOrigin {
		t.Fatalf("checkpoint = %+v", cp)
	}

	prover := TileProver{Fetch: dirFetcher(dir)}
	for _, i := range []int{0, 1, 255, 256, 257, 511, 512, n - 1} {
		p, err := l.InclusionProof(idx[i], cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(entry(i), idx[i], p, cp); err != nil {
			t.Errorf("entry %d at %d: %v", i, idx[i], err)
		}
		// The tiles alone give the same proof.
		tp, err := prover.InclusionProof(ctx, idx[i], cp)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tp) != fmt.Sprint(p) {
			t.Errorf("proof from tiles differs for index %d", idx[i])
		}
	}

	// The entry bundles hold the entries at their indexes.
	for b := uint64(0); b*256 < cp.Size; b++ {
		entries, err := prover.Entries(ctx, b, cp)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range entries {
			i := b*256 + uint64(j)
			var want []byte
			for k, x := range idx {
				if x == i {
					want = entry(k)
				}
			}
			if !bytes.Equal(e, want) {
				t.Fatalf("bundle entry %d = %s, want %s", i, e, want)
			}
		}
	}
}

func TestConsistency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := newTestKey(t, testOrigin)
	l := openLog(t, dir, k)
	var cps []Checkpoint
	for _, size := range []int{1, 3, 256, 300, 1000} {
		var batch [][]byte
		for i := int(l.Size()); i < size; i++ {
			batch = append(batch, entry(i))
		}
		if _, err := l.AppendBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		_, signed := l.Checkpoint()
		cp, err := VerifyCheckpoint(signed, k.verifier)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	prover := TileProver{Fetch: dirFetcher(dir)}
	for i := range cps {
		for j := i; j < len(cps); j++ {
			p, err := l.ConsistencyProof(cps[i].Size, cps[j].Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(cps[i], cps[j], p); err != nil {
				t.Errorf("%d -> %d: %v", cps[i].Size, cps[j].Size, err)
			}
			tp, err := prover.ConsistencyProof(ctx, cps[i].Size, cps[j])
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(cps[i], cps[j], tp); err != nil {
				t.Errorf("from tiles %d -> %d: %v", cps[i].Size, cps[j].Size, err)
			}
		}
	}

	// A fork: another log with the same origin and key but different
	// history. Its checkpoint of size 300 does not extend ours of size 256.
	other := openLog(t, t.TempDir(), k)
	var batch [][]byte
	for i := range 300 {
		batch = append(batch, entry(i+1))
	}
	if _, err := other.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	forked, _ := other.Checkpoint()
	p, err := other.ConsistencyProof(256, 300)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(cps[2], forked, p); !errors.Is(err, ErrProof) {
		t.Errorf("a forked log passed the consistency check: %v", err)
	}
	// Same size, different tree.
	if err := VerifyConsistency(cps[3], forked, nil); !errors.Is(err, ErrProof) || !strings.Contains(err.Error(), "forked") {
		t.Errorf("two trees of one size: %v", err)
	}
	// Shrinking.
	if err := VerifyConsistency(cps[4], cps[3], nil); !errors.Is(err, ErrProof) {
		t.Errorf("a smaller newer tree passed: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newTestKey(t, testOrigin)
	l := openLog(t, t.TempDir(), k)
	for i := range 10 {
		if _, err := l.Append(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	cp, signed := l.Checkpoint()

	t.Run("checkpoint signed by another key", func(t *testing.T) {
		t.Parallel()
		other := newTestKey(t, testOrigin)
		forged, err := signCheckpoint(cp, other.signer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyCheckpoint(forged, k.verifier); err == nil || !strings.Contains(err.Error(), "not signed by the log key") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("altered checkpoint", func(t *testing.T) {
		t.Parallel()
		altered := bytes.Replace(signed, []byte("\n10\n"), []byte("\n11\n"), 1)
		if _, err := VerifyCheckpoint(altered, k.verifier); err == nil {
			t.Error("an altered checkpoint verified")
		}
	})
	t.Run("checkpoint of another origin", func(t *testing.T) {
		t.Parallel()
		other := newTestKey(t, "other.example/log")
		forged, _ := signCheckpoint(Checkpoint{Origin: "other.example/log", Size: cp.Size, Hash: cp.Hash}, other.signer)
		if _, err := VerifyCheckpoint(forged, k.verifier); err == nil {
			t.Error("a checkpoint of another log verified")
		}
	})
	t.Run("inclusion proof for another entry", func(t *testing.T) {
		t.Parallel()
		p, err := l.InclusionProof(3, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(entry(4), 3, p, cp); !errors.Is(err, ErrProof) {
			t.Errorf("entry 4 verified with entry 3's proof: %v", err)
		}
		if err := VerifyInclusion(entry(3), 4, p, cp); !errors.Is(err, ErrProof) {
			t.Errorf("entry 3 verified at index 4: %v", err)
		}
		if err := VerifyInclusion(entry(3), 3, p, cp); err != nil {
			t.Errorf("the genuine entry failed: %v", err)
		}
	})
	t.Run("proof beyond the published tree", func(t *testing.T) {
		t.Parallel()
		if _, err := l.InclusionProof(3, cp.Size+1); err == nil {
			t.Error("proof for an unpublished tree")
		}
	})
	t.Run("oversized entry", func(t *testing.T) {
		t.Parallel()
		if _, err := l.Append(ctx, make([]byte, MaxEntryBytes+1)); err == nil {
			t.Error("oversized entry accepted")
		}
	})
}

func TestReopenAndCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := newTestKey(t, testOrigin)
	l, err := Open(dir, Options{Origin: testOrigin, Signer: k.signer})
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	for i := range 300 {
		batch = append(batch, entry(i))
	}
	if _, err := l.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	before, _ := l.Checkpoint()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, entry(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}

	// A crash in the middle of a batch: a bundle and a tile written, the
	// checkpoint not. The next append overwrites them.
	for _, p := range []string{EntryBundlePath(1, 50), TilePath(0, 1, 50)} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, filepath.FromSlash(p))), 0o755)
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	l2 := openLog(t, dir, k)
	after, _ := l2.Checkpoint()
	if after != before {
		t.Fatalf("reopened at %+v, want %+v", after, before)
	}
	x, err := l2.Append(ctx, entry(300))
	if err != nil || x != 300 {
		t.Fatalf("append after reopen = %d, %v", x, err)
	}
	cp, signed := l2.Checkpoint()
	if _, err := VerifyCheckpoint(signed, k.verifier); err != nil {
		t.Fatal(err)
	}
	p, err := l2.ConsistencyProof(before.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(before, cp, p); err != nil {
		t.Fatalf("the reopened log does not extend the old one: %v", err)
	}
	for _, i := range []uint64{0, 299, 300} {
		p, _ := l2.InclusionProof(i, cp.Size)
		if err := VerifyInclusion(entry(int(i)), i, p, cp); err != nil {
			t.Errorf("entry %d after reopen: %v", i, err)
		}
	}
	entries, err := TileProver{Fetch: dirFetcher(dir)}.Entries(ctx, 1, cp)
	if err != nil || len(entries) != 45 || !bytes.Equal(entries[44], entry(300)) {
		t.Fatalf("bundle 1 after reopen: %d entries, %v", len(entries), err)
	}
}

func TestOpenRefusesDamage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := newTestKey(t, testOrigin)
	l, err := Open(dir, Options{Origin: testOrigin, Signer: k.signer})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		l.Append(ctx, entry(i))
	}
	l.Close()
	// A flipped hash in the tile on the tree's right edge (the hashes the
	// root is computed from) no longer matches the checkpoint's root.
	edge := filepath.Join(dir, filepath.FromSlash(TilePath(0, 0, 5)))
	b, err := os.ReadFile(edge)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(edge, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Origin: testOrigin, Signer: k.signer}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("opened a damaged log: %v", err)
	}
	// Another origin.
	other := newTestKey(t, "other.example/log")
	if _, err := Open(dir, Options{Origin: "other.example/log", Signer: other.signer}); err == nil {
		t.Error("opened a log under another origin")
	}
}

func TestTilePath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		got, want string
	}{
		{TilePath(0, 0, 256), "tile/0/000"},
		{TilePath(0, 1234067, 256), "tile/0/x001/x234/067"},
		{TilePath(1, 1000, 7), "tile/1/x001/000.p/7"},
		{EntryBundlePath(5, 256), "tile/entries/005"},
		{EntryBundlePath(12, 1), "tile/entries/012.p/1"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestCheckpointFormat(t *testing.T) {
	t.Parallel()
	cp := Checkpoint{Origin: testOrigin, Size: 42}
	cp.Hash[0] = 1
	got, err := ParseCheckpoint(cp.Marshal())
	if err != nil || got != cp {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// Extension lines are allowed and ignored.
	if _, err := ParseCheckpoint(append(cp.Marshal(), "ext\n"...)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "o\n1\n", "o\n01\nAAAA\n", "o\n-1\n" + strings.Repeat("A", 43) + "=\n", "\n1\n" + strings.Repeat("A", 43) + "=\n"} {
		if _, err := ParseCheckpoint([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestOneWriterPerDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := newTestKey(t, testOrigin)
	l := openLog(t, dir, k)
	if _, err := Open(dir, Options{Origin: testOrigin, Signer: k.signer}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("a second writer opened the log: %v", err)
	}
	l.Close()
	l2, err := Open(dir, Options{Origin: testOrigin, Signer: k.signer})
	if err != nil {
		t.Fatalf("reopening after close: %v", err)
	}
	l2.Close()
}
