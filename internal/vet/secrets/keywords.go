package secrets

// keywordIndex answers one question of a module's printable run before
// gitleaks sees it: does any rule's keyword occur in it (see live)?
//
// gitleaks indexes the same keywords with an Aho-Corasick trie
// (github.com/BobuSumisu/aho-corasick), which takes 2 KiB a state: 2.2
// MiB for the default rules, held for as long as the analyzer is. Only
// whether a keyword occurs is asked here, never which or where, so a
// table keyed by a keyword's first two bytes does it in 128 KiB, looking
// at each byte of the run once and comparing a keyword only where its
// first two bytes are (docs/decisions.md has the measurement).
type keywordIndex struct {
	// byPrefix[b0<<8|b1] is 1 + the index in groups of the keywords that
	// start with b0 b1, or 0 when none does.
	byPrefix [1 << 16]uint16
	groups   [][][]byte
	// single marks the bytes that are keywords on their own.
	single [256]bool
	// any is set when a keyword is empty, which occurs in every run.
	any bool
}

func newKeywordIndex(keywords []string) *keywordIndex {
	k := &keywordIndex{}
	for _, w := range keywords {
		switch len(w) {
		case 0:
			k.any = true
		case 1:
			k.single[w[0]] = true
		default:
			p := uint16(w[0])<<8 | uint16(w[1])
			if k.byPrefix[p] == 0 {
				if len(k.groups) == 1<<16-1 {
					// No index left for this prefix: every run is live,
					// which is slower but never misses a keyword.
					k.any = true
					continue
				}
				k.groups = append(k.groups, nil)
				k.byPrefix[p] = uint16(len(k.groups))
			}
			k.groups[k.byPrefix[p]-1] = append(k.groups[k.byPrefix[p]-1], []byte(w))
		}
	}
	return k
}

// in reports whether any keyword occurs in text with its ASCII letters
// lowercased (the keywords are lowercase), as gitleaks matches them, so
// the caller makes no lowercase copy of text.
func (k *keywordIndex) in(text []byte) bool {
	if k.any {
		return true
	}
	for i := range text {
		c := lowerASCII(text[i])
		if k.single[c] {
			return true
		}
		if i+1 == len(text) {
			break
		}
		g := k.byPrefix[uint16(c)<<8|uint16(lowerASCII(text[i+1]))]
		if g == 0 {
			continue
		}
		for _, w := range k.groups[g-1] {
			if hasLowerPrefix(text[i:], w) {
				return true
			}
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasLowerPrefix reports whether text, its ASCII letters lowercased,
// starts with w.
func hasLowerPrefix(text, w []byte) bool {
	if len(text) < len(w) {
		return false
	}
	for j, c := range w {
		if lowerASCII(text[j]) != c {
			return false
		}
	}
	return true
}
