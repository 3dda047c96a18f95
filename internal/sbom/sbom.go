// Package sbom turns what a package says it contains into a list of
// components (name, version, ecosystem, package URL) that a vulnerability
// database can match: CycloneDX JSON and SPDX 2.x JSON documents, and the
// module information Go embeds in the binaries it builds.
//
// SBOMs come from plugin authors, so decoding is bounded: the document
// size, the number of components and the nesting depth are capped, and a
// malformed document is an error the caller reports, never a panic.
package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Component is one piece of software a package ships.
type Component struct {
	// Name is the package name as the ecosystem spells it (a Go module
	// path, an npm name with its scope, Maven's group:artifact).
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Ecosystem is the OSV ecosystem ("Go", "npm", "PyPI", ...), from the
	// package URL; empty when unknown, and then nothing can match it.
	Ecosystem string `json:"ecosystem,omitempty"`
	PURL      string `json:"purl,omitempty"`
}

// String formats the component as "Go golang.org/x/text@v0.3.5".
func (c Component) String() string {
	s := c.Name
	if c.Version != "" {
		s += "@" + c.Version
	}
	if c.Ecosystem != "" {
		s = c.Ecosystem + " " + s
	}
	return s
}

// Format is an SBOM format.
type Format string

const (
	CycloneDX Format = "CycloneDX"
	SPDX      Format = "SPDX"
)

// Limits bound what Parse accepts.
const (
	MaxSize       = 32 << 20 // bytes of one SBOM document
	MaxComponents = 100_000
	maxDepth      = 32 // CycloneDX components nest; packages do not nest deeper
)

// ErrUnknownFormat means the document is JSON but neither CycloneDX nor SPDX.
var ErrUnknownFormat = errors.New("neither a CycloneDX nor an SPDX JSON document")

// Parse reads a CycloneDX or SPDX 2.x JSON document and returns its
// components in document order, without duplicates.
func Parse(b []byte) ([]Component, Format, error) {
	if len(b) > MaxSize {
		return nil, "", fmt.Errorf("sbom: document of %d bytes exceeds the %d-byte limit", len(b), MaxSize)
	}
	b = trimBOM(b)
	var probe struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, "", fmt.Errorf("sbom: not valid JSON: %w", err)
	}
	switch {
	case probe.BOMFormat == "CycloneDX":
		cs, err := parseCycloneDX(b)
		return cs, CycloneDX, err
	case strings.HasPrefix(probe.SPDXVersion, "SPDX-2."):
		cs, err := parseSPDX(b)
		return cs, SPDX, err
	case probe.SPDXVersion != "":
		return nil, SPDX, fmt.Errorf("sbom: SPDX version %q is not supported; write SPDX 2.x JSON", probe.SPDXVersion)
	}
	return nil, "", fmt.Errorf("sbom: %w (no bomFormat \"CycloneDX\" or spdxVersion field)", ErrUnknownFormat)
}

// list collects components, dropping duplicates and enforcing the cap.
type list struct {
	out  []Component
	seen map[Component]struct{}
}

func (l *list) add(name, version, purl string) error {
	c := Component{Name: name, Version: version, PURL: purl}
	if purl != "" {
		p, err := ParsePURL(purl)
		if err != nil {
			return fmt.Errorf("component %q: %w", name, err)
		}
		c.Ecosystem = p.Ecosystem()
		if c.Ecosystem != "" {
			c.Name = p.OSVName()
		}
		if c.Version == "" {
			c.Version = p.Version
		}
	}
	if c.Name == "" {
		return errors.New("a component has no name and no package URL")
	}
	if l.seen == nil {
		l.seen = make(map[Component]struct{})
	}
	if _, dup := l.seen[c]; dup {
		return nil
	}
	if len(l.out) >= MaxComponents {
		return fmt.Errorf("more than %d components", MaxComponents)
	}
	l.seen[c] = struct{}{}
	l.out = append(l.out, c)
	return nil
}

// trimBOM drops a UTF-8 byte-order mark, which some generators write.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }
