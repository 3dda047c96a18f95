package verify

import (
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// BundleMediaType identifies a certificate bundle file.
const BundleMediaType = "application/vnd.gatehouse.bundle.v1+json"

// MaxBundleBytes bounds a bundle read from outside.
const MaxBundleBytes = 8 << 20

// Bundle is what travels with a package so a host can verify it offline:
// the publisher's signature, the marketplace's certificate, and the proof
// that the certificate was published in the transparency log.
type Bundle struct {
	MediaType string `json:"mediaType"`
	// PublisherSignature is the publisher's DSSE envelope over the package
	// digest. It is absent when the publisher signed with a Sigstore
	// bundle: the certificate carries that bundle as its evidence.
	PublisherSignature *dsse.Envelope `json:"publisherSignature,omitempty"`
	// PublisherKey is the publisher's public key (PEM), used when the host
	// keeps no publisher keyring of its own; the certificate names its id.
	PublisherKey string `json:"publisherKey,omitempty"`
	// Certificate is the marketplace's DSSE envelope.
	Certificate *dsse.Envelope `json:"certificate"`
	// Log proves the certificate is in the transparency log.
	Log LogProof `json:"log"`
}

// LogProof is a certificate's place in the transparency log.
type LogProof struct {
	// Index is the entry's position in the log.
	Index uint64 `json:"index"`
	// Entry is the log entry (a trust.Event) that publishes the
	// certificate.
	Entry []byte `json:"entry"`
	// InclusionProof proves Entry is at Index in Checkpoint's tree.
	InclusionProof tlog.Proof `json:"inclusionProof"`
	// Checkpoint is the signed note of the tree the proof is against.
	Checkpoint string `json:"checkpoint"`
}

// Marshal encodes the bundle as indented JSON.
func (b *Bundle) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("verify: encoding bundle: %w", err)
	}
	return append(out, '\n'), nil
}

// ParseBundle decodes a bundle read from outside: at most MaxBundleBytes,
// of the right media type, with every part present.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleBytes {
		return nil, fmt.Errorf("verify: bundle is %d bytes; the limit is %d", len(data), MaxBundleBytes)
	}
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("verify: bundle is not valid JSON: %w", err)
	}
	if b.MediaType != BundleMediaType {
		return nil, fmt.Errorf("verify: bundle media type is %q, want %q", b.MediaType, BundleMediaType)
	}
	if b.Certificate == nil || len(b.Log.Entry) == 0 || b.Log.Checkpoint == "" {
		return nil, fmt.Errorf("verify: bundle needs a certificate, a log entry and a checkpoint (and a publisher signature unless the certificate carries a Sigstore bundle)")
	}
	if len(b.Log.Entry) > trust.MaxEventBytes {
		return nil, fmt.Errorf("verify: bundle log entry is %d bytes; the limit is %d", len(b.Log.Entry), trust.MaxEventBytes)
	}
	return &b, nil
}
