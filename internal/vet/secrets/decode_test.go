package secrets

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect/codec"
)

// FuzzMayDecode checks that mayDecode never says "nothing to decode" where
// gitleaks' decoder decodes something: a text it wrongly rejected would be
// scanned without decoding, and an encoded secret in it missed. The text
// is before, then payload encoded as kind says (or as it is), then after,
// so the fuzzer reaches segments that decode.
func FuzzMayDecode(f *testing.F) {
	for _, tt := range encodedCases {
		f.Add("blob: ", tt.encoded, "\n", uint8(0))
	}
	for _, s := range []string{
		`fmt.Sprintf("%02x %3d %s", a, b, c)`,
		`name := "caf\u00e9" // U+00E9`,
		`sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`,
		"TestBinaryOfZerosScansInBoundedMemory internal/vet/secrets/secrets.go",
		"secret%3D%22q%24%21%40%23%24%25%5E%26%2A%28%20asdf%22",
		`secret=\\u0068\\u0065\\u006c\\u006c\\u006f`,
		"Z2l0bGVha3M-PmZpbmRzLXNlY3JldHM",
		"YjY0dXJsc2FmZS10ZXN0LXNlY3JldC11bmRlcnNjb3Jlcz8_",
	} {
		f.Add("", s, "", uint8(0))
	}
	f.Add("key=", "a secret value, long enough", "&x=1", uint8(1))
	f.Add("k: ", "another value of some length", "", uint8(2))
	f.Add("", "yet another value here!", " ok", uint8(3))
	f.Add("id", "url-safe ?? value >> here", "", uint8(4))
	f.Fuzz(func(t *testing.T, before, payload, after string, kind uint8) {
		switch kind % 5 {
		case 1:
			payload = percent(payload)
		case 2:
			payload = hexOf(payload)
		case 3:
			payload = b64(payload)
		case 4:
			payload = base64.RawURLEncoding.EncodeToString([]byte(payload))
		}
		s := before + payload + after
		_, segments := codec.NewDecoder().Decode(s, nil)
		if len(segments) > 0 && !mayDecode(s) {
			t.Errorf("gitleaks decodes %d segments of %q; mayDecode says there is nothing to decode", len(segments), s)
		}
	})
}

// TestMayDecodeRejectsPlainSource: the point of mayDecode is that most
// source has nothing to decode; these lines must not send a fragment
// through the decoder.
func TestMayDecodeRejectsPlainSource(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`func TestBinaryOfZerosScansInBoundedMemory(t *testing.T) {`,
		`	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"`,
		`	return fmt.Errorf("secrets: reading the gitleaks default rules: %w", err)`,
		`	fmt.Sprintf("%02x %08d", a, b)`,
		`	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`,
	} {
		if mayDecode(s) {
			t.Errorf("mayDecode(%q) = true", s)
		}
		if _, segments := codec.NewDecoder().Decode(s, nil); len(segments) > 0 {
			t.Errorf("the test is wrong: gitleaks decodes %q", s)
		}
	}
}

// TestMayDecodeCoversGitleaks is FuzzMayDecode's check on texts built at
// random from encoded payloads and the characters that start or end the
// decoder's segments, so that every test run, not only fuzzing, holds
// mayDecode to gitleaks' decoder.
func TestMayDecodeCoversGitleaks(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 4))
	const tricky = "aZ09+/-_=%\\uU \n\"'"
	piece := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = tricky[rng.IntN(len(tricky))]
			} else {
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		return string(b)
	}
	encode := []func(string) string{
		func(s string) string { return s },
		percent, hexOf, b64,
		func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
		func(s string) string { return fmt.Sprintf("\\u%04x", s[0]) + s[1:] },
	}
	decoded := 0
	for range 20_000 {
		payload := piece(8 + rng.IntN(40))
		for range 1 + rng.IntN(2) {
			payload = encode[rng.IntN(len(encode))](payload)
		}
		s := piece(rng.IntN(8)) + payload + piece(rng.IntN(8))
		_, segments := codec.NewDecoder().Decode(s, nil)
		if len(segments) == 0 {
			continue
		}
		decoded++
		if !mayDecode(s) {
			t.Fatalf("gitleaks decodes %d segments of %q; mayDecode says there is nothing to decode", len(segments), s)
		}
	}
	if decoded < 1000 {
		t.Errorf("only %d of the texts hold something gitleaks decodes; the test checks too little", decoded)
	}
}
