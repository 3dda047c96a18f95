package secrets

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
)

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBinaryOfZerosScansInBoundedMemory: a 1.19 MB file of zero bytes was
// given to gitleaks as a million empty lines and took gigabytes; scanned
// as printable runs, it costs nearly nothing. Keys in binary data and on
// one 20 MB line are still found where they are.
func TestBinaryOfZerosScansInBoundedMemory(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 1_190_000)
	key := []byte(" aws_access_key_id=" + fakeKey + " ")
	at := 700_003
	copy(blob[at:], key)
	// One 20 MB line of text with the key near its end.
	line := bytes.Repeat([]byte("abcdefgh"), 20<<20/8)
	lineAt := len(line) - 5000
	copy(line[lineAt:], key)
	in := &vet.Input{Package: plugintest.Package(t, map[string][]byte{
		"data/zeros.dat": blob,
		"data/line.txt":  line,
		"manifest.json":  []byte(man),
	})}
	var rep *vet.Report
	n := allocated(func() { rep, err = a.Analyze(context.Background(), in) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocated %d MB", n>>20)
	if n > 128<<20 {
		t.Errorf("scanning 1.19 MB of zeros and a 20 MB line allocated %d MB; want under 128 MB", n>>20)
	}
	found := map[string]vet.Location{}
	for _, f := range rep.Findings {
		if f.RuleID == "secrets/aws-access-token" {
			found[f.Location.File] = f.Location
		}
	}
	keyOff := int64(at + strings.Index(string(key), fakeKey))
	if loc, ok := found["data/zeros.dat"]; !ok || loc.Offset != keyOff {
		t.Errorf("the key among zeros: %+v, %v; want offset %d", loc, ok, keyOff)
	}
	if _, ok := found["data/line.txt"]; !ok {
		t.Errorf("the key on a 20 MB line was not found: %+v", rep.Findings)
	}
}
