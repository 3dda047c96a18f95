package pkgfile

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

var benchSizes = []struct {
	name string
	size int
}{
	{"100KB", 100_000},
	{"5MB", 5_000_000},
	{"50MB", 50_000_000},
}

// benchFiles returns deterministic plugin-like files adding up to size
// bytes: a manifest, a WebAssembly-like module (1 MiB, or half the package
// when smaller) that compresses little, like optimised wasm, and many small
// text-like files (1 to 32 KiB) that compress like source code.
func benchFiles(size int) []File {
	rng := rand.New(rand.NewChaCha8([32]byte{'g', 'a', 't', 'e'}))
	files := []File{{ManifestPath, testManifest}}
	left := size - len(testManifest)

	module := make([]byte, min(1<<20, left/2))
	copy(module, "\x00asm\x01\x00\x00\x00")
	for i := 8; i < len(module); i += 16 {
		chunk := module[i:min(i+16, len(module))]
		if i > 64 && rng.IntN(4) == 0 {
			copy(chunk, module[8+16*rng.IntN((i-8)/16):]) // a repeated instruction run
		} else {
			for j := range chunk {
				chunk[j] = byte(rng.Uint32())
			}
		}
	}
	files = append(files, File{"plugin.wasm", module})
	left -= len(module)

	words := []string{"func", "return", "if", "err", "nil", "package", "import", "string", "int", "for", "range", "var", "type", "struct", "{", "}", "(", ")", "\n\t", ":=", "==", "plugin", "input", "output", "host", "ctx"}
	for i := 0; left > 0; i++ {
		n := min(left, 1024+rng.IntN(31*1024))
		var b bytes.Buffer
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
			if rng.IntN(16) == 0 {
				fmt.Fprintf(&b, "%x", rng.Uint64()) // identifiers and constants
			}
		}
		files = append(files, File{fmt.Sprintf("src/pkg%02d/file%04d.go", i%50, i), b.Bytes()[:n]})
		left -= n
	}
	return files
}

func totalSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f.Data))
	}
	return n
}

// BenchmarkPack measures Write: checking, hashing, tar and gzip. Bytes are
// the uncompressed file contents.
func BenchmarkPack(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			files := benchFiles(s.size)
			b.SetBytes(totalSize(files))
			var compressed int
			for b.Loop() {
				cw := &countWriter{}
				if _, err := Write(cw, files); err != nil {
					b.Fatal(err)
				}
				compressed = cw.n
			}
			b.ReportMetric(float64(compressed), "pkg-bytes")
			b.ReportMetric(float64(len(files)), "files")
		})
	}
}

// BenchmarkRead measures Read with DefaultLimits: gunzip, every rule, and
// the SHA-256 of the package and of every file. Bytes are the uncompressed
// file contents.
func BenchmarkRead(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			files := benchFiles(s.size)
			var pkg bytes.Buffer
			if _, err := Write(&pkg, files); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(totalSize(files))
			for b.Loop() {
				if _, err := Read(bytes.NewReader(pkg.Bytes()), DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(pkg.Len()), "pkg-bytes")
		})
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
