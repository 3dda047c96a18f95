package trust

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Limits on envelopes read from outside. A certificate or revocation list is
// a few kilobytes; the limits leave generous room while bounding memory.
const (
	// MaxEnvelopeBytes bounds an encoded envelope.
	MaxEnvelopeBytes = 4 << 20
	// MaxSignatures bounds the signatures tried on one envelope.
	MaxSignatures = 8
)

// SignEnvelope signs payload as a DSSE envelope of the given payload type.
// The signature covers DSSE's pre-authentication encoding, so the type is
// signed along with the payload.
func SignEnvelope(ctx context.Context, s Signer, payloadType string, payload []byte) (*dsse.Envelope, error) {
	sig, err := s.Sign(ctx, dsse.PAE(payloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("trust: signing with key %s: %w", s.KeyID(), err)
	}
	return &dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{KeyID: s.KeyID(), Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// OpenEnvelope checks that env has the wanted payload type and a valid
// signature by a key in keyring, and returns the payload and that key. It
// does not check the key's window: only the payload knows when it was
// signed, so callers check Key.ActiveAt once they have parsed it.
//
// The error wraps ErrUnknownKey when no signature names a key in the
// keyring, ErrBadSignature when one does but none verifies, and ErrMalformed
// for an envelope of the wrong shape.
func OpenEnvelope(env *dsse.Envelope, payloadType string, keyring *Keyring) ([]byte, Key, error) {
	if env == nil {
		return nil, Key{}, fmt.Errorf("%w: no envelope", ErrMalformed)
	}
	if env.PayloadType != payloadType {
		return nil, Key{}, fmt.Errorf("%w: envelope holds %q, want %q", ErrMalformed, env.PayloadType, payloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, Key{}, fmt.Errorf("%w: envelope has no signature", ErrMalformed)
	}
	if len(env.Signatures) > MaxSignatures {
		return nil, Key{}, fmt.Errorf("%w: envelope has %d signatures; at most %d are accepted", ErrMalformed, len(env.Signatures), MaxSignatures)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, Key{}, fmt.Errorf("%w: payload is not base64: %v", ErrMalformed, err)
	}
	pae := dsse.PAE(payloadType, payload)
	var badErr error
	var unknown []string
	for _, s := range env.Signatures {
		k, ok := keyring.Lookup(s.KeyID)
		if !ok {
			unknown = append(unknown, s.KeyID)
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			badErr = fmt.Errorf("%w by key %s: signature is not base64", ErrBadSignature, k.ID)
			continue
		}
		if err := k.Verify(pae, sig); err != nil {
			badErr = err
			continue
		}
		return payload, k, nil
	}
	if badErr != nil {
		return nil, Key{}, badErr
	}
	return nil, Key{}, fmt.Errorf("%w: key ids %q are not in the keyring", ErrUnknownKey, unknown)
}

// EnvelopeDigest returns "sha256:HEX" of the envelope's JSON encoding. The
// encoding is Go's, of the envelope's fields in their fixed order, so the
// digest is the same whichever way the envelope was formatted in transit.
func EnvelopeDigest(env *dsse.Envelope) (string, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return "", fmt.Errorf("trust: encoding envelope: %w", err)
	}
	return "sha256:" + sha256Hex(b), nil
}

// PayloadDigest returns "sha256:HEX" of the envelope's decoded payload: the
// signed document itself, whatever the signatures around it.
func PayloadDigest(env *dsse.Envelope) (string, error) {
	p, err := env.DecodeB64Payload()
	if err != nil {
		return "", fmt.Errorf("%w: payload is not base64: %v", ErrMalformed, err)
	}
	return "sha256:" + sha256Hex(p), nil
}

// MarshalEnvelope encodes an envelope as indented JSON, the form written to
// files.
func MarshalEnvelope(env *dsse.Envelope) ([]byte, error) {
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("trust: encoding envelope: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseEnvelope decodes a DSSE envelope read from outside, refusing unknown
// fields, trailing data and anything over MaxEnvelopeBytes.
func ParseEnvelope(data []byte) (*dsse.Envelope, error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: envelope is %d bytes; the limit is %d", ErrMalformed, len(data), MaxEnvelopeBytes)
	}
	var env dsse.Envelope
	if err := decodeStrict(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if env.PayloadType == "" || env.Payload == "" || len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%w: envelope needs payloadType, payload and at least one signature", ErrMalformed)
	}
	return &env, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
