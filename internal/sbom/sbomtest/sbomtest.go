// Package sbomtest validates SBOMs against the official JSON schemas
// vendored in internal/sbom/testdata/schema (see the README there), for
// the tests of the packages that emit or serve them.
package sbomtest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"gatehouse.dev/gatehouse/internal/sbom"
)

// The schemas' own ids, which their $refs resolve against.
const (
	cdxBase  = "http://cyclonedx.org/schema/"
	spdxID   = "http://spdx.org/rdf/terms/2.3"
	cdxEntry = cdxBase + "bom-1.6.schema.json"
)

var (
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	loadErr error
)

func schemaDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "schema")
}

func load() {
	dir := schemaDir()
	c := jsonschema.NewCompiler()
	// Formats (date-time, iri-reference, email, ...) are checked, as the
	// CycloneDX library's strict validator does.
	c.AssertFormat()
	add := func(url, file string) {
		if loadErr != nil {
			return
		}
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			loadErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			loadErr = err
			return
		}
		loadErr = c.AddResource(url, doc)
	}
	add(cdxEntry, "bom-1.6.SNAPSHOT.schema.json")
	add(cdxBase+"spdx.SNAPSHOT.schema.json", "spdx.SNAPSHOT.schema.json")
	add(cdxBase+"jsf-0.82.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")
	add(spdxID, "spdx-2.3-schema.json")
	if loadErr != nil {
		return
	}
	schemas = map[string]*jsonschema.Schema{}
	for format, url := range map[string]string{sbom.FormatCycloneDX: cdxEntry, sbom.FormatSPDX: spdxID} {
		s, err := c.Compile(url)
		if err != nil {
			loadErr = err
			return
		}
		schemas[format] = s
	}
}

// Validate returns why doc is not a valid document of format (an
// sbom.FormatXxx) under its official schema, or nil.
func Validate(format string, doc []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return schemas[format].Validate(inst)
}

// Check fails the test when doc is not valid under format's schema.
func Check(tb testing.TB, format string, doc []byte) {
	tb.Helper()
	if err := Validate(format, doc); err != nil {
		tb.Errorf("the %s document does not validate against the official schema: %v\n%s", format, err, doc)
	}
}
