package review_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/server"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// counterModule builds the real acme/counter example once.
func counterModule(t *testing.T) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "counter")
	src := filepath.Join("..", "..", "examples", "plugins", "counter")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := pluginkit.Build(ctx, dir, pluginkit.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type world struct {
	t      *testing.T
	url    string
	in     *intake.Service
	pipe   *pipeline.Pipeline
	tokens map[string]string
	module []byte
	key    *trust.FileSigner // alice's publisher key, registered on acme
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	in := intake.New(st, blobs, pkgfile.DefaultLimits(), manifest.Options{}, nil)
	as := analyzers.Default(analyzers.DefaultOptions{})
	in.Analyzers = func() []vet.Analyzer { return as }
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Triager = rv
	pipe := pipeline.New(pipeline.Config{Store: st, Vetting: in, Certifying: rv})
	tr := certifytest.New(t, st, nil)
	rv.Certifier = tr.Service
	srv := httptest.NewServer(server.New(server.Config{App: app.New(app.Config{Store: st, Blobs: blobs, Intake: in, Review: rv, Trust: tr.Service}), TransparencyLog: tr.LogStorage}))
	t.Cleanup(srv.Close)
	w := &world{t: t, url: srv.URL, in: in, pipe: pipe, tokens: map[string]string{}, module: counterModule(t), key: certifytest.PublisherKey(t, st, "acme", "alice")}
	for key, spec := range map[string][3]string{
		"alice":          {"alice", "publisher", ""},
		"alice-reviewer": {"alice", "reviewer", ""}, // the author also reviews, elsewhere
		"rita":           {"rita", "reviewer", ""},
		"ravi":           {"ravi", "reviewer", ""},
		"sam":            {"sam", "steward", ""},
	} {
		tok, secret, err := server.NewToken(time.Now(), api.TokenRequest{Subject: spec[0], Role: spec[1], Namespace: spec[2]})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tok, server.TokenEvent(tok, "test", time.Now())); err != nil {
			t.Fatal(err)
		}
		w.tokens[key] = secret
	}
	return w
}

func (w *world) call(who, method, path string, body any) (int, []byte) {
	w.t.Helper()
	return w.callSigned(who, method, path, body, nil)
}

// callSigned is call with a publisher signature for a submission.
func (w *world) callSigned(who, method, path string, body any, sig []byte) (int, []byte) {
	w.t.Helper()
	var r io.Reader
	if b, ok := body.([]byte); ok {
		r = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.url+"/api/v1"+path, r)
	req.Header.Set("Authorization", "Bearer "+w.tokens[who])
	if sig != nil {
		req.Header.Set(api.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// submit packs the counter module under id@version with perms, submits it
// as alice, lets the worker run, and returns the submission.
func (w *world) submit(id, version string, perms ...string) api.Submission {
	w.t.Helper()
	ps, _ := json.Marshal(append([]string{"kv:read", "kv:write"}, perms...))
	// A plugin reaching user data declares it (the dataflow analyzer
	// blocks one that does not).
	var cats []string
	for _, p := range perms {
		if c, ok := strings.CutPrefix(p, "data:read:"); ok && !slices.Contains(cats, c) {
			cats = append(cats, c)
		}
	}
	data := ""
	if len(cats) > 0 {
		cs, _ := json.Marshal(cats)
		data = fmt.Sprintf(`,"data":{"categories":%s,"purpose":"counts the caller's records","retention":"P30D","leavesPlatform":true}`, cs)
	}
	m := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"Counter","description":"Counts things.","homepage":"https://acme.example.com","owners":[{"name":"Acme","email":"dev@acme.example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["increment","get"],"hostApi":"^1.0.0"},"permissions":%s,"support":{"email":"help@acme.example.com"}%s}`, id, version, ps, data)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(m)}, {Path: "plugin.wasm", Data: w.module}, {Path: "LICENSE", Data: []byte(mitLicense)}, {Path: "README.md", Data: []byte("# Counter\n\nCounts things. Documentation: https://docs.acme.example.com/counter\n")}}); err != nil {
		w.t.Fatal(err)
	}
	start := time.Now()
	env, err := intake.Sign(context.Background(), w.key, buf.Bytes())
	if err != nil {
		w.t.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	code, b := w.callSigned("alice", "POST", "/submissions", buf.Bytes(), sig)
	if code != 202 {
		w.t.Fatalf("submit %s@%s: %d %s", id, version, code, b)
	}
	var sub api.Submission
	json.Unmarshal(b, &sub)
	if err := w.pipe.RunPending(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	w.t.Logf("%s@%s decided in %s", id, version, time.Since(start).Round(time.Millisecond))
	return w.status(sub.ID)
}

func (w *world) status(id string) api.Submission {
	w.t.Helper()
	code, b := w.call("alice", "GET", "/submissions/"+id, nil)
	if code != 200 {
		w.t.Fatalf("status %s: %d %s", id, code, b)
	}
	var sub api.Submission
	json.Unmarshal(b, &sub)
	return sub
}

func (w *world) want(sub api.Submission, state string) {
	w.t.Helper()
	if sub.State != state {
		w.t.Fatalf("%s@%s is %s (%s), want %s", sub.Plugin, sub.Version, sub.State, sub.Reason, state)
	}
}

// TestReviewWorkflow is issue 5's proof, end to end over HTTP with the
// real analyzers and the embedded default policy.
func TestReviewWorkflow(t *testing.T) {
	w := newWorld(t)

	// 1.0.0, the first version, goes to a person.
	v100 := w.submit("acme/counter", "1.0.0")
	w.want(v100, "in_review")
	if v100.Review == nil || v100.Review.Deadline.IsZero() {
		t.Fatalf("the author does not see the review deadline: %+v", v100.Review)
	}

	// The author may not approve their own plugin, even holding a
	// reviewer token.
	if code, b := w.call("alice-reviewer", "POST", "/reviews/"+v100.ID+"/approve", map[string]any{}); code != 403 || !strings.Contains(string(b), "separation of duties") {
		t.Fatalf("self-approval: %d %s", code, b)
	}

	// Rita asks for changes; the author sees the thread.
	if code, b := w.call("rita", "POST", "/reviews/"+v100.ID+"/request-changes", map[string]string{"message": "please say what the counters are for in the README"}); code != 200 {
		t.Fatalf("request changes: %d %s", code, b)
	}
	v100 = w.status(v100.ID)
	w.want(v100, "changes_requested")
	if len(v100.Thread) != 1 || v100.Thread[0].Author != "rita" {
		t.Fatalf("thread seen by the author: %+v", v100.Thread)
	}

	// Rita marks the README's documentation link a false positive; the
	// decision carries forward to later versions, shown as suppressed.
	fp := findingFingerprint(t, v100, "docs.acme.example.com")
	if code, b := w.call("rita", "POST", "/submissions/"+v100.ID+"/findings/"+fp+"/false-positive", map[string]string{"reason": "documentation link, never fetched"}); code != 200 {
		t.Fatalf("false positive: %d %s", code, b)
	}

	// 1.0.1 comes back to Rita's thread, claimed for her.
	v101 := w.submit("acme/counter", "1.0.1")
	if f := findFinding(v101, fp); f == nil || f.Suppressed == nil || f.Suppressed.By != "rita" {
		t.Fatalf("the false-positive decision did not carry forward to 1.0.1: %+v", f)
	}
	w.want(v101, "in_review")
	code, b := w.call("ravi", "POST", "/reviews/"+v101.ID+"/claim", nil)
	if code != 403 || !strings.Contains(string(b), "rita") {
		t.Fatalf("another reviewer took the follow-up from rita: %d %s", code, b)
	}
	if code, b := w.call("rita", "POST", "/reviews/"+v101.ID+"/approve", map[string]string{"message": "thanks, looks good"}); code != 200 || !strings.Contains(string(b), "certified") {
		t.Fatalf("approve 1.0.1: %d %s", code, b)
	}

	// 1.0.2 asks for nothing new: auto-approved, no person involved.
	start := time.Now()
	v102 := w.submit("acme/counter", "1.0.2")
	w.want(v102, "certified")
	if !strings.Contains(historyText(v102), "auto_approved") {
		t.Fatalf("1.0.2 was not auto-approved: %s", historyText(v102))
	}
	t.Logf("1.0.2 auto-approved in %s", time.Since(start).Round(time.Millisecond))

	// 1.0.3 adds a network origin: back to review.
	v103 := w.submit("acme/counter", "1.0.3", "net:https://api.acme.example.com")
	w.want(v103, "in_review")
	if !strings.Contains(v103.Reason, "origin") && !strings.Contains(v103.Reason, "permission") {
		t.Errorf("1.0.3's reason does not name the new origin: %s", v103.Reason)
	}
	// The reviewer sees the change in plain language and as a diff.
	code, b = w.call("rita", "GET", "/reviews/"+v103.ID, nil)
	var detail api.ReviewDetail
	if code != 200 || json.Unmarshal(b, &detail) != nil {
		t.Fatalf("review detail: %d %s", code, b)
	}
	if !strings.Contains(strings.Join(detail.Changes, "\n"), "New permission net:https://api.acme.example.com: the plugin may send requests to https://api.acme.example.com") {
		t.Errorf("changes in plain language: %q", detail.Changes)
	}
	if detail.Previous != "1.0.2" || len(detail.CodeDiff) != 1 || detail.CodeDiff[0].Path != "manifest.json" || !strings.Contains(detail.CodeDiff[0].Diff, "+") {
		t.Errorf("code diff against 1.0.2: previous %q, %+v", detail.Previous, detail.CodeDiff)
	}

	// A steward switches auto-approval off for the plugin: a version that
	// would pass every other gate goes to a person.
	if code, b := w.call("sam", "POST", "/auto-approval", map[string]any{"scope": "plugin:acme/counter", "off": true, "reason": "new maintainers"}); code != 200 {
		t.Fatalf("switch: %d %s", code, b)
	}
	v104 := w.submit("acme/counter", "1.0.4")
	w.want(v104, "in_review")

	// A plugin asking for a forbidden permission is rejected with the
	// policy's message.
	bad := w.submit("acme/leaky", "1.0.0", "net:http://hooks.acme.example.com")
	w.want(bad, "rejected")
	if !strings.Contains(bad.Reason, "https") {
		t.Errorf("the rejection does not carry the policy's message and suggestion: %s", bad.Reason)
	}

	// A high-tier plugin stays in review after one approval and needs a
	// second, different reviewer.
	high := w.submit("acme/reach", "1.0.0", "net:https://a.acme.example.com", "net:https://b.acme.example.com", "secret:ACME_TOKEN", "data:read:contacts", "data:write:contacts")
	w.want(high, "in_review")
	if high.Review.ApprovalsRequired < 2 {
		t.Fatalf("tier %s needs %d approvals; the test wants a high tier", high.Review.Tier, high.Review.ApprovalsRequired)
	}
	if code, b := w.call("rita", "POST", "/reviews/"+high.ID+"/approve", map[string]any{}); code != 200 || !strings.Contains(string(b), "in_review") {
		t.Fatalf("first approval: %d %s", code, b)
	}
	if code, _ := w.call("rita", "POST", "/reviews/"+high.ID+"/approve", map[string]any{}); code != 409 && code != 422 {
		t.Fatalf("the same reviewer approving twice: %d", code)
	}
	if code, b := w.call("ravi", "POST", "/reviews/"+high.ID+"/approve", map[string]any{}); code != 200 || !strings.Contains(string(b), "certified") {
		t.Fatalf("second, different approver: %d %s", code, b)
	}
	// Two versions stay in review for the dry run below: 1.0.3 and a new
	// high-tier plugin.
	high2 := w.submit("acme/reach2", "1.0.0", "net:https://a.acme.example.com", "secret:ACME_TOKEN", "data:read:contacts", "data:write:contacts")
	w.want(high2, "in_review")

	// A policy change is tried in dry-run mode first: forbidding kv:write
	// would reject the versions in review that ask for it.
	p := policy.Default()
	mods := map[string]string{}
	for k, v := range p.Modules {
		mods[k] = v
	}
	mods["config.rego"] = strings.Replace(mods["config.rego"], "forbidden_permission_kinds := {}",
		`forbidden_permission_kinds := {"kv:write": {"message": "plugins may not write to the key-value store", "suggestion": "keep state in the host's data scopes"}}`, 1)
	if mods["config.rego"] == p.Modules["config.rego"] {
		t.Fatal("could not edit the default policy's configuration")
	}
	code, b = w.call("sam", "POST", "/policy/dry-run", api.PolicyRequest{Modules: mods})
	if code != 200 {
		t.Fatalf("dry run: %d %s", code, b)
	}
	var dry struct {
		Differences []policy.Difference `json:"differences"`
	}
	json.Unmarshal(b, &dry)
	changed := map[string]bool{}
	for _, d := range dry.Differences {
		changed[d.Plugin+"@"+d.Version] = true
	}
	if !changed["acme/counter@1.0.3"] || !changed["acme/counter@1.0.4"] || !changed["acme/reach2@1.0.0"] || len(changed) != 3 {
		t.Fatalf("dry run reported %v, want exactly the three versions in review", changed)
	}
	// The dry run changed nothing.
	w.want(w.status(v103.ID), "in_review")

	// A policy that does not compile is refused with file, line and
	// column, and the active one stays.
	broken := map[string]string{"broken.rego": "package gatehouse.decision\n\nallow if {\n"}
	if code, b := w.call("sam", "POST", "/policy", api.PolicyRequest{Modules: broken}); code != 422 || !strings.Contains(string(b), "broken.rego:") {
		t.Fatalf("a broken policy: %d %s", code, b)
	}
	if code, _ := w.call("rita", "POST", "/policy", api.PolicyRequest{Modules: mods}); code != 403 {
		t.Fatalf("a reviewer applied a policy: %d", code)
	}
}

func findFinding(s api.Submission, fp string) *api.Finding {
	if s.Vetting == nil {
		return nil
	}
	for _, r := range s.Vetting.Results {
		for i := range r.Findings {
			if r.Findings[i].Fingerprint == fp {
				return &r.Findings[i]
			}
		}
	}
	return nil
}

// findingFingerprint returns the fingerprint of the finding whose message
// mentions text.
func findingFingerprint(t *testing.T, s api.Submission, text string) string {
	t.Helper()
	if s.Vetting != nil {
		for _, r := range s.Vetting.Results {
			for _, f := range r.Findings {
				if strings.Contains(f.Message, text) {
					return f.Fingerprint
				}
			}
		}
	}
	t.Fatalf("no finding mentions %q in %+v", text, s.Vetting)
	return ""
}

func historyText(s api.Submission) string {
	var parts []string
	for _, h := range s.History {
		parts = append(parts, h.Action+":"+h.NewState)
	}
	return strings.Join(parts, " ")
}

const mitLicense = `MIT License

Copyright (c) 2026 Acme

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`
