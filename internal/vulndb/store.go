package vulndb

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// currentFile names the file that holds the active database's file name.
const currentFile = "CURRENT"

// Store keeps the active database in a directory and replaces it only on
// a successful import. The directory holds one database file per import
// ("osv-<digest>.db") and CURRENT, which names the active one; switching
// is a rename of CURRENT, so a crash leaves the old or the new database
// active, never neither.
type Store struct {
	dir    string
	mu     sync.Mutex // serialises imports
	active atomic.Pointer[DB]
}

// OpenStore opens (creating if needed) the store in dir and loads the
// active database, if one was imported.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vulndb: store: %w", err)
	}
	s := &Store{dir: dir}
	name, err := os.ReadFile(filepath.Join(dir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulndb: store: %w", err)
	}
	file := strings.TrimSpace(string(name))
	if !validDBName(file) {
		return nil, fmt.Errorf("vulndb: store: %s names %q, which is not a database file", currentFile, file)
	}
	db, err := Open(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("vulndb: store: the active database cannot be read (import the all.zip again): %w", err)
	}
	s.active.Store(db)
	return s, nil
}

func validDBName(name string) bool {
	return strings.HasPrefix(name, "osv-") && strings.HasSuffix(name, ".db") && filepath.Base(name) == name
}

// DB returns the active database, or nil when none was imported.
func (s *Store) DB() *DB { return s.active.Load() }

// Import imports an OSV all.zip and makes it the active database. On any
// error the active database is unchanged, and the error says why.
func (s *Store) Import(r io.ReaderAt, size int64) (*DB, error) {
	return s.ImportWithLimits(r, size, DefaultLimits())
}

// ImportWithLimits is Import with explicit limits.
func (s *Store) ImportWithLimits(r io.ReaderAt, size int64, lim Limits) (*DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, err := lim.Import(r, size)
	if err != nil {
		return nil, s.unchanged(err)
	}
	name := "osv-" + db.d.Version.SHA256[:32] + ".db"
	if err := db.WriteFile(filepath.Join(s.dir, name)); err != nil {
		return nil, s.unchanged(err)
	}
	if err := writeAtomic(filepath.Join(s.dir, currentFile), []byte(name+"\n")); err != nil {
		return nil, s.unchanged(err)
	}
	s.active.Store(db)
	s.removeOthers(name)
	return db, nil
}

func (s *Store) unchanged(err error) error {
	if prev := s.active.Load(); prev != nil {
		return fmt.Errorf("%w; the active database is unchanged (%s)", err, prev.Version())
	}
	return fmt.Errorf("%w; no database is active", err)
}

// removeOthers deletes superseded database files. Failure leaves a stale
// file behind, which costs disk space only.
func (s *Store) removeOthers(keep string) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); n != keep && validDBName(n) {
			os.Remove(filepath.Join(s.dir, n))
		}
	}
}

func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".current-*.tmp")
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("vulndb: switching the active database: %w", err)
	}
	syncDir(dir)
	return nil
}

// ImportFile imports the OSV all.zip at path; see Import.
func (s *Store) ImportFile(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, s.unchanged(fmt.Errorf("vulndb: %w", err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, s.unchanged(fmt.Errorf("vulndb: %w", err))
	}
	return s.Import(f, fi.Size())
}
