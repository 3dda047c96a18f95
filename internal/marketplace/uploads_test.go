package marketplace

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentUploadsAreBounded: past the limit an upload is answered
// 429 with Retry-After at once; other requests and later uploads pass.
func TestConcurrentUploadsAreBounded(t *testing.T) {
	hold := make(chan struct{})
	var entered sync.WaitGroup
	h := limitUploads(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			entered.Done()
			<-hold
		}
		w.WriteHeader(http.StatusAccepted)
	}), 2)
	var done sync.WaitGroup
	entered.Add(2)
	for range 2 {
		done.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", submitPath, strings.NewReader("pkg")))
			if rec.Code != http.StatusAccepted {
				t.Errorf("an upload within the limit: %d", rec.Code)
			}
		})
	}
	entered.Wait()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", submitPath, strings.NewReader("pkg")))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "too_many_uploads") {
		t.Errorf("a third upload: %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", submitPath, nil))
	if rec.Code != http.StatusAccepted {
		t.Errorf("a read while uploads are full: %d", rec.Code)
	}
	close(hold)
	done.Wait()
	entered.Add(1)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", submitPath, strings.NewReader("pkg")))
	if rec.Code != http.StatusAccepted {
		t.Errorf("an upload after the others finished: %d", rec.Code)
	}
}
