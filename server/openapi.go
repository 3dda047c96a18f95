package server

import (
	"net/http"
	"regexp"
	"strings"

	"gatehouse.dev/gatehouse/auth"
	"gatehouse.dev/gatehouse/hostapi"
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
		if rt.Access.Public {
			op["security"] = []any{}
			op["x-roles"] = []string{"anyone"}
		} else {
			roles := []string{"admin"}
			for _, r := range rt.Access.Roles {
				roles = append(roles, string(r))
			}
			if len(rt.Access.Roles) == 0 {
				roles = []string{"any authenticated token"}
			}
			op["x-roles"] = roles
			op["responses"].(map[string]any)["401"] = map[string]any{"description": "No token, or a token that is unknown, expired or revoked."}
			op["responses"].(map[string]any)["403"] = map[string]any{"description": "The token's role or namespace may not do this."}
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

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ auth.Principal) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
