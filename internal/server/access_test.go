package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/server"
)

var update = flag.Bool("update", false, "rewrite docs/api-roles.md from the route table")

// caller is one column of the access matrix: a token (none for "") and
// whether it may read the unreleased work of acme, the namespace of the
// matrix's versions. It is written down here, not asked of auth, so that
// the matrix checks the code instead of repeating it.
type caller struct {
	token   string // key of env.tokens; "" for no token
	role    domain.Role
	insider bool // publishes in acme, or oversees every namespace
	owner   bool // owns acme
}

var callers = []caller{
	{token: ""},
	{token: "admin", role: domain.RoleAdmin, insider: true, owner: true},
	{token: "publisher", role: domain.RolePublisher, insider: true, owner: true}, // user-publisher owns acme
	{token: "publisher-other", role: domain.RolePublisher},                       // scoped to namespace other
	{token: "reviewer", role: domain.RoleReviewer, insider: true},
	{token: "steward", role: domain.RoleSteward, insider: true},
	{token: "auditor", role: domain.RoleAuditor, insider: true},
	{token: "host", role: domain.RoleHost},
}

// target is a version the matrix asks about.
type target struct {
	kind                            string
	id, name, version, digest, body string
}

// fill puts t in a route's path.
func (t target) fill(path string) string {
	return strings.NewReplacer(
		"{id}", t.id, "{namespace}", "acme", "{name}", t.name, "{version}", t.version, "{digest}", t.digest,
		"{action}", "approve", "{fingerprint}", "fp", "{file}", t.name+".svg", "{path...}", "0/x",
	).Replace(path)
}

// mask hides t's identity in an answer, so that the answers about two
// versions compare.
func (t target) mask(b []byte) string {
	return strings.NewReplacer(t.id, "ID", "acme/"+t.name, "PLUGIN", t.digest, "DIGEST").Replace(string(b))
}

// namesVersion reports whether a route's path names one version (or one
// plugin, for the plugin routes), rather than listing them.
func namesVersion(path string) bool {
	return strings.Contains(path, "{id}") || strings.Contains(path, "{name}") || strings.Contains(path, "{digest}")
}

// mayCall is what the route table promises a role: admin everywhere, a
// route without roles for every role but host, else the roles it names.
func mayCall(a server.Access, r domain.Role) bool {
	return r == domain.RoleAdmin || (len(a.Roles) == 0 && r != domain.RoleHost) || slices.Contains(a.Roles, r)
}

// TestAccessMatrixHidesUnreleasedVersions walks every route of the route
// table with every role, with no token, and with a publisher of acme and
// one of another namespace, about a released version of acme, a revoked
// one and one not yet released. It holds each answer to the table: 401 without a token,
// 403 for a role the route does not name or a namespace the caller does
// not own, 404 (the very answer for a version that does not exist) for a
// version the caller may not read, and none of these otherwise.
func TestAccessMatrixHidesUnreleasedVersions(t *testing.T) {
	e := newEnv(t)
	pub := e.tokens["publisher"]
	e.register(pub, "acme")
	submit := func(name, salt string) target {
		resp, b := e.submit(pub, pkg(t, "acme/"+name, "1.0.0", salt))
		var sub api.Submission
		if err := json.Unmarshal(b, &sub); err != nil || resp.StatusCode != 202 {
			t.Fatalf("submitting acme/%s: %d %s", name, resp.StatusCode, b)
		}
		return target{id: sub.ID, name: name, version: "1.0.0", digest: sub.Digest}
	}
	released := submit("hello", "one")
	released.kind = "released"
	e.approve(released.id)
	revoked := submit("gone", "three")
	revoked.kind = "revoked"
	e.approve(revoked.id)
	if resp, b := e.do("POST", "/api/v1/submissions/"+revoked.id+"/revoke", e.tokens["steward"], strings.NewReader(`{"reason":"test"}`)); resp.StatusCode != 200 {
		t.Fatalf("revoking: %d %s", resp.StatusCode, b)
	}
	unreleased := submit("draft", "two")
	unreleased.kind = "unreleased"
	if err := e.pipe.RunPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	missing := target{kind: "missing", id: "sub_missing", name: "nothing", version: "1.0.0", digest: "sha256:" + strings.Repeat("0", 64)}
	pem, _ := e.key.PublicKey().MarshalPEM()

	for _, rt := range e.srv.Routes() {
		for _, v := range []target{released, revoked, unreleased} {
			for _, c := range callers {
				t.Run(rt.Method+" "+rt.Path+" "+v.kind+" as "+orNone(c.token), func(t *testing.T) {
					call := func(v target) (int, []byte) {
						var body io.Reader
						switch {
						case rt.Method == "POST" && strings.HasSuffix(rt.Path, "/keys"):
							body = bytes.NewReader(pem)
						case rt.Method == "POST":
							// Refused after the guard, so that nothing changes.
							body = strings.NewReader("not json")
						}
						resp, b := e.do(rt.Method, v.fill(rt.Path), e.tokens[c.token], body)
						return resp.StatusCode, b
					}
					status, b := call(v)
					readable := true
					switch rt.Access.Reads {
					case server.ReleasedVersion:
						readable = c.insider || v == released
					case server.PublishedVersion:
						readable = c.insider || v != unreleased
					case server.SubmissionRecord:
						readable = c.insider
					}
					switch {
					case !rt.Access.Public && c.token == "":
						if status != 401 {
							t.Fatalf("no token: %d, want 401: %s", status, b)
						}
					case !rt.Access.Public && !mayCall(rt.Access, c.role):
						if status != 403 {
							t.Fatalf("role %s: %d, want 403: %s", c.role, status, b)
						}
					case rt.Access.Owners && !c.owner:
						if status != 403 {
							t.Fatalf("not an owner of acme: %d, want 403: %s", status, b)
						}
					case status == 401 || status == 403:
						t.Fatalf("allowed, but %d: %s", status, b)
					case rt.Access.Reads == server.NoVersion:
					case !namesVersion(rt.Path):
						// A list leaves out what the caller may not read.
						if shown := strings.Contains(string(b), `"acme/`+v.name+`"`); shown != readable {
							t.Fatalf("listed acme/%s: %v, want %v: %s", v.name, shown, readable, b)
						}
					default:
						missingStatus, missingBody := call(missing)
						same := status == missingStatus && v.mask(b) == missing.mask(missingBody)
						if readable && same {
							t.Fatalf("may read it, but got the answer for a missing version: %d %s", status, b)
						}
						if !readable && !same {
							t.Fatalf("may not read it: %d %s; want the answer for a missing version: %d %s", status, b, missingStatus, missingBody)
						}
					}
				})
			}
		}
	}
}

// TestRolesDoc holds docs/api-roles.md to the route table; -update
// rewrites it.
func TestRolesDoc(t *testing.T) {
	const path = "../../docs/api-roles.md"
	got := server.RolesMarkdown(server.New(server.Config{}).Routes())
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the route table; run go test ./internal/server -run TestRolesDoc -update", path)
	}
}

// TestOpenAPIRolesFromTheTable: each operation's x-roles are the table's
// roles, each named once, and a route a host may not call does not claim
// it may.
func TestOpenAPIRolesFromTheTable(t *testing.T) {
	srv := server.New(server.Config{})
	doc := srv.OpenAPI()
	paths := doc["paths"].(map[string]map[string]any)
	for _, rt := range srv.Routes() {
		path, _, err := server.OpenAPIPath(rt.Path)
		if err != nil {
			t.Fatal(err)
		}
		op := paths[path][strings.ToLower(rt.Method)].(map[string]any)
		roles := op["x-roles"].([]string)
		if !slices.Equal(roles, server.RoleNames(rt.Access)) {
			t.Errorf("%s %s: x-roles %v, table %v", rt.Method, rt.Path, roles, server.RoleNames(rt.Access))
		}
		if len(slices.Compact(slices.Sorted(slices.Values(roles)))) != len(roles) {
			t.Errorf("%s %s: x-roles %v names a role twice", rt.Method, rt.Path, roles)
		}
		for _, r := range domain.Roles {
			if !rt.Access.Public && slices.Contains(roles, string(r)) != mayCall(rt.Access, r) {
				t.Errorf("%s %s: x-roles %v, but role %s may call it: %v", rt.Method, rt.Path, roles, r, mayCall(rt.Access, r))
			}
		}
	}
}
