package dependencies

import (
	"archive/zip"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vulndb"
)

// fullGoZip is the whole Go vulnerability database, kept beside the
// checkout (shared/data/README.md).
const fullGoZip = "../../../../shared/data/osv-go-all.zip"

func needFullDB(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("GATEHOUSE_BENCH_OSV_ZIP"); p != "" {
		return p
	}
	if _, err := os.Stat(fullGoZip); err != nil {
		tb.Skipf("the whole Go database (%s) is absent", fullGoZip)
	}
	return fullGoZip
}

func reportJSON(tb testing.TB, rep *vet.Report) string {
	tb.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// otherDB is a second database for TestResidentDatabaseSwap: the whole Go
// database when it is beside the checkout, else the subset in testdata
// without GO-2022-1059, one of the advisories the plugin matches, so that
// the two databases report differently about it either way.
func otherDB(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(fullGoZip); err == nil {
		return fullGoZip
	}
	zr, err := zip.OpenReader(goZip)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := filepath.Join(t.TempDir(), "go-subset-without-GO-2022-1059.zip")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, e := range zr.File {
		if e.Name == "GO-2022-1059.json" {
			continue
		}
		if err := zw.Copy(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestResidentDatabaseSwap: the server's analyzer reads the store's
// active database at the start of each run. Runs going on while imports
// swap the database each see one whole database, and report exactly
// what a fresh load of that database reports, so no result outlives the
// database it came from; a run after an import sees the new one.
func TestResidentDatabaseSwap(t *testing.T) {
	full := otherDB(t)
	wasm := vulnPlugin(t)
	in := input(wasm)
	want := map[string]string{} // database version -> report
	for _, p := range []string{goZip, full} {
		db, err := vulndb.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := New(db).Analyze(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		want[db.Version().String()] = reportJSON(t, rep)
	}
	if len(want) != 2 {
		t.Fatalf("the two databases have one version: %v", want)
	}
	store, err := vulndb.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ImportFile(goZip); err != nil {
		t.Fatal(err)
	}
	a := NewDynamic(store.DB)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 100)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rep, err := a.Analyze(context.Background(), in)
				if err != nil {
					errs <- err.Error()
					return
				}
				got := reportJSON(t, rep)
				if w, ok := want[rep.Databases["osv"]]; !ok || got != w {
					errs <- "a run during imports reported " + got
					return
				}
			}
		}()
	}
	for _, p := range []string{full, goZip, full} {
		if _, err := store.ImportFile(p); err != nil {
			t.Fatal(err)
		}
		rep, err := a.Analyze(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := reportJSON(t, rep); got != want[store.DB().Version().String()] {
			t.Errorf("the run after importing %s reports %s", p, got)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// The benchmarks below are the vulnerability check of one real plugin
// (testdata/vulnplugin, 2.9 MB, golang.org/x/text v0.3.5 and the Go
// standard library) against the whole Go database, four ways:
//
//	Resident:  the server: the database is in memory; per op, one plugin.
//	Reload:    the old CLI path: import the all.zip, then match.
//	FirstRun:  the CLI with an empty cache: import, write the index, match.
//	SecondRun: the CLI with the index kept: read the index, match.
//
// OSVScanner is the peer: osv-scanner's offline run on the same plugin's
// go.mod, when GATEHOUSE_BENCH_OSV_SCANNER names its binary.

func BenchmarkPluginResident(b *testing.B) {
	store, err := vulndb.OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.ImportFile(needFullDB(b)); err != nil {
		b.Fatal(err)
	}
	in := input(vulnPlugin(b))
	a := NewDynamic(store.DB)
	for b.Loop() {
		if rep, err := a.Analyze(context.Background(), in); err != nil || len(rep.Findings) == 0 {
			b.Fatal(err, "no findings")
		}
	}
}

func benchCLI(b *testing.B, load func() *vulndb.DB) {
	in := input(vulnPlugin(b))
	for b.Loop() {
		if rep, err := New(load()).Analyze(context.Background(), in); err != nil || len(rep.Findings) == 0 {
			b.Fatal(err, "no findings")
		}
	}
}

func BenchmarkPluginReload(b *testing.B) {
	p := needFullDB(b)
	benchCLI(b, func() *vulndb.DB {
		db, err := vulndb.Load(p)
		if err != nil {
			b.Fatal(err)
		}
		return db
	})
}

func BenchmarkPluginFirstRun(b *testing.B) {
	p := needFullDB(b)
	dir := b.TempDir()
	benchCLI(b, func() *vulndb.DB {
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
		db, outcome, err := vulndb.Cache{Dir: dir}.Load(p, nil)
		if err != nil || outcome != vulndb.Prepared {
			b.Fatal(outcome, err)
		}
		return db
	})
}

func BenchmarkPluginSecondRun(b *testing.B) {
	p := needFullDB(b)
	c := vulndb.Cache{Dir: b.TempDir()}
	if _, _, err := c.Load(p, nil); err != nil {
		b.Fatal(err)
	}
	benchCLI(b, func() *vulndb.DB {
		db, outcome, err := c.Load(p, nil)
		if err != nil || outcome != vulndb.FromIndex {
			b.Fatal(outcome, err)
		}
		return db
	})
}

// BenchmarkOSVScannerOffline runs the peer as a user would, once per op,
// against the same all.zip laid out as its local database directory.
func BenchmarkOSVScannerOffline(b *testing.B) {
	bin := os.Getenv("GATEHOUSE_BENCH_OSV_SCANNER")
	if bin == "" {
		b.Skip("GATEHOUSE_BENCH_OSV_SCANNER does not name an osv-scanner binary")
	}
	p := needFullDB(b)
	dbDir := b.TempDir()
	raw, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	// osv-scanner before v2.5 reads DIR/osv-scanner/Go/all.zip; from v2.5
	// (matching through osv-scalibr) DIR/osv-scalibr/Go/all.zip.
	for _, sub := range []string{"osv-scanner", "osv-scalibr"} {
		if err := os.MkdirAll(filepath.Join(dbDir, sub, "Go"), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dbDir, sub, "Go", "all.zip"), raw, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	gomod, _ := filepath.Abs(filepath.Join("testdata", "vulnplugin", "go.mod"))
	// Offline, from the same all.zip, without call analysis (govulncheck),
	// which Gatehouse does not do either.
	args := []string{"scan", "source", "--offline-vulnerabilities", "--no-call-analysis=go",
		"--local-db-path", dbDir, "--format", "json", "-L", gomod}
	var out []byte
	for b.Loop() {
		out, err = exec.Command(bin, args...).Output()
		// osv-scanner exits 1 when it finds vulnerabilities, as it must here.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			b.Fatalf("osv-scanner: %v\n%s", err, out)
		}
	}
	// Gatehouse must find at least every advisory osv-scanner found.
	var peer struct {
		Results []struct {
			Packages []struct {
				Vulnerabilities []struct {
					ID string `json:"id"`
				} `json:"vulnerabilities"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &peer); err != nil {
		b.Fatalf("osv-scanner's JSON: %v", err)
	}
	db, err := vulndb.Load(p)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := New(db).Analyze(context.Background(), input(vulnPlugin(b)))
	if err != nil {
		b.Fatal(err)
	}
	ours := map[string]bool{}
	for _, f := range rep.Findings {
		if id, ok := f.Properties["advisory"].(string); ok {
			ours[id] = true
		}
	}
	found := 0
	for _, r := range peer.Results {
		for _, pkg := range r.Packages {
			for _, v := range pkg.Vulnerabilities {
				found++
				if !ours[v.ID] {
					b.Errorf("osv-scanner found %s; Gatehouse did not", v.ID)
				}
			}
		}
	}
	if found == 0 {
		b.Fatal("osv-scanner found no advisory in a plugin that has some: its database was not read")
	}
	b.ReportMetric(float64(found), "peer-advisories")
	b.ReportMetric(float64(len(ours)), "gatehouse-advisories")
}

// BenchmarkMatchResident is the matching alone: the plugin's components
// (listed once, as vetting's Detail records them) against the resident
// database, without parsing the module.
func BenchmarkMatchResident(b *testing.B) {
	store, err := vulndb.OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.ImportFile(needFullDB(b))
	if err != nil {
		b.Fatal(err)
	}
	rep, err := New(db).Analyze(context.Background(), input(vulnPlugin(b)))
	if err != nil {
		b.Fatal(err)
	}
	comps := rep.Detail.(Detail).Components
	n := 0
	for b.Loop() {
		n = 0
		for _, c := range comps {
			n += len(store.DB().Match(c.Component))
		}
	}
	if n == 0 {
		b.Fatal("no matches")
	}
	b.ReportMetric(float64(len(comps)), "components/op")
	b.ReportMetric(float64(n), "matches/op")
}
