// Package blobfs keeps package bytes on local disk, addressed by their
// SHA-256: dir/sha256/ab/cdef... (fanned out by the first two hex digits so
// no directory grows huge). Bytes are written to dir/tmp while being hashed,
// fsynced, and renamed into place on Commit, with the directory fsynced too:
// a blob is either wholly there under its digest or not there at all, even
// after a crash.
//
// Objects (the transparency log's tiles and checkpoints) live under
// dir/objects by their key, written to a hidden temporary file beside
// their place, fsynced and renamed over it, with the directory fsynced.
package blobfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

const prefix = "sha256:"

// FS is a store.BlobStore on a local directory.
type FS struct {
	dir string
	// syncFile flushes a staged file to disk: (*os.File).Sync, or a
	// test's stand-in that holds it back or fails.
	syncFile func(*os.File) error
}

var _ store.BlobStore = (*FS)(nil)

// New opens (creating if needed) a blob directory. The 256 fan-out
// directories are made here, once, so that Commit never creates one and
// has only the rename itself to make durable.
func New(dir string) (*FS, error) {
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "sha256"), filepath.Join(dir, objectsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating blob directory: %w", err)
		}
	}
	for i := 0; i < 256; i++ {
		fan := filepath.Join(dir, "sha256", fmt.Sprintf("%02x", i))
		if err := os.Mkdir(fan, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating blob directory: %w", err)
		}
	}
	if err := syncDir(filepath.Join(dir, "sha256")); err != nil {
		return nil, fmt.Errorf("creating blob directory: %w", err)
	}
	return &FS{dir: dir, syncFile: (*os.File).Sync}, nil
}

func (f *FS) path(hexDigest string) string {
	return filepath.Join(f.dir, "sha256", hexDigest[:2], hexDigest[2:])
}

// Stage copies r into dir/tmp while hashing it, refusing more than max
// bytes, and starts flushing the file to disk (fsync) in the background:
// the caller reads the staged bytes (Path) meanwhile, and Commit waits for
// the flush before the rename that makes the blob visible, so the blob is
// durable whenever it is there. Errors from r are returned wrapped, so a
// caller's own limit error still matches with errors.Is.
func (f *FS) Stage(ctx context.Context, r io.Reader, max int64) (store.Staged, error) {
	if max <= 0 {
		return nil, fmt.Errorf("staging a blob: the size limit %d must be positive", max)
	}
	tmp, err := os.CreateTemp(filepath.Join(f.dir, "tmp"), "stage-*")
	if err != nil {
		return nil, fmt.Errorf("staging a blob: %w", err)
	}
	st := &staged{fs: f, tmp: tmp.Name()}
	fail := func(err error) (store.Staged, error) {
		tmp.Close()
		os.Remove(st.tmp)
		return nil, err
	}
	h := sha256.New()
	n, err := store.CopyLimited(ctx, io.MultiWriter(tmp, h), r, max)
	if err != nil {
		return fail(err)
	}
	st.hex, st.size = hex.EncodeToString(h.Sum(nil)), n
	// The flush of a few MB takes milliseconds of waiting on the disk,
	// which the caller spends reading the bytes it staged instead.
	st.flushed = make(chan error, 1)
	go func() {
		err := f.syncFile(tmp)
		if err != nil {
			err = fmt.Errorf("flushing to disk: %w", err)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		st.flushed <- err
	}()
	return st, nil
}

// ErrTooLarge is returned (wrapped) by Stage when the bytes exceed max.
var ErrTooLarge = store.ErrTooLarge

type staged struct {
	fs   *FS
	tmp  string
	hex  string
	size int64
	// flushed receives the outcome of the staged file's fsync and close,
	// once; flush keeps it.
	flushed   chan error
	flushErr  error
	waited    bool
	committed bool
}

// flush waits for the staged file's fsync and close to finish.
func (s *staged) flush() error {
	if !s.waited {
		s.flushErr, s.waited = <-s.flushed, true
	}
	return s.flushErr
}

func (s *staged) Digest() string { return prefix + s.hex }
func (s *staged) Size() int64    { return s.size }
func (s *staged) Path() string   { return s.tmp }

// Commit renames the staged file to its digest's path and fsyncs the
// directory so the rename itself is durable. When the blob exists (same
// digest, so same bytes) the staged copy is dropped.
func (s *staged) Commit(ctx context.Context) error {
	if s.committed {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return fmt.Errorf("storing blob %s: %w", s.Digest(), err)
	}
	final := s.fs.path(s.hex)
	dir := filepath.Dir(final)
	if _, err := os.Stat(final); err == nil {
		s.committed = true
		os.Remove(s.tmp)
		return nil
	}
	created := false
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("storing blob %s: %w", s.Digest(), err)
		}
		created = true
	}
	if err := os.Rename(s.tmp, final); err != nil {
		return fmt.Errorf("storing blob %s: %w", s.Digest(), err)
	}
	s.committed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("storing blob %s: %w", s.Digest(), err)
	}
	if created {
		// The new fan-out directory's own entry lives in its parent.
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return fmt.Errorf("storing blob %s: %w", s.Digest(), err)
		}
	}
	return nil
}

// Abort removes the staged file; after Commit it does nothing.
func (s *staged) Abort() error {
	if s.committed {
		return nil
	}
	s.committed = true // so a second Abort is a no-op as well
	s.flush()          // its outcome no longer matters; the file is closed after it
	if err := os.Remove(s.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing staged blob: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flushing directory %s: %w", dir, err)
	}
	return nil
}

// Open returns the blob's bytes and size; domain.ErrNotFound when absent.
// The reader checks the digest as it goes (store.VerifyingReader).
func (f *FS) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	h, err := store.ParseDigest(digest)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	file, err := os.Open(f.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("blob %s: %w", digest, domain.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("opening blob %s: %w", digest, err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, fmt.Errorf("opening blob %s: %w", digest, err)
	}
	return store.VerifyingReader(file, digest), fi.Size(), nil
}

// Exists reports whether the blob is stored.
func (f *FS) Exists(ctx context.Context, digest string) (bool, error) {
	h, err := store.ParseDigest(digest)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(f.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking blob %s: %w", digest, err)
	}
	return true, nil
}

// Delete removes the blob; deleting an absent blob is not an error, so a
// cleanup interrupted by a crash can simply run again.
func (f *FS) Delete(ctx context.Context, digest string) error {
	h, err := store.ParseDigest(digest)
	if err != nil {
		return err
	}
	p := f.path(h)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("deleting blob %s: %w", digest, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("deleting blob %s: %w", digest, err)
	}
	return nil
}

// List calls fn for every committed blob. Files that are not named like a
// blob are skipped; they are not ours.
func (f *FS) List(ctx context.Context, fn func(digest string, modTime time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	root := filepath.Join(f.dir, "sha256")
	fans, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("listing blobs: %w", err)
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, fan.Name()))
		if err != nil {
			return fmt.Errorf("listing blobs: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			digest := prefix + fan.Name() + e.Name()
			if !e.Type().IsRegular() {
				continue
			}
			if _, err := store.ParseDigest(digest); err != nil {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted while we listed
			}
			if err != nil {
				return fmt.Errorf("listing blobs: %w", err)
			}
			if err := fn(digest, info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// CleanTmp removes staged files older than olderThan, and the objects'
// temporary files as old: what a crash between Stage and Commit (or
// Abort), or inside WriteObject, left behind. Call it at start-up and now
// and then; a young file may belong to an upload in progress.
func (f *FS) CleanTmp(ctx context.Context, olderThan time.Duration) error {
	dir := filepath.Join(f.dir, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cleaning staged blobs: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	seen := 0
	werr := filepath.WalkDir(filepath.Join(f.dir, objectsDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen++; seen > maxCleanEntries {
			return fs.SkipAll
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), objectTmpPrefix) {
			return nil
		}
		if info, err := d.Info(); err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		return nil
	})
	if werr != nil {
		errs = append(errs, werr)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning staged blobs: %w", err)
	}
	return nil
}

// Ping checks that the blob folder is there and is a folder.
func (f *FS) Ping(ctx context.Context) error {
	info, err := os.Stat(filepath.Join(f.dir, "sha256"))
	if err != nil {
		return fmt.Errorf("blob folder %s: %w", f.dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("blob folder %s: sha256 is not a folder", f.dir)
	}
	return nil
}

// String is the blob folder.
func (f *FS) String() string { return f.dir }

const (
	objectsDir      = "objects"
	objectTmpPrefix = ".tmp-"
	// maxCleanEntries bounds the entries one CleanTmp walks under objects.
	maxCleanEntries = 1_000_000
)

// objectPath checks key and returns its file.
func (f *FS) objectPath(key string) (string, error) {
	if err := store.CheckObjectKey(key); err != nil {
		return "", err
	}
	return filepath.Join(f.dir, objectsDir, filepath.FromSlash(key)), nil
}

// ReadObject returns the object's bytes; an error matching fs.ErrNotExist
// when there is none.
func (f *FS) ReadObject(ctx context.Context, key string) ([]byte, error) {
	p, err := f.objectPath(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("object %s: %w", key, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("reading object %s: %w", key, err)
	}
	defer file.Close()
	if info, err := file.Stat(); err != nil {
		return nil, fmt.Errorf("reading object %s: %w", key, err)
	} else if !info.Mode().IsRegular() {
		// A folder holds keys below this one; the key itself is absent.
		return nil, fmt.Errorf("object %s: %w", key, fs.ErrNotExist)
	}
	b, err := io.ReadAll(io.LimitReader(file, store.MaxObjectBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading object %s: %w", key, err)
	}
	if len(b) > store.MaxObjectBytes {
		return nil, fmt.Errorf("object %s is larger than the limit of %d bytes", key, store.MaxObjectBytes)
	}
	return b, nil
}

// WriteObject writes data to a temporary file beside the object's place,
// fsyncs it, renames it over the object and fsyncs the folder: the object
// is the old bytes or the new ones, even after a crash.
func (f *FS) WriteObject(ctx context.Context, key string, data []byte) error {
	p, err := f.objectPath(key)
	if err != nil {
		return err
	}
	if len(data) > store.MaxObjectBytes {
		return fmt.Errorf("object %s: %d bytes is more than the limit of %d: %w", key, len(data), store.MaxObjectBytes, store.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := f.mkdirs(dir); err != nil {
		return fmt.Errorf("writing object %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(dir, objectTmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("writing object %s: %w", key, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing object %s: %w", key, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing object %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("writing object %s: %w", key, err)
	}
	return nil
}

// mkdirs creates dir and the folders above it up to dir/objects, fsyncing
// the parent of each one it creates so that the new entry is durable.
func (f *FS) mkdirs(dir string) error {
	root := filepath.Join(f.dir, objectsDir)
	if dir == root {
		return nil
	}
	if info, err := os.Stat(dir); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("%s is a file, not a folder", dir)
		}
		return nil
	}
	if err := f.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made by a concurrent writer
		}
		return err
	}
	return syncDir(filepath.Dir(dir))
}
