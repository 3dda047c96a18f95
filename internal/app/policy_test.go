package app_test

import (
	"context"
	"maps"
	"testing"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/domain"
)

func TestPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	active, err := f.app.Policy(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	good := maps.Clone(active.Engine.Policy().Modules)
	broken := maps.Clone(good)
	broken["extra.rego"] = "package gatehouse.extra\n\nthis is not rego"
	for _, tt := range []struct {
		name    string
		caller  domain.Principal
		modules map[string]string
		kind    app.Kind
		code    string
	}{
		{"a reviewer may not try policies", rita, good, app.KindForbidden, "forbidden"},
		{"a policy with no modules", stella, map[string]string{}, app.KindInvalid, "bad_policy"},
		{"a policy that does not compile", stella, broken, app.KindInvalid, "policy_does_not_compile"},
		{"a steward tries one", stella, good, ok, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := f.app.PolicyDryRun(ctx, tt.caller, tt.modules)
			if kindOf(err) != tt.kind || codeOf(err) != tt.code {
				t.Fatalf("dry run: %v (code %q), want kind %d code %q", err, codeOf(err), tt.kind, tt.code)
			}
			if err == nil && d.Proposed != d.Active {
				t.Errorf("the active policy's sources have digest %s, not %s", d.Proposed, d.Active)
			}
			a, err := f.app.ApplyPolicy(ctx, tt.caller, tt.modules)
			if kindOf(err) != tt.kind || codeOf(err) != tt.code {
				t.Fatalf("apply: %v (code %q), want kind %d code %q", err, codeOf(err), tt.kind, tt.code)
			}
			if err == nil && (a.Digest != active.Engine.Digest() || a.Revalidated) {
				t.Errorf("applied %+v", a)
			}
		})
	}
	after, err := f.app.Policy(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.History) != len(active.History)+1 || after.History[len(after.History)-1].AppliedBy != "stella" {
		t.Errorf("history after one applied policy: %+v", after.History)
	}
}

func TestSetAutoApproval(t *testing.T) {
	for _, tt := range []struct {
		name   string
		caller domain.Principal
		scope  string
		reason string
		kind   app.Kind
		code   string
	}{
		{"a steward switches a plugin off", stella, "plugin:acme/solo", "under investigation", ok, ""},
		{"and a namespace", stella, "namespace:acme", "under investigation", ok, ""},
		{"with a reason", stella, "plugin:acme/solo", " ", app.KindInvalid, "reason_required"},
		{"of a scope it can name", stella, "everything", "why not", app.KindInvalid, "bad_scope"},
		{"a reviewer may not", rita, "plugin:acme/solo", "risky", app.KindForbidden, "forbidden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			err := f.app.SetAutoApproval(ctx, tt.caller, tt.scope, true, tt.reason)
			if kindOf(err) != tt.kind || codeOf(err) != tt.code {
				t.Fatalf("got %v (code %q), want kind %d code %q", err, codeOf(err), tt.kind, tt.code)
			}
			plugin, ns, err := f.st.AutoApprovalOff(ctx, "acme/solo")
			if err != nil {
				t.Fatal(err)
			}
			if off := plugin || ns; off != (tt.kind == ok) {
				t.Errorf("switched off: plugin %v, namespace %v", plugin, ns)
			}
		})
	}
}
