package webhook

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
)

func TestScope(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.CreateVersion(ctx, domain.Version{ID: "sub_a", PluginID: "acme/hello", Version: "1.0.0", Digest: "sha256:a", Manifest: []byte("{}"), Submitter: "alice", State: lifecycle.Received},
		[]audit.Event{{Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:sub_a"}}); err != nil {
		t.Fatal(err)
	}
	data := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	acme := domain.Webhook{Namespace: "acme"}
	hello := domain.Webhook{Namespace: "acme", PluginID: "acme/hello"}
	all := domain.Webhook{}
	cases := []struct {
		name string
		e    audit.Event
		want [3]bool // acme, acme/hello, everything
	}{
		{"own submission", audit.Event{Subject: "submission:sub_a"}, [3]bool{true, true, true}},
		{"unknown submission", audit.Event{Subject: "submission:sub_gone"}, [3]bool{false, false, true}},
		{"own namespace", audit.Event{Subject: "namespace:acme"}, [3]bool{true, false, true}},
		{"another namespace", audit.Event{Subject: "namespace:other"}, [3]bool{false, false, true}},
		{"incident about acme", audit.Event{Subject: "incident:i", Data: data(map[string]any{"plugins": []string{"acme/hello", "acme/notes"}})}, [3]bool{true, false, true}},
		{"incident across namespaces", audit.Event{Subject: "incident:i", Data: data(map[string]any{"plugins": []string{"acme/hello", "other/x"}})}, [3]bool{false, false, true}},
		{"broadcast notice", audit.Event{Subject: "incident:i", Data: data(map[string]any{"broadcast": true, "plugins": []string{"other/x"}})}, [3]bool{true, true, true}},
		{"token event", audit.Event{Subject: "token:t1"}, [3]bool{false, false, true}},
	}
	for _, c := range cases {
		sc := newScoper(st)
		for i, w := range []domain.Webhook{acme, hello, all} {
			got, err := sc.inScope(ctx, w, c.e)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want[i] {
				t.Errorf("%s: subscription %d hears it = %v, want %v", c.name, i, got, c.want[i])
			}
		}
	}
}
