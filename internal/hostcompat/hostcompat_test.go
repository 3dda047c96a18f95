package hostcompat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/store/sqlstore"
	"gatehouse.dev/gatehouse/pkgfile"
)

func TestDueThreshold(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tc := range []struct {
		left time.Duration
		want int
	}{
		{120 * day, 0}, {91 * day, 0}, {90 * day, 90}, {89*day + time.Hour, 90}, {31 * day, 90},
		{30 * day, 30}, {8 * day, 30}, {7 * day, 7}, {time.Hour, 7}, {0, 0}, {-day, 0},
	} {
		if got := DueThreshold(tc.left); got != tc.want {
			t.Errorf("DueThreshold(%v) = %d, want %d", tc.left, got, tc.want)
		}
	}
}

// icsLines checks an iCalendar body's physical lines as RFC 5545 section
// 3.1 says (CRLF ends, at most 75 octets, folds with one space and never
// inside a UTF-8 sequence) and unfolds them.
func icsLines(t *testing.T, body []byte) []string {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		t.Fatal("the feed does not end with CRLF")
	}
	var out []string
	for i, l := range strings.Split(strings.TrimSuffix(string(body), "\r\n"), "\r\n") {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d holds a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 75 {
			t.Fatalf("line %d is %d octets: %q", i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Fatalf("line %d splits a UTF-8 sequence: %q", i+1, l)
		}
		if strings.HasPrefix(l, " ") {
			if len(out) == 0 {
				t.Fatal("the feed starts with a continuation")
			}
			out[len(out)-1] += l[1:]
			continue
		}
		out = append(out, l)
	}
	return out
}

// unescape reads an RFC 5545 TEXT value, refusing what TEXT may not hold.
func unescape(t *testing.T, v string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			switch v[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			case '\\', ';', ',':
				b.WriteByte(v[i])
			default:
				t.Fatalf("bad escape \\%c in %q", v[i], v)
			}
		case c == ';' || c == ',' || c == '\\':
			t.Fatalf("unescaped %q in TEXT %q", c, v)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestICSParses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	entries := []Entry{
		{HostAPI: "1.0.0", ReplacedBy: "1.1.0", Sunset: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), MigrationURL: "https://docs.example.com/host-api/1.1?from=1.0,x;y",
			Affected: []Affected{{PluginID: "acme/hello", Versions: []string{"1.0.0 (broken)", "1.1.0 (deprecated)"}}, {PluginID: "ünïcödé/plügin", Versions: []string{strings.Repeat("é", 60) + " (broken)"}}}},
		{HostAPI: "1.1.0", ReplacedBy: "2.0.0", Sunset: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	lines := icsLines(t, ICS(entries, now, "plugins.example.com", "https://plugins.example.com/host-api/calendar"))
	type prop struct{ name, params, value string }
	var events []map[string]prop
	var cal map[string]prop
	var stack []string
	for _, l := range lines {
		nameParams, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("a content line without a colon: %q", l)
		}
		name, params, _ := strings.Cut(nameParams, ";")
		switch name {
		case "BEGIN":
			stack = append(stack, value)
			if value == "VEVENT" {
				events = append(events, map[string]prop{})
			} else {
				cal = map[string]prop{}
			}
			continue
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != value {
				t.Fatalf("END:%s does not close %v", value, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		p := prop{name, params, value}
		if stack[len(stack)-1] == "VEVENT" {
			events[len(events)-1][name] = p
		} else {
			cal[name] = p
		}
	}
	if len(stack) != 0 || cal["VERSION"].value != "2.0" || cal["PRODID"].value == "" || cal["METHOD"].value != "PUBLISH" {
		t.Fatalf("calendar properties %v, open components %v", cal, stack)
	}
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	ev := events[0]
	for _, req := range []string{"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION"} {
		if _, ok := ev[req]; !ok {
			t.Fatalf("the event has no %s: %v", req, ev)
		}
	}
	if ev["UID"].value != "hostapi-1.0.0-sunset@plugins.example.com" || ev["DTSTAMP"].value != "20261206T150405Z" ||
		ev["DTSTART"].params != "VALUE=DATE" || ev["DTSTART"].value != "20270630" || ev["DTEND"].value != "20270701" {
		t.Fatalf("event = %v", ev)
	}
	if ev["URL"].value != entries[0].MigrationURL || events[1]["URL"].value != "https://plugins.example.com/host-api/calendar" {
		t.Fatalf("URLs %q, %q", ev["URL"].value, events[1]["URL"].value)
	}
	if got := unescape(t, ev["SUMMARY"].value); got != "Host API 1.0.0 sunsets (replaced by 1.1.0)" {
		t.Fatalf("summary %q", got)
	}
	desc := unescape(t, ev["DESCRIPTION"].value)
	for _, want := range []string{"Migration notes: " + entries[0].MigrationURL, "\n- acme/hello: 1.0.0 (broken), 1.1.0 (deprecated)", "ünïcödé/plügin: " + strings.Repeat("é", 60)} {
		if !strings.Contains(desc, want) {
			t.Fatalf("description %q does not hold %q", desc, want)
		}
	}
	// The same calendar fetched twice has the same UIDs, so calendar
	// applications update events rather than duplicate them.
	again := icsLines(t, ICS(entries, now.Add(time.Hour), "plugins.example.com", ""))
	if !strings.Contains(strings.Join(again, "\n"), "UID:hostapi-1.0.0-sunset@plugins.example.com") {
		t.Fatal("the UID changed between fetches")
	}
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type noPackages struct{}

func (noPackages) LoadPackage(context.Context, string) (*pkgfile.Package, error) {
	return nil, fmt.Errorf("no package store in this test")
}

func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// certify stores a version and walks it to certified.
func certify(t *testing.T, st *sqlstore.Store, id, plugin, ver string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	v := domain.Version{ID: id, PluginID: plugin, Version: ver, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(id))), Size: 1,
		Manifest: []byte(fmt.Sprintf(`{"id":%q,"version":%q}`, plugin, ver)), Submitter: "alice", State: lifecycle.Received, Reason: "received", CreatedAt: at, UpdatedAt: at}
	if _, _, err := st.CreateVersion(ctx, v, []audit.Event{{Time: at, Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil {
		t.Fatal(err)
	}
	from := lifecycle.Received
	for _, to := range []lifecycle.State{lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved, lifecycle.Certified} {
		if err := st.Transition(ctx, id, from, to, "test", audit.Event{Time: at, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
		from = to
	}
}

func capsFile(t *testing.T, drop string) []byte {
	t.Helper()
	s := hostapi.Current()
	var b strings.Builder
	b.WriteString(`{"functions":[`)
	n := 0
	for _, f := range s.Functions {
		if f.Name == drop {
			continue
		}
		if n > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":%q}`, f.Name)
		n++
	}
	b.WriteString(`],"capabilities":[`)
	for i, c := range s.Capabilities {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":%q}`, c.Name)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func TestPublishRefusesMistakes(t *testing.T) {
	st := newStore(t)
	clk := &clock{now: time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)}
	s, err := New(Config{Store: st, Packages: noPackages{}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	if _, err := s.Publish(ctx, PublishRequest{Version: "1.0.0", Capabilities: capsFile(t, ""), Actor: "sam"}); err != nil {
		t.Fatalf("publishing 1.0.0: %v", err)
	}
	future := clk.Now().AddDate(0, 6, 0)
	for _, tc := range []struct {
		name string
		req  PublishRequest
		want string
	}{
		{"not semver", PublishRequest{Version: "v2", Capabilities: capsFile(t, "")}, "not a semantic version"},
		{"a bad capabilities file", PublishRequest{Version: "1.1.0", Capabilities: []byte(`{"functions":[]}`)}, "lists no functions"},
		{"published already", PublishRequest{Version: "1.0.0", Capabilities: capsFile(t, "")}, "published already"},
		{"deprecates an unpublished version", PublishRequest{Version: "1.1.0", Capabilities: capsFile(t, ""), Deprecates: "0.9.0"}, "publish it first"},
		{"deprecates a newer version", PublishRequest{Version: "0.9.0", Capabilities: capsFile(t, ""), Deprecates: "1.0.0"}, "is not older"},
		{"a sunset in the past", PublishRequest{Version: "1.1.0", Capabilities: capsFile(t, ""), Deprecates: "1.0.0", Sunset: clk.Now().AddDate(0, 0, -1)}, "not in the future"},
		{"a sunset without a deprecation", PublishRequest{Version: "1.1.0", Capabilities: capsFile(t, ""), Sunset: future}, "add --deprecates OLD"},
		{"migration notes that are not a URL", PublishRequest{Version: "1.1.0", Capabilities: capsFile(t, ""), Deprecates: "1.0.0", Sunset: future, MigrationURL: "javascript:alert(1)"}, "not an http(s) URL"},
		{"migration notes with credentials", PublishRequest{Version: "1.1.0", Capabilities: capsFile(t, ""), Deprecates: "1.0.0", Sunset: future, MigrationURL: "https://u:p@docs.example.com"}, "without credentials"},
	} {
		tc.req.Actor = "sam"
		if _, err := s.Publish(ctx, tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error saying %q", tc.name, err, tc.want)
		}
	}
	pubs, err := s.Published(ctx)
	if err != nil || len(pubs) != 1 {
		t.Fatalf("a refused publication was recorded: %+v, %v", pubs, err)
	}
}

// TestSunsetNoticesOncePerThreshold walks a clock towards a sunset and
// runs the notice job (through the job queue) many times: each affected
// plugin gets one notice per threshold, an unaffected one none.
func TestSunsetNoticesOncePerThreshold(t *testing.T) {
	st := newStore(t)
	start := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	clk := &clock{now: start}
	s, err := New(Config{Store: st, Packages: noPackages{}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	certify(t, st, "v1", "acme/one", "1.0.0", start)
	certify(t, st, "v2", "acme/two", "1.0.0", start)
	sunset := start.AddDate(0, 0, 100)
	for _, p := range []PublishRequest{
		{Version: "1.0.0", Capabilities: capsFile(t, "")},
		{Version: "1.1.0", Capabilities: capsFile(t, "kv_delete"), Deprecates: "1.0.0", Sunset: sunset, MigrationURL: "https://docs.example.com/move"},
	} {
		p.Actor = "sam"
		if _, err := s.Publish(ctx, p); err != nil {
			t.Fatalf("publishing %s: %v", p.Version, err)
		}
	}
	// The packages are not readable here, so the cells come as a
	// revalidation would write them: acme/one imports kv_delete.
	if err := st.SaveHostAPICompat(ctx, []domain.HostAPICompat{
		{VersionID: "v1", HostAPI: "1.1.0", PluginID: "acme/one", PluginVersion: "1.0.0", Status: hostapi.Broken, CheckedAt: start},
		{VersionID: "v2", HostAPI: "1.1.0", PluginID: "acme/two", PluginVersion: "1.0.0", Status: hostapi.Compatible, CheckedAt: start},
	}); err != nil {
		t.Fatal(err)
	}
	cal, err := s.Calendar(ctx, "")
	if err != nil || len(cal) != 1 || cal[0].HostAPI != "1.0.0" || cal[0].ReplacedBy != "1.1.0" || len(cal[0].Affected) != 1 || cal[0].Affected[0].PluginID != "acme/one" {
		t.Fatalf("Calendar = %+v, %v", cal, err)
	}
	for _, step := range []struct {
		daysLeft int
		want     []int // thresholds sent so far, newest first
	}{
		{100, nil}, {91, nil}, {90, []int{90}}, {60, []int{90}}, {30, []int{30, 90}}, {29, []int{30, 90}},
		{7, []int{7, 30, 90}}, {1, []int{7, 30, 90}}, {-1, []int{7, 30, 90}},
	} {
		clk.set(sunset.AddDate(0, 0, -step.daysLeft))
		for range 2 {
			if err := s.Tick(ctx); err != nil {
				t.Fatalf("%d days before: %v", step.daysLeft, err)
			}
		}
		ns, err := st.ListHostAPINotices(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, n := range ns {
			if n.PluginID != "acme/one" || n.HostAPI != "1.0.0" {
				t.Fatalf("a notice for %s about %s", n.PluginID, n.HostAPI)
			}
			got = append(got, n.Threshold)
		}
		if fmt.Sprint(got) != fmt.Sprint(step.want) && !(len(got) == 0 && len(step.want) == 0) {
			t.Fatalf("%d days before the sunset: notices %v, want %v", step.daysLeft, got, step.want)
		}
	}
	var evs []audit.Event
	if err := st.ScanAudit(ctx, domain.AuditQuery{Subject: "plugin:acme/one"}, func(e audit.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Action != audit.HostAPISunsetNotice || !strings.Contains(evs[0].Reason, "https://docs.example.com/move") ||
		!strings.Contains(evs[0].Reason, "host API 1.0.0 sunsets on 2027-04-14") {
		t.Fatalf("notice events = %+v", evs)
	}
}
