package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
)

// TestPublicCacheStaysWithinItsBytes: however many answers are kept, the
// cache holds at most its size, and an answer larger than a quarter of it
// is not kept at all.
func TestPublicCacheStaysWithinItsBytes(t *testing.T) {
	const max = 64 << 10
	c := newPublicCache(nil, max, "", time.Now)
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
	c := newPublicCache(func(context.Context) (app.CatalogState, error) { return app.CatalogState{}, nil }, 1<<20, "", time.Now)
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

// TestPublicCacheSendsLargeAnswersFromFiles: a package's bytes are kept in
// a file of the cache's folder and answered from it exactly as from
// memory (the bytes, the route's headers, a 304 for its tag, HEAD), an
// answer that leaves the cache takes its file with it, and a file removed
// behind the cache's back is made again, not served broken.
func TestPublicCacheSendsLargeAnswersFromFiles(t *testing.T) {
	dir := t.TempDir()
	body := make([]byte, fileMin+12345)
	for i := range body {
		body[i] = byte(i * 7)
	}
	const path = "/api/v1/packages/sha256:00"
	routed := 0
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routed++
		w.Header().Set("Content-Type", "application/vnd.gatehouse.package+gzip")
		w.Header().Set("ETag", `"sha256:00"`)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Write(body)
	})
	c := newPublicCache(func(context.Context) (app.CatalogState, error) { return app.CatalogState{}, nil }, 1<<20, dir, time.Now)
	files := func() []string {
		t.Helper()
		names, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	get := func(method string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		c.serve(w, r, route)
		return w
	}

	for i := range 3 {
		w := get("GET")
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), body) {
			t.Fatalf("request %d: %d, %d bytes; want 200 and the package's %d", i, w.Code, w.Body.Len(), len(body))
		}
		if got := w.Header().Get("ETag"); got != `"sha256:00"` {
			t.Errorf("request %d: ETag %q", i, got)
		}
		if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(body)) {
			t.Errorf("request %d: Content-Length %q", i, got)
		}
		if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("request %d: Cache-Control %q", i, got)
		}
	}
	if routed != 1 {
		t.Errorf("the route ran %d times for three requests, want once", routed)
	}
	if f := files(); len(f) != 1 {
		t.Fatalf("files in the cache's folder: %v, want one", f)
	} else if b, _ := os.ReadFile(f[0]); !bytes.Equal(b, body) {
		t.Fatal("the kept file does not hold the answer's bytes")
	}
	if ans := c.entries[path+"?"].Value.(*cachedAnswer); ans.body != nil || ans.file == "" {
		t.Error("the answer's bytes are still held in memory beside its file")
	}
	if w := get("GET", "If-None-Match", `"sha256:00"`); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match with its tag: %d, %d bytes; want 304 and none", w.Code, w.Body.Len())
	}
	if w := get("HEAD"); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}

	// Removed behind the cache's back: made again from the route.
	for _, f := range files() {
		os.Remove(f)
	}
	if w := get("GET"); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), body) {
		t.Fatalf("after its file vanished: %d, %d bytes", w.Code, w.Body.Len())
	}
	if routed != 2 {
		t.Errorf("the route ran %d times, want twice (once more after the file vanished)", routed)
	}

	// Evicted: the file goes too.
	c.mu.Lock()
	for c.lru.Len() > 0 {
		c.remove(c.lru.Back())
	}
	c.mu.Unlock()
	if f := files(); len(f) != 0 {
		t.Errorf("files left after every answer left the cache: %v", f)
	}
}

// TestPublicCacheFilesStayWithinItsBytes: answers kept in files count
// against the cache's size, and one refused for its size leaves no file.
func TestPublicCacheFilesStayWithinItsBytes(t *testing.T) {
	dir := t.TempDir()
	const max = 1 << 20
	c := newPublicCache(func(context.Context) (app.CatalogState, error) { return app.CatalogState{}, nil }, max, dir, time.Now)
	size := 0
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(make([]byte, size))
	})
	for i := range 40 {
		size = fileMin + i*1000
		c.serve(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/api/v1/packages/%d", i), nil), route)
		if c.size > max {
			t.Fatalf("after %d answers the cache counts %d bytes, more than its %d", i+1, c.size, max)
		}
	}
	var onDisk int64
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk > max || len(names) != c.lru.Len() {
		t.Errorf("%d files of %d bytes on disk for %d answers kept (cache size %d)", len(names), onDisk, c.lru.Len(), max)
	}
	size = max / 4
	c.serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/packages/big", nil), route)
	if after, _ := filepath.Glob(filepath.Join(dir, "*")); len(after) != len(names) {
		t.Errorf("an answer too large to keep left a file: %d files, had %d", len(after), len(names))
	}
}
