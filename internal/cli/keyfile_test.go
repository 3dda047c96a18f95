package cli

import (
	"path/filepath"
	"testing"
)

// TestSignWithPublicKeySaysSo guards `plugin sign --key acme.key.pub`: the
// user is told it is the public key and which file to pass, not to chmod it.
func TestSignWithPublicKeySaysSo(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "acme.key")
	code, out := gh(t, "keys", "generate", "-o", key)
	wantExit(t, code, out, 0)
	code, out = gh(t, "plugin", "sign", filepath.Join(dir, "hello.gpkg"), "--key", key+".pub")
	wantExit(t, code, out, 1, key+".pub is a public key; pass the private key ("+key+")")
}
