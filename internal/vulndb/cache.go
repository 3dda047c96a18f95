package vulndb

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultCacheBytes bounds a Cache directory: room for the prepared
// indexes of a few databases (the Go database's is about 1 MB).
const DefaultCacheBytes = 256 << 20

// maxCacheFiles bounds the number of prepared indexes kept.
const maxCacheFiles = 8

// Cache keeps prepared indexes of OSV all.zip files in a directory, so a
// later `gatehouse vet` with the same database decodes its index in
// milliseconds instead of importing the archive again. An index is named
// and validated by the SHA-256 of the archive it came from: an archive
// that changed (a newer download at the same path) gets a new index, and
// an index that is torn, altered, of another format or of another archive
// is rebuilt from the archive, never trusted.
type Cache struct {
	Dir string
	// MaxBytes bounds the directory's indexes; the least recently used
	// are removed past it. Zero means DefaultCacheBytes.
	MaxBytes int64
}

// CacheOutcome says how Cache.Load got the database.
type CacheOutcome string

const (
	// FromIndex: a valid prepared index was read.
	FromIndex CacheOutcome = "index"
	// Prepared: the archive was imported and its index written.
	Prepared CacheOutcome = "prepared"
	// Rebuilt: an index existed but could not be trusted; the archive
	// was imported again and the index replaced.
	Rebuilt CacheOutcome = "rebuilt"
	// Uncached: the file is a database file (read as it is), or the index
	// could not be written (the database is still correct).
	Uncached CacheOutcome = "uncached"
)

// Load reads the OSV all.zip or database file at path, as Load does,
// using and keeping a prepared index for an all.zip. Warn, when not nil,
// hears why an index was rebuilt or could not be kept; neither is an
// error, because the database returned is correct either way.
func (c Cache) Load(path string, warn func(string)) (*DB, CacheOutcome, error) {
	if warn == nil {
		warn = func(string) {}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("vulndb: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("vulndb: %w", err)
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte("PK\x03\x04")) {
		f.Close()
		db, err := Load(path) // a database file, or an error naming the problem
		return db, Uncached, err
	}
	// The archive's digest names the index: hash it once here, and let
	// Import hash it again only on a miss.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return nil, "", fmt.Errorf("vulndb: reading %s: %w", path, err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	idx := filepath.Join(c.Dir, "osv-"+hex.EncodeToString(sum[:16])+".idx")

	outcome := Prepared
	if b, err := readIndexFile(idx); err == nil {
		db, err := decodeIndex(b, sum)
		if err == nil {
			now := time.Now()
			os.Chtimes(idx, now, now) // recently used; failure only affects eviction order
			return db, FromIndex, nil
		}
		warn(fmt.Sprintf("the prepared index %s cannot be trusted (%v); rebuilding it from %s", idx, err, path))
		outcome = Rebuilt
	} else if !os.IsNotExist(err) {
		warn(fmt.Sprintf("the prepared index %s cannot be read (%v); rebuilding it from %s", idx, err, path))
		outcome = Rebuilt
	}

	db, err := Import(f, fi.Size())
	if err != nil {
		return nil, "", fmt.Errorf("%w (importing %s)", err, path)
	}
	if db.d.Version.SHA256 != hex.EncodeToString(sum[:]) {
		// The file changed between the two reads: use what was imported,
		// keep no index for a digest nobody asked for.
		warn(fmt.Sprintf("%s changed while it was read; no index kept", path))
		return db, Uncached, nil
	}
	if err := c.store(idx, db); err != nil {
		warn(fmt.Sprintf("the prepared index cannot be kept, so the next run imports %s again: %v", path, err))
		return db, Uncached, nil
	}
	return db, outcome, nil
}

func readIndexFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxIndexFile {
		return nil, fmt.Errorf("over %d bytes", maxIndexFile)
	}
	return b, nil
}

func (c Cache) limit() int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultCacheBytes
}

// store writes the index atomically (a reader sees the old file or the
// new one) and then trims the directory to its bounds.
func (c Cache) store(path string, db *DB) error {
	b, err := encodeIndex(db)
	if err != nil {
		return err
	}
	if int64(len(b)) > c.limit() {
		return fmt.Errorf("the index is %d bytes, over the cache's limit of %d", len(b), c.limit())
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.Dir, ".osv-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	c.trim(filepath.Base(path))
	return nil
}

// trim removes the least recently used indexes past the cache's bounds,
// never the one just written. Failures leave files behind, which costs
// disk space only.
func (c Cache) trim(keep string) {
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		used time.Time
	}
	var files []file
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, "osv-") || !strings.HasSuffix(n, ".idx") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			files = append(files, file{n, fi.Size(), fi.ModTime()})
		}
	}
	// Newest first; the one just written counts as newest.
	slices.SortFunc(files, func(a, b file) int {
		switch {
		case a.name == keep:
			return -1
		case b.name == keep:
			return 1
		}
		return b.used.Compare(a.used)
	})
	var total int64
	for i, f := range files {
		total += f.size
		if i > 0 && (i >= maxCacheFiles || total > c.limit()) {
			os.Remove(filepath.Join(c.Dir, f.name))
		}
	}
}
