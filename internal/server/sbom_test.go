package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/sbom/sbomtest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

var (
	goPluginOnce sync.Once
	goPlugin     []byte
	goPluginErr  error
)

// goPluginModule builds a real Go plugin for wasip1: the dependencies
// analyzer's test plugin, its own module pinning golang.org/x/text
// v0.3.5, so that its build information lists a dependency.
func goPluginModule(t *testing.T) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	goPluginOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sbomplugin-")
		if err != nil {
			goPluginErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "plugin.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join("..", "vet", "dependencies", "testdata", "vulnplugin")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
		if msg, err := cmd.CombinedOutput(); err != nil {
			goPluginErr = errors.New("building vulnplugin: " + err.Error() + "\n" + string(msg))
			return
		}
		goPlugin, goPluginErr = os.ReadFile(out)
	})
	if goPluginErr != nil {
		t.Fatal(goPluginErr)
	}
	return goPlugin
}

// TestSBOMsServedForCertifiedVersions: a certified version's CycloneDX
// and SPDX SBOMs are served to anyone by a running server, validate
// against the official schemas, list the Go modules compiled into the
// module and every file, and hash to the digests the certificate lists.
// With GATEHOUSE_SBOM_OUT set (a folder), the served documents are written
// there for .ci/run's outside validators.
func TestSBOMsServedForCertifiedVersions(t *testing.T) {
	e := newEnv(t)
	pub := e.tokens["publisher"]
	e.register(pub, "acme")
	m := `{"manifestVersion":1,"id":"acme/hello","version":"1.0.0","name":"Hello","description":"Says hello.","owners":[{"name":"Test","email":"t@example.com"}],"license":"Apache-2.0","runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: goPluginModule(t)}, {Path: "README.md", Data: []byte("# Hello\n")}}); err != nil {
		t.Fatal(err)
	}
	resp, b := e.submit(pub, buf.Bytes())
	if resp.StatusCode != 202 {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	var sub api.Submission
	json.Unmarshal(b, &sub)
	// A second version stays in review.
	resp, b = e.submit(pub, pkg(t, "acme/draft", "1.0.0", "draft"))
	var draft api.Submission
	json.Unmarshal(b, &draft)
	e.approve(sub.ID)

	_, b = e.do("GET", "/api/v1/submissions/"+sub.ID+"/certificate", e.tokens["auditor"], nil)
	env, err := trust.ParseEnvelope(b)
	if err != nil {
		t.Fatalf("the certificate: %v: %s", err, b)
	}
	cert, err := trust.ParseCertificate(env)
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/plugins/acme/hello/versions/1.0.0/sbom/"
	anon, err := client.New(e.http.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("GATEHOUSE_SBOM_OUT")
	for _, f := range sbom.Formats {
		resp, doc := e.do("GET", base+f, "", nil) // anyone may read it
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", base+f, resp.StatusCode, doc)
		}
		if ct := resp.Header.Get("Content-Type"); ct != sbom.MediaType(f) {
			t.Errorf("%s: Content-Type %q", f, ct)
		}
		ref, ok := cert.SBOM(f)
		if !ok || ref.Digest != sbom.Digest(doc) {
			t.Errorf("%s: the certificate lists %+v; the served document is %s", f, ref, sbom.Digest(doc))
		}
		sbomtest.Check(t, f, doc)
		d, err := sbom.ParseDocument(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(d.Components, func(c sbom.Component) bool {
			return c.Ecosystem == "Go" && c.Name == "golang.org/x/text" && c.Version == "v0.3.5"
		}) {
			t.Errorf("%s: components %+v; want golang.org/x/text v0.3.5 from the module's build information", f, d.Components)
		}
		for _, file := range []string{"README.md", "manifest.json", "plugin.wasm"} {
			if !strings.Contains(string(doc), `"`+file+`"`) && !strings.Contains(string(doc), `"./`+file+`"`) {
				t.Errorf("%s: the file %s is not listed", f, file)
			}
		}
		// Hosts fetch it with the Go client.
		if got, err := anon.SBOM(context.Background(), "acme/hello", "1.0.0", f); err != nil || !bytes.Equal(got, doc) {
			t.Errorf("%s: client.SBOM = %d bytes, %v", f, len(got), err)
		}
		// The same bytes every time; the digest is the entity tag.
		if resp, again := e.do("GET", base+f, "", nil); !bytes.Equal(again, doc) || resp.Header.Get("ETag") != `"`+ref.Digest+`"` {
			t.Errorf("%s: a second read differs, or its ETag is %q", f, resp.Header.Get("ETag"))
		}
		if resp, _ := e.doHeader("GET", base+f, "", nil, "If-None-Match", `"`+ref.Digest+`"`); resp.StatusCode != 304 {
			t.Errorf("%s: a conditional read of the same document: %d, want 304", f, resp.StatusCode)
		}
		if out != "" {
			name := map[string]string{sbom.FormatCycloneDX: "bom.cdx.json", sbom.FormatSPDX: "bom.spdx.json"}[f]
			if err := os.WriteFile(filepath.Join(out, name), doc, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, tc := range []struct {
		path, token, code string
	}{
		{base + "swid", "", "no_such_format"},
		// Unreleased: anonymous callers learn nothing; its namespace
		// learns it has none.
		{"/api/v1/plugins/acme/draft/versions/1.0.0/sbom/spdx", "", ""},
		{"/api/v1/plugins/acme/draft/versions/1.0.0/sbom/spdx", pub, "no_sbom"},
		{"/api/v1/plugins/acme/nothing/versions/1.0.0/sbom/spdx", "", ""},
	} {
		resp, b := e.do("GET", tc.path, tc.token, nil)
		if resp.StatusCode != 404 || !strings.Contains(string(b), tc.code) {
			t.Errorf("GET %s as %s: %d %s; want 404 %s", tc.path, orNone(tc.token), resp.StatusCode, b, tc.code)
		}
	}
	if _, err := anon.SBOM(context.Background(), "acme/draft", "1.0.0", "spdx"); !isStatus(err, 404) {
		t.Errorf("client.SBOM of an unreleased version: %v, want 404", err)
	}
	if out != "" {
		fmt.Fprintf(os.Stderr, "wrote the SBOMs of acme/hello@1.0.0 to %s\n", out)
	}
	_ = draft
}
