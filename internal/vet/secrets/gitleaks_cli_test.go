//go:build linux

package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/pkgfile"
)

// benchChildEnv names the package a child process of
// BenchmarkBesideGitleaksCLI scans: the test binary, started again with it
// set, is Gatehouse's side of the benchmark, in a process of its own as the
// gitleaks CLI is, so each peak memory is that side's alone.
const benchChildEnv = "GATEHOUSE_BENCH_SECRETS_PACKAGE"

// launchEnv makes the test binary a launcher: it runs the command whose
// argv is the JSON array in the variable, passes its output through, and
// writes what the command used (launched, as JSON) to the file named by
// launchUsageEnv. The benchmark starts each measured process through one,
// because a process started by os/exec on Linux shares its parent's
// memory until it executes its program, and the kernel then counts the
// parent's peak resident memory as the child's (ru_maxrss): measured
// directly, both tools' peaks were at least the benchmark's own (86 to 92
// MiB). A launcher is small when it starts its command, so the peak
// reported is the command's own whenever it is over the launcher's (about
// 16 MiB).
const (
	launchEnv      = "GATEHOUSE_BENCH_LAUNCH"
	launchUsageEnv = "GATEHOUSE_BENCH_LAUNCH_USAGE"
)

// launched is what a launcher reports of its command.
type launched struct {
	WallSeconds float64
	Usage       syscall.Rusage
}

func TestMain(m *testing.M) {
	if argv := os.Getenv(launchEnv); argv != "" {
		if err := launch(argv, os.Getenv(launchUsageEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "launcher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if path := os.Getenv(benchChildEnv); path != "" {
		if err := scanChild(path, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// launch runs the command argv (JSON) with the launcher's environment
// less the launcher's variables, and writes what it used to usagePath.
func launch(argv, usagePath string) error {
	var args []string
	if err := json.Unmarshal([]byte(argv), &args); err != nil || len(args) == 0 {
		return fmt.Errorf("%s=%q: want a JSON array naming a command", launchEnv, argv)
	}
	cmd := exec.Command(args[0], args[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, launchEnv+"=") && !strings.HasPrefix(kv, launchUsageEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return err
	}
	out, err := json.Marshal(launched{time.Since(start).Seconds(), *rusage(cmd.ProcessState)})
	if err != nil {
		return err
	}
	return os.WriteFile(usagePath, out, 0o600)
}

// runLaunched runs cmd through a launcher and returns what it used. cmd's
// Env, Stdout and Stderr apply to the command.
func runLaunched(b *testing.B, cmd *exec.Cmd) (launched, error) {
	b.Helper()
	argv, err := json.Marshal(cmd.Args)
	if err != nil {
		b.Fatal(err)
	}
	usage := filepath.Join(b.TempDir(), "usage.json")
	l := exec.Command(os.Args[0], "-test.run=^$")
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	l.Env = append(env[:len(env):len(env)], launchEnv+"="+string(argv), launchUsageEnv+"="+usage)
	l.Stdout, l.Stderr = cmd.Stdout, cmd.Stderr
	if err := l.Run(); err != nil {
		return launched{}, err
	}
	var u launched
	data, err := os.ReadFile(usage)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, &u); err != nil {
		b.Fatalf("the launcher's report: %v", err)
	}
	return u, nil
}

// childResult is what the child reports: its timings, its resident memory
// once the rules are compiled and the package read, what its heap holds
// after the scan, and its findings without their values.
type childResult struct {
	ReadSeconds  float64 // reading the package into memory
	RulesSeconds float64 // New: compiling the rules
	ScanSeconds  float64 // Analyze
	CPUSeconds   float64 // CPU time (user and system) of New and Analyze
	Bytes        int64   // the bytes of the files scanned
	BytesDecoded int64   // the bytes of the fragments given to the decoder
	LoadedKiB    int64   // peak resident memory before the scan
	LiveBytes    uint64  // the live heap after the scan: package, rules, findings
	Findings     []childFinding
}

type childFinding struct {
	Rule, File, Fingerprint string
	Line                    int
}

// scanChild compiles the rules, reads the package at path and scans it as
// the server does: the Analyzer made once when the process starts, then
// the package read into memory and scanned.
func scanChild(path string, w io.Writer) error {
	var r childResult
	var ru0, ru1, ru2, ru3 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	t0 := time.Now()
	a, err := New()
	if err != nil {
		return err
	}
	t1 := time.Now()
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	pkg, err := pkgfile.ReadFile(path, pkgfile.DefaultLimits())
	if err != nil {
		return fmt.Errorf("reading the corpus package: %w", err)
	}
	m, err := manifest.Parse(pkg.Manifest(), manifest.Options{})
	if err != nil {
		return fmt.Errorf("parsing the corpus manifest: %w", err)
	}
	t2 := time.Now()
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru2); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	r.LoadedKiB = ru2.Maxrss
	if err := writeHeapProfile("loaded"); err != nil {
		return err
	}
	rep, err := a.Analyze(context.Background(), &vet.Input{Package: pkg, Manifest: m})
	if err != nil {
		return fmt.Errorf("scanning: %w", err)
	}
	t3 := time.Now()
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru3); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	if err := writeHeapProfile("scanned"); err != nil {
		return err
	}
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	r.LiveBytes = live[0].Value.Uint64()
	runtime.KeepAlive(pkg)
	runtime.KeepAlive(a)
	r.RulesSeconds, r.ReadSeconds, r.ScanSeconds = t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds()
	r.CPUSeconds = cpuSeconds(&ru1) - cpuSeconds(&ru0) + cpuSeconds(&ru3) - cpuSeconds(&ru2)
	r.Bytes, r.BytesDecoded = rep.Detail.(*Detail).BytesScanned, rep.Detail.(*Detail).BytesDecoded
	for _, f := range rep.Findings {
		r.Findings = append(r.Findings, childFinding{f.RuleID, f.Location.File, f.Fingerprint, f.Location.Line})
	}
	return json.NewEncoder(w).Encode(r)
}

// benchProfileEnv names a directory where the child writes heap profiles
// (go tool pprof): loaded.pprof once the rules are compiled and the
// package read, scanned.pprof after the scan. Its allocation samples cover
// the whole process, so -sample_index=alloc_space shows the garbage.
const benchProfileEnv = "GATEHOUSE_BENCH_SECRETS_PROFILE"

// writeHeapProfile writes the heap profile named name to the directory
// benchProfileEnv names, if it is set.
func writeHeapProfile(name string) error {
	dir := os.Getenv(benchProfileEnv)
	if dir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC() // the profile shows the heap as of the last GC
	return pprof.WriteHeapProfile(f)
}

// BenchmarkBesideGitleaksCLI scans one corpus with the analyzer and with
// the gitleaks CLI (`gitleaks dir` with its defaults, which decode to
// depth 5), built from the gitleaks module Gatehouse requires, so both run
// the same rules on the same files in the same run. The corpus is Go
// source from GOROOT (GATEHOUSE_BENCH_SECRETS_MB megabytes, 50 unless
// set; GOROOT's tests hold keys and tokens gitleaks finds) plus a file
// with a base64- and a hex-encoded GitHub token. It fails if Gatehouse
// misses a secret gitleaks finds: each gitleaks finding's fingerprint
// (rule, file, secret) must be among Gatehouse's.
//
// Reported per run: MB/s of each in wall time and the CPU time each took
// (gitleaks: the whole process; Gatehouse: compiling the rules and
// scanning the package in memory, as the server does, and the CPU time
// of its whole process too, reading the package included); on a shared
// machine the CPU time is the steadier measure. Then the share of the
// bytes Gatehouse gave to the decoder, each process's peak resident
// memory, Gatehouse's before it scans (the rules, and the package it holds
// for every analyzer) and its live heap after the scan (the same, and the
// findings): the Go collector lets the heap grow to about twice the live
// heap, so the package, which gitleaks does not hold, costs about twice
// its size at the peak. Set GATEHOUSE_BENCH_SECRETS_PROFILE to a directory
// for heap profiles of the Gatehouse side.
//
//	go test -run '^$' -bench BesideGitleaksCLI -benchtime 1x ./internal/vet/secrets
func BenchmarkBesideGitleaksCLI(b *testing.B) {
	limit := int64(50_000_000)
	if s := os.Getenv("GATEHOUSE_BENCH_SECRETS_MB"); s != "" {
		mb, err := strconv.ParseFloat(s, 64)
		if err != nil || mb <= 0 {
			b.Fatalf("GATEHOUSE_BENCH_SECRETS_MB=%q: want a positive number of megabytes", s)
		}
		limit = int64(mb * 1e6)
	}
	tmp := b.TempDir()
	corpus := filepath.Join(tmp, "corpus")
	size, files, planted := writeCorpus(b, corpus, limit)
	b.Logf("corpus: %d files, %d bytes", files, size)

	pkgPath := filepath.Join(tmp, "corpus.gpkg")
	f, err := os.Create(pkgPath)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := pkgfile.PackDir(corpus, f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	gitleaks := filepath.Join(tmp, "gitleaks")
	build := exec.Command("go", "build", "-o", gitleaks, gitleaksModule)
	build.Dir = plugintest.ModuleRoot(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the gitleaks CLI: %v\n%s", err, out)
	}

	// GATEHOUSE_BENCH_SECRETS_GOMEMLIMIT gives both measured processes
	// the Go runtime's soft memory limit (GOMEMLIMIT), which both honour.
	var memLimit []string
	if v := os.Getenv("GATEHOUSE_BENCH_SECRETS_GOMEMLIMIT"); v != "" {
		memLimit = []string{"GOMEMLIMIT=" + v}
		b.Logf("both processes run with GOMEMLIMIT=%s", v)
	}
	var glSec, ghSec, glCPU, ghCPU, ghProcCPU, decodedShare float64
	var glPeak, ghPeak, ghLoaded int64
	var ghLive uint64
	b.ResetTimer()
	for b.Loop() {
		report := filepath.Join(tmp, "gitleaks.json")
		gl := exec.Command(gitleaks, "dir", "--no-banner", "--log-level", "error", "--exit-code", "0",
			"--report-format", "json", "--report-path", report, corpus)
		gl.Env = append(withoutGitleaksConfig(os.Environ()), memLimit...)
		var glOut bytes.Buffer
		gl.Stdout, gl.Stderr = &glOut, &glOut
		glUse, err := runLaunched(b, gl)
		if err != nil {
			b.Fatalf("gitleaks: %v\n%s", err, glOut.Bytes())
		}
		glSec += glUse.WallSeconds
		glCPU += cpuSeconds(&glUse.Usage)
		glPeak = max(glPeak, glUse.Usage.Maxrss<<10) // KiB on Linux
		glFound := readGitleaksReport(b, report, corpus)

		gh := exec.Command(os.Args[0], "-test.run=^$")
		gh.Env = append(append(os.Environ(), benchChildEnv+"="+pkgPath), memLimit...)
		var stdout, stderr bytes.Buffer
		gh.Stdout, gh.Stderr = &stdout, &stderr
		ghUse, err := runLaunched(b, gh)
		if err != nil {
			b.Fatalf("the Gatehouse child: %v\n%s", err, stderr.Bytes())
		}
		ghProcCPU += cpuSeconds(&ghUse.Usage)
		var res childResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			b.Fatalf("the Gatehouse child's report: %v\n%s", err, stdout.Bytes())
		}
		if res.Bytes != size {
			b.Fatalf("Gatehouse scanned %d bytes; the corpus has %d", res.Bytes, size)
		}
		ghSec += res.RulesSeconds + res.ScanSeconds
		ghCPU += res.CPUSeconds
		decodedShare += float64(res.BytesDecoded) / float64(res.Bytes)
		ghPeak = max(ghPeak, ghUse.Usage.Maxrss<<10)
		ghLoaded = max(ghLoaded, res.LoadedKiB<<10)
		ghLive = max(ghLive, res.LiveBytes)

		compareFindings(b, glFound, res.Findings, planted)
	}
	n := float64(b.N)
	b.ReportMetric(float64(size)/1e6, "corpus-MB")
	b.ReportMetric(float64(size)/1e6/(ghSec/n), "gatehouse-MB/s")
	b.ReportMetric(float64(size)/1e6/(glSec/n), "gitleaks-MB/s")
	b.ReportMetric(ghCPU/n, "gatehouse-cpu-s")
	b.ReportMetric(ghProcCPU/n, "gatehouse-process-cpu-s")
	b.ReportMetric(glCPU/n, "gitleaks-cpu-s")
	b.ReportMetric(100*decodedShare/n, "gatehouse-decoded-%")
	b.ReportMetric(float64(ghPeak)/(1<<20), "gatehouse-peak-MiB")
	b.ReportMetric(float64(ghLoaded)/(1<<20), "gatehouse-loaded-MiB")
	b.ReportMetric(float64(ghLive)/(1<<20), "gatehouse-live-MiB")
	b.ReportMetric(float64(glPeak)/(1<<20), "gitleaks-peak-MiB")
}

// writeCorpus copies Go source from GOROOT/src into dir, in path order,
// until limit bytes, and adds manifest.json and planted/encoded.go, which
// holds two GitHub tokens, one base64- and one hex-encoded. It returns the
// bytes and files written and the fingerprints of the planted tokens.
func writeCorpus(b *testing.B, dir string, limit int64) (int64, int, map[string]string) {
	b.Helper()
	tokB64 := fakeToken
	tokHex := "ghp_" + reverse(fakeToken[4:])
	planted := map[string]string{
		vet.Fingerprint(RuleID("github-pat"), "planted/encoded.go", tokB64): "the base64-encoded token",
		vet.Fingerprint(RuleID("github-pat"), "planted/encoded.go", tokHex): "the hex-encoded token",
	}
	extra := map[string][]byte{
		"manifest.json": []byte(man),
		"planted/encoded.go": []byte("package planted\n\n// Encoded so that a scanner which does not decode misses them.\n" +
			"const a = \"" + b64(tokB64) + "\"\n\nconst b = \"" + hexOf(tokHex) + "\"\n"),
	}
	var size int64
	for p, data := range extra {
		size += int64(len(data))
		writeFile(b, filepath.Join(dir, filepath.FromSlash(p)), data)
	}
	goroot := runtime.GOROOT()
	files := len(extra)
	err := filepath.WalkDir(filepath.Join(goroot, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || size >= limit {
			return err
		}
		// Hidden names are left out of packages (PackDir), so out of
		// the corpus; each scanner must see the same files.
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		if files >= pkgfile.DefaultLimits().MaxFiles-1 {
			return fs.SkipAll
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(goroot, p)
		if err != nil {
			return err
		}
		writeFile(b, filepath.Join(dir, rel), data)
		size += int64(len(data))
		files++
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return size, files, planted
}

func writeFile(b *testing.B, path string, data []byte) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

func reverse(s string) string {
	r := []byte(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// withoutGitleaksConfig drops the variables that would give the CLI a
// configuration other than its default one.
func withoutGitleaksConfig(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GITLEAKS_CONFIG") {
			out = append(out, kv)
		}
	}
	return out
}

// cpuSeconds returns the user and system CPU time in ru.
func cpuSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// rusage returns what a finished process used.
func rusage(ps *os.ProcessState) *syscall.Rusage {
	return ps.SysUsage().(*syscall.Rusage) // always so on Linux
}

// gitleaksFinding is a finding of the CLI's JSON report, its secret
// reduced to Gatehouse's fingerprint of it.
type gitleaksFinding struct {
	rule, file, fingerprint string
	line                    int
}

// readGitleaksReport reads the CLI's report and removes it, so the clear
// values it holds do not outlive the run.
func readGitleaksReport(b *testing.B, path, corpus string) []gitleaksFinding {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		b.Fatal(err)
	}
	var raw []struct {
		RuleID, File, Secret string
		StartLine            int
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		b.Fatalf("the gitleaks report: %v", err)
	}
	var out []gitleaksFinding
	for _, f := range raw {
		rel, err := filepath.Rel(corpus, f.File)
		if err != nil {
			b.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		out = append(out, gitleaksFinding{f.RuleID, rel, vet.Fingerprint(RuleID(f.RuleID), rel, f.Secret), f.StartLine})
	}
	return out
}

// compareFindings fails the benchmark for each secret gitleaks found that
// Gatehouse did not, and for each planted token either missed.
func compareFindings(b *testing.B, gl []gitleaksFinding, gh []childFinding, planted map[string]string) {
	b.Helper()
	ours := map[string]bool{}
	for _, f := range gh {
		ours[f.Fingerprint] = true
	}
	theirs := map[string]bool{}
	missed := 0
	for _, f := range gl {
		theirs[f.fingerprint] = true
		if !ours[f.fingerprint] {
			missed++
			b.Errorf("gitleaks found %s in %s line %d; Gatehouse did not", f.rule, f.file, f.line)
		}
	}
	for fp, what := range planted {
		if !ours[fp] {
			b.Errorf("Gatehouse missed %s", what)
		}
		if !theirs[fp] {
			b.Errorf("gitleaks missed %s", what)
		}
	}
	b.Logf("gitleaks: %d findings (%d distinct); Gatehouse: %d findings, %d of gitleaks' missed", len(gl), len(theirs), len(gh), missed)
}
