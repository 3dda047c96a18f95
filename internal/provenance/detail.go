package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Detail is what the provenance analyzer (internal/vet/provenance) records in its
// result's Detail, and what certification reads to decide the provenance
// and reproducible checks.
type Detail struct {
	Provenance ProvenanceDetail `json:"provenance"`
	Rebuild    RebuildDetail    `json:"rebuild"`
}

// ProvenanceDetail is the outcome of checking the package's attestation.
type ProvenanceDetail struct {
	// Present is true when the package carries an attestation at Path.
	Present bool `json:"present"`
	// Verified is true when a subject is the module, the builder is one
	// the policy trusts, and its signature checked where keys are listed.
	Verified bool `json:"verified"`
	// Builder and BuildType are as the attestation states them.
	Builder   string `json:"builder,omitempty"`
	BuildType string `json:"buildType,omitempty"`
	// SourceRepository is the repository the attestation says the module
	// was built from (Attestation.SourceRepository).
	SourceRepository string `json:"sourceRepository,omitempty"`
	// Subject is the name of the subject that matched the module.
	Subject        string `json:"subject,omitempty"`
	SubjectMatches bool   `json:"subjectMatches"`
	BuilderAllowed bool   `json:"builderAllowed"`
	// Signed is true when the attestation came in a DSSE envelope;
	// SignerKeyID names the policy key that verified it.
	Signed      bool   `json:"signed"`
	SignerKeyID string `json:"signerKeyId,omitempty"`
	// Reason says why the attestation is not verified, or why there is
	// none to check.
	Reason string `json:"reason,omitempty"`
}

// RebuildDetail is the outcome of the marketplace's rebuild of the module
// from the source the package includes.
type RebuildDetail struct {
	// Attempted is true when the go command ran.
	Attempted bool `json:"attempted"`
	// Reproducible is true when the rebuilt module is byte for byte the
	// submitted one.
	Reproducible bool `json:"reproducible"`
	// GoVersion is the toolchain the module's build information names
	// (and the rebuild used, when attempted).
	GoVersion string `json:"goVersion,omitempty"`
	// MainModule and Package are the module and package the build
	// information names.
	MainModule string `json:"mainModule,omitempty"`
	Package    string `json:"package,omitempty"`
	// Module is the module's path in the package.
	Module        string `json:"module,omitempty"`
	ModuleDigest  string `json:"moduleDigest,omitempty"`
	RebuiltDigest string `json:"rebuiltDigest,omitempty"`
	// Flags and Env are the go build flags and environment the rebuild
	// used (what the build information records, plus the marketplace's
	// fixed isolation settings).
	Flags []string `json:"flags,omitempty"`
	Env   []string `json:"env,omitempty"`
	// Dependencies are what the rebuild resolved besides the toolchain:
	// the package's source and the plugin kit.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	// FinishedAt is when the rebuild ended.
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Reason says why the rebuild was not attempted or did not reproduce
	// the module.
	Reason string `json:"reason,omitempty"`
}

// Dependency is an input of the rebuild, as SLSA's resolvedDependencies
// records it.
type Dependency struct {
	Name   string `json:"name"`
	URI    string `json:"uri,omitempty"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// AnalyzerName is the name of the analyzer whose result's Detail is a
// Detail (internal/vet/provenance), for readers of vetting results.
const AnalyzerName = "provenance"

// Check names, as certificates list them.
const (
	CheckProvenance   = "provenance"
	CheckReproducible = "reproducible"
)

// Checks returns the certificate checks the detail earns: "provenance"
// when the attestation verified, "reproducible" when the rebuild matched.
func (d Detail) Checks() []string {
	var out []string
	if d.Provenance.Verified {
		out = append(out, CheckProvenance)
	}
	if d.Rebuild.Reproducible {
		out = append(out, CheckReproducible)
	}
	return out
}

// MaxDetailBytes bounds a stored detail ParseDetail accepts.
const MaxDetailBytes = 1 << 20

// ParseDetail reads a provenance result's Detail. An empty or null detail
// (the analyzer was skipped or errored) is the zero Detail, which earns no
// check. Unknown fields are refused, so a detail written by a newer
// analyzer is noticed rather than half-read.
func ParseDetail(raw json.RawMessage) (Detail, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Detail{}, nil
	}
	if len(raw) > MaxDetailBytes {
		return Detail{}, fmt.Errorf("provenance detail is %d bytes; the limit is %d", len(raw), MaxDetailBytes)
	}
	var d Detail
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Detail{}, fmt.Errorf("reading the provenance detail: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Detail{}, errors.New("reading the provenance detail: unexpected data after the JSON object")
	}
	// A reproducible claim must name matching digests; anything else
	// is a corrupted or forged record and earns nothing.
	if d.Rebuild.Reproducible && (!d.Rebuild.Attempted || d.Rebuild.ModuleDigest == "" || d.Rebuild.ModuleDigest != d.Rebuild.RebuiltDigest) {
		return Detail{}, errors.New("reading the provenance detail: it claims a reproducible rebuild without matching module and rebuilt digests")
	}
	if d.Provenance.Verified && (!d.Provenance.Present || !d.Provenance.SubjectMatches || !d.Provenance.BuilderAllowed) {
		return Detail{}, errors.New("reading the provenance detail: it claims verified provenance without a matching subject and trusted builder")
	}
	return d, nil
}
