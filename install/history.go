package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/trust"
)

// HistoryVersion is the history file format this package reads and writes.
const HistoryVersion = 1

// Limits of the history file. The writer keeps within both by dropping the
// oldest records (and counting them in History.Dropped); the reader refuses
// a larger file and keeps only the newest MaxHistoryRecords records of one
// with more.
const (
	MaxHistoryBytes   = 8 << 20
	MaxHistoryRecords = 10_000

	maxReasonBytes  = 512
	maxByBytes      = 128
	maxVersionBytes = 256
)

// Action is what moved a pin.
type Action string

// The actions a history records.
const (
	// ActionInstall pins a plugin the folder did not pin before.
	ActionInstall Action = "install"
	// ActionUpdate moves a pin to another version (`gatehouse install`
	// with --update, or a new range).
	ActionUpdate Action = "update"
	// ActionRollback moves a pin back to a version pinned before
	// (`gatehouse rollback`).
	ActionRollback Action = "rollback"
)

// Record is one change of one pin in gatehouse.lock.
type Record struct {
	// Time is when the pin changed, in UTC.
	Time   time.Time `json:"time"`
	Action Action    `json:"action"`
	// ID, Version and Digest are the pin after the change.
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Package and Bundle are the file names of the version in the install
	// folder; they are always PackageFileName(ID, Version) and its bundle
	// name, and are checked to be so when read.
	Package string `json:"package"`
	Bundle  string `json:"bundle"`
	// Previous is the version pinned before the change; empty for an
	// install.
	Previous string `json:"previous,omitempty"`
	// Reason and By are what the person who made the change said, if
	// anything: why, and who.
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// History is gatehouse.history: every change of the install folder's pins,
// oldest first. It sits beside gatehouse.lock and is written after it (see
// Install and Rollback for why), so it may lag the lock by the change a
// crash interrupted, never run ahead of it: Unrecorded names such pins and
// the next install or rollback records them.
type History struct {
	HistoryVersion int `json:"historyVersion"`
	// Dropped counts the older records removed to keep the file within
	// MaxHistoryRecords and MaxHistoryBytes.
	Dropped int      `json:"dropped"`
	Records []Record `json:"records"`
}

// ParseHistory decodes a history file read from outside: known fields
// only, every record well-formed. A file with more than MaxHistoryRecords
// records keeps the newest ones, counting the rest in Dropped.
func ParseHistory(data []byte) (*History, error) {
	if len(data) > MaxHistoryBytes {
		return nil, fmt.Errorf("the history is %d bytes, more than the limit of %d; gatehouse never writes one that large: restore it from a backup, or move it aside and the next install starts a new one", len(data), MaxHistoryBytes)
	}
	var h History
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("the history is not valid JSON (%v); restore it from a backup, or move it aside and the next install starts a new one", err)
	}
	if dec.More() {
		return nil, errors.New("the history has data after its JSON object; restore it from a backup, or move it aside and the next install starts a new one")
	}
	if h.HistoryVersion != HistoryVersion {
		return nil, fmt.Errorf("the history has historyVersion %d; this gatehouse reads version %d", h.HistoryVersion, HistoryVersion)
	}
	if h.Dropped < 0 {
		return nil, fmt.Errorf("the history says %d records were dropped; a count cannot be negative", h.Dropped)
	}
	for i, r := range h.Records {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("the history's record %d (of %d): %w", i+1, len(h.Records), err)
		}
	}
	if n := len(h.Records) - MaxHistoryRecords; n > 0 {
		h.Records = slices.Clone(h.Records[n:])
		h.Dropped = addCount(h.Dropped, n)
	}
	if h.Records == nil {
		h.Records = []Record{}
	}
	return &h, nil
}

// ReadHistory reads the history file at path. A missing file is an error
// wrapping fs.ErrNotExist: a folder installed before histories existed has
// none, and its first install or rollback starts one.
func ReadHistory(path string) (*History, error) {
	data, err := readLimited(path, MaxHistoryBytes)
	if err != nil {
		return nil, err
	}
	h, err := ParseHistory(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// readHistoryIn reads dir's history; a folder without one has an empty
// history.
func readHistoryIn(dir string) (*History, error) {
	h, err := ReadHistory(filepath.Join(dir, HistoryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &History{HistoryVersion: HistoryVersion, Records: []Record{}}, nil
	}
	return h, err
}

// check validates one record as the reader and the writer require it.
func (r Record) check() error {
	if r.Time.IsZero() {
		return errors.New("it has no time")
	}
	if r.Time.Location() != time.UTC {
		return fmt.Errorf("its time %s is not in UTC (written with a Z)", r.Time.Format(time.RFC3339))
	}
	switch r.Action {
	case ActionInstall, ActionUpdate, ActionRollback:
	default:
		return fmt.Errorf("its action %.32q is none of install, update or rollback", r.Action)
	}
	if err := validID(r.ID); err != nil {
		return err
	}
	if err := validVersion(r.Version); err != nil {
		return fmt.Errorf("its version: %w", err)
	}
	if !trust.ValidDigest(r.Digest) {
		return fmt.Errorf("its digest %.80q is not a sha256 digest", r.Digest)
	}
	// The names are derived, never trusted: a record naming "../x" must not
	// make rollback read, or pruning remove, a file outside the folder.
	if want := PackageFileName(r.ID, r.Version); r.Package != want {
		return fmt.Errorf("it names package file %.80q for %s@%s; expected %q", r.Package, r.ID, r.Version, want)
	}
	if want := BundleFileName(r.Package); r.Bundle != want {
		return fmt.Errorf("it names bundle file %.80q for %s@%s; expected %q", r.Bundle, r.ID, r.Version, want)
	}
	if r.Previous != "" {
		if err := validVersion(r.Previous); err != nil {
			return fmt.Errorf("its previous version: %w", err)
		}
	}
	if r.Action == ActionInstall && r.Previous != "" {
		return fmt.Errorf("it installs %s@%s but names a previous version %s; an install has none", r.ID, r.Version, r.Previous)
	}
	if r.Action != ActionInstall && r.Previous == "" {
		return fmt.Errorf("it is an %s of %s@%s without the previous version", r.Action, r.ID, r.Version)
	}
	if err := validText("reason", r.Reason, maxReasonBytes); err != nil {
		return err
	}
	return validText(`name in "by"`, r.By, maxByBytes)
}

func validVersion(v string) error {
	if len(v) > maxVersionBytes {
		return fmt.Errorf("%.20q... is longer than %d bytes", v, maxVersionBytes)
	}
	if _, err := semver.StrictNewVersion(v); err != nil {
		return fmt.Errorf("%.40q is not a SemVer version", v)
	}
	return nil
}

// validText checks a free-text field: people read it in a terminal, so
// control characters (escape sequences that move the cursor or rewrite
// earlier lines, bidirectional overrides) are refused with invalid UTF-8.
func validText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("the %s is %d bytes, more than %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("the %s is not UTF-8", field)
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' || unicode.Is(unicode.Bidi_Control, c) {
			return fmt.Errorf("the %s holds the control character %U; write it as one line of plain text", field, c)
		}
	}
	return nil
}

// Marshal encodes the history one record per line, oldest first, within
// the limits: when the records are more than MaxHistoryRecords or the file
// would be larger than MaxHistoryBytes, the oldest are left out and counted
// in the encoded Dropped. h itself is not changed.
func (h *History) Marshal() ([]byte, error) {
	recs, dropped := h.Records, h.Dropped
	if n := len(recs) - MaxHistoryRecords; n > 0 {
		recs, dropped = recs[n:], addCount(dropped, n)
	}
	const sep = len(",\n    ")
	lines := make([][]byte, len(recs))
	total := 0
	for i, r := range recs {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("the history record of %s@%s: %w", r.ID, r.Version, err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // a reason reads as written: < stays <
		if err := enc.Encode(r); err != nil {
			return nil, err
		}
		lines[i] = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		total += len(lines[i]) + sep
	}
	const headroom = 128 // the header and the closing lines
	first := 0
	for ; first < len(lines) && total+headroom > MaxHistoryBytes; first++ {
		total -= len(lines[first]) + sep
	}
	lines, dropped = lines[first:], addCount(dropped, first)
	var out bytes.Buffer
	fmt.Fprintf(&out, "{\n  \"historyVersion\": %d,\n  \"dropped\": %d,\n  \"records\": [", HistoryVersion, dropped)
	for i, l := range lines {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString("\n    ")
		out.Write(l)
	}
	if len(lines) > 0 {
		out.WriteString("\n  ")
	}
	out.WriteString("]\n}\n")
	return out.Bytes(), nil
}

// addCount adds to Dropped without wrapping around: the count comes from
// the file, and a huge one must stay huge, not turn negative.
func addCount(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// For returns the records of one plugin, oldest first.
func (h *History) For(pluginID string) []Record {
	var out []Record
	for _, r := range h.Records {
		if r.ID == pluginID {
			out = append(out, r)
		}
	}
	return out
}

// last returns the newest record of a plugin.
func (h *History) last(pluginID string) (Record, bool) {
	for i := len(h.Records) - 1; i >= 0; i-- {
		if h.Records[i].ID == pluginID {
			return h.Records[i], true
		}
	}
	return Record{}, false
}

// Unrecorded returns the pins of l that the history does not end with:
// the change a crash interrupted between writing the lock and writing the
// history, or a lock edited by hand. The next install or rollback records
// them, marked as recorded late.
func (h *History) Unrecorded(l *Lock) []LockEntry {
	if l == nil {
		return nil
	}
	var out []LockEntry
	for _, e := range l.Plugins {
		if r, ok := h.last(e.ID); !ok || r.Version != e.Version || r.Digest != e.Digest {
			out = append(out, e)
		}
	}
	return out
}

// lateReason marks a record written for a pin found unrecorded.
const lateReason = "recorded late: " + LockFile + " pinned this without a history record (a write interrupted by a crash, an edit by hand, or a folder installed before gatehouse kept a history)"

// late returns the records of l's unrecorded pins.
func (h *History) late(l *Lock, now time.Time) []Record {
	var out []Record
	for _, e := range h.Unrecorded(l) {
		action, prev := ActionInstall, ""
		if r, ok := h.last(e.ID); ok {
			action, prev = ActionUpdate, r.Version
		}
		out = append(out, newRecord(now, action, e, prev, lateReason, ""))
	}
	return out
}

// entry is the pin a record made.
func (r Record) entry() LockEntry {
	return LockEntry{ID: r.ID, Version: r.Version, Digest: r.Digest, Bundle: r.Bundle}
}

func newRecord(now time.Time, action Action, e LockEntry, previous, reason, by string) Record {
	name := PackageFileName(e.ID, e.Version)
	return Record{Time: now.UTC().Truncate(time.Second), Action: action, ID: e.ID, Version: e.Version, Digest: e.Digest,
		Package: name, Bundle: BundleFileName(name), Previous: previous, Reason: reason, By: by}
}

// with returns a copy of h with recs appended.
func (h *History) with(recs ...Record) *History {
	c := *h
	c.Records = append(slices.Clone(h.Records), recs...)
	return &c
}

// byVersion returns, for one plugin, the newest record of each version
// it has pinned, the version most recently in use first: pinned by its
// newest record, or replaced by a later one. This is the order versions
// are kept in for rollback.
func (h *History) byVersion(pluginID string) []Record {
	type seen struct {
		rec Record
		// lastUse orders versions: 2i+1 when record i pinned it, 2i when
		// record i replaced it, so of the two versions one record names,
		// the one it pinned is the more recent.
		lastUse int
	}
	vs := map[string]*seen{}
	for i, r := range h.Records {
		if r.ID != pluginID {
			continue
		}
		if s, ok := vs[r.Previous]; ok && r.Previous != "" {
			s.lastUse = 2 * i
		}
		if s, ok := vs[r.Version]; ok {
			s.rec, s.lastUse = r, 2*i+1
		} else {
			vs[r.Version] = &seen{rec: r, lastUse: 2*i + 1}
		}
	}
	list := make([]*seen, 0, len(vs))
	for _, s := range vs {
		list = append(list, s)
	}
	slices.SortFunc(list, func(a, b *seen) int { return b.lastUse - a.lastUse })
	out := make([]Record, len(list))
	for i, s := range list {
		out[i] = s.rec
	}
	return out
}

// DefaultKeep is how many earlier versions of each plugin an install
// folder keeps for `gatehouse rollback` unless told otherwise.
const DefaultKeep = 3

// maxKeep bounds Keep: each kept version is a package on disk and a bundle
// fetched again on every install and refresh.
const maxKeep = 100

func keepOrDefault(keep int) (int, error) {
	switch {
	case keep == 0:
		return DefaultKeep, nil
	case keep < 0 || keep > maxKeep:
		return 0, fmt.Errorf("keeping %d earlier versions per plugin: it must be between 1 and %d", keep, maxKeep)
	}
	return keep, nil
}

// kept returns the versions kept for rollback, for every plugin in the
// history: the keep most recently in use besides the one l pins, whose
// package file is in dir. drop returns the other versions the history
// names whose files are still there.
func (h *History) kept(l *Lock, dir string, keep int) (kept, drop []Record) {
	pinned := map[string]bool{}
	if l != nil {
		for _, e := range l.Plugins {
			pinned[PackageFileName(e.ID, e.Version)] = true
		}
	}
	var ids []string
	seen := map[string]bool{}
	for _, r := range h.Records {
		if !seen[r.ID] {
			seen[r.ID] = true
			ids = append(ids, r.ID)
		}
	}
	for _, id := range ids {
		n := 0
		for _, r := range h.byVersion(id) {
			if pinned[r.Package] {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, r.Package)); err != nil {
				continue
			}
			if n < keep {
				kept = append(kept, r)
				n++
			} else {
				drop = append(drop, r)
			}
		}
	}
	return kept, drop
}

// prune removes the package and bundle files of versions no longer kept.
// A file the lock pins is never removed (kept skips them); a failure to
// remove one is reported, and the next install or rollback tries again.
func prune(dir string, drop []Record) (removed, failed []string) {
	for _, r := range drop {
		for _, name := range []string{r.Package, r.Bundle} {
			p := filepath.Join(dir, name)
			switch err := os.Remove(p); {
			case err == nil:
				removed = append(removed, p)
			case errors.Is(err, fs.ErrNotExist):
			default:
				failed = append(failed, fmt.Sprintf("removing %s, no longer kept for rollback: %v", p, err))
			}
		}
	}
	return removed, failed
}
