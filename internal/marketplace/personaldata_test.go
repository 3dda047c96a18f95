package marketplace_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
)

// TestDeletedAdminTokenFileDoesNotMintAnotherAdmin guards the admin
// bootstrap: once the installation has made its first admin token,
// deleting admin.token (someone with access to the data folder) and
// restarting, or restarting after the retention purge deleted that
// token, makes no new admin token; only the first start of a database
// does.
func TestDeletedAdminTokenFileDoesNotMintAnotherAdmin(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m := open(t, data, "")
	path, err := m.EnsureAdminToken(ctx)
	if err != nil || path == "" {
		t.Fatalf("first start: EnsureAdminToken = %q, %v; want the first admin token", path, err)
	}
	// The first admin token expires and is purged, as the retention
	// purge does once it ended before the cut-off.
	toks, err := m.Store.ListTokens(ctx)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens = %+v, %v", toks, err)
	}
	if err := m.Store.RevokeToken(ctx, toks[0].ID, time.Now().Add(-time.Hour), audit.Event{Actor: "system", Action: audit.TokenRevoke, Subject: "token:" + toks[0].ID}); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Store.PurgeTokens(ctx, time.Now(), 10, audit.Event{Actor: "system", Action: audit.TokenPurge, Subject: "tokens"}); err != nil || n != 1 {
		t.Fatalf("PurgeTokens = %d, %v", n, err)
	}
	m.Close()
	if err := os.Remove(filepath.Join(data, marketplace.AdminTokenFile)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		m := open(t, data, "")
		path, err := m.EnsureAdminToken(ctx)
		toks, lerr := m.Store.ListTokens(ctx)
		m.Close()
		if err != nil || path != "" || lerr != nil || len(toks) != 0 {
			t.Fatalf("restart %d without admin.token: EnsureAdminToken = %q, %v; tokens %+v, %v; want no new admin", i+1, path, err, toks, lerr)
		}
		if _, err := os.Stat(filepath.Join(data, marketplace.AdminTokenFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("restart %d wrote %s: %v", i+1, marketplace.AdminTokenFile, err)
		}
	}
}

// TestProcessWithAnotherRetentionRefusesToStart: the first start records
// the retention in the database; a process given another one refuses to
// start naming both values and the fix; one given none adopts the
// database's; --change-personal-data-retention changes it, recorded in the
// trail.
func TestProcessWithAnotherRetentionRefusesToStart(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	start := func(d time.Duration, change bool) (*marketplace.Marketplace, error) {
		return marketplace.Open(ctx, marketplace.Config{Data: data, PersonalDataRetention: d, ChangePersonalDataRetention: change})
	}
	m, err := start(400*24*time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	_, err = start(30*24*time.Hour, false)
	if err == nil {
		t.Fatal("a process with --personal-data-retention 30d started on a database that keeps 400d")
	}
	for _, want := range []string{"30d", "400d", "--personal-data-retention 400d", "--change-personal-data-retention"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if m, err = start(0, false); err != nil {
		t.Fatalf("a process without the flag did not adopt the database's retention: %v", err)
	}
	m.Close()
	if m, err = start(30*24*time.Hour, true); err != nil {
		t.Fatalf("changing the retention: %v", err)
	}
	defer m.Close()
	v, _, err := m.Store.Setting(ctx, "personal-data-retention")
	if err != nil || v != "30d" {
		t.Fatalf("the database's retention after the change = %q, %v; want 30d", v, err)
	}
	var sets []audit.Event
	if err := m.Store.ScanAudit(ctx, domain.AuditQuery{Subject: "setting:personal-data-retention"}, func(e audit.Event) error {
		sets = append(sets, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].NewState != "400d" || sets[1].OldState != "400d" || sets[1].NewState != "30d" {
		t.Fatalf("retention events = %+v; want the first record (400d) and the change (400d to 30d)", sets)
	}
}
