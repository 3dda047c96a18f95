package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/server"
	"gatehouse.dev/gatehouse/trust"
)

// slowUpload starts an upload of p as token whose body stops after its
// first bytes until release is closed; it returns the answer's status
// and error code once the server answers. The request asks to continue
// (Expect: 100-continue) and waits for the server's go-ahead before it
// sends a byte, so an upload the server refuses without reading (429)
// is answered at once instead of the server waiting for its body.
func (e *env) slowUpload(token string, p []byte, release <-chan struct{}) <-chan [2]string {
	e.t.Helper()
	env, err := intake.Sign(context.Background(), e.key, p)
	if err != nil {
		e.t.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(p[:16])
		<-release
		pw.Write(p[16:])
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/submissions", pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	done := make(chan [2]string, 1)
	go func() {
		defer client.CloseIdleConnections()
		resp, err := client.Do(req)
		if err != nil {
			done <- [2]string{"error", err.Error()}
			return
		}
		defer resp.Body.Close()
		var body api.Error
		json.NewDecoder(resp.Body).Decode(&body)
		done <- [2]string{resp.Status, body.Error.Code}
	}()
	return done
}

// TestUploadSlotsAreTakenAfterAuthentication guards the upload limit's
// place: it sits behind authentication, so an anonymous request is told
// 401 (not 429, which said the server is busy to anyone) and never holds
// a slot, while a publisher past the limit gets 429 with Retry-After.
func TestUploadSlotsAreTakenAfterAuthentication(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxConcurrentUploads = 1 })
	e.register(e.tokens["publisher"], "acme")
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	// A failure below must not leave the slow upload holding the server
	// open for the cleanup to wait on.
	defer free()
	slow := pkg(t, "acme/slow", "1.0.0", "a")
	first := e.slowUpload(e.tokens["publisher"], slow, release)
	// Wait until the first upload holds the slot: a second one is refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case got := <-first:
			if got[0] != "429 Too Many Requests" {
				t.Fatalf("the slow upload ended before it was let go on: %v", got)
			}
			// A probe below held the slot when the slow upload came:
			// it starts again.
			first = e.slowUpload(e.tokens["publisher"], slow, release)
		default:
		}
		resp, b := e.submit(e.tokens["publisher"], pkg(t, "acme/other", "1.0.0", "b"))
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "too_many_uploads") {
				t.Fatalf("429 without Retry-After or code: %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow upload never held the slot: last answer %d %s", resp.StatusCode, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tok := range []string{"", "gh_not-a-token"} {
		resp, b := e.do("POST", "/api/v1/submissions", tok, bytes.NewReader([]byte("package")))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an anonymous upload (token %q) while the slots are full: %d %s, want 401", tok, resp.StatusCode, b)
		}
	}
	free()
	if got := <-first; got[0] != "202 Accepted" {
		t.Fatalf("the slow upload, once finished: %v", got)
	}
	// A package not sent before (a probe above may have been accepted).
	if resp, b := e.submit(e.tokens["publisher"], pkg(t, "acme/after", "1.0.0", "c")); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("an upload after the slot was freed: %d %s", resp.StatusCode, b)
	}
}

// TestStalledUploadIsCutOff guards the slots against a client that
// starts an upload and stops sending: past the upload timeout it is
// answered 408 with what to do, nothing is kept, and its slot is free.
func TestStalledUploadIsCutOff(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.MaxConcurrentUploads = 1
		c.UploadTimeout = 300 * time.Millisecond
	})
	e.register(e.tokens["publisher"], "acme")
	never := make(chan struct{})
	defer close(never)
	got := <-e.slowUpload(e.tokens["publisher"], pkg(t, "acme/stalled", "1.0.0", "a"), never)
	if got[0] != "408 Request Timeout" || got[1] != "upload_timeout" {
		t.Fatalf("a stalled upload: %v, want 408 upload_timeout", got)
	}
	if resp, b := e.do("GET", "/api/v1/submissions", e.tokens["admin"], nil); strings.Contains(string(b), "acme/stalled") {
		t.Fatalf("the stalled upload left a submission: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.submit(e.tokens["publisher"], pkg(t, "acme/next", "1.0.0", "b")); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("an upload after the stalled one: %d %s", resp.StatusCode, b)
	}
}
