package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"
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
