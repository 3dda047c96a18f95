package vulndb

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound what Import reads from an archive.
type Limits struct {
	MaxEntries   int   // zip entries
	MaxEntrySize int64 // uncompressed bytes of one record
	MaxTotal     int64 // uncompressed bytes of all records
}

// DefaultLimits fit every ecosystem osv.dev publishes today with room to
// grow (the Go database is 4,291 records and 7.9 MB uncompressed; the
// largest ecosystems are a few hundred thousand records), while stopping
// a zip bomb long before memory runs out.
func DefaultLimits() Limits {
	return Limits{MaxEntries: 1_000_000, MaxEntrySize: 16 << 20, MaxTotal: 8 << 30}
}

// Import reads an OSV all.zip with DefaultLimits.
func Import(r io.ReaderAt, size int64) (*DB, error) {
	return DefaultLimits().Import(r, size)
}

// Import reads an OSV all.zip: one JSON record per entry. Every record is
// validated; one malformed record, a truncated archive, a checksum
// mismatch or a limit exceeded fails the whole import, because a partial
// database would report vulnerable components as clean.
func (lim Limits) Import(r io.ReaderAt, size int64) (*DB, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, fmt.Errorf("vulndb: reading the archive: %w", err)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("vulndb: not a readable zip archive (truncated or corrupt?): %w", err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("vulndb: the archive has %d entries, the limit is %d", len(zr.File), lim.MaxEntries)
	}
	b := newBuilder()
	var total int64
	buf := new(bytes.Buffer)
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			b.d.Stats.OtherFiles++
			continue
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntrySize) {
			return nil, fmt.Errorf("vulndb: entry %q is %d bytes, the limit is %d", f.Name, f.UncompressedSize64, lim.MaxEntrySize)
		}
		buf.Reset()
		if err := readEntry(f, buf, lim.MaxEntrySize); err != nil {
			return nil, fmt.Errorf("vulndb: entry %q: %w", f.Name, err)
		}
		if total += int64(buf.Len()); total > lim.MaxTotal {
			return nil, fmt.Errorf("vulndb: the records exceed %d bytes uncompressed", lim.MaxTotal)
		}
		var rec osvRecord
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("vulndb: entry %q: %w: %w", f.Name, errMalformed, err)
		}
		if err := rec.validate(); err != nil {
			return nil, fmt.Errorf("vulndb: entry %q: %w", f.Name, err)
		}
		// all.zip names each record after its id; a mismatch means the
		// archive is not what it claims to be.
		if base := strings.TrimSuffix(path.Base(f.Name), ".json"); base != rec.ID {
			return nil, fmt.Errorf("vulndb: entry %q holds advisory %q: %w: the file name and id differ", f.Name, rec.ID, errMalformed)
		}
		if rec.Modified.IsZero() {
			t := f.Modified
			rec.Modified = &t
		}
		if err := b.add(&rec); err != nil {
			return nil, fmt.Errorf("vulndb: entry %q: %w", f.Name, err)
		}
	}
	if b.d.Stats.Records == 0 {
		return nil, errors.New("vulndb: the archive holds no OSV records")
	}
	b.d.Version.SHA256 = hex.EncodeToString(h.Sum(nil))
	return b.finish(), nil
}

func readEntry(f *zip.File, buf *bytes.Buffer, max int64) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// The declared size can lie; the copy is capped independently, and
	// reading to EOF makes archive/zip verify the CRC-32.
	n, err := io.Copy(buf, io.LimitReader(rc, max+1))
	if err != nil {
		return err
	}
	if n > max {
		return fmt.Errorf("larger than %d bytes", max)
	}
	return nil
}

type builder struct {
	d      data
	ids    map[string]struct{}
	newest time.Time
}

func newBuilder() *builder {
	return &builder{d: data{Format: formatVersion, Index: map[string][]affected{}}, ids: map[string]struct{}{}}
}

func (b *builder) add(r *osvRecord) error {
	if _, dup := b.ids[r.ID]; dup {
		return fmt.Errorf("%w: advisory %s appears twice", errMalformed, r.ID)
	}
	b.ids[r.ID] = struct{}{}
	b.d.Stats.Records++
	if r.Modified.After(b.newest) {
		b.newest = *r.Modified
	}
	if r.Withdrawn != nil {
		b.d.Stats.Withdrawn++
		return nil
	}
	if len(b.d.Advisories) >= 1<<31-1 {
		return errors.New("too many advisories")
	}
	adv := advisory{
		ID:       r.ID,
		Aliases:  r.Aliases,
		Summary:  summaryOf(r),
		URL:      urlOf(r),
		Severity: severityOf(r),
	}
	idx := int32(len(b.d.Advisories))
	added := false
	for _, a := range r.Affected {
		if a.Package == nil || a.Package.Name == "" {
			continue // GIT-only entry, see validate
		}
		eco := a.Package.Ecosystem
		e := affected{Adv: idx}
		for _, v := range a.Versions {
			e.Versions = append(e.Versions, v)
			if c := canonical(v); c != "" && c != v && semverEcosystem(eco) {
				e.Versions = append(e.Versions, c)
			}
		}
		for _, rg := range a.Ranges {
			if rg.Type == "GIT" {
				continue
			}
			events, ok := convertEvents(rg.Events, rg.Type == "SEMVER" || semverEcosystem(eco))
			if !ok {
				b.d.Stats.UnusableRanges++
				continue
			}
			e.Ranges = append(e.Ranges, events)
		}
		if len(e.Ranges) == 0 && len(e.Versions) == 0 {
			continue
		}
		key := indexKey(eco, a.Package.Name)
		b.d.Index[key] = append(b.d.Index[key], e)
		added = true
	}
	if added {
		b.d.Advisories = append(b.d.Advisories, adv)
	}
	return nil
}

// convertEvents turns a range's events into sorted canonical events. It
// reports false when the versions cannot be ordered: a range of another
// ecosystem's own ordering, or versions that are not semantic versions
// (the Go database has a few, such as "RELEASE.2025-02-28T09-55-16Z").
func convertEvents(in []map[string]string, semverOrdered bool) ([]event, bool) {
	if !semverOrdered {
		return nil, false
	}
	out := make([]event, 0, len(in))
	for _, ev := range in {
		for kind, v := range ev { // validate checked: exactly one
			var e event
			switch kind {
			case "introduced":
				e.Kind = introduced
			case "fixed":
				e.Kind = fixed
			case "last_affected":
				e.Kind = lastAffected
			case "limit":
				e.Kind = limit
			}
			if !(e.Kind == introduced && v == "0") {
				if e.Version = canonical(v); e.Version == "" {
					return nil, false
				}
			}
			out = append(out, e)
		}
	}
	sortEvents(out)
	return out, true
}

func summaryOf(r *osvRecord) string {
	s := r.Summary
	if s == "" {
		// Some databases write no summary; the first line of the details
		// is the closest thing.
		s, _, _ = strings.Cut(r.Details, "\n")
	}
	if len(s) > maxSummaryLen {
		s = s[:maxSummaryLen]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// urlOf picks the advisory's page: the database's own, else the first
// ADVISORY reference, else osv.dev's page for the id.
func urlOf(r *osvRecord) string {
	if u := r.DatabaseSpecific.URL; strings.HasPrefix(u, "https://") {
		return u
	}
	for _, ref := range r.References {
		if ref.Type == "ADVISORY" && strings.HasPrefix(ref.URL, "https://") {
			return ref.URL
		}
	}
	return "https://osv.dev/vulnerability/" + r.ID
}

func (b *builder) finish() *DB {
	b.d.Version.Records = b.d.Stats.Records
	b.d.Version.Newest = b.newest.UTC()
	b.d.Stats.Packages = len(b.d.Index)
	return &DB{d: b.d}
}
