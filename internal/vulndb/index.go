package vulndb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// The prepared index is the database in a form that decodes in a few
// milliseconds, for the CLI's on-disk cache (see Cache). WriteFile's gob
// form takes about 40 ms to decode the Go database, most of it gob's
// reflection; this form is length-prefixed fields read straight into the
// structures Match uses, so matching is the same code on the same data.
//
// Layout:
//
//	magic "gatehouse-vulnidx\n"
//	uint32 indexFormat (big endian)
//	[32]byte SHA-256 of the OSV all.zip it was prepared from
//	[32]byte SHA-256 of the payload
//	uint64 payload length (big endian)
//	payload: uvarint-prefixed fields of data, index keys sorted
//
// The reader trusts nothing: the payload's digest catches a torn or
// flipped file, every count is bounded by the bytes left, and the decoded
// data passes the same check as a database file.
const (
	indexMagic  = "gatehouse-vulnidx\n"
	indexFormat = 1
	indexHeader = len(indexMagic) + 4 + 32 + 32 + 8
	// maxIndexFile bounds one prepared index; it is a little larger than
	// the database file, which maxDBFile bounds.
	maxIndexFile = maxDBFile
)

// errIndex marks an index that must be rebuilt rather than trusted.
var errIndex = errors.New("vulndb: prepared index unusable")

// encodeIndex returns the prepared index of db.
func encodeIndex(db *DB) ([]byte, error) {
	d := &db.d
	src, err := hex.DecodeString(d.Version.SHA256)
	if err != nil || len(src) != 32 {
		return nil, fmt.Errorf("vulndb: the database has no archive digest")
	}
	var p []byte
	p = binary.AppendUvarint(p, uint64(d.Format))
	p = appendString(p, d.Version.SHA256)
	p = binary.AppendUvarint(p, uint64(d.Version.Records))
	p = binary.AppendVarint(p, d.Version.Newest.Unix())
	p = binary.AppendUvarint(p, uint64(d.Version.Newest.Nanosecond()))
	for _, n := range []int{d.Stats.Records, d.Stats.Withdrawn, d.Stats.OtherFiles, d.Stats.Packages, d.Stats.UnusableRanges} {
		p = binary.AppendUvarint(p, uint64(n))
	}
	p = binary.AppendUvarint(p, uint64(len(d.Advisories)))
	for _, a := range d.Advisories {
		p = appendString(p, a.ID)
		p = appendStrings(p, a.Aliases)
		p = appendString(p, a.Summary)
		p = appendString(p, a.URL)
		p = appendString(p, string(a.Severity))
	}
	keys := make([]string, 0, len(d.Index))
	for k := range d.Index {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same database always gives the same bytes
	p = binary.AppendUvarint(p, uint64(len(keys)))
	for _, k := range keys {
		p = appendString(p, k)
		entries := d.Index[k]
		p = binary.AppendUvarint(p, uint64(len(entries)))
		for _, e := range entries {
			p = binary.AppendUvarint(p, uint64(e.Adv))
			p = binary.AppendUvarint(p, uint64(len(e.Ranges)))
			for _, rg := range e.Ranges {
				p = binary.AppendUvarint(p, uint64(len(rg)))
				for _, ev := range rg {
					p = append(p, byte(ev.Kind))
					p = appendString(p, ev.Version)
				}
			}
			p = appendStrings(p, e.Versions)
		}
	}
	if indexHeader+len(p) > maxIndexFile {
		return nil, fmt.Errorf("vulndb: the prepared index would be %d bytes, over the limit of %d", indexHeader+len(p), maxIndexFile)
	}
	sum := sha256.Sum256(p)
	out := make([]byte, 0, indexHeader+len(p))
	out = append(out, indexMagic...)
	out = binary.BigEndian.AppendUint32(out, indexFormat)
	out = append(out, src...)
	out = append(out, sum[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(p)))
	return append(out, p...), nil
}

func appendString(p []byte, s string) []byte {
	p = binary.AppendUvarint(p, uint64(len(s)))
	return append(p, s...)
}

// appendStrings writes 0 for nil and len+1 otherwise: Match hands
// Aliases out as they are, and JSON shows nil and empty differently.
func appendStrings(p []byte, ss []string) []byte {
	if ss == nil {
		return append(p, 0)
	}
	p = binary.AppendUvarint(p, uint64(len(ss))+1)
	for _, s := range ss {
		p = appendString(p, s)
	}
	return p
}

// decodeIndex reads a prepared index and checks that it was prepared from
// the archive whose SHA-256 is source. Any error means: rebuild it.
func decodeIndex(b []byte, source [32]byte) (*DB, error) {
	if len(b) < indexHeader || string(b[:len(indexMagic)]) != indexMagic {
		return nil, fmt.Errorf("%w: not a prepared index", errIndex)
	}
	h := b[len(indexMagic):]
	if f := binary.BigEndian.Uint32(h); f != indexFormat {
		return nil, fmt.Errorf("%w: format %d, this Gatehouse reads %d", errIndex, f, indexFormat)
	}
	if !bytes.Equal(h[4:36], source[:]) {
		return nil, fmt.Errorf("%w: prepared from another database", errIndex)
	}
	n := binary.BigEndian.Uint64(h[68:76])
	p := b[indexHeader:]
	if n != uint64(len(p)) {
		return nil, fmt.Errorf("%w: truncated (%d of %d payload bytes)", errIndex, len(p), n)
	}
	if sum := sha256.Sum256(p); !bytes.Equal(sum[:], h[36:68]) {
		return nil, fmt.Errorf("%w: payload digest mismatch", errIndex)
	}
	r := &reader{b: p}
	var d data
	d.Format = r.int()
	d.Version.SHA256 = r.string()
	d.Version.Records = r.int()
	sec := r.varint()
	nsec := r.int()
	if r.err == nil && nsec >= 1e9 {
		r.fail("bad time")
	}
	d.Version.Newest = time.Unix(sec, int64(nsec)).UTC()
	for _, n := range []*int{&d.Stats.Records, &d.Stats.Withdrawn, &d.Stats.OtherFiles, &d.Stats.Packages, &d.Stats.UnusableRanges} {
		*n = r.int()
	}
	if na := r.count(); na > 0 {
		d.Advisories = make([]advisory, na)
	}
	for i := range d.Advisories {
		a := &d.Advisories[i]
		a.ID = r.string()
		a.Aliases = r.strings()
		a.Summary = r.string()
		a.URL = r.string()
		a.Severity = Severity(r.string())
	}
	nk := r.count()
	d.Index = make(map[string][]affected, nk)
	prev := ""
	for i := 0; i < nk && r.err == nil; i++ {
		k := r.string()
		if i > 0 && k <= prev {
			r.fail("index keys out of order")
		}
		prev = k
		var entries []affected
		if ne := r.count(); ne > 0 {
			entries = make([]affected, ne)
		}
		for j := range entries {
			e := &entries[j]
			adv := r.int()
			if adv > math.MaxInt32 {
				r.fail("advisory number out of range")
			}
			e.Adv = int32(adv)
			if nr := r.count(); nr > 0 {
				e.Ranges = make([][]event, nr)
			}
			for ri := range e.Ranges {
				if nev := r.count(); nev > 0 {
					e.Ranges[ri] = make([]event, nev)
				}
				for ei := range e.Ranges[ri] {
					e.Ranges[ri][ei] = event{Kind: eventKind(r.byte()), Version: r.string()}
				}
			}
			e.Versions = r.strings()
		}
		d.Index[k] = entries
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", errIndex, r.err)
	}
	if d.Version.SHA256 != hex.EncodeToString(source[:]) {
		return nil, fmt.Errorf("%w: its database digest disagrees with its header", errIndex)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", errIndex, err)
	}
	return &DB{d: d}, nil
}

// reader decodes the payload; the first error sticks and every later
// read returns a zero value, so decodeIndex checks once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int {
	v := r.uvarint()
	if v > math.MaxInt32 {
		r.fail("number out of range")
		return 0
	}
	return int(v)
}

// count reads a number of elements to follow; each takes at least one
// byte, so a count above the bytes left is corrupt, and a forged count
// cannot make the reader allocate more than the file's size.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.fail("count beyond the end of the index")
		return 0
	}
	return int(v)
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n-1)
	for i := range out {
		out[i] = r.string()
	}
	return out
}
