package pkgfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// This file crafts archives byte by byte, including shapes archive/tar's
// Writer refuses to produce, so that every refusal is tested on a real
// archive.

// part is one piece of a raw tar stream.
type part []byte

// rawHeader returns a USTAR header block. Fields not given are zero.
func rawHeader(name string, typeflag byte, size int64) part {
	return rawHeaderMagic(name, typeflag, size, "ustar\x0000")
}

func rawHeaderMagic(name string, typeflag byte, size int64, magic string) part {
	var b [blockSize]byte
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:265], magic)
	if magic == "ustar\x0000" {
		copy(b[329:337], "0000000\x00")
		copy(b[337:345], "0000000\x00")
	}
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b[:]
}

// rawData pads data to a whole number of blocks.
func rawData(data []byte) part {
	return append(slices.Clone(data), make([]byte, blockPadding(int64(len(data))))...)
}

// rawFile is a USTAR regular file: header and padded data.
func rawFile(name string, data []byte) part {
	return slices.Concat(rawHeader(name, tar.TypeReg, int64(len(data))), rawData(data))
}

// rawPAX is a PAX extended header ('x') carrying records.
func rawPAX(records ...string) part {
	var body strings.Builder
	for _, kv := range records {
		// A record is "LEN key=value\n" where LEN counts the whole record.
		n := len(kv) + 3
		for len(fmt.Sprintf("%d %s\n", n, kv)) != n {
			n++
		}
		fmt.Fprintf(&body, "%d %s\n", n, kv)
	}
	return slices.Concat(rawHeader("PaxHeaders.0/x", tar.TypeXHeader, int64(body.Len())), rawData([]byte(body.String())))
}

// endMarker is the two zero blocks that end a tar stream.
var endMarker = part(make([]byte, 2*blockSize))

func rawTar(parts ...part) []byte { return slices.Concat(parts...) }

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// sumsFor renders SHA256SUMS for the given name/content pairs, sorted.
func sumsFor(files ...File) []byte {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", sha(f.Data), f.Path)
	}
	return []byte(b.String())
}

var (
	testManifest = []byte(`{"id":"acme/hello","version":"1.0.0","runtime":{"module":"plugin.wasm"}}`)
	testModule   = []byte("\x00asm\x01\x00\x00\x00 a tiny module")
	baseFiles    = []File{{ManifestPath, testManifest}, {"plugin.wasm", testModule}}
)

// rawBase is a tar stream holding SHA256SUMS (listing the base files), the
// base files, and then the given parts.
func rawBase(extra ...part) []byte {
	return rawBaseListing(nil, extra...)
}

// rawBaseListing is rawBase with SHA256SUMS also listing listed.
func rawBaseListing(listed []File, extra ...part) []byte {
	ps := []part{rawFile(SumsPath, sumsFor(append(slices.Clone(baseFiles), listed...)...))}
	for _, f := range baseFiles {
		ps = append(ps, rawFile(f.Path, f.Data))
	}
	ps = append(ps, extra...)
	ps = append(ps, endMarker)
	return rawTar(ps...)
}

// tarWith uses archive/tar for entry shapes it can write (links, devices,
// GNU headers, global headers), after a valid SHA256SUMS and base files.
func tarWith(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(rawBase()[:len(rawBase())-len(endMarker)])
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing header %q: %v", h.Name, err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// validPackage writes files (plus the base files) with Write.
func validPackage(t testing.TB, extra ...File) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := Write(&b, append(slices.Clone(baseFiles), extra...)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func heapAllocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func gz0(w io.Writer) *gzip.Writer {
	gw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return gw
}
