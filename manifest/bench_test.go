package manifest

import "testing"

func BenchmarkParse(b *testing.B) {
	cases := []struct{ name, doc string }{
		{"minimal", minimal},
		{"full", full},
		{"legacy-signed", withSignature(legacyVectors[0].doc, legacyVectors[0].signature)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := []byte(c.doc)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data, Options{LegacyKey: legacyKey}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLegacySign(b *testing.B) {
	data := []byte(legacyVectors[0].doc)
	for b.Loop() {
		if _, err := LegacySign(data, legacyKey); err != nil {
			b.Fatal(err)
		}
	}
}
