package pkgfile

import (
	"archive/tar"
	"bufio"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"slices"
)

// Entry describes one file of a package.
type Entry struct {
	Path   string // package-relative, slash-separated
	Size   int64  // bytes
	SHA256 string // lowercase hex
}

// Package is a package that passed every check of Read.
type Package struct {
	// Digest is "sha256:HEX" of the compressed bytes: the package identity.
	Digest string
	// Size is the compressed size in bytes.
	Size int64
	// Files lists the files sorted by path, without SHA256SUMS.
	Files []Entry

	data    map[string][]byte // the files held in memory
	spilled map[string]*span  // the files held out of memory, in spill (Limits.MaxMemoryBytes)
	spill   *spillFile
}

// File returns the contents of the file at path. The slice must not be
// modified. A file held in memory is shared with the Package; small files
// are stored end to end in blocks of a few MiB, so a slice kept after the
// Package is dropped keeps its whole block in memory: copy what outlives
// the Package. A file past Limits.MaxMemoryBytes is read back from the
// package's temporary file into the heap, once for as long as some caller
// holds the slice; File panics if that read fails (see readSpilled).
func (p *Package) File(path string) ([]byte, bool) {
	if b, ok := p.data[path]; ok {
		return b, true
	}
	if at, ok := p.spilled[path]; ok {
		return p.readSpilled(path, at), true
	}
	return nil, false
}

// Manifest returns the raw manifest.json, which every package holds.
func (p *Package) Manifest() []byte {
	b, _ := p.File(ManifestPath)
	return b
}

// ReadFile opens and reads the package at path; see Read.
func ReadFile(path string, lim Limits) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pkgfile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pkgfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pkgfile: %s is not a regular file", path)
	}
	if fi.Size() > lim.MaxPackageBytes && lim.MaxPackageBytes > 0 {
		return nil, fmt.Errorf("%s: %w", path, refuse("", RulePackageTooLarge, "the package is %d bytes; the limit is %d", fi.Size(), lim.MaxPackageBytes))
	}
	p, err := Read(f, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Read reads and checks a package from r, consuming r to its end. It returns a
// *RefusalError when the package breaks a rule, and another error when r
// itself fails. The digest covers exactly the bytes read from r.
//
// Read holds the files in memory up to lim.MaxMemoryBytes, in little more
// than their bytes (1.5% more on packages of source files; see blocks),
// without the compressed form. A file that does not fit in what is left of
// that bound goes to one temporary file per package, in os.TempDir,
// removed from its folder at once where the system allows it and closed
// when the Package is garbage-collected (see spill.go). With
// MaxMemoryBytes 0 every file is held in memory, and lim.MaxTotalBytes
// bounds that memory.
func Read(r io.Reader, lim Limits) (*Package, error) {
	if err := lim.validate(); err != nil {
		return nil, err
	}
	rd := &reader{lim: lim, hash: sha256.New()}
	rd.in = &inputReader{r: r, max: lim.MaxPackageBytes}
	// bufio.Reader is an io.ByteReader, so gzip uses it as is instead of
	// wrapping it in a buffer of its own: whatever follows the gzip member
	// then stays in br, where trailing data can be detected.
	rd.br = bufio.NewReaderSize(io.TeeReader(rd.in, rd.hash), 64<<10)
	p, err := rd.read()
	if err != nil {
		return nil, err
	}
	return p, nil
}

type reader struct {
	lim    Limits
	hash   hash.Hash
	in     *inputReader
	br     *bufio.Reader
	stream *streamReader
	blocks blocks
	held   int64      // bytes of files held in memory
	spill  *spillFile // until attached to the Package
}

func (rd *reader) read() (*Package, error) {
	p, err := rd.readPackage()
	if err != nil {
		if rd.spill != nil {
			rd.spill.close() // a refused package leaves nothing behind
		}
		return nil, err
	}
	rd.attach(p)
	return p, nil
}

func (rd *reader) readPackage() (*Package, error) {
	magic, err := rd.br.Peek(2)
	if err != nil {
		switch {
		case err != io.EOF || (len(magic) == 1 && magic[0] == 0x1f):
			return nil, rd.fail("", err)
		case len(magic) == 0:
			return nil, refuse("", RuleNotGzip, "the package is empty")
		default:
			return nil, refuse("", RuleNotGzip, "the package is one byte long")
		}
	}
	if magic[0] != 0x1f || magic[1] != 0x8b {
		return nil, refuse("", RuleNotGzip, "the package does not start with the gzip signature 1f 8b; packages are gzip-compressed tar files written by `gatehouse plugin pack`")
	}
	gz, err := gzip.NewReader(rd.br)
	if err != nil {
		return nil, rd.fail("", err)
	}
	// One member only: a second member would be data the digest covers but
	// that a multistream reader elsewhere might interpret differently.
	gz.Multistream(false)
	rd.stream = &streamReader{r: gz, max: rd.lim.MaxTotalBytes}

	p := &Package{data: make(map[string][]byte)}
	if err := rd.readTar(p); err != nil {
		return nil, err
	}
	rd.blocks.trim(p.data)
	if err := rd.readTrailer(); err != nil {
		return nil, err
	}
	p.Digest = "sha256:" + hex.EncodeToString(rd.hash.Sum(nil))
	p.Size = rd.in.n
	return p, nil
}

// readTar reads every entry into p, applying the entry rules as it goes.
// SHA256SUMS comes first, so every file is checked against it as soon as it
// is read.
func (rd *reader) readTar(p *Package) error {
	tr := tar.NewReader(rd.stream)
	names := newNameSet()
	var (
		sums    map[string]string
		count   int
		prev    string
		dataEnd int64 // stream offset where the last entry's padded data ends
	)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// ErrInsecurePath comes with a usable header; checkPath decides.
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			context := "reading the first tar header"
			if prev != "" {
				context = fmt.Sprintf("reading the tar header after entry %q", prev)
			}
			return rd.failf("", err, context)
		}
		name := hdr.Name
		count++
		if count > rd.lim.MaxFiles {
			return refuse(name, RuleFileCount, "the package has more than %d entries", rd.lim.MaxFiles)
		}
		// The type first: a directory's name ends in "/", which would
		// otherwise be reported as an empty path component.
		if r := checkType(hdr); r != nil {
			return r
		}
		if r := checkPath(name, rd.lim); r != nil {
			return r
		}
		if r := checkFormat(hdr); r != nil {
			return r
		}
		if count == 1 && name != SumsPath {
			return refuse(name, RuleChecksumsMissing, "the first entry must be SHA256SUMS")
		}
		if count > 1 && name == SumsPath {
			return refuse(name, RuleReservedName, "SHA256SUMS may only be the first entry")
		}
		if r := names.add(name); r != nil {
			return r
		}
		if count > 2 && name < prev {
			return refuse(name, RuleEntryOrder, "the entry comes after %q; entries are sorted by path", prev)
		}
		prev = name

		var (
			data    []byte
			head    []byte // the first bytes, for the nested archive check
			sum     [sha256.Size]byte
			size    int64
			at      *span // where a held-out file is
			spilled = count > 1 && rd.spills(hdr.Size)
		)
		if spilled {
			// The header's size only places the file: spillData
			// enforces the limits on the bytes it copies.
			if at, sum, head, err = rd.spillData(tr, hdr); err != nil {
				return err
			}
			size = at.n
		} else {
			if data, err = rd.readData(tr, hdr); err != nil {
				return err
			}
			size, head = int64(len(data)), data
		}
		dataEnd = rd.stream.n + blockPadding(size)

		if count == 1 {
			var r *RefusalError
			if sums, r = parseSums(data, rd.lim); r != nil {
				return r
			}
			continue
		}
		if kind := nestedArchive(head); kind != "" {
			return refuse(name, RuleNestedArchive, "the file is a %s archive; nested archives are refused because they can hide a decompression bomb", kind)
		}
		if !spilled {
			sum = sha256.Sum256(data)
		}
		e := Entry{Path: name, Size: size, SHA256: hex.EncodeToString(sum[:])}
		want, ok := sums[name]
		if !ok {
			return refuse(name, RuleChecksumsUnlisted, "the file is not listed in SHA256SUMS")
		}
		if want != e.SHA256 {
			return refuse(name, RuleChecksumMismatch, "the file's SHA-256 is %s but SHA256SUMS lists %s", e.SHA256, want)
		}
		delete(sums, name)
		p.Files = append(p.Files, e)
		if spilled {
			if p.spilled == nil {
				p.spilled = make(map[string]*span)
			}
			p.spilled[name] = at
		} else {
			p.data[name] = data
			rd.held += size
		}
	}
	if count == 0 && rd.stream.n == 2*blockSize {
		return refuse(SumsPath, RuleChecksumsMissing, "the package holds no files")
	}
	// tar.Reader also reports io.EOF when the stream simply stops between
	// entries or after one zero block; only a full end-of-archive marker (two
	// zero blocks) right after the last entry proves nothing was cut off.
	if rd.stream.n != dataEnd+2*blockSize {
		return refuse("", RuleTruncated, "the tar stream ends without its end-of-archive marker; the package was cut short")
	}
	if len(sums) > 0 {
		return refuse(slices.Min(slices.Collect(maps.Keys(sums))), RuleChecksumsMissingFile, "SHA256SUMS lists the file but the package does not hold it")
	}
	_, held := p.data[ManifestPath]
	if _, spilled := p.spilled[ManifestPath]; !held && !spilled {
		return refuse(ManifestPath, RuleManifestMissing, "every package must hold manifest.json at its root")
	}
	return nil
}

const blockSize = 512

func blockPadding(n int64) int64 {
	return -n & (blockSize - 1)
}

// checkType refuses every entry that is not a regular file. The values it
// sees are final: tar.Reader has already applied PAX and GNU extension
// records.
func checkType(hdr *tar.Header) *RefusalError {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeSymlink, tar.TypeLink:
		return refuse(name, RuleLink, "the entry is a link to %q; packages hold regular files only", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return refuse(name, RuleSpecialFile, "the entry is a device or FIFO; packages hold regular files only")
	case tar.TypeDir:
		return refuse(name, RuleDirectory, "the entry is a directory; packages hold regular files only and folders are implied by paths")
	default:
		return refuse(name, RuleEntryType, "the entry has tar type %q; packages hold regular files only", hdr.Typeflag)
	}
	return nil
}

// checkFormat refuses headers outside the canonical USTAR or PAX form, in
// particular extension records that could make tools disagree on what an
// entry is.
func checkFormat(hdr *tar.Header) *RefusalError {
	name := hdr.Name
	if hdr.Format != tar.FormatUSTAR && hdr.Format != tar.FormatPAX {
		return refuse(name, RuleTarFormat, "the header is in %v format; packages use USTAR and PAX headers only", hdr.Format)
	}
	// Sorted, so that the same package is always refused with the same
	// message.
	for _, key := range slices.Sorted(maps.Keys(hdr.PAXRecords)) {
		if key != "path" {
			return refuse(name, RulePAXRecord, "the header has the PAX record %q; only \"path\" is allowed", key)
		}
	}
	if _, ok := hdr.PAXRecords["path"]; ok && fitsUSTAR(name) {
		// The USTAR name field could say something else, and a tool that
		// ignores PAX would extract that instead.
		return refuse(name, RulePAXRecord, "a PAX path record overrides a name that fits the USTAR header")
	}
	return nil
}

// readData reads one entry's contents, enforcing the size limits on the bytes
// actually read. The header's size only lets it refuse sooner.
func (rd *reader) readData(tr *tar.Reader, hdr *tar.Header) ([]byte, error) {
	name := hdr.Name
	max, err := rd.checkSize(hdr)
	if err != nil {
		return nil, err
	}
	var data []byte
	if name != SumsPath && hdr.Size <= maxPackedBytes {
		data, err = rd.blocks.read(tr, name, hdr.Size)
	} else {
		data, err = readAll(io.LimitReader(tr, max+1), hdr.Size)
	}
	if err != nil {
		return nil, rd.failf(name, err, "reading the file")
	}
	if int64(len(data)) > max {
		return nil, refuse(name, RuleFileSize, "the file is larger than the limit of %d bytes", max)
	}
	return data, nil
}

// checkSize refuses an entry whose header's size is over a limit already,
// and returns the most bytes it may hold.
func (rd *reader) checkSize(hdr *tar.Header) (int64, error) {
	name := hdr.Name
	max := rd.lim.MaxFileBytes
	if name == SumsPath {
		max = min(max, maxSumsBytes(rd.lim))
	}
	if hdr.Size > max {
		return 0, refuse(name, RuleFileSize, "the file is %d bytes; the limit is %d", hdr.Size, max)
	}
	if left := rd.stream.max - rd.stream.n; hdr.Size > left {
		return 0, refuse(name, RuleTotalSize, "the file is %d bytes, more than the %d bytes left of the %d-byte limit on the uncompressed package", hdr.Size, left, rd.stream.max)
	}
	return max, nil
}

// A package's small files are stored end to end in shared blocks rather
// than one allocation each: Go rounds a small allocation up to its size
// class (up to an eighth more) and a large one to whole pages, which on a
// package of source files cost about 11% over the files' bytes, and what a
// vetting process holds for the whole run the garbage collector lets grow
// to twice. Blocks start small, so a small package costs little, and grow
// with what was read, to at most maxBlockBytes.
const (
	// maxPackedBytes is the largest file stored in a block; a larger one
	// gets an allocation of its own, where rounding to pages costs under 4%.
	maxPackedBytes = 256 << 10
	minBlockBytes  = 64 << 10
	maxBlockBytes  = 4 << 20
)

// blocks hands out the space of small files.
type blocks struct {
	cur   []byte   // the current block: its length is used, its capacity free
	names []string // the files in cur, in order
	used  int64    // bytes handed out so far
}

// read reads the file name of size bytes (at most maxPackedBytes, as its
// tar header says) from r, which must then be at its end, into the
// current block or a new one. The header's size only places the file:
// memory grows with the bytes actually read plus one block, since r fails
// when the stream holds fewer bytes than the header claims.
func (bl *blocks) read(r io.Reader, name string, size int64) ([]byte, error) {
	if int64(cap(bl.cur)-len(bl.cur)) < size {
		n := min(max(bl.used, minBlockBytes), maxBlockBytes)
		bl.cur = make([]byte, 0, max(n, size))
		bl.names = bl.names[:0]
	}
	start := len(bl.cur)
	end := start + int(size)
	// The full slice expression caps the file at its end, so appending to
	// it cannot overwrite the next file.
	data := bl.cur[start:end:end]
	if _, err := io.ReadFull(r, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	// tar.Reader ends a file at its header's size; this only makes sure.
	var extra [1]byte
	n, err := r.Read(extra[:])
	if n > 0 {
		return nil, errors.New("the file holds more bytes than its header says")
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if data == nil {
		data = []byte{} // an empty file, before any block: File gives []byte{} as readAll did
	}
	bl.cur = bl.cur[:end]
	bl.names = append(bl.names, name)
	bl.used += size
	return data, nil
}

// trim moves the files of the last block, which is filled only as far as
// the package went, to an allocation of their size, so the block's free
// part (up to most of maxBlockBytes) is not held with the package.
func (bl *blocks) trim(data map[string][]byte) {
	if cap(bl.cur)-len(bl.cur) <= len(bl.cur)/16 {
		return
	}
	moved := make([]byte, len(bl.cur))
	copy(moved, bl.cur)
	off := 0
	for _, name := range bl.names {
		n := len(data[name])
		data[name] = moved[off : off+n : off+n]
		off += n
	}
	bl.cur, bl.names = nil, nil
}

// readAll reads r to its end. The size hint comes from a header, so it only
// shapes the allocation: memory grows with the bytes actually read (at most
// twice them), never with what a header claims. Reserving one byte past the
// hint lets a truthful hint finish without a final reallocation; each step
// allocates exactly what it needs, so the file keeps no spare capacity
// beyond that byte and the allocator's rounding.
func readAll(r io.Reader, hint int64) ([]byte, error) {
	const firstChunk = 1 << 20
	b := make([]byte, 0, min(hint, firstChunk)+1)
	for {
		if len(b) == cap(b) {
			grow := max(1, min(int64(cap(b)), hint+1-int64(len(b))))
			nb := make([]byte, len(b), int64(len(b))+grow)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// readTrailer checks what follows the tar end-of-archive marker: only zero
// padding may remain in the gzip member (tar tools pad to a record size), and
// nothing may follow the gzip member.
func (rd *reader) readTrailer() error {
	var chunk [4096]byte
	for {
		n, err := rd.stream.Read(chunk[:])
		if slices.ContainsFunc(chunk[:n], func(b byte) bool { return b != 0 }) {
			return refuse("", RuleTrailingData, "data follows the tar end-of-archive marker")
		}
		if err == io.EOF {
			break // gzip has checked the member's CRC-32 and length
		}
		if err != nil {
			return rd.failf("", err, "reading the end of the tar stream")
		}
	}
	next, err := rd.br.Peek(2)
	switch {
	case len(next) == 0 && err == io.EOF:
		return nil // the input is consumed to its end
	case len(next) == 0:
		return rd.fail("", err)
	case len(next) == 2 && next[0] == 0x1f && next[1] == 0x8b:
		return refuse("", RuleGzipMultistream, "a second gzip member follows the first; a package is a single gzip stream")
	default:
		return refuse("", RuleTrailingData, "data follows the end of the gzip stream")
	}
}

func (rd *reader) fail(entry string, err error) error {
	return rd.failf(entry, err, "reading the package")
}

// failf turns an error from the decoding pipeline into a refusal naming the
// rule, or passes through an I/O error of the underlying reader.
func (rd *reader) failf(entry string, err error, context string) error {
	var corrupt flate.CorruptInputError
	switch {
	case rd.in.tooLarge:
		return refuse(entry, RulePackageTooLarge, "the package is larger than the limit of %d bytes", rd.in.max)
	case rd.in.err != nil:
		return fmt.Errorf("pkgfile: %s: %w", context, rd.in.err)
	case rd.stream != nil && rd.stream.exceeded:
		return refuse(entry, RuleTotalSize, "the uncompressed package is larger than the limit of %d bytes", rd.stream.max)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return refuse(entry, RuleTruncated, "%s: the stream ends early; the package was cut short", context)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return refuse(entry, RuleCorruptGzip, "%s: %v", context, err)
	default:
		return refuse(entry, RuleCorruptTar, "%s: %v", context, err)
	}
}

var (
	errPackageTooLarge = errors.New("package exceeds the size limit")
	errTotalTooLarge   = errors.New("uncompressed package exceeds the size limit")
)

// inputReader counts the compressed bytes and stops one byte past max, so a
// too-large package is detected without reading all of it.
type inputReader struct {
	r        io.Reader
	n, max   int64
	tooLarge bool
	err      error // first non-EOF error of r
}

func (c *inputReader) Read(p []byte) (int, error) {
	if c.tooLarge {
		return 0, errPackageTooLarge
	}
	if left := c.max + 1 - c.n; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.tooLarge = true
		return n, errPackageTooLarge
	}
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// streamReader counts the decompressed bytes and fails past max, bounding
// the work and memory a decompression bomb can cost.
type streamReader struct {
	r        io.Reader
	n, max   int64
	exceeded bool
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.exceeded {
		return 0, errTotalTooLarge
	}
	if left := s.max + 1 - s.n; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.n > s.max {
		s.exceeded = true
		return n, errTotalTooLarge
	}
	return n, err
}
