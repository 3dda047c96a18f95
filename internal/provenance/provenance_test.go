package provenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/trust"
)

const (
	testBuilder = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v2.1.0"
	otherHex    = "1111111111111111111111111111111111111111111111111111111111111111"
)

var module = []byte("\x00asm\x01\x00\x00\x00 pretend module")

func moduleHex() string { return strings.TrimPrefix(Digest(module), "sha256:") }

// statement is a SLSA v1 provenance statement as a real builder writes it.
func statement(subjectHex, builder string) []byte {
	return fmt.Appendf(nil, `{
  "_type": "https://in-toto.io/Statement/v1",
  "subject": [{"name": "plugin.wasm", "digest": {"sha256": %q}}],
  "predicateType": "https://slsa.dev/provenance/v1",
  "predicate": {
    "buildDefinition": {
      "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
      "externalParameters": {"workflow": {"ref": "refs/tags/v1.0.0", "repository": "https://github.com/acme/counter", "path": ".github/workflows/release.yml"}},
      "resolvedDependencies": [{"uri": "git+https://github.com/acme/counter@refs/tags/v1.0.0", "digest": {"gitCommit": "7fd1a60b01f91b314f59955a4e4d4e80d8edf11d"}}]
    },
    "runDetails": {
      "builder": {"id": %q},
      "metadata": {"invocationId": "https://github.com/acme/counter/actions/runs/1/attempts/1", "startedOn": "2026-11-01T10:00:00Z"}
    }
  }
}`, subjectHex, builder)
}

func signer(t *testing.T) *trust.FileSigner {
	t.Helper()
	s, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func envelope(t *testing.T, s trust.Signer, payload []byte) []byte {
	t.Helper()
	env, err := trust.SignEnvelope(context.Background(), s, trust.PayloadTypeInToto, payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.MarshalEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keyring(t *testing.T, s *trust.FileSigner) *trust.Keyring {
	t.Helper()
	kr, err := trust.NewKeyring(trust.Key{PublicKey: s.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestParseBareAndEnveloped(t *testing.T) {
	t.Parallel()
	st := statement(moduleHex(), testBuilder)
	bare, err := Parse(st)
	if err != nil {
		t.Fatalf("bare statement: %v", err)
	}
	if bare.Envelope != nil || bare.BuilderID != testBuilder || len(bare.Subjects) != 1 || bare.Subjects[0].SHA256 != moduleHex() {
		t.Fatalf("bare statement parsed as %+v", bare)
	}
	// What a policy may require a build to come from (policy input
	// provenance.source_repository).
	if bare.SourceRepository != "https://github.com/acme/counter" {
		t.Errorf("source repository = %q, want the workflow's repository", bare.SourceRepository)
	}
	enveloped, err := Parse(envelope(t, signer(t), st))
	if err != nil {
		t.Fatalf("enveloped statement: %v", err)
	}
	if enveloped.Envelope == nil || enveloped.BuilderID != testBuilder {
		t.Fatalf("enveloped statement parsed as %+v", enveloped)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	good := string(statement(moduleHex(), testBuilder))
	cases := map[string]string{
		"not JSON":             "hello",
		"JSON array":           "[]",
		"trailing data":        good + "{}",
		"legacy v0.1":          strings.Replace(good, "Statement/v1", "Statement/v0.1", 1),
		"other predicate":      strings.Replace(good, "https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2", 1),
		"unknown field":        strings.Replace(good, `"_type"`, `"extra": 1, "_type"`, 1),
		"unknown in predicate": strings.Replace(good, `"buildDefinition": {`, `"buildDefinition": {"buidType": "typo",`, 1),
		"duplicate field":      strings.Replace(good, `"_type"`, `"predicateType": "x", "_type"`, 1),
		"no builder id":        strings.Replace(good, `"id": "`+testBuilder+`"`, `"id": ""`, 1),
		"short digest":         strings.Replace(good, moduleHex(), "abcd", 1),
		"no subject":           strings.Replace(good, `[{"name": "plugin.wasm", "digest": {"sha256": "`+moduleHex()+`"}}]`, `[]`, 1),
		"no build type":        strings.Replace(good, `"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",`, "", 1),
		"control in builder":   strings.Replace(good, testBuilder, `evil\u001b[31m`, 1),
		"envelope of other":    `{"payloadType": "text/plain", "payload": "aGk=", "signatures": [{"keyid": "k", "sig": "c2ln"}]}`,
		"unsigned envelope":    `{"payloadType": "application/vnd.in-toto+json", "payload": "aGk=", "signatures": []}`,
		"too big":              good + strings.Repeat(" ", MaxBytes),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, err := Parse([]byte(in))
			if err == nil {
				t.Fatalf("accepted: %+v", a)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestParseBoundsSubjects(t *testing.T) {
	t.Parallel()
	var subs []string
	for i := range MaxSubjects + 1 {
		subs = append(subs, fmt.Sprintf(`{"name": "f%d", "digest": {"sha256": %q}}`, i, otherHex))
	}
	in := strings.Replace(string(statement(moduleHex(), testBuilder)),
		`[{"name": "plugin.wasm", "digest": {"sha256": "`+moduleHex()+`"}}]`, "["+strings.Join(subs, ",")+"]", 1)
	if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), "subjects") {
		t.Fatalf("a statement with %d subjects: %v", MaxSubjects+1, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	s := signer(t)
	other := signer(t)
	st := statement(moduleHex(), testBuilder)
	parse := func(b []byte) *Attestation {
		t.Helper()
		a, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	unkeyed := Policy{Builders: []Builder{{ID: testBuilder}}}
	keyed := Policy{Builders: []Builder{{ID: testBuilder, Keyring: keyring(t, s)}}}
	cases := []struct {
		name     string
		att      []byte
		digest   string
		policy   Policy
		problem  Problem
		verified bool
	}{
		{"default policy trusts nobody", st, Digest(module), Policy{}, BuilderUnlisted, false},
		{"listed builder", st, Digest(module), unkeyed, NoProblem, true},
		{"bare hex digest", st, moduleHex(), unkeyed, NoProblem, true},
		{"other module", st, "sha256:" + otherHex, unkeyed, SubjectMismatch, false},
		{"subject checked before policy", st, "sha256:" + otherHex, Policy{}, SubjectMismatch, false},
		{"unlisted builder", statement(moduleHex(), "https://evil.example/builder"), Digest(module), unkeyed, BuilderNotAllowed, false},
		{"signed by the builder's key", envelope(t, s, st), Digest(module), keyed, NoProblem, true},
		{"bare statement for a keyed builder", st, Digest(module), keyed, BadSignature, false},
		{"signed by another key", envelope(t, other, st), Digest(module), keyed, BadSignature, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, problem := Check(parse(c.att), c.digest, c.policy)
			if problem != c.problem || d.Verified != c.verified {
				t.Fatalf("got problem %q verified %v (%s); want %q verified %v", problem, d.Verified, d.Reason, c.problem, c.verified)
			}
			if !d.Present || d.Builder == "" {
				t.Errorf("detail does not report the attestation: %+v", d)
			}
			if !d.Verified && d.Reason == "" {
				t.Errorf("not verified, with no reason: %+v", d)
			}
		})
	}
	// A key retired before the build finished no longer vouches for it.
	retired, err := trust.NewKeyring(trust.Key{PublicKey: s.PublicKey(), NotAfter: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	late := []byte(strings.Replace(string(st), `"startedOn": "2026-11-01T10:00:00Z"`, `"startedOn": "2026-11-01T10:00:00Z", "finishedOn": "2026-11-01T10:05:00Z"`, 1))
	if _, problem := Check(parse(envelope(t, s, late)), Digest(module), Policy{Builders: []Builder{{ID: testBuilder, Keyring: retired}}}); problem != BadSignature {
		t.Errorf("a build finished after its key was retired checks as %q", problem)
	}
	if _, problem := Check(parse(envelope(t, s, late)), Digest(module), keyed); problem != NoProblem {
		t.Errorf("a build finished while its key was active checks as %q", problem)
	}

	d, _ := Check(parse(envelope(t, s, st)), Digest(module), keyed)
	if d.SignerKeyID != s.KeyID() || !d.Signed {
		t.Errorf("signer key id %q signed %v; want %q", d.SignerKeyID, d.Signed, s.KeyID())
	}
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	s := signer(t)
	kr, err := keyring(t, s).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(fmt.Appendf(nil, `{"builders": [{"id": %q, "keyring": %s}, {"id": "https://example.com/b"}]}`, testBuilder, kr))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Builders) != 2 || p.Builders[0].Keyring == nil || p.Builders[0].Keyring.Len() != 1 || p.Builders[1].Keyring != nil {
		t.Fatalf("parsed %+v", p)
	}
	for name, in := range map[string]string{
		"unknown field": `{"builder": []}`,
		"empty id":      `{"builders": [{"id": ""}]}`,
		"duplicate":     `{"builders": [{"id": "a"}, {"id": "a"}]}`,
		"trailing":      `{"builders": []} {}`,
		"bad keyring":   `{"builders": [{"id": "a", "keyring": {"keys": 1}}]}`,
	} {
		if _, err := ParsePolicy([]byte(in)); err == nil {
			t.Errorf("%s: accepted %s", name, in)
		}
	}
}

func reproducible() Detail {
	d := Digest(module)
	return Detail{Rebuild: RebuildDetail{
		Attempted: true, Reproducible: true, GoVersion: "go1.26.8",
		MainModule: "plugins.local/acme/counter", Package: "plugins.local/acme/counter",
		Module: "plugin.wasm", ModuleDigest: d, RebuiltDigest: d,
		Flags:        []string{"-buildmode=c-shared", "-buildvcs=false", "-trimpath"},
		Dependencies: []Dependency{{Name: "source", SHA256: otherHex}, {Name: "plugin kit", URI: "pkg:golang/gatehouse.dev/gatehouse", SHA256: otherHex}},
		FinishedAt:   time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC),
	}}
}

func TestDetailChecksAndParse(t *testing.T) {
	t.Parallel()
	d := reproducible()
	d.Provenance = ProvenanceDetail{Present: true, Verified: true, SubjectMatches: true, BuilderAllowed: true, Builder: testBuilder}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseDetail(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Checks(); len(c) != 2 || c[0] != CheckProvenance || c[1] != CheckReproducible {
		t.Fatalf("checks %q", c)
	}
	if c, err := ParseDetail(nil); err != nil || len(c.Checks()) != 0 {
		t.Fatalf("empty detail: %v %v", c, err)
	}
	forged := reproducible()
	forged.Rebuild.RebuiltDigest = "sha256:" + otherHex
	raw, _ = json.Marshal(forged)
	if _, err := ParseDetail(raw); err == nil {
		t.Error("a reproducible claim with differing digests was accepted")
	}
	if _, err := ParseDetail([]byte(`{"provenance": {"verified": true}}`)); err == nil {
		t.Error("a verified claim without a matching subject was accepted")
	}
	if _, err := ParseDetail([]byte(`{"rebuild": {}, "extra": 1}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestMarketplaceStatement(t *testing.T) {
	t.Parallel()
	in := StatementInput{PluginID: "acme/counter", Version: "1.0.0", PackageDigest: "sha256:" + otherHex, Marketplace: "v0.1.0"}
	a, err := MarketplaceStatement(reproducible(), Digest(module), in)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := MarketplaceStatement(reproducible(), Digest(module), in)
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Fatalf("two statements for the same rebuild differ:\n%s\n%s", a, b)
		}
	}
	// The statement is the SLSA provenance this package reads: a host
	// with the marketplace as trusted builder verifies it.
	att, err := Parse(a)
	if err != nil {
		t.Fatalf("the marketplace's statement does not parse: %v\n%s", err, a)
	}
	d, problem := Check(att, Digest(module), Policy{Builders: []Builder{{ID: BuilderID}}})
	if problem != NoProblem || !d.Verified || d.Subject != "acme/counter@1.0.0/plugin.wasm" || att.BuildType != BuildType {
		t.Fatalf("statement checks as %+v, %q", d, problem)
	}
	if !strings.Contains(string(a), `"uri":"pkg:golang/go@go1.26.8"`) || !strings.Contains(string(a), `"pkg:gatehouse/acme/counter@1.0.0"`) {
		t.Errorf("statement lacks the toolchain or package dependency:\n%s", a)
	}

	notRepro := reproducible()
	notRepro.Rebuild.Reproducible = false
	if _, err := MarketplaceStatement(notRepro, Digest(module), in); err == nil {
		t.Error("a statement was issued for a rebuild that did not reproduce the module")
	}
	if _, err := MarketplaceStatement(reproducible(), "sha256:"+otherHex, in); err == nil {
		t.Error("a statement was issued for another module's digest")
	}
	if _, err := MarketplaceStatement(reproducible(), Digest(module), StatementInput{PluginID: "acme/counter", Version: "1.0.0", PackageDigest: "nope"}); err == nil {
		t.Error("a statement was issued with a malformed package digest")
	}
}
