package review_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/privacy"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

const crmManifest = `{"manifestVersion":1,"id":"acme/crm","version":"1.0.0","name":"CRM","description":"Syncs.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT",
"runtime":{"module":"plugin.wasm","exports":["sync"],"hostApi":"^1.0.0"},
"permissions":["net:https://crm.example.com","net:https://shop.example.com","data:read:contacts","data:read:orders"],
"data":{"categories":["contacts","orders"],"purpose":"sync","retention":"P30D","leavesPlatform":true,
 "flows":[{"category":"contacts","destination":"https://crm.example.com"},{"category":"orders","destination":"https://shop.example.com","purpose":"order sync"}]}}`

// TestApproveOneFlowRefuseAnother: a reviewer approves one data flow and
// refuses the other; the certificate lists each as decided and grants no
// permission the refused flow rests on, and the privacy report shows the
// decisions.
func TestApproveOneFlowRefuseAnother(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := certifytest.New(t, st, nil)
	key := certifytest.PublisherKey(t, st, "acme", "alice")
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv.Certifier = tr.Service
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(crmManifest)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	p, _ := pkgfile.Read(bytes.NewReader(buf.Bytes()), pkgfile.DefaultLimits())
	v := domain.Version{ID: "sub1", PluginID: "acme/crm", Version: "1.0.0", Digest: p.Digest, Size: p.Size, Manifest: []byte(crmManifest), Submitter: "alice", State: lifecycle.Received, Reason: "r", CreatedAt: time.Now()}
	if _, _, err := st.CreateVersion(ctx, v, []audit.Event{{Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:sub1"}}); err != nil {
		t.Fatal(err)
	}
	env, _ := intake.Sign(ctx, key, buf.Bytes())
	raw, _ := trust.MarshalEnvelope(env)
	if err := st.PutSignature(ctx, domain.Signature{VersionID: "sub1", KeyID: key.KeyID(), Envelope: raw, CreatedAt: time.Now()}, audit.Event{Actor: "alice", Action: audit.SubmissionSignature, Subject: "submission:sub1"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]lifecycle.State{{lifecycle.Received, lifecycle.Vetting}, {lifecycle.Vetting, lifecycle.Triage}, {lifecycle.Triage, lifecycle.InReview}} {
		if err := st.Transition(ctx, "sub1", s[0], s[1], "test", audit.Event{Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:sub1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.OpenReview(ctx, domain.ReviewItem{VersionID: "sub1", PluginID: "acme/crm", Tier: "medium", ApprovalsRequired: 1, Deadline: time.Now().Add(time.Hour), CreatedAt: time.Now().Add(-time.Minute)},
		audit.Event{Actor: "system", Action: audit.ReviewOpen, Subject: "submission:sub1"}); err != nil {
		t.Fatal(err)
	}
	rita := domain.Principal{Subject: "rita", Role: domain.RoleReviewer}

	// A flow the version does not have is refused, naming those it has.
	_, err = rv.ApproveFlows(ctx, rita, "sub1", nil, []string{"contacts>https://evil.example.com"}, "")
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "orders>https://shop.example.com") {
		t.Fatalf("an unknown flow: %v", err)
	}
	state, err := rv.ApproveFlows(ctx, rita, "sub1", nil, []string{"orders>https://shop.example.com"}, "orders may not leave")
	if err != nil || state != lifecycle.Certified {
		t.Fatalf("approve: %s, %v", state, err)
	}
	cert, err := tr.Service.LatestCertificate(ctx, "sub1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"net:https://crm.example.com", "data:read:contacts"}; !slices.Equal(cert.Permissions, want) {
		t.Errorf("granted %v, want %v", cert.Permissions, want)
	}
	if len(cert.Flows) != 1 || cert.Flows[0].ID != "contacts>https://crm.example.com" || len(cert.RefusedFlows) != 1 || cert.RefusedFlows[0].ID != "orders>https://shop.example.com" {
		t.Errorf("flows %+v, refused %+v", cert.Flows, cert.RefusedFlows)
	}
	if cert.Grants("data:read:orders") || cert.Grants("net:https://shop.example.com") || !cert.Grants("data:read:contacts") {
		t.Errorf("the certificate grants the refused flow's permissions: %v", cert.Permissions)
	}

	v, _ = st.GetVersion(ctx, "sub1")
	rep, err := privacy.Report(ctx, st, v, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Flows {
		got[f.ID] = f.Decision
		if len(f.Evidence) == 0 {
			t.Errorf("flow %s has no evidence", f.ID)
		}
	}
	if got["contacts>https://crm.example.com"] != "approved" || got["orders>https://shop.example.com"] != "refused" {
		t.Errorf("report decisions %v", got)
	}
	md := string(privacy.Markdown(rep))
	for _, w := range []string{"# Privacy report: acme/crm@1.0.0", "`orders>https://shop.example.com`", "refused (rita)", "order sync", "P30D (about 30 days)", "manifest, manifest.json /data/flows/1"} {
		if !strings.Contains(md, w) {
			t.Errorf("the Markdown report lacks %q:\n%s", w, md)
		}
	}
	cats, err := privacy.Categories(ctx, st)
	if err != nil || len(cats.Uses) != 2 || cats.Uses[0].Category != "contacts" || cats.Uses[1].Plugin != "acme/crm" {
		t.Errorf("categories %+v, %v", cats, err)
	}
}
