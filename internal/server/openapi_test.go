package server_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/server"
)

// TestOpenAPIPath: ServeMux wildcards become declared OpenAPI parameters,
// and a pattern OpenAPI cannot express is refused.
func TestOpenAPIPath(t *testing.T) {
	for pattern, want := range map[string]string{
		"/healthz":                     "/healthz",
		"/api/v1/plugins/{ns}/{name}":  "/api/v1/plugins/{ns}/{name}",
		"/log/tile/{path...}":          "/log/tile/{path}",
		"/api/v1/{$}":                  "/api/v1/",
		"/api/v1/schema/manifest.json": "/api/v1/schema/manifest.json",
	} {
		got, _, err := server.OpenAPIPath(pattern)
		if err != nil || got != want {
			t.Errorf("OpenAPIPath(%q) = %q, %v; want %q", pattern, got, err, want)
		}
	}
	_, params, _ := server.OpenAPIPath("/log/tile/{path...}")
	if len(params) != 1 || params[0] != (server.PathParam{Name: "path", Rest: true}) {
		t.Errorf("params of {path...}: %+v", params)
	}
	for _, bad := range []string{
		"/a/b{x}",           // a wildcard inside a segment
		"/a/{x}.json",       // likewise
		"/a/{x-y}",          // not a Go identifier
		"/a/{}",             // no name
		"/a/{x...}/b",       // ... before the end
		"/a/{$}/b",          // {$} before the end
		"/a/{x}/{x}",        // a name twice
		"/a/{x",             // unbalanced
		"/a/x}",             // unbalanced
		"relative/{x}",      // not a path
		"/a/{path...}extra", // trailing text
	} {
		if got, _, err := server.OpenAPIPath(bad); err == nil {
			t.Errorf("OpenAPIPath(%q) = %q, want an error", bad, got)
		}
	}
}

// TestOpenAPIPathsAreDeclared: every route can be expressed in OpenAPI,
// every {…} of every emitted path is a path parameter each of its
// operations declares (and every declared path parameter is in the
// path), and every operation declares a 4xx problem response. The
// document is what `redocly lint` checks in .ci/run; with
// GATEHOUSE_OPENAPI_OUT set it is written there.
func TestOpenAPIPathsAreDeclared(t *testing.T) {
	srv := server.New(server.Config{})
	for _, rt := range srv.Routes() {
		if _, _, err := server.OpenAPIPath(rt.Path); err != nil {
			t.Errorf("%s %s cannot be described in OpenAPI: %v", rt.Method, rt.Path, err)
		}
	}
	b, err := json.MarshalIndent(srv.OpenAPI(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info struct {
			License struct{ Name, Identifier string }
		}
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
			Responses  map[string]struct {
				Content map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.License.Name == "" || doc.Info.License.Identifier == "" {
		t.Errorf("info.license: %+v", doc.Info.License)
	}
	template := regexp.MustCompile(`\{([^{}]*)\}`)
	for path, ops := range doc.Paths {
		if strings.Count(path, "{") != strings.Count(path, "}") || strings.Contains(path, "...") || strings.Contains(path, "{$}") {
			t.Errorf("path %q is not an OpenAPI path template", path)
		}
		var names []string
		for _, m := range template.FindAllStringSubmatch(path, -1) {
			names = append(names, m[1])
		}
		for method, op := range ops {
			declared := map[string]bool{}
			for _, p := range op.Parameters {
				if p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, n := range names {
				if !declared[n] {
					t.Errorf("%s %s: {%s} is not a declared path parameter", method, path, n)
				}
				delete(declared, n)
			}
			for n := range declared {
				t.Errorf("%s %s: path parameter %q is not in the path", method, path, n)
			}
			has4xx := false
			for code, r := range op.Responses {
				if strings.HasPrefix(code, "4") {
					has4xx = true
					if _, ok := r.Content["application/problem+json"]; !ok {
						t.Errorf("%s %s: response %s is not a problem+json", method, path, code)
					}
				}
			}
			if !has4xx {
				t.Errorf("%s %s declares no 4xx response", method, path)
			}
		}
	}
	if out := os.Getenv("GATEHOUSE_OPENAPI_OUT"); out != "" {
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
