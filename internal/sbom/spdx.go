package sbom

import (
	"encoding/json"
	"fmt"
)

// spdxDocument is the part of an SPDX 2.x JSON document Gatehouse reads.
// A purpose-built decoder of three fields, rather than spdx/tools-golang,
// because matching needs only names, versions and package URLs, and a
// whole-document model would reject an SBOM over fields (relationships,
// checksums, annotations) that do not affect which components it lists.
type spdxDocument struct {
	SPDXVersion string `json:"spdxVersion"`
	Packages    []struct {
		Name         string `json:"name"`
		VersionInfo  string `json:"versionInfo"`
		ExternalRefs []struct {
			Category string `json:"referenceCategory"`
			Type     string `json:"referenceType"`
			Locator  string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
}

func parseSPDX(l *list, b []byte) error {
	var doc spdxDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("sbom: malformed SPDX JSON: %w", err)
	}
	if len(doc.Packages) > MaxComponents {
		return fmt.Errorf("sbom: SPDX: %d packages, the limit is %d", len(doc.Packages), MaxComponents)
	}
	for _, p := range doc.Packages {
		purl := ""
		for _, r := range p.ExternalRefs {
			// SPDX 2.2 spells the category PACKAGE_MANAGER, 2.3
			// PACKAGE-MANAGER; the type is "purl" in both.
			if r.Type == "purl" {
				purl = r.Locator
				break
			}
		}
		if err := l.add(p.Name, p.VersionInfo, purl); err != nil {
			return fmt.Errorf("sbom: SPDX: %w", err)
		}
	}
	return nil
}
