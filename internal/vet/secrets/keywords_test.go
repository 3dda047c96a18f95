package secrets

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

func TestKeywordIndex(t *testing.T) {
	for _, tc := range []struct {
		keywords []string
		text     string
		want     bool
	}{
		{[]string{"akia"}, "xxakia", true},
		{[]string{"akia"}, "akiX akI", false},
		{[]string{"akia"}, "ak", false},
		{[]string{"akia", "ak_live"}, "stripe ak_live_", true},
		{[]string{"x"}, "abcx", true},
		{[]string{"x"}, "", false},
		{[]string{"ghp_"}, "g", false},
		{[]string{"aab"}, "aaab", true}, // a match that starts inside a false start
		{[]string{""}, "", true},
		{nil, "anything", false},
	} {
		if got := newKeywordIndex(tc.keywords).in([]byte(tc.text)); got != tc.want {
			t.Errorf("keywords %q in %q = %v, want %v", tc.keywords, tc.text, got, tc.want)
		}
	}
}

// TestKeywordIndexAgreesWithContains: on text made of the rules' own
// keywords' bytes, the index finds a keyword exactly where a plain search
// of each does.
func TestKeywordIndexAgreesWithContains(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	keywords := defaultKeywords(a)
	alphabet := []byte(strings.Join(keywords, ""))
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		text := make([]byte, rng.IntN(12))
		for i := range text {
			text[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want := false
		for _, k := range keywords {
			if bytes.Contains(text, []byte(k)) {
				want = true
				break
			}
		}
		if got := a.keywords.in(text); got != want {
			t.Fatalf("in(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestKeywordIndexIsSmall holds the reason it exists: the Aho-Corasick
// trie of the default rules' keywords took 2.2 MiB.
func TestKeywordIndexIsSmall(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	k := newKeywordIndex(defaultKeywords(a))
	held := heapInUse() - before
	runtime.KeepAlive(k)
	if held > 256<<10 {
		t.Errorf("the index of the default keywords holds %d KiB; want at most 256 KiB", held>>10)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func defaultKeywords(a *Analyzer) []string {
	var keywords []string
	for _, r := range a.cfg.Rules {
		for _, k := range r.Keywords {
			keywords = append(keywords, strings.ToLower(k))
		}
	}
	return keywords
}

// BenchmarkKeywordIndex times the question live asks of a module's run,
// beside the Aho-Corasick trie gitleaks uses for it, on 1 MiB of printable
// text with no keyword (the common case: the whole run is read).
//
//	go test -run '^$' -bench KeywordIndex -benchmem ./internal/vet/secrets
func BenchmarkKeywordIndex(b *testing.B) {
	a, err := New()
	if err != nil {
		b.Fatal(err)
	}
	keywords := defaultKeywords(a)
	rng := rand.New(rand.NewPCG(7, 8))
	text := make([]byte, 1<<20)
	for i := range text {
		text[i] = "qwrtzyvbnm0123456789 .,;()[]{}"[rng.IntN(30)]
	}
	trie := ahocorasick.NewTrieBuilder().AddStrings(keywords).Build()
	if trie.MatchFirst(text) != nil || a.keywords.in(text) {
		b.Fatal("the text holds a keyword")
	}
	b.Run("index", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			a.keywords.in(text)
		}
	})
	b.Run("aho-corasick", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			trie.MatchFirst(text)
		}
	})
}
