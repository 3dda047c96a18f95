package origins

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// scanEveryByte is Scan as it was before it skipped to the candidate
// bytes with bytes.IndexByte: it looks at every byte. The tests below hold
// Scan to it.
func scanEveryByte(data []byte) []Hit {
	var hits []Hit
	for i := 0; i < len(data) && len(hits) < MaxHits; i++ {
		switch data[i] {
		case ':':
			if i+2 >= len(data) || data[i+1] != '/' || data[i+2] != '/' {
				continue
			}
			scheme, start := schemeBefore(data, i)
			if scheme == "" {
				continue
			}
			h, end, ok := hostAt(data, i+3, true)
			if !ok {
				continue
			}
			h.Scheme = scheme
			h.Offset = start
			h.Length = end - start
			h.Origin = canonical(h)
			hits = append(hits, h)
			i = end - 1
		case '/':
			if i+1 >= len(data) || data[i+1] != '/' || (i > 0 && (data[i-1] == ':' || data[i-1] == '/')) {
				continue
			}
			h, end, ok := hostAt(data, i+2, false)
			if !ok {
				continue
			}
			h.Offset = i + 2
			h.Length = end - h.Offset
			h.Origin = h.Host
			hits = append(hits, h)
			i = end - 1
		case '@':
			h, end, ok := hostAt(data, i+1, false)
			if !ok || end >= len(data) || (data[end] != ':' && data[end] != '/') {
				continue
			}
			h.Offset = i + 1
			h.Length = end - h.Offset
			h.Origin = h.Host
			hits = append(hits, h)
			i = end - 1
		}
	}
	return hits
}

// TestScanSkipsToCandidatesWithSameHits guards the skip to candidate bytes:
// Scan finds exactly what a look at every byte finds, on Go source (this
// module's, comments full of URLs), on dense random mixes of the bytes
// that start and end matches, and past the cap on hits.
func TestScanSkipsToCandidatesWithSameHits(t *testing.T) {
	t.Parallel()
	var inputs [][]byte
	files, _ := filepath.Glob("../*/*.go")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			inputs = append(inputs, b)
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("only %d Go files read as input", len(inputs))
	}
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{":", "/", "//", "://", "@", "http", "https", "HTTPS", "wss", "ftp", "git@", "a", "example", ".", ".com", ".org", "-", "[", "]", "::1", "127.0.0.1", ":8080", "localhost", " ", "\n", "\x00", "Upper", "user:pw@"}
	for range 2000 {
		var b []byte
		for range r.IntN(60) {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		inputs = append(inputs, b)
	}
	many := []byte{}
	for range MaxHits + 10 {
		many = append(many, "x https://a.example.com/ @"...)
	}
	inputs = append(inputs, many, nil, []byte(":"), []byte("/"), []byte("@"), []byte("//a.example.com"))
	hits := 0
	for i, in := range inputs {
		got, want := Scan(in), scanEveryByte(in)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d (%q...): Scan found\n%+v\nwant\n%+v", i, in[:min(len(in), 80)], got, want)
		}
		hits += len(want)
	}
	if hits < 1000 {
		t.Errorf("only %d hits in all the inputs: they test little", hits)
	}
}

func FuzzScanSameAsEveryByte(f *testing.F) {
	f.Add([]byte("https://api.example.com:8080/x //cdn.example.net git@github.com:x"))
	f.Add([]byte("a@b.example.com/ :// //x.org @@x.org: hTTps://x.org"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Scan(data), scanEveryByte(data); !reflect.DeepEqual(got, want) {
			t.Fatalf("Scan found %+v, a look at every byte %+v", got, want)
		}
	})
}

// BenchmarkScan: Scan beside the every-byte loop it replaced, in one run,
// on the Go source of the vet packages (comments citing URLs, many '/'
// and ':') and on a word list (no candidate byte at all), as a plugin's
// text files are.
func BenchmarkScan(b *testing.B) {
	var source []byte
	files, _ := filepath.Glob("../*/*.go")
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			source = append(source, data...)
		}
	}
	r := rand.New(rand.NewPCG(21, 2))
	var words []byte
	for len(words) < 1<<20 {
		for range 3 + r.IntN(8) {
			words = append(words, byte('a'+r.IntN(26)))
		}
		words = append(words, '\n')
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"source", source}, {"words", words}} {
		for _, s := range []struct {
			name string
			scan func([]byte) []Hit
		}{{"skip", Scan}, {"everybyte", scanEveryByte}} {
			b.Run(in.name+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				for b.Loop() {
					s.scan(in.data)
				}
			})
		}
	}
}
