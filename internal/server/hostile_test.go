package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"gatehouse.dev/gatehouse/api"
)

type entry struct {
	name     string
	data     []byte
	typeflag byte
	link     string
}

// craft writes a tar.gz by hand, with a SHA256SUMS that lists every regular
// file (so each case trips only the rule it is about).
func craft(t *testing.T, entries []entry, sums bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if sums {
		// The checksum list names the well-formed files once each, so a
		// case trips the entry rule it is about, not the list's own rules.
		var regular []entry
		seen := map[string]bool{}
		for _, e := range entries {
			if (e.typeflag == 0 || e.typeflag == tar.TypeReg) && !seen[e.name] && validName(e.name) {
				seen[e.name] = true
				regular = append(regular, e)
			}
		}
		sort.SliceStable(regular, func(i, j int) bool { return regular[i].name < regular[j].name })
		var lines []string
		for _, e := range regular {
			h := sha256.Sum256(e.data)
			lines = append(lines, hex.EncodeToString(h[:])+"  "+e.name+"\n")
		}
		s := strings.Join(lines, "")
		tw.WriteHeader(&tar.Header{Name: "SHA256SUMS", Mode: 0o644, Size: int64(len(s)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
		tw.Write([]byte(s))
	}
	for _, e := range entries {
		tf := e.typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tf, Linkname: e.link, Format: tar.FormatPAX}
		if tf == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func validName(n string) bool {
	return utf8.ValidString(n) && !strings.HasPrefix(n, "/") && !strings.Contains(n, "..")
}

// TestHostilePackagesThroughTheAPI submits each kind of hostile package to
// a running server: each is refused with 422 and a message that names the
// entry and the rule, nothing is stored, and the server keeps serving.
func TestHostilePackagesThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	m := []byte(`{"manifestVersion":1,"id":"evil/p","version":"1.0.0","name":"P","owners":[{"name":"E"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":[]}`)
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	var gzBomb bytes.Buffer
	zw := gzip.NewWriter(&gzBomb)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	ok := []entry{{name: "manifest.json", data: m}, {name: "plugin.wasm", data: wasm}}
	with := func(extra ...entry) []entry {
		all := append(append([]entry{}, extra...), ok...)
		sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
		return all
	}
	valid := craft(t, ok, true)
	cases := []struct {
		name, rule, entry string
		pkg               []byte
	}{
		{"path traversal", "path-traversal", "../evil", craft(t, with(entry{name: "../evil", data: []byte("x")}), true)},
		{"absolute path", "absolute-path", "/etc/passwd", craft(t, with(entry{name: "/etc/passwd", data: []byte("x")}), true)},
		{"symlink", "link", "link", craft(t, with(entry{name: "link", typeflag: tar.TypeSymlink, link: "/etc/passwd"}), true)},
		{"hard link", "link", "hard", craft(t, with(entry{name: "hard", typeflag: tar.TypeLink, link: "manifest.json"}), true)},
		{"duplicate", "duplicate", "plugin.wasm", craft(t, append(append([]entry{}, ok...), entry{name: "plugin.wasm", data: wasm}), true)},
		{"case collision", "case-collision", "PLUGIN.wasm", craft(t, with(entry{name: "PLUGIN.wasm", data: []byte("y")}), true)},
		{"invalid UTF-8 name", "", "", craft(t, with(entry{name: "bad\xffname", data: []byte("x")}), true)},
		{"nested gzip bomb", "nested-archive", "assets/bomb.gz", craft(t, with(entry{name: "assets/bomb.gz", data: gzBomb.Bytes()}), true)},
		{"truncated", "", "", valid[:len(valid)-20]},
		{"no checksums", "checksums-missing", "", craft(t, ok, false)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := e.do("POST", "/api/v1/submissions", e.tokens["publisher"], bytes.NewReader(c.pkg))
			if resp.StatusCode != 422 {
				t.Fatalf("got %d, want 422: %s", resp.StatusCode, b)
			}
			var ae api.Error
			if err := json.Unmarshal(b, &ae); err != nil {
				t.Fatal(err)
			}
			msg := ae.Error.Message
			if strings.Contains(msg, "/tmp") || strings.Contains(msg, "blobs") {
				t.Errorf("the refusal leaks a server path: %s", msg)
			}
			if c.rule != "" && !strings.Contains(msg, "rule "+c.rule) {
				t.Errorf("message does not name rule %q: %s", c.rule, msg)
			}
			if c.entry != "" && !strings.Contains(msg, fmt.Sprintf("%q", c.entry)) {
				t.Errorf("message does not name entry %q: %s", c.entry, msg)
			}
		})
	}
	// Nothing was stored, and the server still serves a valid package.
	if resp, b := e.do("GET", "/api/v1/plugins?q=evil", e.tokens["reviewer"], nil); resp.StatusCode != 200 || strings.Contains(string(b), "evil/p") {
		t.Errorf("a refused package reached the catalog: %s", b)
	}
	e.register(e.tokens["publisher"], "evil")
	if resp, b := e.submit(e.tokens["publisher"], valid); resp.StatusCode != 202 {
		t.Fatalf("a valid package after the hostile ones: %d %s", resp.StatusCode, b)
	}
}
