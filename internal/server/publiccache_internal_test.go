package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
)

// TestPublicCacheStaysWithinItsBytes: however many answers are kept, the
// cache holds at most its size, and an answer larger than a quarter of it
// is not kept at all.
func TestPublicCacheStaysWithinItsBytes(t *testing.T) {
	const max = 64 << 10
	c := newPublicCache(nil, max, time.Now)
	for i := range 1000 {
		c.keep(&cachedAnswer{key: fmt.Sprintf("/api/v1/plugins?offset=%d", i), header: http.Header{}, body: make([]byte, 1000+i%3000)})
		if c.size > max {
			t.Fatalf("after %d answers the cache holds %d bytes, more than its %d", i+1, c.size, max)
		}
	}
	if c.lru.Len() != len(c.entries) || c.lru.Len() == 0 {
		t.Fatalf("%d answers in the list, %d in the map", c.lru.Len(), len(c.entries))
	}
	c.keep(&cachedAnswer{key: "/big", header: http.Header{}, body: make([]byte, max/4)})
	if _, ok := c.entries["/big"]; ok {
		t.Error("an answer of a quarter of the cache was kept")
	}
}

// TestPublicCacheSurvivesAPanickingRoute: a route that panics while it
// makes an answer (a client gone mid-download aborts with
// http.ErrAbortHandler) leaves no request behind it waiting forever.
func TestPublicCacheSurvivesAPanickingRoute(t *testing.T) {
	c := newPublicCache(func(context.Context) (app.CatalogState, error) { return app.CatalogState{}, nil }, 1<<20, time.Now)
	calls := 0
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"plugins":[]}`))
	})
	func() {
		defer func() { recover() }()
		c.serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/plugins", nil), route)
	}()
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		c.serve(w, httptest.NewRequest("GET", "/api/v1/plugins", nil), route)
		done <- w
	}()
	select {
	case w := <-done:
		if w.Code != 200 || w.Body.String() != `{"plugins":[]}` {
			t.Fatalf("after the panic: %d %q", w.Code, w.Body.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request after a panicking route still waits for it")
	}
}
