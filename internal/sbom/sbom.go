// Package sbom turns what a package says it contains into a list of
// components (name, version, ecosystem, package URL) that a vulnerability
// database can match: CycloneDX JSON and SPDX 2.x JSON documents, and the
// module information Go embeds in the binaries it builds.
//
// SBOMs come from plugin authors, so decoding is bounded: the document
// size, the number of components and the nesting depth are capped, and a
// malformed document is an error the caller reports, never a panic. A
// document is read component by component: one component that cannot be
// read (a package URL that is not one, no name) is set aside as Skipped
// and the rest are kept, so one bad entry never hides the others.
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

// Skipped is a component of a document that cannot be read, so it is
// left out of the components and nothing is matched against it.
type Skipped struct {
	// Index is the component's position in the document's order (the
	// CycloneDX metadata component, then the component tree depth first;
	// SPDX packages in order), from 0.
	Index int    `json:"index"`
	Name  string `json:"name,omitempty"`
	PURL  string `json:"purl,omitempty"`
	// Reason says what is wrong with it.
	Reason string `json:"reason"`
}

// String names the skipped component: its name, else its package URL,
// else its position.
func (s Skipped) String() string {
	switch {
	case s.Name != "" && s.PURL != "":
		return fmt.Sprintf("%q (%s)", s.Name, s.PURL)
	case s.Name != "":
		return fmt.Sprintf("%q", s.Name)
	case s.PURL != "":
		return s.PURL
	}
	return fmt.Sprintf("component %d", s.Index+1)
}

// Document is what ParseDocument reads.
type Document struct {
	Format Format
	// Components are the readable components in document order,
	// without duplicates.
	Components []Component
	// Skipped are the components that cannot be read, in document order.
	Skipped []Skipped
}

// Parse reads a CycloneDX or SPDX 2.x JSON document and returns its
// readable components in document order, without duplicates; see
// ParseDocument for the components it skips.
func Parse(b []byte) ([]Component, Format, error) {
	d, err := ParseDocument(b)
	return d.Components, d.Format, err
}

// ParseDocument reads a CycloneDX or SPDX 2.x JSON document component by
// component. The error is for the document as a whole (not JSON, neither
// format, over a limit); a component that cannot be read is in Skipped,
// and the others are still returned.
func ParseDocument(b []byte) (Document, error) {
	if len(b) > MaxSize {
		return Document{}, fmt.Errorf("sbom: document of %d bytes exceeds the %d-byte limit", len(b), MaxSize)
	}
	b = trimBOM(b)
	var probe struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Document{}, fmt.Errorf("sbom: not valid JSON: %w", err)
	}
	var (
		l   list
		f   Format
		err error
	)
	switch {
	case probe.BOMFormat == "CycloneDX":
		f, err = CycloneDX, parseCycloneDX(&l, b)
	case strings.HasPrefix(probe.SPDXVersion, "SPDX-2."):
		f, err = SPDX, parseSPDX(&l, b)
	case probe.SPDXVersion != "":
		return Document{Format: SPDX}, fmt.Errorf("sbom: SPDX version %q is not supported; write SPDX 2.x JSON", probe.SPDXVersion)
	default:
		return Document{}, fmt.Errorf("sbom: %w (no bomFormat \"CycloneDX\" or spdxVersion field)", ErrUnknownFormat)
	}
	if err != nil {
		return Document{Format: f}, err
	}
	return Document{Format: f, Components: l.out, Skipped: l.skipped}, nil
}

// list collects components, dropping duplicates, setting aside the ones
// that cannot be read, and enforcing the cap (which counts both).
type list struct {
	out     []Component
	skipped []Skipped
	n       int // components seen, readable or not
	seen    map[Component]struct{}
}

// add adds a component; the error is the cap, which ends the document.
func (l *list) add(name, version, purl string) error {
	if l.n >= MaxComponents {
		return fmt.Errorf("more than %d components", MaxComponents)
	}
	l.n++
	c := Component{Name: name, Version: version, PURL: purl}
	if purl != "" {
		p, err := ParsePURL(purl)
		if err != nil {
			l.skip(name, purl, err.Error())
			return nil
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
		l.skip(name, purl, "it has no name and no package URL")
		return nil
	}
	if l.seen == nil {
		l.seen = make(map[Component]struct{})
	}
	if _, dup := l.seen[c]; dup {
		return nil
	}
	l.seen[c] = struct{}{}
	l.out = append(l.out, c)
	return nil
}

// maxReason caps the length of a skipped component's reason, which
// quotes the package URL.
const maxReason = 512

func (l *list) skip(name, purl, reason string) {
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	if len(name) > maxReason {
		name = name[:maxReason] + "…"
	}
	if len(purl) > maxReason {
		purl = purl[:maxReason] + "…"
	}
	l.skipped = append(l.skipped, Skipped{Index: l.n - 1, Name: name, PURL: purl, Reason: reason})
}

// trimBOM drops a UTF-8 byte-order mark, which some generators write.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }
