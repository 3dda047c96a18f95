package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/retention"
	"gatehouse.dev/gatehouse/internal/store/storetest"
)

// TestRetentionPurgeLeavesNoNameFromTheRealEvents drives the application
// doors that name people in an audit event's reason or data (a token for
// a person, a web sign-in, a namespace transfer to another person with a
// reason naming a third, a signature requirement and an auto-approval
// switch with reasons naming people), then runs the retention purge past
// them: no name is left anywhere in the dumped audit table, and the chain
// verifies. (The conformance suite does the same with events written by
// hand for the doors this world cannot reach: health, incidents.)
func TestRetentionPurgeLeavesNoNameFromTheRealEvents(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tok, secret, err := w.app.CreateToken(ctx, admin, api.TokenRequest{Subject: "zoe.quill@example.com", Role: "publisher", Namespace: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.SignIn(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := w.app.SetSignatureRequirement(ctx, admin, "acme", true, "as agreed with pia on the phone"); err != nil {
		t.Fatal(err)
	}
	if err := w.app.SetAutoApproval(ctx, steward, "namespace:acme", true, "until yves.kemp@example.com confirms the release process"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.TransferNamespace(ctx, admin, "acme", "quinn.moss@example.com", "pia left; xavier.lund@example.com approved the transfer"); err != nil {
		t.Fatal(err)
	}
	people := []string{"zoe.quill@example.com", tok.ID, "pia", "yves.kemp@example.com", "quinn.moss@example.com", "xavier.lund@example.com", "stella"}
	raw, ok := w.st.(storetest.RawDB)
	if !ok {
		t.Fatal("the SQLite store offers no raw access")
	}
	before := storetest.DumpAudit(t, raw)
	for _, p := range people {
		if !strings.Contains(before, p) {
			t.Fatalf("the trail does not name %s before the purge; the test would prove nothing", p)
		}
	}
	later := w.now.Add(retention.MinRetention + time.Hour)
	if _, err := retention.Adopt(ctx, w.st, retention.MinRetention, false, later); err != nil {
		t.Fatal(err)
	}
	s, err := retention.New(retention.Config{Store: w.st, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Purge(ctx)
	if err != nil || res.Pseudonymised == 0 {
		t.Fatalf("purge = %+v, %v", res, err)
	}
	after := storetest.DumpAudit(t, raw)
	for _, p := range people {
		if strings.Contains(after, p) {
			t.Errorf("%s is still in the audit table after the purge", p)
		}
	}
	rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error { return w.st.ScanAudit(ctx, domain.AuditQuery{}, fn) })
	if err != nil || rep.Break != nil {
		t.Fatalf("the trail does not verify after the purge: %v %v", err, rep.Break)
	}
}
