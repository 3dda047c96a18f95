package pkgfile

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// A package's files beyond Limits.MaxMemoryBytes are held in one
// temporary file instead of the heap, much as mime/multipart keeps a
// form's large parts on disk. The file is created in os.TempDir (TMPDIR)
// and removed from its folder at once where the system allows it (not on
// Windows), so nothing is left behind even if the process dies; the open
// file goes when the Package does. Its pages live in the system's page
// cache, which the kernel can write back and reclaim, not in the process.
//
// File reads a held-out file back into a slice of the heap: a mapping of
// the file would save the copy but turn a slice kept past the Package
// into a use after free. While any caller still holds that slice, File
// hands out the same one (a weak pointer remembers it), so analyzers
// reading a large file at once share one copy instead of one each; once
// none holds it, the collector frees it and the next File reads it again.

// span is where a held-out file's bytes are in the temporary file, and
// the copy read back last, while someone holds it.
type span struct {
	off, n int64
	mu     sync.Mutex
	last   weak.Pointer[byte] // the first byte of the last copy
}

// spillFile is a package's temporary file.
type spillFile struct {
	f       *os.File
	name    string // "" once removed from its folder
	size    int64
	scratch []byte // the copy buffer while the package is read
}

func newSpillFile() (*spillFile, error) {
	f, err := os.CreateTemp("", "gatehouse-package-*")
	if err != nil {
		return nil, err
	}
	s := &spillFile{f: f, name: f.Name()}
	if os.Remove(s.name) == nil {
		s.name = ""
	}
	return s, nil
}

// close closes the file and removes it if it is still in its folder.
func (s *spillFile) close() {
	s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
}

// spills reports whether a file of size bytes goes to the temporary file.
func (rd *reader) spills(size int64) bool {
	return rd.lim.MaxMemoryBytes > 0 && rd.held+size > rd.lim.MaxMemoryBytes
}

// spillData copies one entry's contents from tr to the temporary file,
// with the size limits readData enforces, and returns where they are,
// their SHA-256 and their first bytes (for the nested archive check).
// Memory stays one copy buffer however large the file.
func (rd *reader) spillData(tr *tar.Reader, hdr *tar.Header) (*span, [sha256.Size]byte, []byte, error) {
	var sum [sha256.Size]byte
	name := hdr.Name
	max, err := rd.checkSize(hdr)
	if err != nil {
		return nil, sum, nil, err
	}
	if rd.spill == nil {
		if rd.spill, err = newSpillFile(); err != nil {
			return nil, sum, nil, rd.spillErr(name, err)
		}
		rd.spill.scratch = make([]byte, 256<<10)
	}
	s := rd.spill
	at := &span{off: s.size}
	h := sha256.New()
	var head []byte
	r := io.LimitReader(tr, max+1)
	for {
		n, rerr := r.Read(s.scratch)
		if n > 0 {
			chunk := s.scratch[:n]
			if len(head) < headBytes {
				head = append(head, chunk[:min(n, headBytes-len(head))]...)
			}
			h.Write(chunk)
			if _, err := s.f.Write(chunk); err != nil {
				return nil, sum, nil, rd.spillErr(name, err)
			}
			at.n += int64(n)
			s.size += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, sum, nil, rd.failf(name, rerr, "reading the file")
		}
	}
	if at.n > max {
		return nil, sum, nil, refuse(name, RuleFileSize, "the file is larger than the limit of %d bytes", max)
	}
	h.Sum(sum[:0])
	return at, sum, head, nil
}

// headBytes is how much of a file nestedArchive looks at: tar's magic is
// the furthest in, at byte 257.
const headBytes = 512

func (rd *reader) spillErr(name string, err error) error {
	return fmt.Errorf("pkgfile: %s: holding the file in a temporary file (files past the first %d bytes of a package go to %s; set TMPDIR to a folder with room, or raise Limits.MaxMemoryBytes): %w",
		name, rd.lim.MaxMemoryBytes, os.TempDir(), err)
}

// attach hands the temporary file to p, which closes it when it is
// garbage-collected.
func (rd *reader) attach(p *Package) {
	if rd.spill == nil {
		return
	}
	rd.spill.scratch = nil
	p.spill = rd.spill
	rd.spill = nil
	runtime.AddCleanup(p, (*spillFile).close, p.spill)
}

// readSpilled reads a held-out file back, or returns the copy read last
// if a caller still holds it.
func (p *Package) readSpilled(path string, at *span) []byte {
	at.mu.Lock()
	defer at.mu.Unlock()
	if first := at.last.Value(); first != nil {
		return unsafe.Slice(first, at.n)
	}
	b := make([]byte, at.n)
	if _, err := p.spill.f.ReadAt(b, at.off); err != nil {
		// The file is the process's own, open and unlinked: a failed
		// read is a failing disk, which a memory-mapped read would meet
		// as a crash too. Failing loudly keeps an analyzer from taking
		// a file it could not read for an absent one (each analyzer's
		// run recovers the panic into an error result).
		panic(fmt.Sprintf("pkgfile: reading %s back from the package's temporary file: %v", path, err))
	}
	at.last = weak.Make(&b[0]) // never empty: an empty file is always held in memory
	return b
}
