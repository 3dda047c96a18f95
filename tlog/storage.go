package tlog

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gatehouse.dev/gatehouse/trust"
)

// Storage holds a log's published files: the checkpoint, the hash tiles
// and the entry bundles, by their paths in the log's URL space
// ("checkpoint", "tile/0/000", "tile/entries/001.p/7"). A directory, an
// object store bucket or anything that replaces a file atomically can stand
// behind it, so every process serving the log reads what the integrator
// wrote.
type Storage interface {
	// ReadFile returns the file's bytes, or an error matching
	// fs.ErrNotExist when there is none.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile replaces the file atomically (a reader sees the old bytes
	// or the new, never a mix) and durably: once it returns, a crash does
	// not lose the file.
	WriteFile(ctx context.Context, path string, data []byte) error
}

// StorageFetcher returns st's files as a Fetcher, for a TileProver.
func StorageFetcher(st Storage) Fetcher {
	return func(ctx context.Context, p string) ([]byte, error) { return st.ReadFile(ctx, p) }
}

// DirStorage is a Storage in a local directory, which a plain file server
// can publish.
func DirStorage(dir string) Storage { return dirStorage(dir) }

type dirStorage string

// PublishedPath reports whether p is one of a log's published paths: the
// checkpoint or a tile or entry bundle, spelled as TilePath and
// EntryBundlePath spell them. Anything else (a "..", a backslash, another
// folder) is refused before it reaches a file system or a bucket.
func PublishedPath(p string) bool {
	if p == CheckpointPath {
		return true
	}
	if !strings.HasPrefix(p, "tile/") || path.Clean(p) != p || strings.Contains(p, "..") || len(p) > 128 {
		return false
	}
	for _, c := range p {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '/' || c == '.') {
			return false
		}
	}
	return true
}

func (d dirStorage) ReadFile(_ context.Context, p string) ([]byte, error) {
	if !PublishedPath(p) {
		return nil, fmt.Errorf("tlog: %q is not a published path of the log: %w", p, os.ErrNotExist)
	}
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(p)))
}

func (d dirStorage) WriteFile(ctx context.Context, p string, data []byte) error {
	if !PublishedPath(p) {
		return fmt.Errorf("tlog: %q is not a published path of the log", p)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	full := filepath.Join(string(d), filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	// WriteFileAtomic syncs the file, renames it into place and syncs the
	// directory.
	if err := trust.WriteFileAtomic(full, data, 0o644); err != nil {
		return fmt.Errorf("tlog: writing %s: %w", p, err)
	}
	return nil
}
