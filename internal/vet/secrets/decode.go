package secrets

import "strings"

// mayDecode reports whether gitleaks' decoder could find something to
// decode in text: a percent-encoded, unicode-escaped, hex or base64
// segment that decodes to printable text. When it reports false the
// decoder finds nothing, so gitleaks' first decoding round ends the scan
// and the findings are those of a scan without decoding; the scan can then
// skip the decoder, whose regular expression over every byte costs more
// than all the rules together on source code. It may report true where
// the decoder finds nothing (it never runs the decoder's regular
// expression, so it cannot know where a match starts): that only costs
// the decoder's pass.
//
// Each test below is a condition every segment the decoder (gitleaks
// v8's detect/codec) accepts must meet; TestMayDecodeCoversGitleaks and
// FuzzMayDecode check mayDecode against the decoder itself, so a change
// of the decoder in a gitleaks update shows there.
func mayDecode(text string) bool {
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '%':
			// Percent-encoding: the decoder gives up on a segment when
			// any %XX in it is not printable, so one printable %XX is
			// needed.
			if i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]) && decodedPrintable(unhex(text[i+1])<<4|unhex(text[i+2])) {
				return true
			}
			i++
		case c == '\\':
			// A unicode escape: \uXXXX or \\uXXXX, either case.
			j := i + 1
			if j < len(text) && text[j] == '\\' {
				j++
			}
			if j < len(text) && (text[j] == 'u' || text[j] == 'U') && hex4(text[j+1:]) {
				return true
			}
			i++
		case c == 'U' && i+1 < len(text) && text[i+1] == '+' && hex4(text[i+2:]):
			// A unicode code point, U+XXXX.
			return true
		case isBase64Class(c):
			// Hex and base64 segments are parts of a run of base64's
			// characters (the decoder's class [\w/+-]; hex digits are
			// among them).
			j := i
			for j < len(text) && isBase64Class(text[j]) {
				j++
			}
			if mayDecodeRun(text[i:j]) || hasCodePoint(text[i:j]) {
				return true
			}
			i = j
		default:
			i++
		}
	}
	return false
}

// mayDecodeRun reports whether a run of characters of base64's class could
// hold a hex or base64 segment that decodes to printable text. Where the
// decoder's match starts in the run depends on what it matched before, so
// every start is tried.
func mayDecodeRun(run string) bool {
	if len(run) < 16 {
		return false // the shortest segment the decoder takes, base64 of 16
	}
	// Both decoders take a segment only if it holds a digit (base64 also
	// takes + / - _): a run without one holds no such segment.
	likelyHex, likelyBase64 := false, false
	for i := range len(run) {
		c := run[i]
		if '0' <= c && c <= '9' {
			likelyHex, likelyBase64 = true, true
			break
		}
		if c == '+' || c == '/' || c == '-' || c == '_' {
			likelyBase64 = true
		}
	}
	// Hex: 32 digits or more, every pair printable, so 16 printable pairs
	// in a row from some start.
	if likelyHex {
		for start := range 2 {
			n := 0
			for k := start; k+1 < len(run); k += 2 {
				if isHex(run[k]) && isHex(run[k+1]) && decodedPrintable(unhex(run[k])<<4|unhex(run[k+1])) {
					if n++; n == 16 {
						return true
					}
				} else {
					n = 0
				}
			}
		}
	}
	// Base64 (standard or URL alphabet): 16 characters or more, decoding
	// to printable bytes only, so the first four groups of four from
	// some start each decode to three printable bytes.
	if likelyBase64 {
		for start := range 4 {
			n := 0
			for k := start; k+3 < len(run); k += 4 {
				if printableGroup(run[k : k+4]) {
					if n++; n == 4 {
						return true
					}
				} else {
					n = 0
				}
			}
		}
	}
	return false
}

// printableGroup reports whether four base64 characters, in the standard
// or the URL alphabet, decode to three bytes gitleaks counts as printable.
func printableGroup(g string) bool {
	for _, url := range []bool{false, true} {
		var v uint32
		ok := true
		for i := range len(g) {
			d, valid := base64Value(g[i], url)
			if !valid {
				ok = false
				break
			}
			v = v<<6 | uint32(d)
		}
		if ok && decodedPrintable(byte(v>>16)) && decodedPrintable(byte(v>>8)) && decodedPrintable(byte(v)) {
			return true
		}
	}
	return false
}

func base64Value(c byte, url bool) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26, true
	case '0' <= c && c <= '9':
		return c - '0' + 52, true
	case c == '+' && !url, c == '-' && url:
		return 62, true
	case c == '/' && !url, c == '_' && url:
		return 63, true
	}
	return 0, false
}

// isBase64Class reports whether c is in the decoder's base64 class [\w/+-].
func isBase64Class(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '/' || c == '+' || c == '-'
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// hasCodePoint reports whether run holds U+XXXX, which the run's scan
// would otherwise pass over: U and + are in base64's class.
func hasCodePoint(run string) bool {
	for {
		i := strings.Index(run, "U+")
		if i < 0 {
			return false
		}
		if hex4(run[i+2:]) {
			return true
		}
		run = run[i+2:]
	}
}

func hex4(b string) bool {
	return len(b) >= 4 && isHex(b[0]) && isHex(b[1]) && isHex(b[2]) && isHex(b[3])
}

// decodedPrintable is gitleaks' test of a decoded byte: tab to tilde.
func decodedPrintable(b byte) bool { return 0x09 <= b && b <= 0x7e }
