package sbom

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// PURL is a parsed package URL (github.com/package-url/purl-spec):
// pkg:type/namespace/name@version?qualifiers#subpath. Qualifiers and
// subpath are dropped: they never change which advisories apply.
type PURL struct {
	Type      string // lowercase
	Namespace string
	Name      string
	Version   string
}

// maxPURL caps a package URL's length; real ones are well under 1 KiB.
const maxPURL = 4096

// ParsePURL parses a package URL.
func ParsePURL(s string) (PURL, error) {
	if len(s) > maxPURL {
		return PURL{}, fmt.Errorf("package URL of %d bytes exceeds %d", len(s), maxPURL)
	}
	rest, ok := cutPrefixFold(s, "pkg:")
	if !ok {
		return PURL{}, fmt.Errorf("package URL %q does not start with pkg:", s)
	}
	rest = strings.TrimLeft(rest, "/")
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	var p PURL
	if i := strings.LastIndexByte(rest, '@'); i > strings.LastIndexByte(rest, '/') {
		v, err := url.PathUnescape(rest[i+1:])
		if err != nil {
			return PURL{}, fmt.Errorf("package URL %q: version: %w", s, err)
		}
		p.Version, rest = v, rest[:i]
	}
	segs := strings.Split(strings.TrimRight(rest, "/"), "/")
	if len(segs) < 2 || segs[0] == "" {
		return PURL{}, fmt.Errorf("package URL %q has no type and name", s)
	}
	p.Type = strings.ToLower(segs[0])
	name, err := url.PathUnescape(segs[len(segs)-1])
	if err != nil || name == "" {
		return PURL{}, fmt.Errorf("package URL %q: the name is empty or badly escaped", s)
	}
	// The specification discards empty namespace segments (as a local
	// replace in cyclonedx-gomod writes: pkg:golang/example.com//mod), so
	// such a URL is normalised, not refused.
	var ns []string
	for i, seg := range segs[1 : len(segs)-1] {
		if seg == "" {
			continue
		}
		u, err := url.PathUnescape(seg)
		if err != nil || u == "" {
			return PURL{}, fmt.Errorf("package URL %q: namespace segment %d is badly escaped", s, i+1)
		}
		ns = append(ns, u)
	}
	p.Name = name
	p.Namespace = strings.Join(ns, "/")
	return p, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// ecosystems maps package URL types to OSV ecosystem names.
var ecosystems = map[string]string{
	"golang":   "Go",
	"npm":      "npm",
	"pypi":     "PyPI",
	"cargo":    "crates.io",
	"maven":    "Maven",
	"nuget":    "NuGet",
	"gem":      "RubyGems",
	"composer": "Packagist",
	"pub":      "Pub",
	"hex":      "Hex",
	"swift":    "SwiftURL",
}

// Ecosystem is the OSV ecosystem of the package URL's type, or "".
func (p PURL) Ecosystem() string { return ecosystems[p.Type] }

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// OSVName is the package name as OSV records spell it in that ecosystem.
func (p PURL) OSVName() string {
	switch p.Type {
	case "maven":
		if p.Namespace != "" {
			return p.Namespace + ":" + p.Name
		}
	case "pypi":
		// PEP 503 normalisation, which OSV's PyPI records use.
		return pypiSeparators.ReplaceAllString(strings.ToLower(p.Name), "-")
	}
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}
