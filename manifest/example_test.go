package manifest_test

import (
	"fmt"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// A minimal valid v1 manifest: every required field and nothing else. The
// example plugins start from this shape.
func Example() {
	data := []byte(`{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"Hello","description":"Greets people.","owners":[{"name":"Acme","email":"dev@acme.example"}],"license":"Apache-2.0","runtime":{"module":"plugin.wasm","exports":["greet"],"hostApi":"^1.0.0"},"permissions":[]}`)

	m, err := manifest.Parse(data, manifest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := manifest.HostAPICompatible(m.Runtime.HostAPI, hostapi.Version)
	fmt.Println(m.Namespace(), m.PluginName(), m.Version, ok)
	// Output: acme hello 1.0.0 true
}

// Each problem names where it is, as a JSON pointer, and what is wrong.
func ExampleParse_problems() {
	data := []byte(`{"manifestVersion":1,"id":"acme/hello","version":"1.0","name":"Hello","owners":[{"name":"Acme"}],"license":"Apache-2.0","runtime":{"module":"plugin.wasm","exports":["greet"]},"permissions":["fs:write:/tmp"]}`)

	_, err := manifest.Parse(data, manifest.Options{})
	fmt.Println(err)
	// Output:
	// /permissions/0: permission "fs:write:/tmp": only read-only mounts exist (fs:read:/PATH); plugins never write files
	// /runtime: "hostApi" is required
	// /version: "1.0" is not a SemVer 2 version such as 1.2.3 or 1.2.3-beta.1
}

// A seed-form manifest is converted; with a key, its HMAC must match.
func ExampleParse_legacy() {
	data := []byte(`{"compatibility": ">=0.1", "dependencies": [], "id": "demo", "name": "Demo Plugin", "permissions": ["read_files"], "version": "0.1", "signature": "yczVbOk9lOPwV9KT+TLRvRTDBfS0J7QWmnS9BPtw6P4="}`)

	m, err := manifest.Parse(data, manifest.Options{LegacyKey: []byte("secret")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.ID, m.Version, m.Permissions, m.Legacy.Signed)
	// Output: legacy/demo 0.1.0 [fs:read:/files] true
}
