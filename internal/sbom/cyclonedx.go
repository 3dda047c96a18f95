package sbom

import (
	"bytes"
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// parseCycloneDX reads a CycloneDX JSON BOM (any 1.x spec version the
// library knows) with the official Go library, then walks the metadata
// component and the component tree.
func parseCycloneDX(l *list, b []byte) error {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return fmt.Errorf("sbom: malformed CycloneDX JSON: %w", err)
	}
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		if err := walkCDX(l, []cdx.Component{*bom.Metadata.Component}, 0); err != nil {
			return err
		}
	}
	if bom.Components != nil {
		if err := walkCDX(l, *bom.Components, 0); err != nil {
			return err
		}
	}
	return nil
}

func walkCDX(l *list, cs []cdx.Component, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("sbom: CycloneDX components nest deeper than %d levels", maxDepth)
	}
	for _, c := range cs {
		name := c.Name
		if c.Group != "" && c.PackageURL == "" {
			name = c.Group + "/" + c.Name
		}
		if err := l.add(name, c.Version, c.PackageURL); err != nil {
			return fmt.Errorf("sbom: CycloneDX: %w", err)
		}
		if c.Components != nil {
			if err := walkCDX(l, *c.Components, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
