package pkgfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// sourcePackage writes a package of about total bytes of source-like
// files, file i of sizeOf(i) bytes, and returns it with its files.
func sourcePackage(t testing.TB, total int, sizeOf func(rng *rand.Rand, i int) int) ([]byte, []File) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	files := []File{{ManifestPath, testManifest}}
	for i, n := 0, 0; n < total; i++ {
		data := make([]byte, sizeOf(rng, i))
		for j := range data {
			data[j] = 'a' + byte(rng.IntN(26))
		}
		files = append(files, File{fmt.Sprintf("src/%03d/f%d.go", i/40, i), data})
		n += len(data)
	}
	var buf bytes.Buffer
	if _, err := Write(&buf, files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), files
}

// withAModule is source files of up to 32 KiB and one of 3 MiB, a
// module's size.
func withAModule(rng *rand.Rand, i int) int {
	if i == 7 {
		return 3 << 20
	}
	return 1 + rng.IntN(32<<10)
}

// TestReadHoldsAtMostMaxMemoryBytes: past Limits.MaxMemoryBytes a
// package's files are held in a temporary file, not the heap, and read
// back exactly as written; the temporary file is never left in its folder.
func TestReadHoldsAtMostMaxMemoryBytes(t *testing.T) {
	pkg, files := sourcePackage(t, 16<<20, withAModule)
	for _, tc := range []struct {
		name string
		max  int64
	}{
		{"everything in memory", 0},
		{"4 MiB in memory", 4 << 20},
		{"nothing past the first byte", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			lim := DefaultLimits()
			lim.MaxMemoryBytes = tc.max
			before := heapLive()
			p, err := Read(bytes.NewReader(pkg), lim)
			if err != nil {
				t.Fatal(err)
			}
			held := int64(heapLive()) - int64(before)
			// The index (paths, digests, the map) is about 250 bytes a file.
			bound := int64(len(files)) * 256
			if tc.max > 0 {
				bound += tc.max + tc.max/50
			} else {
				bound += 17 << 20
			}
			t.Logf("%d files, %d bytes compressed: %d bytes held in the heap", len(files), len(pkg), held)
			if held > bound {
				t.Errorf("with MaxMemoryBytes %d a package of %d files holds %d bytes of heap; want at most %d", tc.max, len(files), held, bound)
			}
			if left, _ := os.ReadDir(tmp); runtime.GOOS != "windows" && len(left) != 0 {
				t.Errorf("the temporary file is left in TMPDIR: %v", left)
			}
			if len(p.Files) != len(files) {
				t.Fatalf("%d files read, %d written", len(p.Files), len(files))
			}
			for _, f := range files {
				for range 2 { // a second read of a held-out file reads it again
					b, ok := p.File(f.Path)
					if !ok || !bytes.Equal(b, f.Data) {
						t.Fatalf("%s reads back as %d bytes (found %v), want its %d bytes", f.Path, len(b), ok, len(f.Data))
					}
				}
			}
			if !bytes.Equal(p.Manifest(), testManifest) {
				t.Errorf("Manifest() = %q", p.Manifest())
			}
			runtime.KeepAlive(p)
			runtime.KeepAlive(files)
		})
	}
}

// TestHeldOutFileIsReadOnceWhileHeld: analyzers reading a large
// held-out file at the same time share one copy of it (the vetting
// memory test found one copy per analyzer: 821 MB for two 127 MB files);
// once no caller holds it, the collector frees it and it is read again.
func TestHeldOutFileIsReadOnceWhileHeld(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxMemoryBytes = 1
	p, err := Read(bytes.NewReader(validPackage(t, File{"a.txt", bytes.Repeat([]byte("first "), 1<<16)})), lim)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() { got[i], _ = p.File("a.txt") })
	}
	wg.Wait()
	for _, b := range got[1:] {
		if &b[0] != &got[0][0] {
			t.Fatal("two callers holding a.txt at once got two copies")
		}
	}
	first := uintptr(unsafe.Pointer(&got[0][0]))
	got = nil
	runtime.GC()
	again, _ := p.File("a.txt")
	if !bytes.Equal(again, bytes.Repeat([]byte("first "), 1<<16)) {
		t.Fatal("a.txt reads back wrong after its copy was collected")
	}
	t.Logf("copy at %#x, then %#x", first, uintptr(unsafe.Pointer(&again[0])))
}

// openFiles counts this process's open file descriptors (Linux).
func openFiles(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here:", err)
	}
	return len(fds)
}

// TestRefusedPackageLeavesNoTemporaryFile: a package refused after some
// of its files went to the temporary file closes it before Read returns.
func TestRefusedPackageLeavesNoTemporaryFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	big := bytes.Repeat([]byte("x"), 64<<10)
	// y.txt's bytes do not match its SHA256SUMS line: refused after x.txt
	// was held out.
	raw := rawBaseListing([]File{{"x.txt", big}, {"y.txt", []byte("listed")}},
		rawFile("x.txt", big), rawFile("y.txt", []byte("actual")))
	lim := DefaultLimits()
	lim.MaxMemoryBytes = 1
	before := openFiles(t)
	_, err := Read(bytes.NewReader(gz(t, raw)), lim)
	var re *RefusalError
	if !errors.As(err, &re) || re.Rule != RuleChecksumMismatch {
		t.Fatalf("Read = %v; want the checksum mismatch", err)
	}
	if after := openFiles(t); after != before {
		t.Errorf("%d files open after the refusal, %d before: the temporary file was not closed", after, before)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}

// TestHeldOutFilesGoWithThePackage: the temporary file is closed once
// the Package is garbage-collected, so a worker that reads packages all
// day does not run out of file descriptors or disk.
func TestHeldOutFilesGoWithThePackage(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxMemoryBytes = 1
	pkg := validPackage(t, File{"a.txt", []byte("held out")})
	before := openFiles(t)
	for range 20 {
		p, err := Read(bytes.NewReader(pkg), lim)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := p.File("a.txt"); string(b) != "held out" {
			t.Fatalf("a.txt = %q", b)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC() // cleanups run after the collection that finds the Package gone
		after := openFiles(t)
		if after <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files open, %d before reading 20 packages: their temporary files were not closed", after, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTemporaryFolderErrorNamesTheFix: when the temporary file cannot be
// created, Read says where it tried and how to fix it, and it is not a
// refusal: the package may be fine.
func TestTemporaryFolderErrorNamesTheFix(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	lim := DefaultLimits()
	lim.MaxMemoryBytes = 1
	_, err := Read(bytes.NewReader(validPackage(t, File{"a.txt", []byte("x")})), lim)
	var re *RefusalError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("Read = %v; want an error that is not a refusal", err)
	}
	for _, want := range []string{"temporary file", "TMPDIR", "MaxMemoryBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestHeldOutFilesHaveTheirDigests: Files lists the same sizes and
// SHA-256s whether a file is held in memory or not.
func TestHeldOutFilesHaveTheirDigests(t *testing.T) {
	pkg, files := sourcePackage(t, 1<<20, withAModule)
	lim := DefaultLimits()
	lim.MaxMemoryBytes = 256 << 10
	p, err := Read(bytes.NewReader(pkg), lim)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Entry, 0, len(files))
	for _, f := range files {
		s := sha256.Sum256(f.Data)
		want = append(want, Entry{Path: f.Path, Size: int64(len(f.Data)), SHA256: hex.EncodeToString(s[:])})
	}
	slices.SortFunc(want, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	if !slices.Equal(p.Files, want) {
		t.Errorf("Files differ from what was written")
	}
	if len(p.spilled) == 0 || len(p.data) == 0 {
		t.Errorf("%d files held in memory, %d out of it; want some of each", len(p.data), len(p.spilled))
	}
}
