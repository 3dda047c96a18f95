package server

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/domain"
)

// wildcard is one segment of a ServeMux pattern that is a wildcard:
// {name}, {name...} (the rest of the path, slashes included) or {$} (the
// end of the path after a trailing slash).
var wildcard = regexp.MustCompile(`^\{(?:([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?|\$)\}$`)

// PathParam is a path parameter of an OpenAPI path.
type PathParam struct {
	Name string
	// Rest: the ServeMux wildcard {name...}, which matches the rest of
	// the path, slashes included.
	Rest bool
}

// OpenAPIPath translates a ServeMux path pattern into an OpenAPI path
// template and its parameters: {name} stays, {name...} becomes {name}
// (whose parameter says it may contain slashes; OpenAPI has no wildcard
// that spans segments), and {$} is dropped. It refuses a pattern whose
// braces are anything else (a wildcard inside a segment, a bad name, a
// name used twice, {name...} before the end), since OpenAPI requires each
// {…} of a path to be a declared parameter and no route may be described
// as something it is not.
func OpenAPIPath(pattern string) (string, []PathParam, error) {
	if !strings.HasPrefix(pattern, "/") {
		return "", nil, fmt.Errorf("openapi: path %q does not start with /", pattern)
	}
	segs := strings.Split(pattern, "/")
	var params []PathParam
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		m := wildcard.FindStringSubmatch(seg)
		if m == nil {
			return "", nil, fmt.Errorf("openapi: path %q: segment %q is not a whole {name} or {name...} wildcard", pattern, seg)
		}
		last := i == len(segs)-1
		switch {
		case m[1] == "": // {$}
			if !last {
				return "", nil, fmt.Errorf("openapi: path %q: {$} is not at the end", pattern)
			}
			segs[i] = ""
			continue
		case m[2] != "" && !last:
			return "", nil, fmt.Errorf("openapi: path %q: %s is not at the end", pattern, seg)
		}
		for _, p := range params {
			if p.Name == m[1] {
				return "", nil, fmt.Errorf("openapi: path %q names {%s} twice", pattern, m[1])
			}
		}
		params = append(params, PathParam{Name: m[1], Rest: m[2] != ""})
		segs[i] = "{" + m[1] + "}"
	}
	return strings.Join(segs, "/"), params, nil
}

// problem is a response whose body is the RFC 9457 problem every error
// of the API is (api.Error).
func problem(desc string) map[string]any {
	return map[string]any{
		"description": desc,
		"content":     map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
	}
}

// OpenAPI returns the OpenAPI 3.1 document of the API, made from the route
// table. Each operation carries x-roles, the roles that may call it. A
// route whose path OpenAPI cannot express (see OpenAPIPath) is left out,
// never emitted as an invalid path; a test keeps the table free of them.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		path, pathParams, err := OpenAPIPath(rt.Path)
		if err != nil {
			continue
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses": map[string]any{
				"default": problem("An error, as an RFC 9457 problem whose type and code name it."),
			},
		}
		ok := map[string]any{"description": "Success."}
		switch rt.Method {
		case "POST":
			op["responses"].(map[string]any)["201"] = ok
			if rt.Path == "/api/v1/submissions" {
				op["responses"].(map[string]any)["202"] = map[string]any{"description": "Accepted: processing continues in the background; poll the statusUrl."}
				op["responses"].(map[string]any)["200"] = map[string]any{"description": "The same bytes were submitted before: the existing submission."}
				op["responses"].(map[string]any)["408"] = problem("The package did not arrive within the upload timeout (code upload_timeout); nothing was kept.")
				op["responses"].(map[string]any)["429"] = problem("The process is taking its limit of uploads already (code too_many_uploads); retry after Retry-After seconds.")
				delete(op["responses"].(map[string]any), "201")
			}
		case "DELETE":
			op["responses"].(map[string]any)["204"] = ok
		default:
			op["responses"].(map[string]any)["200"] = ok
		}
		op["x-roles"] = RoleNames(rt.Access)
		if rt.Access.Public {
			op["security"] = []any{}
		} else {
			op["responses"].(map[string]any)["401"] = problem("No token, or a token that is unknown, expired or revoked.")
			op["responses"].(map[string]any)["403"] = problem("The token's role or namespace may not do this.")
		}
		if rules := Rules(rt.Access); len(rules) > 0 {
			op["x-rules"] = rules
		}
		if rt.Access.Reads != NoVersion {
			op["responses"].(map[string]any)["404"] = problem("No such version, or one the caller may not read: the answers are the same.")
		} else if len(pathParams) > 0 {
			op["responses"].(map[string]any)["404"] = problem("Nothing by that name.")
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{rt.Body: map[string]any{}}}
			op["responses"].(map[string]any)["400"] = problem("The request body is malformed or invalid; the problem says what to change.")
			op["responses"].(map[string]any)["413"] = problem("The request body is over the endpoint's size limit.")
		}
		if !has4xx(op["responses"].(map[string]any)) {
			// Every request can be refused: a client error the server
			// answers (the problem's type names it).
			op["responses"].(map[string]any)["4XX"] = problem("A client error; the problem names it.")
		}
		var params []any
		for _, p := range pathParams {
			param := map[string]any{"name": p.Name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}}
			if p.Rest {
				param["description"] = "The rest of the path, which may contain slashes (for example 0/x001/234, 1/000.p/7 or entries/000)."
			}
			params = append(params, param)
		}
		if params != nil {
			op["parameters"] = params
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Gatehouse API",
			"version":     "1.0.0",
			"description": "Submit, vet, review and distribute WebAssembly plugins. Tokens start with " + auth.Prefix + "; plugins target host API " + hostapi.Module + ".",
			"license":     map[string]any{"name": "All rights reserved (no licence chosen yet)", "identifier": License},
		},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{
				"Error": map[string]any{
					"description": "An RFC 9457 problem (application/problem+json). The error member repeats the code and message for clients written before the RFC's members were added.",
					"type":        "object",
					"required":    []string{"type", "title", "status", "detail", "error"},
					"properties": map[string]any{
						"type":   map[string]any{"type": "string", "format": "uri", "description": "The problem's type: " + api.ProblemBase + " followed by the code."},
						"title":  map[string]any{"type": "string", "description": "The kind of problem, the same for every problem of a status."},
						"status": map[string]any{"type": "integer", "description": "The HTTP status code."},
						"detail": map[string]any{"type": "string", "description": "What went wrong and what to do about it."},
						"error": map[string]any{
							"type":       "object",
							"required":   []string{"code", "message"},
							"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
						},
					},
				},
			},
		},
	}
}

// License is the licence info.license declares, an SPDX expression. The
// project has chosen no licence yet (there is no LICENSE file), so this
// says what holds without one; change it with the LICENSE file.
const License = "LicenseRef-Gatehouse-All-Rights-Reserved"

func has4xx(responses map[string]any) bool {
	for code := range responses {
		if strings.HasPrefix(code, "4") {
			return true
		}
	}
	return false
}

func operationID(rt Route) string {
	parts := []string{strings.ToLower(rt.Method)}
	for _, seg := range strings.Split(strings.TrimPrefix(rt.Path, "/api/v1"), "/") {
		seg = strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
		seg = strings.NewReplacer(".", "", "-", "").Replace(seg)
		if seg != "" {
			parts = append(parts, strings.ToUpper(seg[:1])+seg[1:])
		}
	}
	return strings.Join(parts, "")
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ domain.Principal) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}

// RoleNames are the roles that may call a route, as x-roles and
// docs/api-roles.md list them: "anyone" for a public route, else admin
// and the route's roles, or every role but host when it names none.
func RoleNames(a Access) []string {
	if a.Public {
		return []string{"anyone"}
	}
	roles := a.Roles
	if len(roles) == 0 {
		roles = domain.Roles
	}
	names := []string{string(domain.RoleAdmin)}
	for _, r := range roles {
		if r == domain.RoleAdmin || (len(a.Roles) == 0 && r == domain.RoleHost) {
			continue
		}
		names = append(names, string(r))
	}
	return names
}

// Rules says in sentences what narrows a route beyond its roles, as
// x-rules and docs/api-roles.md state it.
func Rules(a Access) []string {
	var out []string
	// Overseers read every version: the read rules narrow only routes
	// open to others.
	narrows := a.Public || len(a.Roles) == 0 || slices.Contains(a.Roles, domain.RolePublisher)
	switch reads := a.Reads; {
	case !narrows:
	case reads == ReleasedVersion:
		out = append(out, "a version that is not released (certified or suspended) only for its namespace's publishers and reviewers, stewards, auditors and admins; 404 for anyone else")
	case reads == PublishedVersion:
		out = append(out, "a version that was never released (certified, suspended, or revoked since) only for its namespace's publishers and reviewers, stewards, auditors and admins; 404 for anyone else")
	case reads == SubmissionRecord:
		out = append(out, "only its namespace's publishers and reviewers, stewards, auditors and admins, released or not; 404 for anyone else")
	}
	if a.Owners {
		out = append(out, "only the namespace's owners (or a publisher token scoped to it) and admins; 403 for other publishers")
	}
	if a.SeparateDuties {
		out = append(out, "403 for a caller who publishes in the plugin's namespace (separation of duties)")
	}
	if a.Note != "" {
		out = append(out, a.Note)
	}
	return out
}

// RolesMarkdown is docs/api-roles.md: every route, who may call it and
// what narrows it further, made from the route table.
func RolesMarkdown(routes []Route) []byte {
	var b strings.Builder
	b.WriteString("# Who may call what\n\n")
	b.WriteString("<!-- Generated from the route table (internal/server/routes.go) by\n")
	b.WriteString("     go test ./internal/server -run TestRolesDoc -update; do not edit. -->\n\n")
	b.WriteString("Every route of the API, the roles whose tokens may call it (admin may call\n")
	b.WriteString("every route that takes a token; `anyone` needs none; a host token calls\n")
	b.WriteString("only what names `host` and what is public) and the rules that narrow it\n")
	b.WriteString("further. A version is *released* when it is certified or suspended; until\n")
	b.WriteString("then only its namespace's publishers and the reviewers, stewards,\n")
	b.WriteString("auditors and admins see it, and anyone else gets the same 404 as for a\n")
	b.WriteString("version that does not exist. The web pages follow the same rules.\n\n")
	b.WriteString("| method | path | roles | narrowed by |\n|---|---|---|---|\n")
	for _, rt := range routes {
		rules := strings.Join(Rules(rt.Access), "; ")
		if rules == "" {
			rules = "—"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", rt.Method, rt.Path, strings.Join(RoleNames(rt.Access), ", "), rules)
	}
	return []byte(b.String())
}
