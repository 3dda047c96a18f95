package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/trust"
)

// LockVersion is the lock file format this package reads and writes.
const LockVersion = 1

// maxLockEntries bounds the plugins a lock file may pin.
const maxLockEntries = 1000

// Lock is gatehouse.lock: the exact digests an install folder holds, so that
// installing again gives the same bytes and `gatehouse verify` pins them.
type Lock struct {
	LockVersion int         `json:"lockVersion"`
	Marketplace string      `json:"marketplace"`
	Plugins     []LockEntry `json:"plugins"`
}

// LockEntry pins one plugin version.
type LockEntry struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Bundle is the file name of the version's certificate bundle in the
	// install folder.
	Bundle string `json:"bundle"`
}

// ParseLock decodes a lock file read from outside: known fields only, at
// most one entry per plugin, every digest well-formed.
func ParseLock(data []byte) (*Lock, error) {
	if len(data) > maxLockBytes {
		return nil, fmt.Errorf("the lock file is larger than %d bytes", maxLockBytes)
	}
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("the lock file is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the lock file has data after its JSON object")
	}
	if l.LockVersion != LockVersion {
		return nil, fmt.Errorf("the lock file has lockVersion %d; this gatehouse reads version %d", l.LockVersion, LockVersion)
	}
	if len(l.Plugins) > maxLockEntries {
		return nil, fmt.Errorf("the lock file pins %d plugins, more than %d", len(l.Plugins), maxLockEntries)
	}
	seen := map[string]bool{}
	for _, e := range l.Plugins {
		if err := validID(e.ID); err != nil {
			return nil, fmt.Errorf("the lock file: %w", err)
		}
		if _, err := semver.StrictNewVersion(e.Version); err != nil {
			return nil, fmt.Errorf("the lock file pins %s at %q, which is not a SemVer version", e.ID, e.Version)
		}
		if !trust.ValidDigest(e.Digest) {
			return nil, fmt.Errorf("the lock file pins %s@%s to %q, which is not a sha256 digest", e.ID, e.Version, e.Digest)
		}
		if e.Bundle != BundleFileName(PackageFileName(e.ID, e.Version)) {
			return nil, fmt.Errorf("the lock file names bundle %q for %s@%s; expected %q", e.Bundle, e.ID, e.Version, BundleFileName(PackageFileName(e.ID, e.Version)))
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("the lock file pins %s twice", e.ID)
		}
		seen[e.ID] = true
	}
	return &l, nil
}

// ReadLock reads the lock file at path.
func ReadLock(path string) (*Lock, error) {
	data, err := readLimited(path, maxLockBytes)
	if err != nil {
		return nil, err
	}
	l, err := ParseLock(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Marshal encodes the lock with its entries sorted by plugin id, so the
// file changes only when what it pins changes.
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Plugins = slices.Clone(l.Plugins)
	slices.SortFunc(c.Plugins, func(a, b LockEntry) int { return strings.Compare(a.ID, b.ID) })
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// entry returns the pin for a plugin id.
func (l *Lock) entry(id string) (LockEntry, bool) {
	for _, e := range l.Plugins {
		if e.ID == id {
			return e, true
		}
	}
	return LockEntry{}, false
}

// entryForFile returns the pin for an installed package file name.
func (l *Lock) entryForFile(name string) (LockEntry, bool) {
	for _, e := range l.Plugins {
		if PackageFileName(e.ID, e.Version) == name {
			return e, true
		}
	}
	return LockEntry{}, false
}

// validID checks a plugin id's shape: "namespace/name", lower case letters,
// digits and dashes, so it is safe in a file name and a URL path.
func validID(id string) error {
	ns, name, ok := strings.Cut(id, "/")
	if !ok || !validPart(ns) || !validPart(name) {
		return fmt.Errorf("%q is not a plugin id of the form namespace/name (lower case letters, digits and dashes)", id)
	}
	return nil
}

func validPart(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
