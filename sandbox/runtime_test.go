package sandbox

import (
	"context"
	"testing"
)

// TestLoadAcceptsAnEmptyTrailingCustomSection: a custom section with a
// name and no payload, last in the module, is valid WebAssembly (a
// toolchain may leave one); wazero's DWARF reader, which the sandbox does
// not use, failed on it at the end of the input, refusing the module.
func TestLoadAcceptsAnEmptyTrailingCustomSection(t *testing.T) {
	mod := append([]byte(nil), buildPlugin(t, "echo")...)
	const name = "gatehouse.empty"
	mod = append(mod, 0x00, byte(1+len(name)), byte(len(name)))
	mod = append(mod, name...)
	env := newEnv(t, nil)
	p := env.load(t, LoadRequest{Manifest: testManifest("acme/echo", []string{"echo"}), Module: mod})
	if _, err := p.Call(context.Background(), "echo", []byte(`{"x":1}`)); err != nil {
		t.Fatalf("calling the module: %v", err)
	}
}
