// Package blobtest is the conformance suite every store.BlobStore passes:
// the local folder (blobfs) and an S3-compatible bucket (blobs3, against a
// real server), as storetest is for the record stores.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// Harness is what the suite needs of a driver.
type Harness struct {
	// New returns a fresh, empty store, removed when t ends.
	New func(t *testing.T) store.BlobStore
	// StageDir is the local folder s stages bytes in: the suite checks it
	// holds none of them after Commit or Abort.
	StageDir func(s store.BlobStore) string
	// Corrupt replaces the stored bytes of digest with data, behind the
	// store's back (as a damaged disk or a tampering operator would).
	Corrupt func(t *testing.T, s store.BlobStore, digest string, data []byte)
	// LargeBytes is the size of the streamed-blob case (40 MiB when 0).
	LargeBytes int64
}

// Run runs every case against h's stores. The memory case runs alone,
// after the others, since it reads the process's allocation counter.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"StageCommitOpen", testStageCommitOpen},
		{"IdempotentCommit", testIdempotentCommit},
		{"Abort", testAbort},
		{"TooLarge", testTooLarge},
		{"ReaderErrorKept", testReaderError},
		{"NotFoundAndBadDigest", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"CorruptionDetectedOnRead", testCorruption},
		{"ContextCancelled", testCancelled},
		{"CleanTmp", testCleanTmp},
		{"Ping", testPing},
		{"Objects", testObjects},
		{"ObjectKeys", testObjectKeys},
		{"ObjectConcurrentWrites", testObjectConcurrentWrites},
	}
	t.Run("group", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.fn(t, h)
			})
		}
	})
	t.Run("LargeBlobStreamed", func(t *testing.T) { testLarge(t, h) })
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func stage(t *testing.T, s store.BlobStore, data []byte) store.Staged {
	t.Helper()
	st, err := s.Stage(context.Background(), bytes.NewReader(data), max(int64(len(data)), 1))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	return st
}

func put(t *testing.T, s store.BlobStore, data []byte) string {
	t.Helper()
	st := stage(t, s, data)
	if err := st.Commit(context.Background()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return st.Digest()
}

func readAll(t *testing.T, s store.BlobStore, digest string) ([]byte, int64, error) {
	t.Helper()
	rc, size, err := s.Open(context.Background(), digest)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, size, err
}

// stageLeftovers lists what is left in the staging folder.
func stageLeftovers(t *testing.T, h Harness, s store.BlobStore) []string {
	t.Helper()
	entries, err := os.ReadDir(h.StageDir(s))
	if err != nil {
		t.Fatalf("reading the staging folder: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func testStageCommitOpen(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	data := randomBytes(1<<20 + 17) // several copy buffers, not a round size
	st := stage(t, s, data)
	if st.Digest() != digestOf(data) || st.Size() != int64(len(data)) {
		t.Fatalf("staged %s (%d bytes), want %s (%d)", st.Digest(), st.Size(), digestOf(data), len(data))
	}
	if got, err := os.ReadFile(st.Path()); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the staged file does not hold the bytes before Commit (%v)", err)
	}
	if ok, err := s.Exists(ctx, st.Digest()); ok || err != nil {
		t.Fatalf("Exists before Commit = %v, %v; want false: nothing is visible until Commit", ok, err)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := os.Stat(st.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the staged file is still on local disk after Commit (%v)", err)
	}
	if left := stageLeftovers(t, h, s); len(left) != 0 {
		t.Errorf("the staging folder holds %v after Commit", left)
	}
	if ok, err := s.Exists(ctx, st.Digest()); !ok || err != nil {
		t.Fatalf("Exists after Commit = %v, %v", ok, err)
	}
	got, size, err := readAll(t, s, st.Digest())
	if err != nil || size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("reading back: %d bytes (size %d), %v", len(got), size, err)
	}
	// A second reader at once: Open is not a one-shot.
	if got, _, err := readAll(t, s, st.Digest()); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading again: %v", err)
	}
}

func testIdempotentCommit(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	data := randomBytes(4096)
	st := stage(t, s, data)
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx); err != nil {
		t.Errorf("a second Commit of the same staged blob: %v", err)
	}
	if err := st.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	// The same bytes staged again, as a resubmission does.
	st2 := stage(t, s, data)
	if err := st2.Commit(ctx); err != nil {
		t.Fatalf("committing bytes already stored: %v", err)
	}
	if left := stageLeftovers(t, h, s); len(left) != 0 {
		t.Errorf("the staging folder holds %v after committing an existing blob", left)
	}
	var n int
	if err := s.List(ctx, func(string, time.Time) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("List shows %d blobs after committing the same bytes twice, want 1", n)
	}
	if ok, _ := s.Exists(ctx, st.Digest()); !ok {
		t.Error("Abort after Commit removed the blob")
	}
	// An empty blob is a blob.
	empty := put(t, s, nil)
	if got, size, err := readAll(t, s, empty); err != nil || size != 0 || len(got) != 0 {
		t.Errorf("the empty blob reads back as %d bytes (size %d), %v", len(got), size, err)
	}
}

func testAbort(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	st := stage(t, s, randomBytes(1000))
	if err := st.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := st.Abort(); err != nil {
		t.Errorf("a second Abort: %v", err)
	}
	if ok, err := s.Exists(ctx, st.Digest()); ok || err != nil {
		t.Errorf("Exists after Abort = %v, %v", ok, err)
	}
	if left := stageLeftovers(t, h, s); len(left) != 0 {
		t.Errorf("the staging folder holds %v after Abort", left)
	}
}

func testTooLarge(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	data := randomBytes(300 << 10)
	if _, err := s.Stage(ctx, bytes.NewReader(data), int64(len(data))-1); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("staging one byte over the limit: %v, want store.ErrTooLarge", err)
	}
	if st, err := s.Stage(ctx, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Errorf("staging exactly the limit: %v", err)
	} else {
		st.Abort()
	}
	for _, max := range []int64{0, -1} {
		if _, err := s.Stage(ctx, bytes.NewReader(data), max); err == nil {
			t.Errorf("Stage with limit %d succeeded", max)
		}
	}
	if left := stageLeftovers(t, h, s); len(left) != 0 {
		t.Errorf("the staging folder holds %v after refused stages", left)
	}
}

var errSource = errors.New("the client went away")

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errSource
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

func testReaderError(t *testing.T, h Harness) {
	s := h.New(t)
	_, err := s.Stage(context.Background(), &failingReader{n: 100 << 10}, 1<<20)
	if !errors.Is(err, errSource) {
		t.Errorf("Stage over a failing reader: %v, want it to wrap the reader's error", err)
	}
	if left := stageLeftovers(t, h, s); len(left) != 0 {
		t.Errorf("the staging folder holds %v after a failed stage", left)
	}
}

func testNotFound(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	absent := digestOf([]byte("never stored"))
	if _, _, err := s.Open(ctx, absent); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Open of an absent blob: %v, want domain.ErrNotFound", err)
	}
	if ok, err := s.Exists(ctx, absent); ok || err != nil {
		t.Errorf("Exists of an absent blob = %v, %v", ok, err)
	}
	if err := s.Delete(ctx, absent); err != nil {
		t.Errorf("Delete of an absent blob: %v", err)
	}
	for _, bad := range []string{"", "sha256:", "md5:abc", "sha256:../../etc/passwd", "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("a", 63)} {
		if _, _, err := s.Open(ctx, bad); err == nil || errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want a malformed-digest error", bad, err)
		}
		if _, err := s.Exists(ctx, bad); err == nil {
			t.Errorf("Exists(%q) succeeded", bad)
		}
		if err := s.Delete(ctx, bad); err == nil {
			t.Errorf("Delete(%q) succeeded", bad)
		}
	}
}

func testDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	d := put(t, s, randomBytes(2048))
	keep := put(t, s, randomBytes(2048))
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ok, _ := s.Exists(ctx, d); ok {
		t.Error("the blob exists after Delete")
	}
	if _, _, err := s.Open(ctx, d); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Open after Delete: %v, want domain.ErrNotFound", err)
	}
	if ok, _ := s.Exists(ctx, keep); !ok {
		t.Error("Delete removed another blob")
	}
}

func testList(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	before := time.Now().Add(-time.Minute) // servers' clocks and second-resolution times
	var want []string
	for i := 0; i < 5; i++ {
		want = append(want, put(t, s, randomBytes(100+i)))
	}
	// An object is not a blob.
	if err := s.WriteObject(ctx, "log/checkpoint", []byte("x")); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.List(ctx, func(d string, mod time.Time) error {
		got = append(got, d)
		if mod.Before(before) || mod.After(time.Now().Add(time.Minute)) {
			t.Errorf("blob %s listed with time %v, not about now", d, mod)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.List(ctx, func(string, time.Time) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback: %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testCorruption(t *testing.T, h Harness) {
	s := h.New(t)
	data := randomBytes(64 << 10)
	d := put(t, s, data)
	for name, bad := range map[string][]byte{
		"same size":  randomBytes(len(data)),
		"truncated":  data[:len(data)/2],
		"lengthened": append(slices.Clone(data), 'x'),
	} {
		h.Corrupt(t, s, d, bad)
		_, _, err := readAll(t, s, d)
		if err == nil {
			t.Errorf("%s: reading a corrupted blob succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), d) || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s: the read error %q does not name blob %s as corrupt", name, err, d)
		}
	}
	// Wrapping what Open returns again (as the callers do) still checks.
	rc, _, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(store.VerifyingReader(rc, d)); err == nil {
		t.Error("a corrupted blob read through VerifyingReader succeeded")
	}
}

func testCancelled(t *testing.T, h Harness) {
	s := h.New(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	data := randomBytes(10 << 10)
	if _, err := s.Stage(done, bytes.NewReader(data), 1<<20); !errors.Is(err, context.Canceled) {
		t.Errorf("Stage with a cancelled context: %v", err)
	}
	st := stage(t, s, data)
	if err := st.Commit(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled context: %v", err)
	}
	if ok, _ := s.Exists(context.Background(), st.Digest()); ok {
		t.Error("a blob committed with a cancelled context is visible")
	}
	if err := st.Commit(context.Background()); err != nil {
		t.Errorf("Commit after a cancelled one: %v", err)
	}
	if _, err := s.ReadObject(done, "a/b"); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadObject with a cancelled context: %v", err)
	}
	if err := s.WriteObject(done, "a/b", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteObject with a cancelled context: %v", err)
	}
	if err := s.List(done, func(string, time.Time) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
	if rc, _, err := s.Open(done, st.Digest()); err == nil {
		// A driver may open lazily; then the read fails.
		_, err = io.ReadAll(rc)
		rc.Close()
		if err == nil {
			t.Error("Open and read with a cancelled context succeeded")
		}
	}
	// A reader that blocks is left when the context ends.
	ctx, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		pw.Write(randomBytes(1000))
		<-ctx.Done()
		pw.CloseWithError(ctx.Err())
	}()
	if _, err := s.Stage(ctx, pr, 1<<20); err == nil {
		t.Error("Stage over a reader that stalls past the deadline succeeded")
	}
}

func testCleanTmp(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	young := stage(t, s, randomBytes(100))
	defer young.Abort()
	old := stage(t, s, randomBytes(100))
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old.Path(), past, past); err != nil {
		t.Fatal(err)
	}
	if err := s.CleanTmp(ctx, time.Hour); err != nil {
		t.Fatalf("CleanTmp: %v", err)
	}
	if _, err := os.Stat(old.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CleanTmp kept a staged file older than the cut-off (%v)", err)
	}
	if _, err := os.Stat(young.Path()); err != nil {
		t.Errorf("CleanTmp removed a young staged file: %v", err)
	}
	if err := young.Commit(ctx); err != nil {
		t.Errorf("committing the young staged blob after CleanTmp: %v", err)
	}
}

func testPing(t *testing.T, h Harness) {
	s := h.New(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if s.String() == "" {
		t.Error("String is empty")
	}
}

func testObjects(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	const key = "log/tile/8/0/000"
	if _, err := s.ReadObject(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadObject of a missing object: %v, want fs.ErrNotExist", err)
	}
	for _, data := range [][]byte{[]byte("first"), randomBytes(8192), {}} {
		if err := s.WriteObject(ctx, key, data); err != nil {
			t.Fatalf("WriteObject: %v", err)
		}
		got, err := s.ReadObject(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadObject after writing %d bytes: %d bytes, %v", len(data), len(got), err)
		}
	}
	// Keys beside and below each other, as tiles and their partials are.
	others := map[string][]byte{
		"log/tile/8/0/000.p/5":       []byte("partial"),
		"log/tile/entries/x001/234":  []byte("bundle"),
		"log/checkpoint":             []byte("checkpoint\n"),
		"Mixed_Case-1.2/file.name_x": []byte("m"),
	}
	for k, v := range others {
		if err := s.WriteObject(ctx, k, v); err != nil {
			t.Fatalf("WriteObject(%s): %v", k, err)
		}
	}
	for k, v := range others {
		if got, err := s.ReadObject(ctx, k); err != nil || !bytes.Equal(got, v) {
			t.Errorf("ReadObject(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
	if _, err := s.ReadObject(ctx, "log/tile"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadObject of a prefix of keys: %v, want fs.ErrNotExist", err)
	}
	if _, err := s.ReadObject(ctx, "log/checkpoint/below"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadObject below an object: %v, want fs.ErrNotExist", err)
	}
	big := randomBytes(store.MaxObjectBytes)
	if err := s.WriteObject(ctx, "big", big); err != nil {
		t.Fatalf("WriteObject of MaxObjectBytes: %v", err)
	}
	if got, err := s.ReadObject(ctx, "big"); err != nil || !bytes.Equal(got, big) {
		t.Errorf("ReadObject of MaxObjectBytes: %d bytes, %v", len(got), err)
	}
	if err := s.WriteObject(ctx, "bigger", append(big, 0)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("WriteObject over MaxObjectBytes: %v, want store.ErrTooLarge", err)
	}
}

func testObjectKeys(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	bad := []string{
		"", "/log/checkpoint", "log/checkpoint/", "log//checkpoint", "..", "../escape", "log/../../escape",
		"log/./x", ".hidden", "log/.tmp-1", "sp ace", "back\\slash", "per%cent", "nul\x00", "ünicode",
		"query?x", "hash#x", strings.Repeat("a", store.MaxObjectKey+1), strings.Repeat("a", 129),
	}
	for _, k := range bad {
		if err := s.WriteObject(ctx, k, []byte("x")); err == nil {
			t.Errorf("WriteObject(%q) succeeded", k)
		}
		if _, err := s.ReadObject(ctx, k); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadObject(%q) = %v, want a refusal of the key", k, err)
		}
	}
	long := strings.Repeat(strings.Repeat("b", 127)+"/", 3) + strings.Repeat("e", 127) // 511 bytes
	if err := s.WriteObject(ctx, long, []byte("x")); err != nil {
		t.Errorf("WriteObject of a %d-byte key: %v", len(long), err)
	}
}

func testObjectConcurrentWrites(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	const key = "log/checkpoint"
	values := make([][]byte, 8)
	for i := range values {
		values[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(values))
	for _, v := range values {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.WriteObject(ctx, key, v)
		}()
		go func() {
			defer wg.Done()
			got, err := s.ReadObject(ctx, key)
			if errors.Is(err, fs.ErrNotExist) {
				errs <- nil // not yet written
				return
			}
			if err == nil && !slices.ContainsFunc(values, func(v []byte) bool { return bytes.Equal(v, got) }) {
				err = fmt.Errorf("a reader saw %d bytes that no writer wrote whole", len(got))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, err := s.ReadObject(ctx, key)
	if err != nil || !slices.ContainsFunc(values, func(v []byte) bool { return bytes.Equal(v, got) }) {
		t.Errorf("after concurrent writes the object is %d bytes (%v), not one writer's", len(got), err)
	}
}

// streamReader produces n pseudo-random bytes without holding them.
type streamReader struct {
	r *mrand.ChaCha8
	n int64
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	s.r.Read(p)
	s.n -= int64(len(p))
	return len(p), nil
}

// testLarge streams a large blob in and out and checks that the process
// never allocated anything near its size: Stage, Commit (a multipart
// upload for a bucket) and Open stream.
func testLarge(t *testing.T, h Harness) {
	n := h.LargeBytes
	if n == 0 {
		n = 40 << 20
	}
	ctx := context.Background()
	s := h.New(t)
	seed := [32]byte{1, 2, 3}
	want := sha256.New()
	io.Copy(want, &streamReader{r: mrand.NewChaCha8(seed), n: n})
	wantDigest := "sha256:" + hex.EncodeToString(want.Sum(nil))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := s.Stage(ctx, &streamReader{r: mrand.NewChaCha8(seed), n: n}, n)
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if st.Digest() != wantDigest || st.Size() != n {
		t.Fatalf("staged %s (%d bytes), want %s (%d)", st.Digest(), st.Size(), wantDigest, n)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	rc, size, err := s.Open(ctx, st.Digest())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got := sha256.New()
	read, err := io.Copy(got, rc)
	rc.Close()
	if err != nil || read != n || size != n {
		t.Fatalf("reading back: %d bytes (size %d), %v", read, size, err)
	}
	runtime.ReadMemStats(&after)
	if d := "sha256:" + hex.EncodeToString(got.Sum(nil)); d != wantDigest {
		t.Fatalf("read back %s, want %s", d, wantDigest)
	}
	// Everything allocated in the round trip, garbage or not: a copy of
	// the blob, or of one part of it, would show.
	alloc := after.TotalAlloc - before.TotalAlloc
	if limit := uint64(n / 4); alloc > limit {
		t.Errorf("staging, committing and reading a %d MiB blob allocated %d MiB, more than %d MiB: something holds the bytes", n>>20, alloc>>20, limit>>20)
	}
	t.Logf("a %d MiB blob's round trip allocated %.1f MiB", n>>20, float64(alloc)/(1<<20))
	if left := stageLeftovers(t, h, s); len(left) != 0 {
		t.Errorf("the staging folder holds %v after Commit", left)
	}
}

// S3URL returns the test S3 bucket's URL (GATEHOUSE_TEST_S3) with a key
// prefix of its own for t, so that tests may run in parallel and never see
// each other's keys. Without the variable the test is skipped, or fails
// when CI=true, where the server must be there.
func S3URL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvS3)
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: .ci/run starts an S3 server and sets it", EnvS3)
		}
		t.Skipf("S3 tests skipped: set %s to an s3:// URL of a test bucket (e.g. s3://gatehouse-test?endpoint=http://127.0.0.1:7070&region=us-east-1) and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", EnvS3)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" {
		t.Fatalf("%s is not an s3:// URL", EnvS3)
	}
	var b [6]byte
	rand.Read(b[:])
	u.Path = "/" + strings.Trim(strings.Trim(u.Path, "/")+"/t-"+hex.EncodeToString(b[:]), "/")
	return u.String()
}

// EnvS3 names the test bucket's URL.
const EnvS3 = "GATEHOUSE_TEST_S3"
