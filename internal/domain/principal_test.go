package domain

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/lifecycle"
)

func TestCanPublish(t *testing.T) {
	t.Parallel()
	pub := Principal{Subject: "alice", Role: RolePublisher}
	scoped := Principal{Subject: "bob", Role: RolePublisher, Namespace: "acme"}
	cases := []struct {
		name   string
		p      Principal
		ns     string
		owners []string
		ok     bool
	}{
		{"claims a new namespace", pub, "acme", nil, true},
		{"publishes where it owns", pub, "acme", []string{"alice"}, true},
		{"not where others own", pub, "acme", []string{"carol"}, false},
		{"scoped token in its namespace", scoped, "acme", []string{"carol"}, true},
		{"scoped token elsewhere", scoped, "other", nil, false},
		{"a reviewer never publishes", Principal{Subject: "rita", Role: RoleReviewer}, "acme", nil, false},
		{"an admin publishes anywhere", Principal{Subject: "admin", Role: RoleAdmin}, "acme", []string{"carol"}, true},
	}
	for _, c := range cases {
		if err := c.p.CanPublish(c.ns, c.owners); (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("%s: %v %v", r, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("unknown role accepted")
	}
}

// TestParseRoleErrorNamesEveryRole: a mistyped role is answered with the
// whole list, host included, so the fix is in the message.
func TestParseRoleErrorNamesEveryRole(t *testing.T) {
	t.Parallel()
	_, err := ParseRole("hosts")
	if err == nil {
		t.Fatal("unknown role accepted")
	}
	for _, r := range Roles {
		if !strings.Contains(err.Error(), string(r)) {
			t.Errorf("the error %q does not name the role %s", err, r)
		}
	}
}

type namespaces map[string][]string

func (n namespaces) GetNamespace(_ context.Context, name string) (Namespace, error) {
	owners, ok := n[name]
	if !ok {
		return Namespace{}, ErrNotFound
	}
	return Namespace{Name: name, Owners: owners}, nil
}

// TestCanSee: who may read a plugin's submissions, for the API and the
// web pages alike.
func TestCanSee(t *testing.T) {
	t.Parallel()
	nss := namespaces{"acme": {"alice"}, "other": {"mallory"}}
	for _, tc := range []struct {
		p    Principal
		id   string
		want bool
	}{
		{Principal{Subject: "rita", Role: RoleReviewer}, "acme/x", true},
		{Principal{Subject: "sam", Role: RoleSteward}, "other/y", true},
		{Principal{Subject: "ann", Role: RoleAuditor}, "acme/x", true},
		{Principal{Subject: "root", Role: RoleAdmin}, "acme/x", true},
		{Principal{Subject: "alice", Role: RolePublisher}, "acme/x", true},
		{Principal{Subject: "alice", Role: RolePublisher}, "other/y", false},
		{Principal{Subject: "alice", Role: RolePublisher}, "nobody/z", false},
		{Principal{Subject: "ci", Role: RolePublisher, Namespace: "other"}, "other/y", true},
		{Principal{Subject: "ci", Role: RolePublisher, Namespace: "other"}, "acme/x", false},
		{Principal{Subject: "h", Role: RoleHost}, "acme/x", false},
		// Owning a namespace makes a publisher token a member, not a
		// token of another role that happens to carry the owner's name.
		{Principal{Subject: "alice", Role: RoleHost}, "acme/x", false},
		{Principal{Subject: "alice"}, "acme/x", false},
	} {
		got, err := tc.p.CanSee(context.Background(), nss, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("%s (%s) reading %s: %v, %v; want %v", tc.p.Subject, tc.p.Role, tc.id, got, err, tc.want)
		}
	}
}

// TestCanSeeVersionHidesUnreleasedFromOutsiders: a version that is not
// released is read by its namespace's members and the overseers only; a
// released one by anyone, anonymous callers and hosts included.
func TestCanSeeVersionHidesUnreleasedFromOutsiders(t *testing.T) {
	t.Parallel()
	nss := namespaces{"acme": {"alice"}, "other": {"mallory"}}
	insiders := []Principal{
		{Subject: "root", Role: RoleAdmin},
		{Subject: "rita", Role: RoleReviewer},
		{Subject: "sam", Role: RoleSteward},
		{Subject: "ann", Role: RoleAuditor},
		{Subject: "alice", Role: RolePublisher},
		{Subject: "ci", Role: RolePublisher, Namespace: "acme"},
	}
	outsiders := []Principal{
		{},
		{Subject: "mallory", Role: RolePublisher},
		{Subject: "ci", Role: RolePublisher, Namespace: "other"},
		{Subject: "alice", Role: RoleHost},
		{Subject: "h", Role: RoleHost},
	}
	for _, st := range lifecycle.States {
		for _, p := range insiders {
			if ok, err := p.CanSeeVersion(context.Background(), nss, "acme/x", st); err != nil || !ok {
				t.Errorf("%s (%s) reading acme/x in state %s: %v, %v; want true", p.Subject, p.Role, st, ok, err)
			}
		}
		for _, p := range outsiders {
			ok, err := p.CanSeeVersion(context.Background(), nss, "acme/x", st)
			if err != nil || ok != Released(st) {
				t.Errorf("%q (%q) reading acme/x in state %s: %v, %v; want %v", p.Subject, p.Role, st, ok, err, Released(st))
			}
		}
	}
	for st, want := range map[lifecycle.State]bool{lifecycle.Certified: true, lifecycle.Suspended: true, lifecycle.InReview: false, lifecycle.Revoked: false, lifecycle.Rejected: false, lifecycle.AutoApproved: false} {
		if Released(st) != want {
			t.Errorf("Released(%s) = %v, want %v", st, !want, want)
		}
	}
}
