package vulndb

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The on-disk form is a magic line followed by the gob encoding of data.
// gob, not JSON: the file is private to Gatehouse, and gob decodes the
// index several times faster. formatVersion changes whenever data does.
const (
	magic         = "gatehouse-vulndb\n"
	formatVersion = 1
	// maxDBFile bounds what Open reads: an imported database is a small
	// fraction of its all.zip (the Go database is about 2 MB).
	maxDBFile = 2 << 30
)

// WriteFile stores the database at path atomically: it writes a temporary
// file in the same directory, syncs it and renames it over path, so a
// reader sees the old file or the new one, never a mix.
func (db *DB) WriteFile(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".vulndb-*.tmp")
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	w := bufio.NewWriter(f)
	_, err = w.WriteString(magic)
	if err == nil {
		err = gob.NewEncoder(w).Encode(&db.d)
	}
	if err == nil {
		err = w.Flush()
	}
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
		return fmt.Errorf("vulndb: writing %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable; failure only weakens durability across
// a power cut, so it is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Open reads a database written by WriteFile.
func Open(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	defer f.Close()
	db, err := decode(io.LimitReader(f, maxDBFile))
	if err != nil {
		return nil, fmt.Errorf("vulndb: %s: %w", path, err)
	}
	return db, nil
}

func decode(r io.Reader) (*DB, error) {
	br := bufio.NewReader(r)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != magic {
		return nil, errors.New("not a Gatehouse vulnerability database file")
	}
	var d data
	if err := gob.NewDecoder(br).Decode(&d); err != nil {
		return nil, fmt.Errorf("corrupt database file: %w", err)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("corrupt database file: %w", err)
	}
	return &DB{d: d}, nil
}

// check verifies what Match relies on, so a damaged file fails here and
// not with an index out of range later.
func (d *data) check() error {
	if d.Format != formatVersion {
		return fmt.Errorf("format %d, this Gatehouse reads %d; import the all.zip again", d.Format, formatVersion)
	}
	if len(d.Version.SHA256) != 64 {
		return errors.New("no archive digest")
	}
	for key, entries := range d.Index {
		if !strings.Contains(key, "/") {
			return fmt.Errorf("index key %q has no ecosystem", key)
		}
		for _, e := range entries {
			if e.Adv < 0 || int(e.Adv) >= len(d.Advisories) {
				return fmt.Errorf("index entry for %q points at advisory %d of %d", key, e.Adv, len(d.Advisories))
			}
			for _, rg := range e.Ranges {
				for _, ev := range rg {
					if ev.Kind > limit || (ev.Version == "" && ev.Kind != introduced) || (ev.Version != "" && canonical(ev.Version) != ev.Version) {
						return fmt.Errorf("index entry for %q has an invalid range event", key)
					}
				}
			}
		}
	}
	return nil
}

// Load reads either an OSV all.zip or a database file written by
// WriteFile, by its first bytes: what `gatehouse vet --vulndb FILE` takes.
func Load(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("vulndb: %s is neither an OSV all.zip nor a database file", path)
	}
	if bytes.Equal(head, []byte("PK\x03\x04")) {
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("vulndb: %w", err)
		}
		db, err := Import(f, fi.Size())
		if err != nil {
			return nil, fmt.Errorf("%w (importing %s)", err, path)
		}
		return db, nil
	}
	f.Close()
	return Open(path)
}
