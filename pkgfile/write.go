package pkgfile

import (
	"archive/tar"
	"bufio"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"time"
)

// File is one file to write into a package.
type File struct {
	Path string // package-relative, slash-separated
	Data []byte
}

// compressionLevel is part of the canonical form: changing it changes every
// package's bytes. 6 is gzip's default balance; packages are written once and
// read many times, and decompression speed hardly depends on the level.
const compressionLevel = 6

// maxEntryOverhead bounds the tar bytes one entry adds besides its contents:
// a header block, a PAX header block and its records (one "path" record of at
// most MaxPathLen bytes fits in a block for any sane limit), and up to a
// block of padding.
const maxEntryOverhead = 4 * blockSize

// Write writes the package holding files to w in the canonical form and
// returns its digest ("sha256:HEX"). The same files, in any order, always
// give the same bytes. Write applies the reader's rules with DefaultLimits,
// so it never writes a package that Read with DefaultLimits would refuse;
// a violation is a *RefusalError. Every rule but the compressed size is
// checked before the first byte is written; a package that compresses to
// more than MaxPackageBytes is refused part-way, so a caller writing to a
// file should remove it on error.
func Write(w io.Writer, files []File) (digest string, err error) {
	digest, _, err = write(w, files, DefaultLimits())
	return digest, err
}

func write(w io.Writer, files []File, lim Limits) (string, []Entry, error) {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	entries, err := checkFiles(sorted, lim)
	if err != nil {
		return "", nil, err
	}

	h := sha256.New()
	lw := &limitWriter{w: io.MultiWriter(w, h), max: lim.MaxPackageBytes}
	bw := bufio.NewWriterSize(lw, 64<<10)
	gw, err := gzip.NewWriterLevel(bw, compressionLevel)
	if err != nil {
		return "", nil, fmt.Errorf("pkgfile: %w", err)
	}
	tw := tar.NewWriter(gw)
	err = writeEntry(tw, SumsPath, formatSums(entries))
	for _, f := range sorted {
		if err != nil {
			break
		}
		err = writeEntry(tw, f.Path, f.Data)
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if lw.exceeded {
		return "", nil, refuse("", RulePackageTooLarge, "the compressed package is larger than the limit of %d bytes", lim.MaxPackageBytes)
	}
	if err != nil {
		return "", nil, fmt.Errorf("pkgfile: writing the package: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), entries, nil
}

// limitWriter stops a package that would be too large to read back. The
// compressed size is only known while writing, so w may have received the
// start of the package when the limit trips.
type limitWriter struct {
	w        io.Writer
	n, max   int64
	exceeded bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.max {
		l.exceeded = true
		return 0, errPackageTooLarge
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// epoch is the modification time of every entry.
var epoch = time.Unix(0, 0)

func writeEntry(tw *tar.Writer, name string, data []byte) error {
	format := tar.FormatPAX
	if fitsUSTAR(name) {
		format = tar.FormatUSTAR
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     int64(len(data)),
		Mode:     0o644,
		ModTime:  epoch,
		Format:   format,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("header of %q: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("%q: %w", name, err)
	}
	return nil
}

// checkFiles applies the reader's rules to files sorted by path and returns
// their entries.
func checkFiles(files []File, lim Limits) ([]Entry, error) {
	if len(files)+1 > lim.MaxFiles {
		return nil, refuse("", RuleFileCount, "the package would have %d files; the limit is %d", len(files)+1, lim.MaxFiles)
	}
	names := newNameSet()
	names.add(SumsPath) // so that "sha256sums" collides as it would in Read
	entries := make([]Entry, 0, len(files))
	total := int64(2*blockSize + maxEntryOverhead) // end marker and SHA256SUMS header
	manifest := false
	for _, f := range files {
		if r := checkPath(f.Path, lim); r != nil {
			return nil, r
		}
		if f.Path == SumsPath {
			return nil, refuse(f.Path, RuleReservedName, "SHA256SUMS is written by the packer; remove the file")
		}
		if r := names.add(f.Path); r != nil {
			return nil, r
		}
		size := int64(len(f.Data))
		if size > lim.MaxFileBytes {
			return nil, refuse(f.Path, RuleFileSize, "the file is %d bytes; the limit is %d", size, lim.MaxFileBytes)
		}
		total += size + maxEntryOverhead + int64(64+2+len(f.Path)+1)
		if total > lim.MaxTotalBytes {
			return nil, refuse(f.Path, RuleTotalSize, "the files add up to more than the %d-byte limit on a package", lim.MaxTotalBytes)
		}
		if kind := nestedArchive(f.Data); kind != "" {
			return nil, refuse(f.Path, RuleNestedArchive, "the file is a %s archive; nested archives are refused because they can hide a decompression bomb", kind)
		}
		manifest = manifest || f.Path == ManifestPath
		sum := sha256.Sum256(f.Data)
		entries = append(entries, Entry{Path: f.Path, Size: size, SHA256: hex.EncodeToString(sum[:])})
	}
	if !manifest {
		return nil, refuse(ManifestPath, RuleManifestMissing, "every package must hold manifest.json at its root")
	}
	return entries, nil
}
