package pkgfile

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"
)

// heapLive returns the bytes of live heap. Two collections: the second
// frees what sync.Pools kept through the first.
func heapLive() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestReadHoldsFilesInTheirSize: a package is held in memory for as long
// as it is vetted, and the collector lets a process's heap grow to twice
// what it holds, so every byte held beyond the files' own costs two. Files
// of source-like sizes, which the allocator would round up by about a
// tenth one allocation each, are held in little more than their bytes.
func TestReadHoldsFilesInTheirSize(t *testing.T) {
	pkg, files := sourcePackage(t, 16<<20, func(rng *rand.Rand, i int) int {
		switch i % 200 {
		case 0:
			return 300<<10 + rng.IntN(2<<20) // a generated table, a module
		case 1:
			return 4097 // just past a size class
		}
		return 1 + rng.IntN(32<<10) // source files
	})
	var size int
	for _, f := range files[1:] {
		size += len(f.Data)
	}
	lim := DefaultLimits()
	lim.MaxMemoryBytes = 0 // every file in memory: how they are held is the point
	before := heapLive()
	p, err := Read(bytes.NewReader(pkg), lim)
	if err != nil {
		t.Fatal(err)
	}
	held := heapLive() - before
	runtime.KeepAlive(p)
	runtime.KeepAlive(files) // counted in before, so must not be freed since
	runtime.KeepAlive(pkg)
	// The index (paths, digests, the map) is about 200 bytes a file.
	bound := uint64(size) + uint64(size)/50 + uint64(len(files))*256
	t.Logf("%d files, %d bytes: held %d bytes (%.3f×)", len(files), size, held, float64(held)/float64(size))
	if held > bound {
		t.Errorf("a package of %d bytes in %d files is held in %d bytes; want at most %d", size, len(files), held, bound)
	}

}

// TestReadHoldsASmallPackageSmall: blocks grow with what was read, so a
// package of a few files does not hold a block of megabytes.
func TestReadHoldsASmallPackageSmall(t *testing.T) {
	var buf bytes.Buffer
	files := []File{{ManifestPath, testManifest}, {"plugin.wasm", bytes.Repeat([]byte{0, 'a', 's', 'm'}, 2000)}, {"README.md", []byte("# Hello\n")}}
	if _, err := Write(&buf, files); err != nil {
		t.Fatal(err)
	}
	before := heapLive()
	p, err := Read(bytes.NewReader(buf.Bytes()), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	held := int64(heapLive()) - int64(before)
	runtime.KeepAlive(p)
	runtime.KeepAlive(files)
	runtime.KeepAlive(buf.Bytes())
	t.Logf("held %d bytes", held)
	if held > 32<<10 {
		t.Errorf("a package of 8 KB is held in %d KiB; want at most 32 KiB", held>>10)
	}
}

// TestFileCannotOverwriteItsNeighbour: files share a block, so a caller
// that appends to one file's slice (which it must not modify, but append
// is easy to reach for) gets a copy instead of writing over the next file.
func TestFileCannotOverwriteItsNeighbour(t *testing.T) {
	t.Parallel()
	p, err := Read(bytes.NewReader(validPackage(t, File{"a.txt", []byte("first")}, File{"b.txt", []byte("second")})), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.File("a.txt")
	_ = append(a, "XXXXXXXXXXXX"...)
	if b, _ := p.File("b.txt"); string(b) != "second" {
		t.Errorf("b.txt reads %q after appending to a.txt; want %q", b, "second")
	}
	if a, _ := p.File("a.txt"); string(a) != "first" {
		t.Errorf("a.txt reads %q", a)
	}
}
