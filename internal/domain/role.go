package domain

import (
	"fmt"
	"strings"
	"time"
)

// Role is what a token may do.
type Role string

const (
	RoleAdmin     Role = "admin" // everything, including token management
	RolePublisher Role = "publisher"
	RoleReviewer  Role = "reviewer"
	RoleSteward   Role = "steward"
	RoleAuditor   Role = "auditor"
	// RoleHost is a platform host: it reports plugins' runtime health and
	// may do nothing else.
	RoleHost Role = "host"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RolePublisher, RoleReviewer, RoleSteward, RoleAuditor, RoleHost}

// ParseRole turns a role name into a Role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q: one of %s", s, RoleNames())
}

// RoleNames lists every role for people to read, "admin, publisher, … or
// host", from the one list of roles (Roles).
func RoleNames() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Token is an API credential. Only the SHA-256 of its secret is stored.
type Token struct {
	ID        string
	Subject   string // who holds it: the actor named in audit events
	Role      Role
	Namespace string // optional scope: a publisher token for one namespace
	// Environment is the environment a host token's host enrolled into
	// (issue 18); empty for other roles.
	Environment string
	Hash        []byte // SHA-256 of the secret
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   time.Time // zero when not revoked
}

// Namespace is the first part of a plugin id, owned by publishers.
type Namespace struct {
	Name      string
	Owners    []string // token subjects
	CreatedAt time.Time
}
