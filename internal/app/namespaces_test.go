package app

import (
	"context"
	"slices"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/trust"
)

func pemKey(t *testing.T) []byte {
	t.Helper()
	k, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.PublicKey().MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestListNamespaces: overseers list every namespace and its owners; a
// publisher lists only the namespaces it may publish to, so the list does
// not hand every publisher the others' owners (people's subjects).
func TestListNamespaces(t *testing.T) {
	w := newWorld(t)
	scoped := domain.Principal{TokenID: "t-ci", Subject: "ci-bot", Role: domain.RolePublisher, Namespace: "acme"}
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		kind   Kind
		want   []string
	}{
		{"reviewer", reviewer, ok, []string{"acme"}},
		{"owner", pia, ok, []string{"acme"}},
		{"token scoped to the namespace", scoped, ok, []string{"acme"}},
		{"publisher elsewhere", otto, ok, nil},
		{"host", host, KindForbidden, nil},
		{"anonymous", anonymous, KindUnauthenticated, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nss, err := w.app.ListNamespaces(context.Background(), tc.caller)
			wantKind(t, err, tc.kind, "")
			var got []string
			for _, n := range nss {
				got = append(got, n.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("namespaces = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAddPublisherKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dup := pemKey(t)
	if _, err := w.app.AddPublisherKey(ctx, pia, "acme", dup); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		app    *App
		caller domain.Principal
		ns     string
		key    []byte
		kind   Kind
		code   string
	}{
		{"owner", w.app, pia, "acme", pemKey(t), ok, ""},
		{"token scoped to the namespace", w.app, scoped, "acme", pemKey(t), ok, ""},
		{"admin", w.app, admin, "acme", pemKey(t), ok, ""},
		{"another publisher", w.app, otto, "acme", pemKey(t), KindForbidden, "forbidden"},
		{"a reviewer publishes nowhere", w.app, reviewer, "acme", pemKey(t), KindForbidden, "forbidden"},
		{"scoped token elsewhere", w.app, scoped, "other", pemKey(t), KindForbidden, "forbidden"},
		{"claims an unclaimed namespace", w.app, otto, "otto-tools", pemKey(t), ok, ""},
		{"not a PEM key", w.app, pia, "acme", []byte("ssh-ed25519 AAAA"), KindInvalid, "invalid_key"},
		{"registered already", w.app, pia, "acme", dup, KindConflict, "key_exists"},
		{"without the trust layer", w.bare, pia, "acme", pemKey(t), KindUnavailable, "trust_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.app.AddPublisherKey(ctx, tc.caller, tc.ns, tc.key)
			wantKind(t, err, tc.kind, tc.code)
			if err != nil {
				return
			}
			if k.Namespace != tc.ns || k.AddedBy != tc.caller.Subject {
				t.Errorf("key = %+v", k)
			}
			if got := lastAction(t, w.st); got != audit.PublisherKeyAdded {
				t.Errorf("last action = %q", got)
			}
		})
	}
	ns, err := w.st.GetNamespace(ctx, "otto-tools")
	if err != nil || len(ns.Owners) != 1 || ns.Owners[0] != "otto" {
		t.Errorf("claimed namespace = %+v, %v; want owned by otto", ns, err)
	}
	keys, err := w.app.PublisherKeys(ctx, "acme")
	if err != nil || len(keys.Keys) != 4 {
		t.Errorf("acme has %d keys (%v), want 4", len(keys.Keys), err)
	}
	_, err = w.app.PublisherKeys(ctx, "nobody")
	wantKind(t, err, KindNotFound, "not_found")
}

func TestRetirePublisherKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	k, err := w.app.AddPublisherKey(ctx, pia, "acme", pemKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		ns, id string
		kind   Kind
	}{
		{"another publisher", otto, "acme", k.ID, KindForbidden},
		{"no such namespace (not claimed by retiring)", pia, "nobody", k.ID, KindNotFound},
		{"no such key", pia, "acme", "nokey", KindNotFound},
		{"owner", pia, "acme", k.ID, ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.app.RetirePublisherKey(ctx, tc.caller, tc.ns, tc.id)
			wantKind(t, err, tc.kind, "")
		})
	}
	if got := lastAction(t, w.st); got != audit.PublisherKeyRemoved {
		t.Errorf("last action = %q", got)
	}
}

func TestSetSignatureRequirement(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		ns     string
		reason string
		kind   Kind
		code   string
	}{
		{"owner is not enough", pia, "acme", "supply chain", KindForbidden, "forbidden"},
		{"no reason", admin, "acme", " ", KindInvalid, "invalid_request"},
		{"no such namespace", admin, "nobody", "supply chain", KindNotFound, "not_found"},
		{"admin", admin, "acme", "supply chain", ok, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, w.app.SetSignatureRequirement(ctx, tc.caller, tc.ns, true, tc.reason), tc.kind, tc.code)
		})
	}
	keys, err := w.app.PublisherKeys(ctx, "acme")
	if err != nil || !keys.SignaturesRequired {
		t.Errorf("acme requires signatures = %v (%v), want true", keys.SignaturesRequired, err)
	}
}
