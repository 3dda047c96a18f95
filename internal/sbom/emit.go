package sbom

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/internal/wasmfile/gobuildinfo"
	"gatehouse.dev/gatehouse/pkgfile"
)

// What the marketplace emits for a certified version: one CycloneDX 1.6
// and one SPDX 2.3 JSON document, each a pure function of the package and
// the certification time, so the same version always gives the same
// bytes (a certificate lists their digests).

// Emitted formats, as the API names them (?format=).
const (
	FormatCycloneDX = "cyclonedx"
	FormatSPDX      = "spdx"
)

// Media types of the emitted documents.
const (
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json; version=1.6"
	MediaTypeSPDX      = "application/spdx+json"
)

// Formats are the emitted formats, in the order a certificate lists them.
var Formats = []string{FormatCycloneDX, FormatSPDX}

// MediaType returns the media type of an emitted format, or "".
func MediaType(format string) string {
	switch format {
	case FormatCycloneDX:
		return MediaTypeCycloneDX
	case FormatSPDX:
		return MediaTypeSPDX
	}
	return ""
}

// Subject is what an emitted SBOM describes: one package of a version.
type Subject struct {
	PluginID string // namespace/name
	Version  string
	// Digest is "sha256:HEX" of the package bytes.
	Digest      string
	Description string
	// License is the manifest's SPDX license expression.
	License string
	// Module is the path of the WebAssembly module among Files.
	Module string
	// Files are the package's files (any order; they are sorted).
	Files []File
	// Go is the module's Go build information: one block for a Go
	// binary, none for a module another toolchain built.
	Go []*debug.BuildInfo
	// Time is when the document is issued: the certification time.
	Time time.Time
}

// File is one file of the package, with its digests (lowercase hex).
type File struct {
	Path   string
	SHA1   string
	SHA256 string
}

// FromPackage reads what an SBOM says about a package: the manifest's
// identity and licence, every file's digests, and the Go build
// information of its module. t is the certification time.
func FromPackage(p *pkgfile.Package, t time.Time) (Subject, error) {
	var m struct {
		ID          string `json:"id"`
		Version     string `json:"version"`
		Description string `json:"description"`
		License     string `json:"license"`
		Runtime     struct {
			Module string `json:"module"`
		} `json:"runtime"`
	}
	if err := json.Unmarshal(p.Manifest(), &m); err != nil {
		return Subject{}, fmt.Errorf("sbom: the manifest of %s: %w", p.Digest, err)
	}
	s := Subject{PluginID: m.ID, Version: m.Version, Digest: p.Digest, Description: m.Description, License: m.License, Module: m.Runtime.Module, Time: t}
	for _, e := range p.Files {
		b, _ := p.File(e.Path)
		s1 := sha1.Sum(b)
		s.Files = append(s.Files, File{Path: e.Path, SHA1: hex.EncodeToString(s1[:]), SHA256: e.SHA256})
	}
	mod, ok := p.File(m.Runtime.Module)
	if !ok {
		return Subject{}, fmt.Errorf("sbom: %s has no file %q, the module its manifest names", p.Digest, m.Runtime.Module)
	}
	wm, err := wasmfile.Parse(mod)
	if err != nil {
		return Subject{}, fmt.Errorf("sbom: the module %s: %w", m.Runtime.Module, err)
	}
	infos, err := gobuildinfo.ReadAll(wm)
	switch {
	case errors.Is(err, gobuildinfo.ErrNotFound):
		// Not built by Go: the files are all there is to say.
	case err != nil:
		return Subject{}, fmt.Errorf("sbom: the module %s: %w", m.Runtime.Module, err)
	default:
		for _, in := range infos {
			s.Go = append(s.Go, in.BuildInfo)
		}
	}
	return s, nil
}

func (s *Subject) check() error {
	ns, name, ok := strings.Cut(s.PluginID, "/")
	if !ok || ns == "" || name == "" || s.Version == "" {
		return fmt.Errorf("sbom: the subject needs a plugin id namespace/name and a version, not %q@%q", s.PluginID, s.Version)
	}
	if _, err := hex.DecodeString(strings.TrimPrefix(s.Digest, "sha256:")); err != nil || len(s.Digest) != len("sha256:")+64 {
		return fmt.Errorf("sbom: the package digest %q is not sha256:HEX", s.Digest)
	}
	if s.Time.IsZero() {
		return errors.New("sbom: the issue time is required")
	}
	return nil
}

// goComponents are the Go components of every build information block,
// without duplicates, sorted by name and version.
func (s *Subject) goComponents() []Component {
	var out []Component
	for _, bi := range s.Go {
		out = append(out, FromGoBuildInfo(bi)...)
	}
	slices.SortFunc(out, func(a, b Component) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return slices.Compact(out)
}

func (s *Subject) sortedFiles() []File {
	fs := slices.Clone(s.Files)
	slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(fs, func(a, b File) bool { return a.Path == b.Path })
}

// uuid5 is a name-based (SHA-1, version 5) UUID in the URL namespace
// (RFC 9562): the same name, the same UUID.
func uuid5(name string) string {
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// name is the document's identity: the version and its package digest.
func (s *Subject) name() string {
	return "https://gatehouse.dev/sbom/" + s.PluginID + "@" + s.Version + "/" + s.Digest
}

// toolName names the generator in both documents. No version: a document
// is kept once made, and the bytes must not depend on which build of the
// marketplace made them.
const toolName = "gatehouse"

// CycloneDXDocument writes the CycloneDX 1.6 JSON SBOM of s: the plugin
// as the metadata component, every file of the package as a file
// component with its SHA-1 and SHA-256, and every Go module compiled into
// the WebAssembly module as a library (with its package URL), which the
// module depends on.
func CycloneDXDocument(s Subject) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ns, name, _ := strings.Cut(s.PluginID, "/")
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuid5(s.name())
	plugin := cdx.Component{
		BOMRef: "plugin:" + s.PluginID + "@" + s.Version, Type: cdx.ComponentTypeApplication,
		Group: ns, Name: name, Version: s.Version, Description: s.Description,
		Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: strings.TrimPrefix(s.Digest, "sha256:")}},
	}
	if s.License != "" {
		plugin.Licenses = &cdx.Licenses{{Expression: s.License}}
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: s.Time.UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: toolName}}},
		Component: &plugin,
	}
	var comps []cdx.Component
	var fileRefs []string
	moduleRef := ""
	for _, f := range s.sortedFiles() {
		ref := "file:" + f.Path
		c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeFile, Name: f.Path,
			Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA1, Value: f.SHA1}, {Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}}
		if f.Path == s.Module {
			moduleRef = ref
			if props := buildProperties(s.Go); len(props) > 0 {
				c.Properties = &props
			}
		}
		comps = append(comps, c)
		fileRefs = append(fileRefs, ref)
	}
	var goRefs []string
	for _, g := range s.goComponents() {
		ref := g.PURL
		if ref == "" {
			ref = "go:" + g.Name + "@" + g.Version
		}
		c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: g.Name, Version: g.Version, PackageURL: g.PURL}
		comps = append(comps, c)
		goRefs = append(goRefs, ref)
	}
	if comps != nil {
		bom.Components = &comps
	}
	deps := []cdx.Dependency{{Ref: plugin.BOMRef, Dependencies: nonEmpty(fileRefs)}}
	if moduleRef != "" && len(goRefs) > 0 {
		deps = append(deps, cdx.Dependency{Ref: moduleRef, Dependencies: &goRefs})
	}
	bom.Dependencies = &deps
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("sbom: encoding the CycloneDX document of %s@%s: %w", s.PluginID, s.Version, err)
	}
	return buf.Bytes(), nil
}

func nonEmpty(s []string) *[]string {
	if len(s) == 0 {
		return nil
	}
	return &s
}

// buildProperties are the module's Go build settings (GOOS, GOARCH,
// flags, VCS revision) as CycloneDX properties, in the order Go wrote
// them.
func buildProperties(bis []*debug.BuildInfo) []cdx.Property {
	var out []cdx.Property
	for _, bi := range bis {
		if bi.GoVersion != "" {
			out = append(out, cdx.Property{Name: "gatehouse:go:version", Value: bi.GoVersion})
		}
		if bi.Path != "" {
			out = append(out, cdx.Property{Name: "gatehouse:go:path", Value: bi.Path})
		}
		for _, st := range bi.Settings {
			out = append(out, cdx.Property{Name: "gatehouse:go:build:" + st.Key, Value: st.Value})
		}
	}
	return out
}

// SPDX 2.3 JSON, written by hand: the fields below are the whole of what
// is emitted (see docs/decisions.md).
type (
	spdxOut struct {
		SPDXVersion                string             `json:"spdxVersion"`
		DataLicense                string             `json:"dataLicense"`
		SPDXID                     string             `json:"SPDXID"`
		Name                       string             `json:"name"`
		DocumentNamespace          string             `json:"documentNamespace"`
		CreationInfo               spdxCreationInfo   `json:"creationInfo"`
		Packages                   []spdxPackage      `json:"packages"`
		Files                      []spdxFile         `json:"files,omitempty"`
		HasExtractedLicensingInfos []spdxExtracted    `json:"hasExtractedLicensingInfos,omitempty"`
		Relationships              []spdxRelationship `json:"relationships"`
	}
	spdxCreationInfo struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	}
	spdxChecksum struct {
		Algorithm     string `json:"algorithm"`
		ChecksumValue string `json:"checksumValue"`
	}
	spdxOutRef struct {
		ReferenceCategory string `json:"referenceCategory"`
		ReferenceType     string `json:"referenceType"`
		ReferenceLocator  string `json:"referenceLocator"`
	}
	spdxVerificationCode struct {
		Value string `json:"packageVerificationCodeValue"`
	}
	spdxPackage struct {
		SPDXID                  string                `json:"SPDXID"`
		Name                    string                `json:"name"`
		VersionInfo             string                `json:"versionInfo,omitempty"`
		Supplier                string                `json:"supplier,omitempty"`
		DownloadLocation        string                `json:"downloadLocation"`
		FilesAnalyzed           bool                  `json:"filesAnalyzed"`
		PackageVerificationCode *spdxVerificationCode `json:"packageVerificationCode,omitempty"`
		Checksums               []spdxChecksum        `json:"checksums,omitempty"`
		LicenseConcluded        string                `json:"licenseConcluded"`
		LicenseDeclared         string                `json:"licenseDeclared"`
		CopyrightText           string                `json:"copyrightText"`
		Description             string                `json:"description,omitempty"`
		ExternalRefs            []spdxOutRef          `json:"externalRefs,omitempty"`
		PrimaryPackagePurpose   string                `json:"primaryPackagePurpose,omitempty"`
	}
	spdxFile struct {
		SPDXID           string         `json:"SPDXID"`
		FileName         string         `json:"fileName"`
		Checksums        []spdxChecksum `json:"checksums"`
		LicenseConcluded string         `json:"licenseConcluded"`
		CopyrightText    string         `json:"copyrightText"`
	}
	spdxExtracted struct {
		LicenseID     string `json:"licenseId"`
		ExtractedText string `json:"extractedText"`
		Name          string `json:"name"`
	}
	spdxRelationship struct {
		SPDXElementID      string `json:"spdxElementId"`
		RelationshipType   string `json:"relationshipType"`
		RelatedSPDXElement string `json:"relatedSpdxElement"`
	}
)

const noAssertion = "NOASSERTION"

// licenseRefs finds the LicenseRef-… identifiers of an SPDX expression,
// which an SPDX document must define.
var licenseRefs = regexp.MustCompile(`LicenseRef-[A-Za-z0-9.-]+`)

// SPDXDocument writes the SPDX 2.3 JSON SBOM of s: the plugin as the
// package the document describes, which contains every file of the
// package (SHA-1 and SHA-256 each, and the package verification code over
// them); every Go module compiled into the WebAssembly module as a
// package (with its package URL) that the module file statically links.
func SPDXDocument(s Subject) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	id := uuid5(s.name())
	ns, name, _ := strings.Cut(s.PluginID, "/")
	doc := spdxOut{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              s.PluginID + "@" + s.Version,
		DocumentNamespace: "https://gatehouse.dev/spdxdocs/" + url.PathEscape(ns) + "/" + url.PathEscape(name) + "/" + url.PathEscape(s.Version) + "-" + id,
		CreationInfo:      spdxCreationInfo{Created: s.Time.UTC().Format(time.RFC3339), Creators: []string{"Tool: " + toolName}},
	}
	declared := noAssertion
	if s.License != "" {
		declared = s.License
		for _, ref := range slices.Compact(slices.Sorted(slices.Values(licenseRefs.FindAllString(s.License, -1)))) {
			doc.HasExtractedLicensingInfos = append(doc.HasExtractedLicensingInfos, spdxExtracted{
				LicenseID: ref, Name: ref,
				ExtractedText: "The plugin's manifest names this licence by reference only; its text is in the package's LICENSE file, if it has one.",
			})
		}
	}
	const pluginID = "SPDXRef-Package-plugin"
	plugin := spdxPackage{
		SPDXID: pluginID, Name: s.PluginID, VersionInfo: s.Version, Supplier: "Organization: " + ns,
		DownloadLocation: noAssertion, FilesAnalyzed: true,
		Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: strings.TrimPrefix(s.Digest, "sha256:")}},
		LicenseConcluded: noAssertion, LicenseDeclared: declared, CopyrightText: noAssertion,
		Description: s.Description, PrimaryPackagePurpose: "APPLICATION",
	}
	rels := []spdxRelationship{{SPDXElementID: "SPDXRef-DOCUMENT", RelationshipType: "DESCRIBES", RelatedSPDXElement: pluginID}}
	files := s.sortedFiles()
	sha1s := make([]string, 0, len(files))
	moduleID := ""
	for i, f := range files {
		fid := fmt.Sprintf("SPDXRef-File-%d", i+1)
		doc.Files = append(doc.Files, spdxFile{
			SPDXID: fid, FileName: "./" + f.Path,
			Checksums:        []spdxChecksum{{Algorithm: "SHA1", ChecksumValue: f.SHA1}, {Algorithm: "SHA256", ChecksumValue: f.SHA256}},
			LicenseConcluded: noAssertion, CopyrightText: noAssertion,
		})
		rels = append(rels, spdxRelationship{SPDXElementID: pluginID, RelationshipType: "CONTAINS", RelatedSPDXElement: fid})
		sha1s = append(sha1s, f.SHA1)
		if f.Path == s.Module {
			moduleID = fid
		}
	}
	// SPDX 2.3 §7.9: the SHA-1 of the files' sorted SHA-1s, concatenated.
	slices.Sort(sha1s)
	vc := sha1.Sum([]byte(strings.Join(sha1s, "")))
	plugin.PackageVerificationCode = &spdxVerificationCode{Value: hex.EncodeToString(vc[:])}
	doc.Packages = append(doc.Packages, plugin)
	for i, g := range s.goComponents() {
		pid := fmt.Sprintf("SPDXRef-Package-go-%d", i+1)
		p := spdxPackage{
			SPDXID: pid, Name: g.Name, VersionInfo: g.Version, DownloadLocation: noAssertion,
			LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion, PrimaryPackagePurpose: "LIBRARY",
		}
		if g.PURL != "" {
			p.ExternalRefs = []spdxOutRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: g.PURL}}
		}
		doc.Packages = append(doc.Packages, p)
		from := moduleID
		if from == "" {
			from = pluginID
		}
		rels = append(rels, spdxRelationship{SPDXElementID: from, RelationshipType: "STATIC_LINK", RelatedSPDXElement: pid})
	}
	doc.Relationships = rels
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("sbom: encoding the SPDX document of %s@%s: %w", s.PluginID, s.Version, err)
	}
	return buf.Bytes(), nil
}

// Emit writes the document of one format.
func Emit(format string, s Subject) ([]byte, error) {
	switch format {
	case FormatCycloneDX:
		return CycloneDXDocument(s)
	case FormatSPDX:
		return SPDXDocument(s)
	}
	return nil, fmt.Errorf("sbom: no format %q; the formats are %s", format, strings.Join(Formats, " and "))
}

// Digest is "sha256:HEX" of a document, as a certificate lists it.
func Digest(doc []byte) string {
	sum := sha256.Sum256(doc)
	return "sha256:" + hex.EncodeToString(sum[:])
}
