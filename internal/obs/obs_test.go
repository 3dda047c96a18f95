package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
)

func TestMiddlewareLabelsByPatternAndLogsRequestIDs(t *testing.T) {
	t.Parallel()
	m := New()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		// A handler's own log line carries the request id too.
		slog.New(LogHandler(log.Handler())).InfoContext(r.Context(), "handler saw", "id", r.PathValue("id"))
		w.WriteHeader(http.StatusTeapot)
	})
	h := m.Middleware(mux, log)
	for _, path := range []string{"/items/1", "/items/2", "/nowhere"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(RequestIDHeader, "abc-123")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get(RequestIDHeader); got != "abc-123" {
			t.Errorf("%s: echoed request id %q", path, got)
		}
	}
	if n := testutil.ToFloat64(m.httpRequests.WithLabelValues("GET", "GET /items/{id}", "418")); n != 2 {
		t.Errorf("requests for the pattern = %v, want 2 (one label for both ids)", n)
	}
	if n := testutil.ToFloat64(m.httpRequests.WithLabelValues("GET", "unmatched", "404")); n != 1 {
		t.Errorf("unmatched requests = %v, want 1", n)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 5 { // 2 handler lines + 3 request lines
		t.Fatalf("log has %d lines:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["request_id"] != "abc-123" {
			t.Errorf("log line without the request id: %s", l)
		}
		if strings.Count(l, "request_id") != 1 {
			t.Errorf("request id logged twice: %s", l)
		}
	}
}

func TestRequestIDGeneratedWhenMissingOrUnsafe(t *testing.T) {
	t.Parallel()
	h := New().Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(RequestID(r.Context())))
	}), nil)
	seen := map[string]bool{}
	for _, in := range []string{"", "has space", "new\nline", strings.Repeat("a", MaxRequestIDLen+1)} {
		req := httptest.NewRequest("GET", "/", nil)
		if in != "" {
			req.Header.Set(RequestIDHeader, in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(RequestIDHeader)
		if got == in || !ValidRequestID(got) || rec.Body.String() != got {
			t.Errorf("incoming %q: answered %q, handler saw %q", in, got, rec.Body.String())
		}
		if seen[got] {
			t.Errorf("request id %q generated twice", got)
		}
		seen[got] = true
	}
}

func TestObserveVetRun(t *testing.T) {
	t.Parallel()
	m := New()
	m.ObserveVetRun([]vet.Result{
		{Analyzer: "secrets", Status: vet.Failed, Duration: 20 * time.Millisecond},
		{Analyzer: "licenses", Status: vet.Passed, Duration: time.Millisecond},
		{Analyzer: "rebuild", Status: vet.Skipped},
	}, true)
	m.ObserveVetRun([]vet.Result{{Analyzer: "secrets", Status: vet.Passed, Duration: time.Millisecond}}, false)
	if n := testutil.ToFloat64(m.analyzerResults.WithLabelValues("secrets", "failed")); n != 1 {
		t.Errorf("secrets failed = %v", n)
	}
	if n := testutil.ToFloat64(m.vetRuns.WithLabelValues("true")); n != 1 {
		t.Errorf("blocked runs = %v", n)
	}
	if n := testutil.CollectAndCount(m.analyzerDuration); n != 2 {
		t.Errorf("duration series = %d, want 2 (skipped results take no time)", n)
	}
}

func TestQueueCollectorCachesAndSurvivesErrors(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	reads := 0
	var fail error
	c := NewQueueCollector(func(ctx context.Context, at time.Time) (domain.QueueStats, error) {
		reads++
		if fail != nil {
			return domain.QueueStats{}, fail
		}
		return domain.QueueStats{Open: 3, Overdue: 1, OldestCreated: at.Add(-time.Hour)}, nil
	})
	c.Now = func() time.Time { return now }
	m := New()
	m.Registerer().MustRegister(c)
	h := m.Handler()
	scrape := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	out := scrape()
	for _, want := range []string{"gatehouse_queue_review_open 3", "gatehouse_queue_review_overdue 1", "gatehouse_queue_review_oldest_age_seconds 3600", "gatehouse_queue_read_ok 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	scrape()
	if reads != 1 {
		t.Errorf("two scrapes within the TTL read the store %d times", reads)
	}
	now = now.Add(time.Minute)
	fail = errors.New("database down")
	out = scrape()
	if reads != 2 || !strings.Contains(out, "gatehouse_queue_read_ok 0") || !strings.Contains(out, "gatehouse_queue_review_open 3") {
		t.Errorf("after a failed read: reads %d, scrape:\n%s", reads, out)
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	a.ObserveVetRun(nil, true)
	if n := testutil.ToFloat64(b.vetRuns.WithLabelValues("true")); n != 0 {
		t.Errorf("a second registry saw the first's run: %v", n)
	}
}

// FuzzRequestID: an incoming id is kept only when it is safe to log, and
// the answer always carries a safe id.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc-123", "a b", "x\ny", strings.Repeat("z", 70), "trace:1.2_3"} {
		f.Add(s)
	}
	h := New().Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil)
	f.Fuzz(func(t *testing.T, in string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["X-Request-Id"] = []string{in}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get(RequestIDHeader)
		if !ValidRequestID(out) {
			t.Fatalf("answered with unsafe id %q", out)
		}
		if ValidRequestID(in) != (out == in) {
			t.Fatalf("in %q (valid %v), out %q", in, ValidRequestID(in), out)
		}
	})
}

func TestSnapshotCachesAndReportsFailures(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	reads := 0
	var fail error
	s := NewSnapshot("thing", []Gauge{{Name: "due", Help: "Due things."}}, func(ctx context.Context, at time.Time) (map[string]float64, error) {
		reads++
		return map[string]float64{"due": float64(reads)}, fail
	})
	s.Now = func() time.Time { return now }
	m := New()
	m.Registerer().MustRegister(s)
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	if out := scrape(); !strings.Contains(out, "gatehouse_thing_due 1") || !strings.Contains(out, "gatehouse_thing_read_ok 1") {
		t.Fatalf("first scrape:\n%s", out)
	}
	if out := scrape(); !strings.Contains(out, "gatehouse_thing_due 1") || reads != 1 {
		t.Errorf("a scrape within the TTL read again (%d reads)", reads)
	}
	now = now.Add(time.Minute)
	fail = errors.New("down")
	if out := scrape(); !strings.Contains(out, "gatehouse_thing_due 1") || !strings.Contains(out, "gatehouse_thing_read_ok 0") {
		t.Errorf("after a failed read the last good figure and read_ok 0 should show:\n%s", out)
	}
}
