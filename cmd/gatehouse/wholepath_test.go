package main_test

// Issue 21 item 2: the whole path of a low-risk update as its author waits
// on it, on a real `gatehouse serve` process with the embedded default
// (SQLite and a local folder), beside the sequential pipeline a platform
// would script from the same tools, on the same files, in the same run.
// Nothing here asserts a timing; the benchmark fails when Gatehouse finds
// less than the pipeline does.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/tracing"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// The plugin's third-party module: a release affected by advisories in
// testdata/osv/go-subset.zip (as e2e's dependency test uses it), vendored
// with its licence file by `gatehouse plugin build`.
const (
	wpDepModule     = "golang.org/x/text"
	wpDepVulnerable = "v0.3.7"
)

// wpToken is the GitHub token the plugin carries in a sample settings file:
// made up, but shaped as GitHub issues them, so gitleaks and Gatehouse both
// report it.
var wpToken = "ghp_" + "Q8vT3kLm9Zx2Rw7Yp4Nb6Hc1Jd5Gf0Ks8Ua3E"

// BenchmarkWholePath: submit → certified of a low-risk update (one source
// file changed, nothing new asked for, so the default policy auto-approves)
// of a scaffolded plugin of about 2 MB that carries a known-vulnerable
// dependency, a secret and licence files, on one `gatehouse serve` process
// on the embedded default. Version 1.0.0 is certified first by reviewers
// (who mark the secret and the advisories false positives, a decision that
// carries over to updates); then each op submits the next update and polls
// until it is certified. The spans the server exports over OTLP (to a
// receiver in this test) give each op's stage breakdown.
//
// Beside it, on each update's files: gitleaks (built from the module
// Gatehouse requires), osv-scanner (/work/tools/osv-scanner, or
// GATEHOUSE_BENCH_OSV_SCANNER; skipped, saying so, when absent) and a licence
// scan with github.com/google/licensecheck (testdata/licensescan), run one
// after the other. The benchmark fails if Gatehouse's results miss a
// secret, an advisory or a licence the pipeline found.
//
//	go test -run '^$' -bench WholePath -benchtime 10x ./cmd/gatehouse
func BenchmarkWholePath(b *testing.B) {
	if testing.Short() {
		b.Skip("builds WebAssembly plugins and runs a marketplace")
	}
	// The marketplace lives as long as this (the parent) benchmark; the
	// sub-benchmark is invoked again as b.N grows and carries on with the
	// next update.
	w := setupWholePath(b)
	b.Run("update", func(b *testing.B) {
		var gh, peer []time.Duration
		var stages []map[string]time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			pkg := w.update(b)
			b.StartTimer()
			start := time.Now()
			id := w.submitAndWait(b, pkg)
			seen := time.Now()
			b.StopTimer()
			gh = append(gh, seen.Sub(start))
			stages = append(stages, w.breakdown(b, id, start, seen))
			peer = append(peer, w.peer(b, pkg, id))
			b.StartTimer()
		}
		b.StopTimer()
		med, p90 := percentile(gh, 50), percentile(gh, 90)
		pmed := percentile(peer, 50)
		b.ReportMetric(med.Seconds(), "median-s")
		b.ReportMetric(p90.Seconds(), "p90-s")
		b.ReportMetric(pmed.Seconds(), "peer-median-s")
		b.ReportMetric(pmed.Seconds()/med.Seconds(), "x-faster-than-peer")
		b.Logf("plugin package %d bytes; peer: %s", w.pkgSize, w.peerTools)
		b.Logf("stage breakdown over %d op(s), milliseconds (median / max):\n%s", len(stages), stageTable(stages))
	})
}

// wpState is the marketplace, the people and the plugin of the benchmark,
// kept across the benchmark's invocations (b.N grows).
type wpState struct {
	srv        *scaleProc
	data       string
	publisher  *client.Client
	signer     *trust.FileSigner
	dir        string // the plugin's folder
	goEnv      []string
	version    int // the last update's patch number
	spans      *spanSink
	gitleaks   string
	licscan    string
	osvScanner string
	osvDB      string
	peerTools  string
	pkgSize    int
	work       string
}

func setupWholePath(b *testing.B) *wpState {
	ctx := context.Background()
	work := b.TempDir()
	w := &wpState{work: work, data: filepath.Join(work, "data"), spans: newSpanSink()}
	os.MkdirAll(w.data, 0o700)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOWORK=") && !strings.HasPrefix(kv, "GOFLAGS=") {
			w.goEnv = append(w.goEnv, kv)
		}
	}
	w.goEnv = append(w.goEnv, "GOWORK=off")

	// The server exports its spans to the sink, in small batches soon
	// after they end.
	os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", w.spans.url)
	os.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	os.Setenv("OTEL_SERVICE_NAME", "gatehouse-bench")
	if dir := os.Getenv("GATEHOUSE_BENCH_KEEP"); dir != "" {
		w.data = dir // kept for a look at the database afterwards
	}
	w.srv = startProc(b, "serve", "--addr", "127.0.0.1:0", "--data", w.data, "--log-level", "warn")
	os.Unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	tok, err := os.ReadFile(filepath.Join(w.data, "admin.token"))
	if err != nil {
		b.Fatal(err)
	}
	admin, _ := client.New(w.srv.base, strings.TrimSpace(string(tok)))
	token := func(role, subject, ns string) *client.Client {
		t, err := admin.CreateToken(ctx, api.TokenRequest{Subject: subject, Role: role, Namespace: ns})
		if err != nil {
			b.Fatal(err)
		}
		cl, _ := client.New(w.srv.base, t.Secret)
		return cl
	}
	w.publisher = token("publisher", "dev@acme.example.com", "acme")
	rev1 := token("reviewer", "rev@gatehouse.example", "")
	rev2 := token("reviewer", "rev2@gatehouse.example", "")
	w.cli(b, strings.TrimSpace(string(tok)), "vulndb", "import", filepath.Join("..", "..", "testdata", "osv", "go-subset.zip"))
	if w.signer, err = trust.GenerateKey(trust.Ed25519); err != nil {
		b.Fatal(err)
	}
	pem, _ := w.signer.PublicKey().MarshalPEM()
	if _, err := w.publisher.AddNamespaceKey(ctx, "acme", pem); err != nil {
		b.Fatal(err)
	}

	// The plugin: the scaffold, a title-casing greeting with the
	// vulnerable module, a sample settings file with a token, padding to
	// about 2 MB.
	w.dir = filepath.Join(work, "hello")
	w.cli(b, "", "plugin", "init", "acme/hello", w.dir)
	w.goCmd(b, "get", wpDepModule+"@"+wpDepVulnerable)
	wpEdit(b, filepath.Join(w.dir, "main.go"), "\"gatehouse.dev/gatehouse/pdk\"\n",
		"\"gatehouse.dev/gatehouse/pdk\"\n\t\"golang.org/x/text/cases\"\n\t\"golang.org/x/text/language\"\n")
	wpEdit(b, filepath.Join(w.dir, "main.go"), `"Hello, " + name + "!"`, `"Hello, " + cases.Title(language.Und).String(name) + "!"`)
	wpEdit(b, filepath.Join(w.dir, "main.go"), `"name is %d characters long, the limit is %d"`, `"name is %d characters long, the limit is %d (build 1.0.0)"`)
	w.goCmd(b, "mod", "tidy")
	os.MkdirAll(filepath.Join(w.dir, "config"), 0o755)
	if err := os.WriteFile(filepath.Join(w.dir, "config", "sample.env"), []byte("# The settings the plugin's tests use.\nGITHUB_TOKEN="+wpToken+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	// Reference data: a realistic share of a plugin's bytes that no
	// analyzer treats specially (words, as a dictionary would hold).
	if err := os.WriteFile(filepath.Join(w.dir, "words.txt"), wpWords(900<<10), 0o644); err != nil {
		b.Fatal(err)
	}
	setManifestVersion(b, w.dir, "0.1.0", "1.0.0")
	pkg100 := w.pack(b, "1.0.0")
	w.pkgSize = len(pkg100.pkg)

	// 1.0.0: vetting finds the token and the advisories and the policy
	// rejects it; a reviewer marks them false positives (the token is a
	// revoked test token; the vulnerable code is unreachable), the
	// publisher appeals and two reviewers certify it.
	sub, _, err := w.publisher.SubmitSigned(ctx, bytes.NewReader(pkg100.pkg), pkg100.sig)
	if err != nil {
		b.Fatal(err)
	}
	first := w.waitState(b, sub.ID, 5*time.Minute, "rejected", "in_review")
	for _, r := range first.Vetting.Results {
		for _, f := range r.Findings {
			if (r.Analyzer == "secrets" || r.Analyzer == "dependencies") && f.Suppressed == nil && f.Severity != "low" && f.Severity != "info" {
				if err := rev1.JSON(ctx, "POST", "/submissions/"+sub.ID+"/findings/"+f.Fingerprint+"/false-positive",
					map[string]string{"reason": "benchmark fixture: a revoked test token / unreachable code"}, nil); err != nil {
					b.Fatalf("marking %s a false positive: %v", f.RuleID, err)
				}
			}
		}
	}
	if first.State == "rejected" {
		if err := w.publisher.JSON(ctx, "POST", "/submissions/"+sub.ID+"/thread/appeal", map[string]string{"message": "the findings are marked false positives"}, nil); err != nil {
			b.Fatalf("appeal: %v", err)
		}
	}
	for _, rv := range []*client.Client{rev1, rev2} {
		s, err := admin.Submission(ctx, sub.ID)
		if err != nil {
			b.Fatal(err)
		}
		if s.State == "certified" {
			break
		}
		if err := rv.JSON(ctx, "POST", "/reviews/"+sub.ID+"/approve", map[string]any{"message": "benchmark"}, nil); err != nil {
			b.Fatalf("approving 1.0.0 (%s: %s): %v\n%s", s.State, s.Reason, err, vetSummary(s))
		}
	}
	if s := w.waitState(b, sub.ID, time.Minute, "certified"); s.State != "certified" {
		b.Fatalf("1.0.0 is %s", s.State)
	}

	// The peer's tools.
	w.gitleaks = filepath.Join(work, "gitleaks")
	w.licscan = filepath.Join(work, "licensescan")
	for out, pkgPath := range map[string]string{w.gitleaks: "github.com/zricethezav/gitleaks/v8", w.licscan: "./testdata/licensescan"} {
		cmd := exec.Command("go", "build", "-o", out, pkgPath)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("building %s: %v\n%s", pkgPath, err, o)
		}
	}
	w.osvScanner = os.Getenv("GATEHOUSE_BENCH_OSV_SCANNER")
	if w.osvScanner == "" {
		w.osvScanner = "/work/tools/osv-scanner"
	}
	if _, err := os.Stat(w.osvScanner); err != nil {
		b.Logf("*** osv-scanner is not at %s: the peer runs without it (gitleaks and licensecheck only), so its time is an underestimate", w.osvScanner)
		w.osvScanner = ""
		w.peerTools = "gitleaks dir + licensecheck (osv-scanner absent)"
	} else {
		// osv-scanner's offline mode reads OSV's all.zip of each
		// ecosystem from its cache folder: the same records Gatehouse
		// imported.
		w.osvDB = filepath.Join(work, "osv-db")
		src, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "osv", "go-subset.zip"))
		for _, d := range []string{"osv-scanner", "osv-scalibr"} { // the folder's name changed between releases
			os.MkdirAll(filepath.Join(w.osvDB, d, "Go"), 0o755)
			os.WriteFile(filepath.Join(w.osvDB, d, "Go", "all.zip"), src, 0o644)
		}
		w.peerTools = "gitleaks dir + osv-scanner offline + licensecheck"
	}
	return w
}

// signedPkg is a package and its publisher signature.
type signedPkg struct {
	version  string
	pkg, sig []byte
}

// update makes the next low-risk update: one source file (main.go)
// changed, rebuilt, packed and signed.
func (w *wpState) update(b *testing.B) signedPkg {
	prev := fmt.Sprintf("1.0.%d", w.version)
	w.version++
	v := fmt.Sprintf("1.0.%d", w.version)
	wpEdit(b, filepath.Join(w.dir, "main.go"), "(build "+prev+")", "(build "+v+")")
	setManifestVersion(b, w.dir, prev, v)
	return w.pack(b, v)
}

func (w *wpState) pack(b *testing.B, version string) signedPkg {
	w.cli(b, "", "plugin", "build", w.dir)
	out := filepath.Join(w.work, "hello-"+version+".gpkg")
	w.cli(b, "", "plugin", "pack", w.dir, "-o", out)
	pkg, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	env, err := intake.Sign(context.Background(), w.signer, pkg)
	if err != nil {
		b.Fatal(err)
	}
	sig, _ := trust.MarshalEnvelope(env)
	return signedPkg{version, pkg, sig}
}

// submitAndWait submits p and polls until it is certified, as an author
// waiting on it would (every 10 ms); it returns the time from the submit
// to the answer that said certified. It returns the submission's id.
func (w *wpState) submitAndWait(b *testing.B, p signedPkg) string {
	ctx := context.Background()
	start := time.Now()
	sub, _, err := w.publisher.SubmitSigned(ctx, bytes.NewReader(p.pkg), p.sig)
	if err != nil {
		b.Fatal(err)
	}
	for {
		s, err := w.publisher.Submission(ctx, sub.ID)
		if err != nil {
			b.Fatal(err)
		}
		switch s.State {
		case "certified":
			return sub.ID
		case "received", "vetting", "triage", "auto_approved":
		default:
			full, _ := w.publisher.Submission(ctx, sub.ID)
			b.Fatalf("update %s went to %s, not certified: %s\n%s", p.version, s.State, s.Reason, vetSummary(full))
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("update %s still %s after 5 minutes", p.version, s.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *wpState) waitState(b *testing.B, id string, within time.Duration, want ...string) api.Submission {
	deadline := time.Now().Add(within)
	for {
		s, err := w.publisher.Submission(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		if slices.Contains(want, s.State) {
			return s
		}
		if !slices.Contains([]string{"received", "vetting", "triage", "auto_approved"}, s.State) || time.Now().After(deadline) {
			b.Fatalf("%s is %s (%s), want %v\n%s\nserver log:\n%s", id, s.State, s.Reason, want, vetSummary(s), w.srv.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cli runs the built binary with the server's address and token.
func (w *wpState) cli(b *testing.B, token string, args ...string) string {
	b.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(slices.Clone(w.goEnv), "GATEHOUSE_SERVER="+w.srv.base, "GATEHOUSE_TOKEN="+token, "XDG_CACHE_HOME="+filepath.Join(w.work, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (w *wpState) goCmd(b *testing.B, args ...string) {
	b.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = w.dir
	cmd.Env = w.goEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func wpEdit(b *testing.B, path, from, to string) {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Contains(data, []byte(from)) {
		b.Fatalf("%s no longer holds %q", path, from)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(from), []byte(to), 1), 0o644); err != nil {
		b.Fatal(err)
	}
}

func setManifestVersion(b *testing.B, dir, from, to string) {
	b.Helper()
	wpEdit(b, filepath.Join(dir, "manifest.json"), `"version": "`+from+`"`, `"version": "`+to+`"`)
}

// wpWords is n bytes of lowercase words and newlines.
func wpWords(n int) []byte {
	r := rand.New(rand.NewPCG(21, 2))
	var buf bytes.Buffer
	for buf.Len() < n {
		for range 3 + r.IntN(8) {
			buf.WriteByte(byte('a' + r.IntN(26)))
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func vetSummary(s api.Submission) string {
	if s.Vetting == nil {
		return "(no vetting)"
	}
	var sb strings.Builder
	for _, r := range s.Vetting.Results {
		fmt.Fprintf(&sb, "%s %s %s\n", r.Analyzer, r.Status, r.Reason)
		for _, f := range r.Findings {
			fmt.Fprintf(&sb, "  %s %s %s suppressed=%v\n", f.Severity, f.RuleID, f.Location.File, f.Suppressed != nil)
		}
	}
	return sb.String()
}

// peer runs the sequential pipeline over the files of p, times it, and
// fails the benchmark for anything it found that Gatehouse's vetting of
// submission id did not.
func (w *wpState) peer(b *testing.B, p signedPkg, id string) time.Duration {
	pkg, err := pkgfile.Read(bytes.NewReader(p.pkg), pkgfile.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(w.work, "files-"+p.version)
	for _, e := range pkg.Files {
		data, _ := pkg.File(e.Path)
		dst := filepath.Join(dir, filepath.FromSlash(e.Path))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(w.work, "gitleaks.json")
	osvOut := filepath.Join(w.work, "osv.json")

	start := time.Now()
	gl := exec.Command(w.gitleaks, "dir", "--no-banner", "--log-level", "error", "--exit-code", "0", "--report-format", "json", "--report-path", report, dir)
	gl.Env = wpWithout(os.Environ(), "GITLEAKS_CONFIG")
	if out, err := gl.CombinedOutput(); err != nil {
		b.Fatalf("gitleaks: %v\n%s", err, out)
	}
	glTook := time.Since(start)
	var osvJSON []byte
	if w.osvScanner != "" {
		osv := exec.Command(w.osvScanner, "scan", "source", "--offline-vulnerabilities", "--download-offline-databases=false",
			"--no-call-analysis=go", "--verbosity", "error", "--format", "json", "--output-file", osvOut, "-r", dir)
		osv.Env = append(os.Environ(), "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+w.osvDB, "OSV_SCALIBR_LOCAL_DB_CACHE_DIRECTORY="+w.osvDB)
		out, err := osv.CombinedOutput()
		// Exit 1 means vulnerabilities were found.
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
			b.Fatalf("osv-scanner: %v\n%s", err, out)
		}
		osvJSON, _ = os.ReadFile(osvOut)
	}
	osvTook := time.Since(start) - glTook
	lic, err := exec.Command(w.licscan, dir).Output()
	if err != nil {
		b.Fatalf("licensescan: %v", err)
	}
	took := time.Since(start)
	b.Logf("%s: the pipeline took %d ms: gitleaks %d, osv-scanner %d, licensecheck %d", p.version,
		took.Milliseconds(), glTook.Milliseconds(), osvTook.Milliseconds(), (took - glTook - osvTook).Milliseconds())

	sub, err := w.publisher.Submission(context.Background(), id)
	if err != nil || sub.Vetting == nil {
		b.Fatalf("reading %s's vetting: %v", id, err)
	}
	w.compare(b, sub, dir, report, osvJSON, lic)
	return took
}

// compare fails the benchmark for each secret (rule, file, value),
// advisory and (file, licence) the pipeline found that Gatehouse's
// results lack.
func (w *wpState) compare(b *testing.B, sub api.Submission, dir, gitleaksReport string, osvJSON, lic []byte) {
	ours := map[string]bool{}
	advisories := map[string]bool{}
	licences := map[string]bool{}
	for _, r := range sub.Vetting.Results {
		for _, f := range r.Findings {
			ours[f.Fingerprint] = true
			if a, ok := f.Properties["advisory"].(string); ok {
				advisories[a] = true
			}
			if as, ok := f.Properties["aliases"].([]any); ok {
				for _, a := range as {
					advisories[fmt.Sprint(a)] = true
				}
			}
		}
		if r.Analyzer == "licenses" {
			var d struct {
				Files, Dependencies []struct {
					File     string
					Licenses []string
				}
			}
			json.Unmarshal(r.Detail, &d)
			for _, f := range append(d.Files, d.Dependencies...) {
				for _, l := range f.Licenses {
					licences[f.File+" "+l] = true
				}
			}
		}
	}
	data, err := os.ReadFile(gitleaksReport)
	if err != nil {
		b.Fatal(err)
	}
	os.Remove(gitleaksReport) // it holds the clear values
	var gl []struct {
		RuleID, File, Secret string
		StartLine            int
	}
	if err := json.Unmarshal(data, &gl); err != nil {
		b.Fatalf("the gitleaks report: %v", err)
	}
	found := map[string]int{}
	for _, f := range gl {
		rel, _ := filepath.Rel(dir, f.File)
		rel = filepath.ToSlash(rel)
		found["secrets"]++
		if !ours[vet.Fingerprint(secrets.RuleID(f.RuleID), rel, f.Secret)] {
			b.Errorf("gitleaks found %s in %s line %d; Gatehouse did not", f.RuleID, rel, f.StartLine)
		}
	}
	if found["secrets"] == 0 {
		b.Errorf("gitleaks found no secret in the plugin; the comparison shows nothing")
	}
	if osvJSON != nil {
		var res struct {
			Results []struct {
				Packages []struct {
					Package         struct{ Name, Version string }
					Vulnerabilities []struct {
						ID      string
						Aliases []string
					}
				}
			}
		}
		if err := json.Unmarshal(osvJSON, &res); err != nil {
			b.Fatalf("osv-scanner's report: %v", err)
		}
		for _, r := range res.Results {
			for _, p := range r.Packages {
				for _, v := range p.Vulnerabilities {
					found["advisories"]++
					if !advisories[v.ID] {
						b.Errorf("osv-scanner found %s in %s@%s; Gatehouse did not", v.ID, p.Package.Name, p.Package.Version)
					}
				}
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(lic))
	for sc.Scan() {
		var f struct {
			File     string
			Licenses []string
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			b.Fatal(err)
		}
		for _, l := range f.Licenses {
			found["licences"]++
			if !licences[f.File+" "+l] {
				b.Errorf("licensecheck found %s in %s; Gatehouse did not", l, f.File)
			}
		}
	}
	if found["licences"] == 0 {
		b.Errorf("licensecheck found no licence; the comparison shows nothing")
	}
	b.Logf("%s: the pipeline found %d secret(s), %d advisories, %d licence(s); Gatehouse has each", sub.Version, found["secrets"], found["advisories"], found["licences"])
}

func wpWithout(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// span is what the benchmark keeps of an exported span.
type span struct {
	name, version, analyzer string
	trace, id, parent       string
	start, end              time.Time
}

func (s span) dur() time.Duration { return s.end.Sub(s.start) }

// spanSink is an OTLP/HTTP receiver: it decodes the protobuf the server's
// exporter posts and keeps the spans.
type spanSink struct {
	url string
	mu  sync.Mutex
	all []span
}

func newSpanSink() *spanSink {
	s := &spanSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var got []span
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					x := span{name: sp.Name, trace: fmt.Sprintf("%x", sp.TraceId), id: fmt.Sprintf("%x", sp.SpanId), parent: fmt.Sprintf("%x", sp.ParentSpanId),
						start: time.Unix(0, int64(sp.StartTimeUnixNano)), end: time.Unix(0, int64(sp.EndTimeUnixNano))}
					for _, a := range sp.Attributes {
						switch a.Key {
						case string(tracing.VersionID):
							x.version = a.Value.GetStringValue()
						case "gatehouse.analyzer.name":
							x.analyzer = a.Value.GetStringValue()
						}
					}
					got = append(got, x)
				}
			}
		}
		s.mu.Lock()
		s.all = append(s.all, got...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	s.url = srv.URL // lives as long as the test binary
	return s
}

// of returns the spans of version id.
func (s *spanSink) of(id string) []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []span
	for _, x := range s.all {
		if x.version == id {
			out = append(out, x)
		}
	}
	return out
}

// breakdown waits for the spans of submission id and returns its stages:
// intake (the submit request), each pipeline step and the queue wait
// before it, each analyzer, the time in store calls per step, and the
// wait until the author's poll saw the certificate.
func (w *wpState) breakdown(b *testing.B, id string, start, seen time.Time) map[string]time.Duration {
	var spans []span
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans = w.spans.of(id)
		if slices.ContainsFunc(spans, func(s span) bool { return s.name == "pipeline.certify" }) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	find := func(name string) (span, bool) {
		for _, s := range spans {
			if s.name == name {
				return s, true
			}
		}
		return span{}, false
	}
	st := map[string]time.Duration{"0 submit → certified seen": seen.Sub(start)}
	submit, ok := find("POST /api/v1/submissions")
	if !ok {
		b.Logf("%s: no span of the submit request", id)
		return st
	}
	st["1a client → server"] = submit.start.Sub(start)
	st["1b intake (POST)"] = submit.dur()
	prevEnd := submit.end
	stepsTrace := map[string]string{}
	for i, step := range []string{"vet", "triage", "certify"} {
		s, ok := find("pipeline." + step)
		if !ok {
			b.Logf("%s: no span of the %s step", id, step)
			return st
		}
		n := fmt.Sprint(i + 2)
		st[n+"a wait → "+step] = s.start.Sub(prevEnd)
		st[n+"b "+step] = s.dur()
		stepsTrace[s.trace] = step
		prevEnd = s.end
	}
	st["5 certified → seen by poll"] = seen.Sub(prevEnd)
	// When each analyzer ran inside the vet step, which shows what waited
	// for a core: start → end, in ms from the step's start.
	if vet, ok := find("pipeline.vet"); ok {
		var runs []span
		for _, s := range spans {
			if s.analyzer != "" {
				runs = append(runs, s)
			}
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i].start.Before(runs[j].start) })
		var tl []string
		for _, s := range runs {
			tl = append(tl, fmt.Sprintf("%s %d→%d", s.analyzer, s.start.Sub(vet.start).Milliseconds(), s.end.Sub(vet.start).Milliseconds()))
		}
		b.Logf("%s: vet timeline (ms): %s", id, strings.Join(tl, ", "))
	}
	for _, s := range spans {
		if s.analyzer != "" {
			st["3 analyzer "+s.analyzer] = s.dur()
		}
		if step, ok := stepsTrace[s.trace]; ok && (strings.HasPrefix(s.name, "store.") || strings.HasPrefix(s.name, "blobs.")) {
			st["store calls in "+step] += s.dur()
		}
		if s.trace == submit.trace && (strings.HasPrefix(s.name, "store.") || strings.HasPrefix(s.name, "blobs.")) {
			st["store calls in intake"] += s.dur()
		}
	}
	var line []string
	for _, k := range sortedKeys(st) {
		line = append(line, fmt.Sprintf("%s=%d", k, st[k].Milliseconds()))
	}
	b.Logf("%s: %s", id, strings.Join(line, " "))
	return st
}

func sortedKeys(m map[string]time.Duration) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// stageTable is a Markdown table of each stage's median and maximum.
func stageTable(ops []map[string]time.Duration) string {
	keys := map[string]time.Duration{}
	for _, op := range ops {
		for k := range op {
			keys[k] = 0
		}
	}
	var sb strings.Builder
	sb.WriteString("| stage | median ms | max ms |\n|---|---|---|\n")
	for _, k := range sortedKeys(keys) {
		var ds []time.Duration
		for _, op := range ops {
			if d, ok := op[k]; ok {
				ds = append(ds, d)
			}
		}
		fmt.Fprintf(&sb, "| %s | %d | %d |\n", k, percentile(ds, 50).Milliseconds(), slices.Max(ds).Milliseconds())
	}
	return sb.String()
}
