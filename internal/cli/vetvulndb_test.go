package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVetKeepsAPreparedVulnIndex: the first `vet --vulndb all.zip` keeps
// a prepared index in the user's cache directory, later runs use it, and
// the dependencies check reports the same either way; a damaged index is
// rebuilt with a warning, never trusted.
func TestVetKeepsAPreparedVulnIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	dir := filepath.Join(t.TempDir(), "hello")
	for _, args := range [][]string{{"plugin", "init", "acme/hello", dir}, {"plugin", "build", dir}} {
		if code, _, stderr := runCLI(t, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	zip, err := filepath.Abs("../../testdata/osv/go-subset.zip")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	env := map[string]string{"XDG_CACHE_HOME": cache}
	deps := func(extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"vet", dir, "-o", "json", "--vulndb", zip}, extra...)
		_, out, stderr := runCLI(t, env, args...)
		var rep struct{ Results []json.RawMessage }
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("vet -o json: %v\n%s\n%s", err, out, stderr)
		}
		for _, r := range rep.Results {
			var head struct{ Analyzer, Status string }
			json.Unmarshal(r, &head)
			if head.Analyzer == "dependencies" {
				if head.Status == "skipped" || head.Status == "error" {
					t.Fatalf("dependencies %s: %s", head.Status, r)
				}
				// Everything but when it ran and for how long.
				var m map[string]any
				json.Unmarshal(r, &m)
				delete(m, "started")
				delete(m, "duration")
				b, _ := json.Marshal(m)
				return string(b), stderr
			}
		}
		t.Fatalf("no dependencies result:\n%s", out)
		return "", ""
	}
	uncached, _ := deps("--vulndb-cache", "off")
	if _, err := os.Stat(filepath.Join(cache, "gatehouse", "vulndb")); !os.IsNotExist(err) {
		t.Errorf("--vulndb-cache off wrote a cache: %v", err)
	}
	first, _ := deps()
	idx, _ := filepath.Glob(filepath.Join(cache, "gatehouse", "vulndb", "osv-*.idx"))
	if len(idx) != 1 {
		t.Fatalf("after the first run the cache holds %q, want one index", idx)
	}
	second, stderr := deps()
	if first != uncached || second != uncached {
		t.Errorf("results differ:\nno cache: %s\nfirst:    %s\nsecond:   %s", uncached, first, second)
	}
	if stderr != "" {
		t.Errorf("a run from a valid index warned: %s", stderr)
	}
	os.WriteFile(idx[0], []byte("gatehouse-vulnidx\ngarbage"), 0o600)
	rebuilt, stderr := deps()
	if rebuilt != uncached || !strings.Contains(stderr, "cannot be trusted") {
		t.Errorf("with a damaged index: stderr %q, result %s", stderr, rebuilt)
	}
}
