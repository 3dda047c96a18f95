package provenance

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts has a builder id,
// a build type and only well-formed sha256 subjects, within the limits.
func FuzzParse(f *testing.F) {
	f.Add(statement(moduleHex(), testBuilder))
	f.Add([]byte(`{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": [{"keyid": "k", "sig": "c2ln"}]}`))
	f.Add([]byte(`{"_type": "https://in-toto.io/Statement/v1"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if a.BuilderID == "" || a.BuildType == "" || len(a.Subjects) == 0 || len(a.Subjects) > MaxSubjects {
			t.Fatalf("accepted an incomplete attestation: %+v", a)
		}
		for _, s := range a.Subjects {
			if s.SHA256 != "" && !hexDigest.MatchString(s.SHA256) {
				t.Fatalf("accepted subject digest %q", s.SHA256)
			}
		}
		Check(a, Digest(data), Policy{Builders: []Builder{{ID: a.BuilderID}}})
	})
}

// FuzzParseDetail: ParseDetail never panics and never grants a check the
// record does not back with matching digests.
func FuzzParseDetail(f *testing.F) {
	good, _ := json.Marshal(reproducible())
	f.Add(good)
	f.Add([]byte(`{"provenance": {"present": true, "verified": true, "subjectMatches": true, "builderAllowed": true}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDetail(data)
		if err != nil {
			return
		}
		if d.Rebuild.Reproducible && d.Rebuild.ModuleDigest != d.Rebuild.RebuiltDigest {
			t.Fatalf("reproducible with digests %q and %q", d.Rebuild.ModuleDigest, d.Rebuild.RebuiltDigest)
		}
	})
}
