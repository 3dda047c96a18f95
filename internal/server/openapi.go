package server

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/domain"
)

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// OpenAPI returns the OpenAPI 3.1 document of the API, made from the route
// table. Each operation carries x-roles, the roles that may call it.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses": map[string]any{
				"default": map[string]any{
					"description": "An error, with a code and a message that names the problem.",
					"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
				},
			},
		}
		ok := map[string]any{"description": "Success."}
		switch rt.Method {
		case "POST":
			op["responses"].(map[string]any)["201"] = ok
			if rt.Path == "/api/v1/submissions" {
				op["responses"].(map[string]any)["202"] = map[string]any{"description": "Accepted: processing continues in the background; poll the statusUrl."}
				op["responses"].(map[string]any)["200"] = map[string]any{"description": "The same bytes were submitted before: the existing submission."}
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
			op["responses"].(map[string]any)["401"] = map[string]any{"description": "No token, or a token that is unknown, expired or revoked."}
			op["responses"].(map[string]any)["403"] = map[string]any{"description": "The token's role or namespace may not do this."}
		}
		if rules := Rules(rt.Access); len(rules) > 0 {
			op["x-rules"] = rules
		}
		if rt.Access.Reads != NoVersion {
			op["responses"].(map[string]any)["404"] = map[string]any{"description": "No such version, or one the caller may not read: the answers are the same."}
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{rt.Body: map[string]any{}}}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Gatehouse API",
			"version":     "1.0.0",
			"description": "Submit, vet, review and distribute WebAssembly plugins. Tokens start with " + auth.Prefix + "; plugins target host API " + hostapi.Module + ".",
		},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{
				"Error": map[string]any{
					"type":     "object",
					"required": []string{"error"},
					"properties": map[string]any{"error": map[string]any{
						"type":       "object",
						"required":   []string{"code", "message"},
						"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
					}},
				},
			},
		},
	}
}

func operationID(rt Route) string {
	parts := []string{strings.ToLower(rt.Method)}
	for _, seg := range strings.Split(strings.TrimPrefix(rt.Path, "/api/v1"), "/") {
		seg = strings.Trim(seg, "{}")
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
