package blobfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func newFS(t *testing.T) (*FS, string) {
	dir := t.TempDir()
	f, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func TestStageCommitOpen(t *testing.T) {
	ctx := context.Background()
	f, dir := newFS(t)
	data := bytes.Repeat([]byte("gatehouse "), 100000) // 1 MB, several copy buffers
	st, err := f.Stage(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if st.Digest() != digestOf(data) || st.Size() != int64(len(data)) {
		t.Fatalf("staged %s (%d bytes), want %s (%d)", st.Digest(), st.Size(), digestOf(data), len(data))
	}
	if staged, err := os.ReadFile(st.Path()); err != nil || !bytes.Equal(staged, data) {
		t.Fatalf("staged file does not hold the bytes (%v)", err)
	}
	if ok, _ := f.Exists(ctx, st.Digest()); ok {
		t.Fatal("a staged blob is visible before Commit")
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	hexd := st.Digest()[len("sha256:"):]
	if _, err := os.Stat(filepath.Join(dir, "sha256", hexd[:2], hexd[2:])); err != nil {
		t.Errorf("blob is not at sha256/%s/%s: %v", hexd[:2], hexd[2:], err)
	}
	if err := st.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if ok, err := f.Exists(ctx, st.Digest()); !ok || err != nil {
		t.Fatalf("Exists after Commit = %v, %v", ok, err)
	}
	rc, size, err := f.Open(ctx, st.Digest())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, err := io.ReadAll(store.VerifyingReader(rc, st.Digest()))
	rc.Close()
	if err != nil || size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("reading back: %d bytes (size %d), %v", len(got), size, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp holds %d files after Commit", len(tmp))
	}

	// The same bytes again: Commit is idempotent and drops the copy.
	st2, err := f.Stage(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.Commit(ctx); err != nil {
		t.Fatalf("committing an existing blob: %v", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp holds %d files after a duplicate Commit", len(tmp))
	}

	var listed []string
	if err := f.List(ctx, func(d string, _ time.Time) error { listed = append(listed, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != st.Digest() {
		t.Errorf("List = %v, want [%s]", listed, st.Digest())
	}

	if err := f.Delete(ctx, st.Digest()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := f.Delete(ctx, st.Digest()); err != nil {
		t.Errorf("deleting an absent blob: %v", err)
	}
	if _, _, err := f.Open(ctx, st.Digest()); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Open after Delete: error = %v, want ErrNotFound", err)
	}
}

func TestStageLimit(t *testing.T) {
	f, dir := newFS(t)
	_, err := f.Stage(context.Background(), strings.NewReader("0123456789x"), 10)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "10 bytes") {
		t.Fatalf("staging 11 bytes with a limit of 10: error = %v, want ErrTooLarge naming the limit", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("a refused upload left %d files in tmp", len(tmp))
	}
	st, err := f.Stage(context.Background(), strings.NewReader("0123456789"), 10)
	if err != nil || st.Size() != 10 {
		t.Fatalf("exactly the limit: %v", err)
	}
	st.Abort()
}

func TestStageReaderError(t *testing.T) {
	f, dir := newFS(t)
	callerErr := errors.New("client went away")
	_, err := f.Stage(context.Background(), io.MultiReader(strings.NewReader("abc"), errReader{callerErr}), 100)
	if !errors.Is(err, callerErr) {
		t.Fatalf("error = %v; want the reader's own error, wrapped", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("a failed upload left %d files in tmp", len(tmp))
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestAbort(t *testing.T) {
	f, dir := newFS(t)
	st, err := f.Stage(context.Background(), strings.NewReader("abc"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("Abort left %d files in tmp", len(tmp))
	}
	if ok, _ := f.Exists(context.Background(), st.Digest()); ok {
		t.Error("an aborted blob exists")
	}
}

func TestCleanTmp(t *testing.T) {
	f, dir := newFS(t)
	old, err := f.Stage(context.Background(), strings.NewReader("left by a crash"), 100)
	if err != nil {
		t.Fatal(err)
	}
	young, err := f.Stage(context.Background(), strings.NewReader("upload in progress"), 100)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old.Path(), past, past)
	if err := f.CleanTmp(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Error("CleanTmp kept a file older than the cut-off")
	}
	if _, err := os.Stat(young.Path()); err != nil {
		t.Errorf("CleanTmp removed a young file: %v", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 1 {
		t.Errorf("tmp holds %d files, want 1", len(tmp))
	}
}

func TestVerifyingReaderCorrupt(t *testing.T) {
	ctx := context.Background()
	f, dir := newFS(t)
	data := []byte("the real package bytes")
	st, _ := f.Stage(ctx, bytes.NewReader(data), 100)
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	hexd := st.Digest()[len("sha256:"):]
	if err := os.WriteFile(filepath.Join(dir, "sha256", hexd[:2], hexd[2:]), []byte("the real package bytez"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, _, err := f.Open(ctx, st.Digest())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(store.VerifyingReader(rc, st.Digest()))
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("reading a corrupted blob: error = %v, want one saying it is corrupt", err)
	}
	if _, err := io.ReadAll(store.VerifyingReader(io.NopCloser(strings.NewReader("x")), "md5:abc")); err == nil {
		t.Error("a malformed digest verified")
	}
}

func TestDigestsFromOutsideRefused(t *testing.T) {
	f, _ := newFS(t)
	for _, d := range []string{
		"", "sha256:", "sha256:../../../etc/passwd",
		"sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 63) + "/",
		"sha512:" + strings.Repeat("a", 64),
	} {
		if _, _, err := f.Open(context.Background(), d); err == nil || errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Open(%q) error = %v, want a refusal of the digest", d, err)
		}
	}
}

func BenchmarkStageCommit(b *testing.B) {
	for _, size := range []int{100 << 10, 5 << 20} {
		data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, size/8)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			f, err := New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				data[0] = byte(i) // a new digest each time
				data[1] = byte(i >> 8)
				st, err := f.Stage(context.Background(), bytes.NewReader(data), int64(size))
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Commit(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCommitWaitsForTheStagedFlush guards the background flush of a staged
// file: the staged bytes can be read while their fsync runs, Commit does
// not make the blob visible until the fsync returned, and a failed fsync
// fails Commit, leaving no blob, and Abort removes the staged file.
func TestCommitWaitsForTheStagedFlush(t *testing.T) {
	f, dir := newFS(t)
	ctx := context.Background()
	release := make(chan error)
	f.syncFile = func(file *os.File) error {
		if err := <-release; err != nil {
			return err
		}
		return file.Sync()
	}
	data := []byte("the bytes of a package")
	st, err := f.Stage(ctx, bytes.NewReader(data), 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(st.Path()); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading the staged bytes during their flush: %q, %v", got, err)
	}
	committed := make(chan error, 1)
	go func() { committed <- st.Commit(ctx) }()
	select {
	case err := <-committed:
		t.Fatalf("Commit returned (%v) before the staged file was flushed", err)
	case <-time.After(100 * time.Millisecond):
	}
	if ok, _ := f.Exists(ctx, st.Digest()); ok {
		t.Fatal("the blob is visible before its bytes were flushed")
	}
	release <- nil
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.Exists(ctx, st.Digest()); !ok {
		t.Fatal("the committed blob is not there")
	}

	other := []byte("other bytes, whose flush fails")
	st, err = f.Stage(ctx, bytes.NewReader(other), 100)
	if err != nil {
		t.Fatal(err)
	}
	release <- errors.New("an I/O error")
	if err := st.Commit(ctx); err == nil || !strings.Contains(err.Error(), "an I/O error") {
		t.Fatalf("Commit after a failed flush: %v, want the flush's error", err)
	}
	if ok, _ := f.Exists(ctx, st.Digest()); ok {
		t.Error("a blob whose flush failed was made visible")
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("Abort left %d files in tmp", len(tmp))
	}
}
