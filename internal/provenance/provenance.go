// Package provenance reads the SLSA v1 build provenance a plugin package may
// carry, checks it against the marketplace's policy, records what the
// marketplace's own reproducible rebuild found, and writes the marketplace's
// provenance statement for a module it rebuilt.
//
// # Where a package carries its provenance
//
// A package holds at most one attestation, at [Path]
// ("attestations/provenance.intoto.json"): an in-toto Statement v1 with the
// predicate type https://slsa.dev/provenance/v1, either bare or inside a DSSE
// envelope (payload type application/vnd.in-toto+json). Its subject names
// the WebAssembly module, not the package: a package cannot contain its own
// digest, and the module is what the builder produced. One subject's sha256
// digest must equal the module's.
//
// # What is trusted
//
// An attestation says who built the module. The marketplace believes it only
// for builders its [Policy] lists, and for a listed builder with keys only
// when the envelope is signed by one of them. With the default, empty policy
// no builder is trusted: the attestation is parsed and reported, never
// counted as verified.
//
// The package is pure domain code: callers pass bytes in and get values
// out; it does no I/O.
package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"gatehouse.dev/gatehouse/trust"
)

// Path is where a package carries its provenance attestation.
const Path = "attestations/provenance.intoto.json"

// PredicateType is the SLSA provenance v1 predicate type.
const PredicateType = "https://slsa.dev/provenance/v1"

// Limits on an attestation. Real SLSA provenance is a few KiB; generous
// bounds keep a hostile one from costing more than a small JSON document.
const (
	// MaxBytes bounds the attestation file, envelope included.
	MaxBytes = 1 << 20
	// MaxSubjects bounds the statement's subjects.
	MaxSubjects = 256
	// MaxDependencies bounds resolved dependencies and byproducts.
	MaxDependencies = 4096
	// MaxIDLength bounds the builder id and build type (URIs).
	MaxIDLength = 2048
)

// ErrMalformed is wrapped by every error Parse returns for an attestation
// that is not a well-formed SLSA v1 provenance statement.
var ErrMalformed = errors.New("malformed provenance attestation")

// Subject is one artifact the attestation is about.
type Subject struct {
	Name string
	// SHA256 is the lowercase hex sha256 digest, or "" when the subject
	// lists other algorithms only.
	SHA256 string
}

// Attestation is a parsed provenance attestation.
type Attestation struct {
	Subjects  []Subject
	BuilderID string
	BuildType string
	// SourceRepository is the repository the build says it built from:
	// externalParameters.workflow.repository (GitHub Actions' build type),
	// else the first resolved dependency whose URI names a git
	// repository; empty when the attestation names none. It is what the
	// builder states, worth as much as the builder is trusted.
	SourceRepository string
	// Envelope is the DSSE envelope the statement came in, or nil for a
	// bare statement.
	Envelope *dsse.Envelope
	// Provenance is the whole predicate, for callers that want more.
	Provenance *slsa.Provenance
}

// Parse reads an attestation: a DSSE envelope around an in-toto statement,
// or the statement itself. It checks the shape strictly (unknown fields,
// duplicate fields and trailing data are refused; the statement type must
// be in-toto v1 and the predicate SLSA provenance v1, valid by the in-toto
// project's own validators) but not the signature, which needs the
// policy's keys: see Check.
func Parse(data []byte) (*Attestation, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%w: it is %d bytes; the limit is %d", ErrMalformed, len(data), MaxBytes)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var probe struct {
		PayloadType *string `json:"payloadType"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var (
		env       *dsse.Envelope
		statement = trimmed
	)
	if probe.PayloadType != nil {
		e, err := trust.ParseEnvelope(trimmed)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if e.PayloadType != trust.PayloadTypeInToto {
			return nil, fmt.Errorf("%w: the envelope holds %q; an in-toto statement (%s) is expected", ErrMalformed, e.PayloadType, trust.PayloadTypeInToto)
		}
		payload, err := base64.StdEncoding.DecodeString(e.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: the envelope's payload is not standard base64: %v", ErrMalformed, err)
		}
		env, statement = e, payload
	}
	a, err := parseStatement(statement)
	if err != nil {
		return nil, err
	}
	a.Envelope = env
	return a, nil
}

var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false, RecursionLimit: 64}

func parseStatement(data []byte) (*Attestation, error) {
	var st ita1.Statement
	if err := strictJSON.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrMalformed, err)
	}
	// Validate also accepts the legacy v0.1 type; this format is v1 only.
	if st.GetType() != ita1.StatementTypeUri {
		return nil, fmt.Errorf("%w: statement type %q; %q is expected", ErrMalformed, st.GetType(), ita1.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrMalformed, err)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("%w: predicate type %q; SLSA provenance (%s) is expected", ErrMalformed, st.GetPredicateType(), PredicateType)
	}
	if n := len(st.GetSubject()); n > MaxSubjects {
		return nil, fmt.Errorf("%w: %d subjects; at most %d are accepted", ErrMalformed, n, MaxSubjects)
	}
	// The predicate arrives as a generic struct; re-encoding it and
	// decoding it strictly as the SLSA message is what refuses unknown
	// fields inside it.
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrMalformed, err)
	}
	var p slsa.Provenance
	if err := strictJSON.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: SLSA predicate: %v", ErrMalformed, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: SLSA predicate: %v", ErrMalformed, err)
	}
	bd, rd := p.GetBuildDefinition(), p.GetRunDetails()
	if n := len(bd.GetResolvedDependencies()) + len(rd.GetByproducts()) + len(rd.GetBuilder().GetBuilderDependencies()); n > MaxDependencies {
		return nil, fmt.Errorf("%w: %d dependencies and byproducts; at most %d are accepted", ErrMalformed, n, MaxDependencies)
	}
	a := &Attestation{
		BuilderID:        rd.GetBuilder().GetId(),
		BuildType:        bd.GetBuildType(),
		SourceRepository: sourceRepository(&p),
		Provenance:       &p,
	}
	for _, field := range []struct{ name, v string }{{"builder id", a.BuilderID}, {"build type", a.BuildType}, {"source repository", a.SourceRepository}} {
		if len(field.v) > MaxIDLength {
			return nil, fmt.Errorf("%w: the %s is %d bytes long; the limit is %d", ErrMalformed, field.name, len(field.v), MaxIDLength)
		}
		if strings.ContainsFunc(field.v, isControl) {
			return nil, fmt.Errorf("%w: the %s contains control characters", ErrMalformed, field.name)
		}
	}
	for _, s := range st.GetSubject() {
		sub := Subject{Name: s.GetName()}
		if d, ok := s.GetDigest()["sha256"]; ok {
			// Validate checked it is 32 bytes of hex; digests compare
			// in lowercase.
			sub.SHA256 = strings.ToLower(d)
		}
		a.Subjects = append(a.Subjects, sub)
	}
	return a, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// sourceRepository finds the repository a provenance says the build came
// from (see Attestation.SourceRepository).
func sourceRepository(p *slsa.Provenance) string {
	bd := p.GetBuildDefinition()
	if w, ok := bd.GetExternalParameters().GetFields()["workflow"]; ok {
		if repo, ok := w.GetStructValue().GetFields()["repository"]; ok && repo.GetStringValue() != "" {
			return repo.GetStringValue()
		}
	}
	for _, d := range bd.GetResolvedDependencies() {
		if uri := d.GetUri(); strings.HasPrefix(uri, "git+") {
			repo, _, _ := strings.Cut(strings.TrimPrefix(uri, "git+"), "@")
			return repo
		}
	}
	return ""
}

// Policy says which builders the marketplace trusts. The zero value trusts
// none: provenance is parsed and reported, never verified.
type Policy struct {
	Builders []Builder `json:"builders"`
}

// Builder is a trusted builder.
type Builder struct {
	// ID is the builder id as the attestation states it
	// (runDetails.builder.id), compared exactly.
	ID string `json:"id"`
	// Keyring, when it holds keys, makes the builder trusted only for
	// attestations in a DSSE envelope signed by one of them. Without
	// keys the builder id is taken at its word, which anyone can write:
	// list keys wherever the builder signs.
	Keyring *trust.Keyring `json:"keyring,omitempty"`
}

// MaxPolicyBytes bounds a policy file.
const MaxPolicyBytes = 1 << 20

// ParsePolicy reads a policy such as
//
//	{"builders": [{"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v2.1.0",
//	               "keyring": <a keyring file, as `gatehouse keys show` prints>}]}
//
// Unknown fields, empty and duplicate ids are refused.
func ParsePolicy(data []byte) (Policy, error) {
	if len(data) > MaxPolicyBytes {
		return Policy{}, fmt.Errorf("provenance policy is %d bytes; the limit is %d", len(data), MaxPolicyBytes)
	}
	var wire struct {
		Builders []struct {
			ID      string          `json:"id"`
			Keyring json.RawMessage `json:"keyring"`
		} `json:"builders"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wire); err != nil {
		return Policy{}, fmt.Errorf("provenance policy: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Policy{}, errors.New("provenance policy: unexpected data after the JSON object")
	}
	var p Policy
	seen := map[string]bool{}
	for i, b := range wire.Builders {
		if b.ID == "" {
			return Policy{}, fmt.Errorf("provenance policy: builder %d has no id", i+1)
		}
		if seen[b.ID] {
			return Policy{}, fmt.Errorf("provenance policy: builder %q is listed twice", b.ID)
		}
		seen[b.ID] = true
		nb := Builder{ID: b.ID}
		if len(b.Keyring) > 0 && string(b.Keyring) != "null" {
			kr, err := trust.ParseKeyring(b.Keyring)
			if err != nil {
				return Policy{}, fmt.Errorf("provenance policy: builder %q: %w", b.ID, err)
			}
			nb.Keyring = kr
		}
		p.Builders = append(p.Builders, nb)
	}
	return p, nil
}

func (p Policy) builder(id string) (Builder, bool) {
	for _, b := range p.Builders {
		if b.ID == id {
			return b, true
		}
	}
	return Builder{}, false
}

// Problem says why an attestation is not verified.
type Problem string

const (
	// NoProblem: the attestation is verified.
	NoProblem Problem = ""
	// SubjectMismatch: no subject's sha256 is the module's. The
	// attestation is about other bytes.
	SubjectMismatch Problem = "subject-mismatch"
	// BuilderNotAllowed: the policy lists builders and this is not one.
	BuilderNotAllowed Problem = "builder-not-allowed"
	// BuilderUnlisted: the policy lists no builder at all (the default),
	// so nothing can be verified; this is not a fault of the package.
	BuilderUnlisted Problem = "no-trusted-builders"
	// BadSignature: the builder requires a signature and the envelope
	// is missing, unsigned by its keys, or its signature does not verify.
	BadSignature Problem = "bad-signature"
)

// Check checks a parsed attestation against the module's digest
// ("sha256:HEX" or bare hex) and the policy, and returns what the
// marketplace records. The subject is checked first: an attestation about
// other bytes is wrong whatever the policy says.
func Check(a *Attestation, moduleDigest string, p Policy) (ProvenanceDetail, Problem) {
	d := ProvenanceDetail{
		Present:          true,
		Builder:          a.BuilderID,
		BuildType:        a.BuildType,
		SourceRepository: a.SourceRepository,
		Signed:           a.Envelope != nil,
	}
	want := strings.ToLower(strings.TrimPrefix(moduleDigest, "sha256:"))
	for _, s := range a.Subjects {
		if s.SHA256 != "" && s.SHA256 == want {
			d.SubjectMatches = true
			d.Subject = s.Name
			break
		}
	}
	if !d.SubjectMatches {
		d.Reason = fmt.Sprintf("no subject of the attestation has the module's digest sha256:%s", want)
		return d, SubjectMismatch
	}
	if len(p.Builders) == 0 {
		d.Reason = "the marketplace's provenance policy trusts no builder, so the attestation is reported but not verified"
		return d, BuilderUnlisted
	}
	b, ok := p.builder(a.BuilderID)
	if !ok {
		d.Reason = fmt.Sprintf("builder %q is not one the marketplace's provenance policy trusts", a.BuilderID)
		return d, BuilderNotAllowed
	}
	d.BuilderAllowed = true
	if b.Keyring != nil && b.Keyring.Len() > 0 {
		if a.Envelope == nil {
			d.Reason = fmt.Sprintf("builder %q must sign its provenance, and the attestation is a bare statement, not a signed DSSE envelope", a.BuilderID)
			return d, BadSignature
		}
		_, key, err := trust.OpenEnvelope(a.Envelope, trust.PayloadTypeInToto, b.Keyring)
		if err != nil {
			d.Reason = fmt.Sprintf("the attestation's signature is not one of builder %q's keys: %v", a.BuilderID, err)
			return d, BadSignature
		}
		// A retired key's window closes rather than the key vanishing
		// (trust.Keyring): a build dated after it is refused.
		if fo := a.Provenance.GetRunDetails().GetMetadata().GetFinishedOn(); fo != nil && !key.ActiveAt(fo.AsTime()) {
			d.Reason = fmt.Sprintf("the attestation is signed by key %s of builder %q, which was not active when the build finished (%s)", key.ID, a.BuilderID, fo.AsTime().UTC().Format(time.RFC3339))
			return d, BadSignature
		}
		d.SignerKeyID = key.ID
	}
	d.Verified = true
	return d, NoProblem
}

// Digest returns "sha256:HEX" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
