package storetest

import (
	"context"
	"errors"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store"
)

// hostAPITests are the suite's tests of published host API versions, the
// compatibility matrix and sunset notices.
var hostAPITests = []suiteTest{
	{"HostAPIPublish", testHostAPIPublish},
	{"HostAPICompat", testHostAPICompat},
	{"HostAPINoticesOncePerThreshold", testHostAPINotices},
}

func testHostAPIPublish(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := domain.HostAPIVersion{Version: "1.0.0", Spec: []byte(`{"version":"1.0.0"}`), PublishedBy: "sam", PublishedAt: at(1)}
	if err := s.PublishHostAPI(ctx, old, event(audit.HostAPIPublished, "hostapi:1.0.0", 1)); err != nil {
		t.Fatalf("PublishHostAPI(1.0.0): %v", err)
	}
	nw := domain.HostAPIVersion{Version: "1.1.0", Spec: []byte(`{"version":"1.1.0"}`), Deprecates: "1.0.0", Sunset: at(5000),
		MigrationURL: "https://docs.example.com/move", PublishedBy: "sam", PublishedAt: at(2)}
	if err := s.PublishHostAPI(ctx, nw, event(audit.HostAPIPublished, "hostapi:1.1.0", 2)); err != nil {
		t.Fatalf("PublishHostAPI(1.1.0): %v", err)
	}
	// A published version never changes, and a refused repeat writes no event.
	again := nw
	again.Spec = []byte(`{"version":"1.1.0","changed":true}`)
	if err := s.PublishHostAPI(ctx, again, event(audit.HostAPIPublished, "hostapi:1.1.0", 3)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("publishing 1.1.0 again: %v; want ErrConflict", err)
	}
	got, err := s.GetHostAPI(ctx, "1.1.0")
	if err != nil || string(got.Spec) != `{"version":"1.1.0"}` || got.Deprecates != "1.0.0" || !got.Sunset.Equal(stored(at(5000))) ||
		got.MigrationURL != nw.MigrationURL || got.PublishedBy != "sam" || !got.PublishedAt.Equal(stored(at(2))) {
		t.Fatalf("GetHostAPI(1.1.0) = %+v, %v", got, err)
	}
	if _, err := s.GetHostAPI(ctx, "9.9.9"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetHostAPI(9.9.9): %v; want ErrNotFound", err)
	}
	list, err := s.ListPublishedHostAPIs(ctx)
	if err != nil || len(list) != 2 || list[0].Version != "1.1.0" || list[1].Version != "1.0.0" || !list[1].Sunset.IsZero() {
		t.Fatalf("ListPublishedHostAPIs = %+v, %v; want 1.1.0 then 1.0.0", list, err)
	}
	// Publishing offers the version too.
	offers, err := s.ListHostAPIs(ctx)
	if err != nil || len(offers) != 2 {
		t.Fatalf("ListHostAPIs after publishing = %+v, %v; want both offered", offers, err)
	}
	if len(trail(t, s, "hostapi:1.1.0")) != 1 {
		t.Fatalf("the refused repeat wrote an audit event")
	}
	mustVerify(t, s, 2)
	if err := s.PublishHostAPI(ctx, domain.HostAPIVersion{Version: "2.0.0", PublishedBy: "sam"}, event(audit.HostAPIPublished, "hostapi:2.0.0", 4)); err == nil {
		t.Fatal("a version without capabilities was published")
	}
}

func testHostAPICompat(t *testing.T, s store.Store) {
	ctx := context.Background()
	certifiedVersion(t, s, "v1", "acme/one", "1.0.0")
	certifiedVersion(t, s, "v2", "other/two", "2.0.0")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if err := s.PublishHostAPI(ctx, domain.HostAPIVersion{Version: v, Spec: []byte(`{}`), PublishedBy: "sam", PublishedAt: at(1)},
			event(audit.HostAPIPublished, "hostapi:"+v, 1)); err != nil {
			t.Fatal(err)
		}
	}
	cells := []domain.HostAPICompat{
		{VersionID: "v1", HostAPI: "1.0.0", PluginID: "acme/one", PluginVersion: "1.0.0", Status: "compatible", CheckedAt: at(2)},
		{VersionID: "v1", HostAPI: "1.1.0", PluginID: "acme/one", PluginVersion: "1.0.0", Status: "broken", Usages: []byte(`[{"kind":"function","name":"kv_delete","status":"broken"}]`), CheckedAt: at(2)},
		{VersionID: "v2", HostAPI: "1.1.0", PluginID: "other/two", PluginVersion: "2.0.0", Status: "deprecated", CheckedAt: at(2)},
	}
	if err := s.SaveHostAPICompat(ctx, cells); err != nil {
		t.Fatalf("SaveHostAPICompat: %v", err)
	}
	// A confirmation replaces the cell.
	conf := cells[1]
	conf.Confirmed, conf.Detail, conf.CheckedAt = domain.CompatFailed, "refused to load", at(3)
	if err := s.SaveHostAPICompat(ctx, []domain.HostAPICompat{conf}); err != nil {
		t.Fatalf("SaveHostAPICompat(confirmation): %v", err)
	}
	all, err := s.ListHostAPICompat(ctx, domain.CompatQuery{})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListHostAPICompat = %d cells, %v; want 3", len(all), err)
	}
	if all[0].PluginID != "acme/one" || all[0].HostAPI != "1.0.0" || all[1].HostAPI != "1.1.0" || all[2].PluginID != "other/two" {
		t.Fatalf("cells out of order: %+v", all)
	}
	if c := all[1]; c.Status != "broken" || c.Confirmed != domain.CompatFailed || c.Detail != "refused to load" || !c.CheckedAt.Equal(stored(at(3))) ||
		string(c.Usages) != string(cells[1].Usages) {
		t.Fatalf("the confirmed cell = %+v", c)
	}
	if string(all[2].Usages) != "[]" {
		t.Fatalf("a cell saved without usages reads %q; want []", all[2].Usages)
	}
	for _, tc := range []struct {
		q    domain.CompatQuery
		want int
	}{
		{domain.CompatQuery{HostAPI: "1.1.0"}, 2},
		{domain.CompatQuery{PluginID: "acme/one"}, 2},
		{domain.CompatQuery{Namespace: "other"}, 1},
		{domain.CompatQuery{Namespace: "acm"}, 0}, // a namespace, not a prefix of one
		{domain.CompatQuery{VersionID: "v2", HostAPI: "1.0.0"}, 0},
	} {
		got, err := s.ListHostAPICompat(ctx, tc.q)
		if err != nil || len(got) != tc.want {
			t.Errorf("ListHostAPICompat(%+v) = %d cells, %v; want %d", tc.q, len(got), err, tc.want)
		}
	}
	if _, err := s.ListHostAPICompat(ctx, domain.CompatQuery{Limit: 2}); err == nil {
		t.Error("a query with more cells than its limit did not fail")
	}
	// A cell of an unknown version or host API version is refused.
	bad := cells[0]
	bad.VersionID = "nope"
	if err := s.SaveHostAPICompat(ctx, []domain.HostAPICompat{bad}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a cell of an unknown version: %v; want ErrNotFound", err)
	}
}

func testHostAPINotices(t *testing.T, s store.Store) {
	ctx := context.Background()
	n := domain.HostAPINotice{PluginID: "acme/one", HostAPI: "1.0.0", Threshold: 90, Sunset: at(9000), SentAt: at(10)}
	sent, err := s.RecordHostAPINotice(ctx, n, event(audit.HostAPISunsetNotice, "plugin:acme/one", 10))
	if err != nil || !sent {
		t.Fatalf("RecordHostAPINotice = %v, %v; want sent", sent, err)
	}
	// The same plugin, version and threshold again: nothing sent, nothing audited.
	sent, err = s.RecordHostAPINotice(ctx, n, event(audit.HostAPISunsetNotice, "plugin:acme/one", 11))
	if err != nil || sent {
		t.Fatalf("RecordHostAPINotice again = %v, %v; want not sent", sent, err)
	}
	n30 := n
	n30.Threshold, n30.SentAt = 30, at(20)
	if sent, err := s.RecordHostAPINotice(ctx, n30, event(audit.HostAPISunsetNotice, "plugin:acme/one", 20)); err != nil || !sent {
		t.Fatalf("the 30-day notice = %v, %v; want sent", sent, err)
	}
	other := domain.HostAPINotice{PluginID: "zeta/two", HostAPI: "1.0.0", Threshold: 90, Sunset: at(9000), SentAt: at(15)}
	if sent, err := s.RecordHostAPINotice(ctx, other, event(audit.HostAPISunsetNotice, "plugin:zeta/two", 15)); err != nil || !sent {
		t.Fatalf("another plugin's notice = %v, %v; want sent", sent, err)
	}
	if len(trail(t, s, "plugin:acme/one")) != 2 {
		t.Fatalf("acme/one has %d notice events; want 2", len(trail(t, s, "plugin:acme/one")))
	}
	mine, err := s.ListHostAPINotices(ctx, "acme", 10)
	if err != nil || len(mine) != 2 || mine[0].Threshold != 30 || mine[1].Threshold != 90 || !mine[0].Sunset.Equal(stored(at(9000))) {
		t.Fatalf("ListHostAPINotices(acme) = %+v, %v; want the 30 then the 90-day notice", mine, err)
	}
	all, err := s.ListHostAPINotices(ctx, "", 10)
	if err != nil || len(all) != 3 {
		t.Fatalf("ListHostAPINotices() = %d, %v; want 3", len(all), err)
	}
	if one, err := s.ListHostAPINotices(ctx, "", 1); err != nil || len(one) != 1 {
		t.Fatalf("ListHostAPINotices(limit 1) = %d, %v", len(one), err)
	}
	mustVerify(t, s, 3)
}
