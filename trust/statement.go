package trust

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// In-toto Statement v1 constants.
const (
	// StatementType is the _type of an in-toto Statement v1.
	StatementType = "https://in-toto.io/Statement/v1"
	// PayloadTypeInToto is the DSSE payload type of an in-toto statement.
	PayloadTypeInToto = "application/vnd.in-toto+json"
)

// Statement is an in-toto Statement v1, field for field as the in-toto
// attestation framework defines it (github.com/in-toto/attestation,
// spec/v1/statement.md). Only the sha256 digest algorithm is used here.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is an in-toto ResourceDescriptor reduced to the fields a subject
// uses here.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SubjectName is the subject name of a plugin version: "namespace/name@version".
func SubjectName(pluginID, version string) string { return pluginID + "@" + version }

// newStatement builds a statement over one package digest ("sha256:HEX").
func newStatement(digest, pluginID, version, predicateType string, predicate any) ([]byte, error) {
	hexDigest, err := digestHex(digest)
	if err != nil {
		return nil, err
	}
	if pluginID == "" || version == "" {
		return nil, fmt.Errorf("%w: plugin id and version are required", ErrMalformed)
	}
	pred, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding predicate: %w", err)
	}
	return json.Marshal(Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: SubjectName(pluginID, version), Digest: map[string]string{"sha256": hexDigest}}},
		PredicateType: predicateType,
		Predicate:     pred,
	})
}

// parseStatement parses a statement of the given predicate type with exactly
// one subject, and decodes its predicate into pred (strictly).
func parseStatement(payload []byte, predicateType string, pred any) (*Statement, error) {
	var st Statement
	if err := decodeStrict(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrMalformed, err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("%w: statement type %q, want %q", ErrMalformed, st.Type, StatementType)
	}
	if st.PredicateType != predicateType {
		return nil, fmt.Errorf("%w: predicate type %q, want %q", ErrMalformed, st.PredicateType, predicateType)
	}
	if len(st.Subject) != 1 {
		return nil, fmt.Errorf("%w: statement has %d subjects; exactly one is expected", ErrMalformed, len(st.Subject))
	}
	if _, err := st.SubjectDigest(); err != nil {
		return nil, err
	}
	if err := decodeStrict(st.Predicate, pred); err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrMalformed, err)
	}
	return &st, nil
}

// SubjectDigest returns the single subject's digest as "sha256:HEX".
func (st *Statement) SubjectDigest() (string, error) {
	if len(st.Subject) != 1 {
		return "", fmt.Errorf("%w: statement has %d subjects", ErrMalformed, len(st.Subject))
	}
	h, ok := st.Subject[0].Digest["sha256"]
	if !ok {
		return "", fmt.Errorf("%w: subject has no sha256 digest", ErrMalformed)
	}
	d := "sha256:" + h
	if _, err := digestHex(d); err != nil {
		return "", err
	}
	return d, nil
}

// digestHex checks a "sha256:HEX" digest (64 lowercase hex digits) and
// returns HEX.
func digestHex(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return "", fmt.Errorf("%w: digest %q is not \"sha256:\" and 64 lowercase hex digits", ErrMalformed, digest)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%w: digest %q is not \"sha256:\" and 64 lowercase hex digits", ErrMalformed, digest)
	}
	return h, nil
}

// ValidDigest reports whether digest is "sha256:" and 64 lowercase hex digits.
func ValidDigest(digest string) bool {
	_, err := digestHex(digest)
	return err == nil
}
