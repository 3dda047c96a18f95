package manifest

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
)

// Permission is a parsed capability with its scope.
//
// The grammar (KIND[:SCOPE]):
//
//	net:https://api.example.com[:port]   an origin the plugin may fetch from
//	fs:read:/templates                   a read-only mount, by absolute path
//	kv:read, kv:write                    the plugin's own key-value store
//	secret:SLACK_TOKEN                   one named secret
//	data:read:contacts, data:write:contacts   a host data scope
type Permission struct {
	// Kind is one of the hostapi.Perm* constants.
	Kind string
	// Scope is the origin, mount path, secret name or data scope; empty for
	// kv:read and kv:write.
	Scope string
}

// String returns the permission in its canonical text form.
func (p Permission) String() string {
	if p.Scope == "" {
		return p.Kind
	}
	return p.Kind + ":" + p.Scope
}

var (
	secretName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
	dataScope  = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// MaxPermissionLen bounds one permission string.
const MaxPermissionLen = 512

// ParsePermission parses one permission string. The error names what is
// wrong in a sentence a plugin author can act on.
func ParsePermission(s string) (Permission, error) {
	if len(s) > MaxPermissionLen {
		return Permission{}, fmt.Errorf("permission is %d bytes long, the limit is %d", len(s), MaxPermissionLen)
	}
	switch {
	case s == hostapi.PermKVRead || s == hostapi.PermKVWrite:
		return Permission{Kind: s}, nil
	case strings.HasPrefix(s, "net:"):
		origin, err := ParseOrigin(strings.TrimPrefix(s, "net:"))
		if err != nil {
			return Permission{}, fmt.Errorf("permission %q: %w", s, err)
		}
		return Permission{Kind: hostapi.PermNet, Scope: origin}, nil
	case strings.HasPrefix(s, "fs:read:"):
		p := strings.TrimPrefix(s, "fs:read:")
		if !strings.HasPrefix(p, "/") {
			return Permission{}, fmt.Errorf("permission %q: the mount path must be absolute, like fs:read:/templates", s)
		}
		if path.Clean(p) != p || strings.Contains(p, "..") {
			return Permission{}, fmt.Errorf("permission %q: the mount path must be clean, with no '..', '.' or doubled slashes", s)
		}
		if p == "/" {
			return Permission{}, fmt.Errorf("permission %q: mounting the root is not allowed; name a folder such as /templates", s)
		}
		return Permission{Kind: hostapi.PermFSRead, Scope: p}, nil
	case strings.HasPrefix(s, "fs:"):
		return Permission{}, fmt.Errorf("permission %q: only read-only mounts exist (fs:read:/PATH); plugins never write files", s)
	case strings.HasPrefix(s, "secret:"):
		name := strings.TrimPrefix(s, "secret:")
		if !secretName.MatchString(name) {
			return Permission{}, fmt.Errorf("permission %q: a secret name is upper case letters, digits and underscores, starting with a letter", s)
		}
		return Permission{Kind: hostapi.PermSecret, Scope: name}, nil
	case strings.HasPrefix(s, "data:read:") || strings.HasPrefix(s, "data:write:"):
		kind := hostapi.PermDataRead
		scope := strings.TrimPrefix(s, "data:read:")
		if strings.HasPrefix(s, "data:write:") {
			kind, scope = hostapi.PermDataWrite, strings.TrimPrefix(s, "data:write:")
		}
		if !dataScope.MatchString(scope) {
			return Permission{}, fmt.Errorf("permission %q: a data scope is lower case letters, digits, '_', '.' or '-', starting with a letter", s)
		}
		return Permission{Kind: kind, Scope: scope}, nil
	}
	return Permission{}, fmt.Errorf("permission %q is not one of net:ORIGIN, fs:read:/PATH, kv:read, kv:write, secret:NAME, data:read:SCOPE, data:write:SCOPE", s)
}

// ParseOrigin checks that s is an origin (scheme://host[:port], nothing
// else) and returns its canonical form: lower-case scheme and host, the
// default port dropped.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a valid origin: %v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("an origin starts with https:// or http://")
	}
	if u.User != nil {
		return "", fmt.Errorf("an origin may not carry a user name or password")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("an origin is scheme://host[:port] with no path, query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("an origin needs a host")
	}
	if strings.Contains(host, "*") {
		return "", fmt.Errorf("wildcard hosts are not allowed; list each origin")
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		}
	}
	hostport := host
	if strings.Contains(host, ":") { // IPv6 literal
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	return scheme + "://" + hostport, nil
}

// ParsePermissions parses a list, refusing duplicates.
func ParsePermissions(list []string) ([]Permission, error) {
	seen := make(map[string]bool, len(list))
	out := make([]Permission, 0, len(list))
	for _, s := range list {
		p, err := ParsePermission(s)
		if err != nil {
			return nil, err
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("permission %q is listed twice", s)
		}
		seen[p.String()] = true
		out = append(out, p)
	}
	return out, nil
}

// Grants reports whether the granted set covers a host function that needs
// permission kind (hostapi.Function.Permission). An empty kind is always
// covered.
func Grants(granted []Permission, kind string) bool {
	if kind == "" {
		return true
	}
	for _, p := range granted {
		if p.Kind == kind {
			return true
		}
	}
	return false
}

// Describe says in plain language what the permission lets a plugin do,
// for reviewers and for the people who install it.
func (p Permission) Describe() string {
	switch p.Kind {
	case hostapi.PermNet:
		return "send requests to " + p.Scope + " and read its answers"
	case hostapi.PermFSRead:
		return "read files in the folder the host mounts at " + p.Scope + " (read-only)"
	case hostapi.PermKVRead:
		return "read values it stored earlier"
	case hostapi.PermKVWrite:
		return "store and delete its own values"
	case hostapi.PermSecret:
		return "read the secret " + p.Scope
	case hostapi.PermDataRead:
		return "read your " + p.Scope + " data"
	case hostapi.PermDataWrite:
		return "change your " + p.Scope + " data"
	}
	return p.String()
}
