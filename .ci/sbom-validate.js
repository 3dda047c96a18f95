// Validates the SBOMs a Gatehouse server served (written by
// TestSBOMsServedForCertifiedVersions to GATEHOUSE_SBOM_OUT) with the
// ecosystem's own tools, for .ci/run (issue 22 item 3):
//   - CycloneDX: @cyclonedx/cyclonedx-library's JsonStrictValidator for
//     spec 1.6 (the CycloneDX project's own validator, on its own schema);
//   - SPDX: ajv on the official SPDX 2.3 JSON schema, an implementation
//     independent of the Go test's.
// Usage: node sbom-validate.js DIR SPDX_SCHEMA; NODE_PATH names the
// node_modules holding the packages. Exits 1 on any problem.
'use strict'
const fs = require('fs')
const path = require('path')
const CDX = require('@cyclonedx/cyclonedx-library')
const Ajv = require('ajv')
const addFormats = require('ajv-formats')

async function main () {
  const [dir, spdxSchema] = process.argv.slice(2)
  let failed = false
  const cdx = fs.readFileSync(path.join(dir, 'bom.cdx.json'), 'utf8')
  const v = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6)
  const cdxErrors = await v.validate(cdx)
  if (cdxErrors === null) {
    console.log('CycloneDX 1.6 (JsonStrictValidator): bom.cdx.json is valid')
  } else {
    failed = true
    console.log('CycloneDX 1.6 (JsonStrictValidator): bom.cdx.json is INVALID:\n' + JSON.stringify(cdxErrors, null, 2))
  }
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  const validate = ajv.compile(JSON.parse(fs.readFileSync(spdxSchema, 'utf8')))
  if (validate(JSON.parse(fs.readFileSync(path.join(dir, 'bom.spdx.json'), 'utf8')))) {
    console.log('SPDX 2.3 (ajv, official schema): bom.spdx.json is valid')
  } else {
    failed = true
    console.log('SPDX 2.3 (ajv, official schema): bom.spdx.json is INVALID:\n' + JSON.stringify(validate.errors, null, 2))
  }
  process.exit(failed ? 1 : 0)
}
main().catch(e => { console.error(e); process.exit(1) })
