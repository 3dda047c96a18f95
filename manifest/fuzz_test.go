package manifest

import (
	"bytes"
	"errors"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(full))
	for _, v := range legacyVectors {
		f.Add([]byte(v.doc))
		f.Add([]byte(withSignature(v.doc, v.signature)))
	}
	f.Add([]byte(`{"id": "x", "name": "emoji 😀 \ud83d\ude00", "floats": [1e400, -0.0, 1.5e-7], "permissions": [], "version": "1"}`))
	f.Add([]byte(`{"id": "a", "name": "A", "version": "0.1", "permissions": ["storage", "net:https://x.example"], "dependencies": ["b>=1", {"id": "c"}]}`))
	f.Add([]byte(`{"manifestVersion":1,"id":"acme/a","id":"acme/b"}`))
	f.Add([]byte(`[{"a":"\ud800"}]`))
	f.Add([]byte("{\"name\": \"\xC3\x28\"}"))
}

// FuzzParse checks that Parse never panics and that whatever it accepts is
// a manifest that validates and survives Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []Options{{}, {LegacyKey: legacyKey}} {
			m, err := Parse(data, opts)
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) || len(ve.Problems) == 0 {
					t.Fatalf("error is not a *ValidationError with problems: %v", err)
				}
				continue
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("accepted manifest does not validate: %v\ninput: %q", err, data)
			}
			out, err := Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Parse(out, Options{})
			if err != nil {
				t.Fatalf("marshalled manifest does not parse: %v\n%s", err, out)
			}
			out2, _ := Marshal(m2)
			if !bytes.Equal(out, out2) {
				t.Fatalf("round trip changed the manifest:\n%s\n%s", out, out2)
			}
		}
	})
}

// FuzzLegacyCanonicalJSON checks only that the signing form never panics
// and is deterministic (map order must not leak into it).
func FuzzLegacyCanonicalJSON(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errA := LegacyCanonicalJSON(data)
		b, errB := LegacyCanonicalJSON(data)
		if (errA == nil) != (errB == nil) || !bytes.Equal(a, b) {
			t.Fatalf("not deterministic: %q / %q (%v / %v)", a, b, errA, errB)
		}
	})
}
