package server

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/app"
)

// Limits of the public cache.
const (
	// DefaultPublicCacheBytes is the cache's size unless configured.
	DefaultPublicCacheBytes = 64 << 20
	// publicCacheMaxAge bounds how long an answer is served without being
	// made again, even while the catalog's state seems unchanged: should
	// a listener miss a notification while its connection dies silently,
	// what it serves is at most this old.
	publicCacheMaxAge = 10 * time.Second
	// publicCacheEntries bounds the answers kept, whatever their size.
	publicCacheEntries = 4096
	// gzipMin: smaller JSON answers are not worth compressing.
	gzipMin = 1 << 10
	// fileMin: a body this large or larger that is not JSON (a package)
	// is kept in a file of the cache's folder, when it has one, and sent
	// from there by the kernel (sendfile), not copied out of the heap.
	fileMin = 64 << 10
)

// publicCache keeps the answers anonymous callers get from the public
// read routes (the catalog, a plugin, a released package's bytes), each
// under the catalog's state it was made in, and serves it again while
// that state holds: the same request then costs no query beyond the
// state's (none on PostgreSQL, whose listener counts changes), no
// guard, no JSON encoding and, for a package, no fetch and no hash.
// The guard ran when the answer was made, for the same anonymous caller
// under the same state, so its decision holds for the copy too.
//
// Answers are served with http.ServeContent: an ETag (the handler's, or
// a hash of the body) answers If-None-Match with 304, Range with 206,
// and JSON goes gzip-compressed to those that accept it.
//
// A large answer that is not JSON (a package's bytes) is kept in a file
// of dir, when the cache has one, and each request opens it and sends it
// with http.ServeContent, which hands an *os.File to the connection's
// sendfile: the bytes go from the page cache to the socket without a
// copy through this process, as a static file server sends them. Files
// count against maxBytes as kept bodies do.
type publicCache struct {
	// state is the catalog's state now (app.App.CatalogState).
	state    func(context.Context) (app.CatalogState, error)
	maxBytes int64
	now      func() time.Time
	// dir holds the files of large answers; "" keeps them in memory.
	dir string

	mu      sync.Mutex
	lru     *list.List // of *cachedAnswer, most recently used first
	entries map[string]*list.Element
	size    int64
	// making holds the answers being made, so that a burst of the same
	// request after a change makes the answer once.
	making map[string]*making
}

type making struct {
	done chan struct{}
	ans  *cachedAnswer // nil when the answer was not cacheable
}

// cachedAnswer is one 200 answer, kept whole.
type cachedAnswer struct {
	key    string
	state  app.CatalogState
	made   time.Time
	header http.Header
	body   []byte
	gz     []byte // the body gzip-compressed, for JSON of gzipMin bytes or more
	// file holds the body instead, when it is one of the cache's files
	// (body is then nil); size is its length.
	file string
	size int64
}

func (c *cachedAnswer) bytes() int64 {
	return int64(len(c.body)+len(c.gz)+len(c.key)+512) + c.size
}

// newPublicCache returns a cache of maxBytes that keeps large bodies in
// files of dir ("" keeps them in memory). dir must be private to the
// process: its files are served as they are.
func newPublicCache(state func(context.Context) (app.CatalogState, error), maxBytes int64, dir string, now func() time.Time) *publicCache {
	return &publicCache{state: state, maxBytes: maxBytes, dir: dir, now: now, lru: list.New(), entries: map[string]*list.Element{}, making: map[string]*making{}}
}

// cacheable reports whether r may be answered from the cache: a GET or
// HEAD with no credentials (the API reads none but Authorization). A
// request with a token reads what its caller may, which the cache does
// not know.
func cacheable(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Authorization") == ""
}

// serve answers r from the cache, or makes the answer with route (the
// guarded route, for an anonymous caller) and keeps it when it is a 200
// that fits.
func (c *publicCache) serve(w http.ResponseWriter, r *http.Request, route http.Handler) {
	st, err := c.state(r.Context())
	if err != nil {
		// Without the state nothing kept can be trusted: answer afresh.
		route.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("Range") != "" {
		// A part of an answer (resuming a large download): the route
		// answers it from the package itself.
		route.ServeHTTP(w, r)
		return
	}
	key := r.URL.Path + "?" + r.URL.RawQuery
	for tries := 0; ; tries++ {
		if tries == 3 {
			// The answer's file keeps vanishing (something else removes
			// files from the cache's folder): answer afresh.
			route.ServeHTTP(w, r)
			return
		}
		if ans := c.lookup(key, st); ans != nil {
			if !ans.write(w, r) {
				c.drop(ans) // its file is gone: make it again
				continue
			}
			return
		}
		c.mu.Lock()
		if m, ok := c.making[key]; ok {
			c.mu.Unlock()
			select {
			case <-m.done:
			case <-r.Context().Done():
				return
			}
			if m.ans != nil && m.ans.state == st {
				if !m.ans.write(w, r) {
					c.drop(m.ans)
					continue
				}
				return
			}
			continue // made under another state, or not cacheable: look again
		}
		m := &making{done: make(chan struct{})}
		c.making[key] = m
		c.mu.Unlock()
		// Released however the route ends (a panic included), or every
		// later request for key would wait on it.
		defer func() {
			c.mu.Lock()
			delete(c.making, key)
			c.mu.Unlock()
			close(m.done)
		}()
		m.ans = c.make(w, r, key, st, route)
		return
	}
}

// lookup returns the answer kept for key under st, if it is fresh.
func (c *publicCache) lookup(key string, st app.CatalogState) *cachedAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	ans := el.Value.(*cachedAnswer)
	if ans.state != st || c.now().Sub(ans.made) > publicCacheMaxAge {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	return ans
}

// make runs the route for r without its conditional headers (so that the
// whole 200 comes back; a Range never reaches here), keeps a 200 that
// fits, and answers r from it; anything else goes to w as the route
// wrote it.
func (c *publicCache) make(w http.ResponseWriter, r *http.Request, key string, st app.CatalogState, route http.Handler) *cachedAnswer {
	plain := r.Clone(r.Context())
	for _, h := range []string{"If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		plain.Header.Del(h)
	}
	plain.Method = http.MethodGet
	rec := &recorder{w: w, header: http.Header{}, max: c.maxBytes / 4}
	route.ServeHTTP(rec, plain)
	switch {
	case rec.spilled:
		return nil
	case rec.status == 0:
		rec.status = http.StatusOK
	}
	if rec.status != http.StatusOK {
		rec.replay(w)
		return nil
	}
	ans := &cachedAnswer{key: key, state: st, made: c.now(), header: rec.header, body: rec.body.Bytes()}
	if ans.header.Get("ETag") == "" {
		sum := sha256.Sum256(ans.body)
		ans.header.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	}
	if strings.HasPrefix(ans.header.Get("Content-Type"), "application/json") && len(ans.body) >= gzipMin {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(ans.body)
		if zw.Close() == nil {
			ans.gz = buf.Bytes()
		}
	}
	ans.header.Del("Content-Length") // ServeContent sets it for what it sends
	if ans.header.Get("Cache-Control") == "" {
		// Anyone may keep the catalog, and must ask again (a 304 when
		// nothing changed) before using it: it changes at any time.
		ans.header.Set("Cache-Control", "public, no-cache")
	}
	body := ans.body
	if c.dir != "" && ans.gz == nil && len(body) >= fileMin && ans.bytes() <= c.maxBytes/4 {
		// Later requests are answered from the file; this one from the
		// bytes in hand. Without a file, the bytes stay.
		if name, err := c.writeFile(body); err == nil {
			ans.file, ans.size, ans.body = name, int64(len(body)), nil
		}
	}
	c.keep(ans)
	ans.writeBody(w, r, body)
	return ans
}

// keep stores ans, evicting the least recently used answers beyond the
// byte and count limits; an answer larger than a quarter of the cache is
// not kept.
func (c *publicCache) keep(ans *cachedAnswer) {
	if ans.bytes() > c.maxBytes/4 {
		if ans.file != "" {
			_ = os.Remove(ans.file)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[ans.key]; ok {
		c.remove(el)
	}
	c.entries[ans.key] = c.lru.PushFront(ans)
	c.size += ans.bytes()
	for c.size > c.maxBytes || c.lru.Len() > publicCacheEntries {
		c.remove(c.lru.Back())
	}
}

func (c *publicCache) remove(el *list.Element) {
	ans := c.lru.Remove(el).(*cachedAnswer)
	delete(c.entries, ans.key)
	c.size -= ans.bytes()
	if ans.file != "" {
		// A request sending it has it open, and finishes.
		_ = os.Remove(ans.file)
	}
}

// drop forgets ans if it is still kept.
func (c *publicCache) drop(ans *cachedAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[ans.key]; ok && el.Value.(*cachedAnswer) == ans {
		c.remove(el)
	}
}

// writeFile puts body in a new file of the cache's folder, readable by
// this process's user alone, and returns its name.
func (c *publicCache) writeFile(body []byte) (string, error) {
	f, err := os.CreateTemp(c.dir, "answer-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// write answers r from a kept answer. It returns false, having written
// nothing, when the answer's file is gone.
func (ans *cachedAnswer) write(w http.ResponseWriter, r *http.Request) bool {
	if ans.file == "" {
		ans.writeBody(w, r, ans.body)
		return true
	}
	f, err := os.Open(ans.file)
	if err != nil {
		return false
	}
	defer f.Close()
	ans.setHeader(w, r)
	// An *os.File: the connection sends it with sendfile (the writers in
	// between pass io.ReaderFrom on).
	http.ServeContent(w, r, "", time.Time{}, f)
	return true
}

// writeBody answers r with body, the answer's bytes.
func (ans *cachedAnswer) writeBody(w http.ResponseWriter, r *http.Request, body []byte) {
	if ans.setHeader(w, r) {
		body = ans.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// setHeader copies the answer's header to w, and reports whether the
// gzip-compressed body is the one to send.
func (ans *cachedAnswer) setHeader(w http.ResponseWriter, r *http.Request) (gz bool) {
	h := w.Header()
	for k, v := range ans.header {
		// A copy: the kept header is shared by every request it answers.
		h[k] = append([]string(nil), v...)
	}
	if ans.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			// Another representation, another tag.
			h.Set("ETag", strings.TrimSuffix(ans.header.Get("ETag"), `"`)+`-gzip"`)
			return true
		}
	}
	return false
}

// acceptsGzip reports whether r's Accept-Encoding admits gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

// recorder keeps a route's answer, up to max body bytes; a larger one
// goes on to the client as the route writes it (spilled).
type recorder struct {
	w      http.ResponseWriter // the client, for a spilled answer
	header http.Header
	status int
	body   bytes.Buffer
	max    int64
	// spilled: the answer outgrew max and went to w.
	spilled bool
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.spilled {
		return rec.w.Write(p)
	}
	if int64(rec.body.Len()+len(p)) <= rec.max {
		return rec.body.Write(p)
	}
	rec.spilled = true
	for k, v := range rec.header {
		rec.w.Header()[k] = v
	}
	rec.w.WriteHeader(rec.status)
	if _, err := rec.w.Write(rec.body.Bytes()); err != nil {
		return 0, err
	}
	rec.body = bytes.Buffer{}
	return rec.w.Write(p)
}

// replay writes the recorded answer to w as the route wrote it.
func (rec *recorder) replay(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}
