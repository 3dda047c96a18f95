package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/api"
)

// anonGet is an anonymous GET of path with extra request headers.
func (e *env) anonGet(path string, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.http.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// The transport would add and strip gzip on its own; the tests look
	// at what the server sent.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// certified submits id@1.0.0 as the publisher and takes it to certified;
// it returns the submission.
func (e *env) certified(id, salt string) api.Submission {
	e.t.Helper()
	p := pkg(e.t, id, "1.0.0", salt)
	resp, b := e.submit(e.tokens["publisher"], p)
	if resp.StatusCode != 202 {
		e.t.Fatalf("submit %s: %d %s", id, resp.StatusCode, b)
	}
	var sub api.Submission
	json.Unmarshal(b, &sub)
	e.approve(sub.ID)
	return sub
}

func catalogIDs(t *testing.T, b []byte) []string {
	t.Helper()
	var l api.PluginList
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("the catalog is not JSON: %v\n%s", err, b)
	}
	var ids []string
	for _, p := range l.Plugins {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestCachedCatalogFollowsChanges: an anonymous catalog page answered
// from the public cache is never older than the last change: a new
// certification shows, and a revoked package stops downloading, on the
// very next request.
func TestCachedCatalogFollowsChanges(t *testing.T) {
	e := newEnv(t)
	e.register(e.tokens["publisher"], "acme")
	first := e.certified("acme/first", "one")
	for range 2 { // the second answer comes from the cache
		if resp, b := e.anonGet("/api/v1/plugins"); resp.StatusCode != 200 || strings.Join(catalogIDs(t, b), ",") != "acme/first" {
			t.Fatalf("catalog: %d %s, want acme/first alone", resp.StatusCode, b)
		}
		if resp, _ := e.anonGet("/api/v1/packages/" + first.Digest); resp.StatusCode != 200 {
			t.Fatalf("download of a certified package: %d", resp.StatusCode)
		}
	}
	e.certified("acme/second", "two")
	if _, b := e.anonGet("/api/v1/plugins"); strings.Join(catalogIDs(t, b), ",") != "acme/first,acme/second" {
		t.Errorf("catalog after a second certification: %s", b)
	}
	if resp, b := e.do("POST", "/api/v1/submissions/"+first.ID+"/revoke", e.tokens["steward"], strings.NewReader(`{"reason":"leaks tokens"}`)); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.anonGet("/api/v1/packages/" + first.Digest); resp.StatusCode != 404 {
		t.Errorf("anonymous download of a revoked package after its bytes were cached: %d, want 404", resp.StatusCode)
	}
	if _, b := e.anonGet("/api/v1/plugins"); strings.Join(catalogIDs(t, b), ",") != "acme/second" {
		t.Errorf("catalog after the revocation: %s", b)
	}
}

// TestCachedCatalogIsNotServedToTokenHolders: what the cache keeps is an
// anonymous caller's view; a publisher with a token still lists its own
// plugin in review, and the anonymous view never shows it.
func TestCachedCatalogIsNotServedToTokenHolders(t *testing.T) {
	e := newEnv(t)
	pub := e.tokens["publisher"]
	e.register(pub, "acme")
	e.certified("acme/public", "one")
	if resp, b := e.submit(pub, pkg(t, "acme/draft", "1.0.0", "draft")); resp.StatusCode != 202 {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	for range 2 {
		if _, b := e.anonGet("/api/v1/plugins"); strings.Join(catalogIDs(t, b), ",") != "acme/public" {
			t.Errorf("anonymous catalog: %s", b)
		}
		if _, b := e.do("GET", "/api/v1/plugins", pub, nil); strings.Join(catalogIDs(t, b), ",") != "acme/draft,acme/public" {
			t.Errorf("the publisher's catalog: %s", b)
		}
	}
}

// TestPublicReadsRevalidateAndResume: the catalog and packages carry an
// ETag (a 304 when it still matches) and a Cache-Control; JSON goes
// gzip-compressed to clients that accept it; a package answers a Range
// (a resumed download), with or without a token.
func TestPublicReadsRevalidateAndResume(t *testing.T) {
	e := newEnv(t)
	e.register(e.tokens["publisher"], "acme")
	// Enough plugins that the page is worth compressing.
	var sub api.Submission
	for _, id := range []string{"acme/a", "acme/b", "acme/c", "acme/d", "acme/e", "acme/f", "acme/g", "acme/h"} {
		sub = e.certified(id, id)
	}
	for range 2 { // made, then kept
		resp, plain := e.anonGet("/api/v1/plugins")
		tag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || tag == "" || resp.Header.Get("Cache-Control") != "public, no-cache" {
			t.Fatalf("catalog: %d, ETag %q, Cache-Control %q", resp.StatusCode, tag, resp.Header.Get("Cache-Control"))
		}
		if resp, b := e.anonGet("/api/v1/plugins", "If-None-Match", tag); resp.StatusCode != 304 || len(b) != 0 {
			t.Errorf("catalog with its own ETag: %d, %d bytes; want 304 and no body", resp.StatusCode, len(b))
		}
		resp, gz := e.anonGet("/api/v1/plugins", "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == tag {
			t.Fatalf("catalog for a gzip client: Content-Encoding %q, ETag %q (plain %q)", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), tag)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		if unzipped, err := io.ReadAll(zr); err != nil || !bytes.Equal(unzipped, plain) {
			t.Errorf("the gzip catalog does not decompress to the plain one: %v", err)
		}
	}

	want, err := e.st.GetVersion(t.Context(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"", e.tokens["reviewer"]} {
		for range 2 {
			req := func(header ...string) (*http.Response, []byte) {
				if token == "" {
					return e.anonGet("/api/v1/packages/"+sub.Digest, header...)
				}
				return e.doHeader("GET", "/api/v1/packages/"+sub.Digest, token, nil, header[0], header[1])
			}
			resp, whole := req("Accept-Encoding", "identity")
			if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+sub.Digest+`"` || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
				t.Fatalf("download (token %v): %d, ETag %q, Cache-Control %q", token != "", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
			}
			if int64(len(whole)) != want.Size {
				t.Fatalf("download: %d bytes, want %d", len(whole), want.Size)
			}
			resp, part := req("Range", "bytes=10-19")
			if resp.StatusCode != 206 || !bytes.Equal(part, whole[10:20]) {
				t.Errorf("download of bytes 10-19 (token %v): %d, %q; want 206 and those bytes", token != "", resp.StatusCode, part)
			}
			if resp, _ := req("If-None-Match", `"`+sub.Digest+`"`); resp.StatusCode != 304 {
				t.Errorf("download with the digest as If-None-Match (token %v): %d, want 304", token != "", resp.StatusCode)
			}
		}
	}
}

// TestPublicCacheUnderConcurrentReaders: many anonymous readers at once,
// while a certification changes the catalog under them, each get a whole
// answer that is either the page before the change or the page after it.
func TestPublicCacheUnderConcurrentReaders(t *testing.T) {
	e := newEnv(t)
	e.register(e.tokens["publisher"], "acme")
	first := e.certified("acme/first", "one")
	before, after := "acme/first", "acme/first,acme/second"
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				resp, b := e.anonGet("/api/v1/plugins", "Accept-Encoding", "identity")
				if got := strings.Join(catalogIDs(t, b), ","); resp.StatusCode != 200 || (got != before && got != after) {
					t.Errorf("catalog: %d %q", resp.StatusCode, got)
					return
				}
				if resp, _ := e.anonGet("/api/v1/packages/" + first.Digest); resp.StatusCode != 200 {
					t.Errorf("download: %d", resp.StatusCode)
					return
				}
			}
		})
	}
	e.certified("acme/second", "two")
	close(done)
	wg.Wait()
	if _, b := e.anonGet("/api/v1/plugins"); strings.Join(catalogIDs(t, b), ",") != after {
		t.Errorf("catalog after the readers: %s", b)
	}
}
