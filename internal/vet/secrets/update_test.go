package secrets

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/manifest"
)

// The banners of the secretupdate plugin's versions: each update changes
// the banner alone.
const (
	bannerBase   = "Greetings from the update plugin, build 1.0.0"
	bannerSame   = "Greetings from the update plugin, build 1.0.1" // same length
	bannerLonger = "Greetings from the update plugin, build 1.0.10-rc.2"
)

// bannerSecret is a banner holding a secret: the changed string itself.
func bannerSecret() string {
	return "Greetings from the update plugin, build 1.0.2, token " + fakeToken
}

// updateModule builds the secretupdate plugin with banner.
func updateModule(t testing.TB, banner string) []byte {
	t.Helper()
	if banner == bannerBase {
		return plugintest.Build(t, "secretupdate")
	}
	return plugintest.BuildEdited(t, "secretupdate", `"`+bannerBase+`"`, `"`+banner+`"`)
}

// moduleInput is a package of a manifest and mod as its runtime module.
func moduleInput(t testing.TB, mod []byte) *vet.Input {
	t.Helper()
	return moduleInputAt(t, "plugin.wasm", mod)
}

// moduleInputAt is moduleInput with the module at path.
func moduleInputAt(t testing.TB, path string, mod []byte) *vet.Input {
	t.Helper()
	mf := strings.Replace(man, `"plugin.wasm"`, `"`+path+`"`, 1)
	m, err := manifest.Parse([]byte(mf), manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"manifest.json": []byte(mf), path: mod}
	return &vet.Input{Package: plugintest.Package(t, files), Manifest: m, Module: mod}
}

// liveRuns counts the printable runs of mod's data that gitleaks is given.
func liveRuns(t testing.TB, a *Analyzer, mod []byte) int {
	t.Helper()
	m, err := wasmfile.Parse(mod)
	if err != nil {
		t.Fatal(err)
	}
	var runs []piece
	for _, seg := range m.Data {
		runs = appendRuns(runs, piece{seg.Data, seg.Offset})
	}
	n := 0
	var raw []byte
	for _, p := range runs {
		raw = appendFragment(raw[:0], p.data)
		if a.live(raw) {
			n++
		}
	}
	return n
}

// TestModuleUpdateFindsWhatAFullScanFinds guards the cache of a module's
// runs: a real plugin's module is scanned, then its next version, which
// differs in one string (of the same length, of another length, or
// holding a secret itself); what the second scan reports, findings,
// locations, fingerprints, encodings and Detail, is what a scan of the
// new module without a cache reports, though it scanned few runs.
func TestModuleUpdateFindsWhatAFullScanFinds(t *testing.T) {
	base := updateModule(t, bannerBase)
	plain, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, banner string }{
		{"same length", bannerSame},
		{"longer", bannerLonger},
		{"secret in the changed string", bannerSecret()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := updateModule(t, tc.banner)
			if bytes.Equal(mod, base) {
				t.Fatal("the update did not change the module")
			}
			wantRep, want := analyze(t, plain, moduleInput(t, mod))

			c := NewCache(resultcache.Limits{})
			a := cachedAnalyzer(t, c)
			analyze(t, a, moduleInput(t, base))
			before := c.RunStats()
			_, got := analyze(t, a, moduleInput(t, mod))
			after := c.RunStats()
			if got != want {
				t.Fatalf("the update scanned after its previous version differs from a scan of it alone:\n got %s\nwant %s", got, want)
			}

			// The scan reused all but the changed runs: none when the
			// changed run holds nothing gitleaks looks at, which is passed
			// over without a lookup.
			hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
			live := liveRuns(t, plain, mod)
			t.Logf("%d live runs: %d from the cache, %d scanned", live, hits, misses)
			if hits+misses != int64(live) || misses > 2 {
				t.Errorf("%d runs from the cache and %d scanned of %d live; want all but at most the 2 changed ones from the cache", hits, misses, live)
			}
			if tc.banner == bannerSecret() && misses == 0 {
				t.Error("the run holding the new secret was taken from the cache")
			}

			// Detail counts the whole module, whatever came from the cache.
			d := wantRep.Detail.(*Detail)
			m, err := wasmfile.Parse(mod)
			if err != nil {
				t.Fatal(err)
			}
			if d.FilesScanned != 2 || d.BytesScanned != int64(len(mod)+len(man)) || d.SegmentsScanned != len(m.Data) || d.BytesDecoded <= 0 || d.BytesDecoded > int64(len(mod)) {
				t.Errorf("Detail %+v: want 2 files of %d bytes, %d segments, and the encoded key's run decoded", d, len(mod)+len(man), len(m.Data))
			}

			// The findings are the planted secrets, before and after the
			// changed string in the module.
			at := int64(bytes.Index(mod, []byte(tc.banner)))
			if at < 0 {
				t.Fatal("the banner is not in the module")
			}
			rules := map[string]bool{}
			var beforeBanner, afterBanner int
			for _, f := range wantRep.Findings {
				rules[f.RuleID] = true
				if f.Location.File != "plugin.wasm" || f.Location.Offset <= 0 {
					t.Errorf("finding %s at %+v, want an offset in plugin.wasm", f.RuleID, f.Location)
				}
				switch {
				case f.Location.Offset < at:
					beforeBanner++
				case f.Location.Offset >= at+int64(len(tc.banner)):
					afterBanner++
				}
			}
			for _, r := range []string{"secrets/aws-access-token", "secrets/github-pat", "secrets/slack-bot-token", "secrets/stripe-access-token"} {
				if !rules[r] {
					t.Errorf("no %s finding: %v", r, slices.Sorted(maps.Keys(rules)))
				}
			}
			// Five secrets: the AWS key is there twice, once encoded.
			if n := len(wantRep.Findings); n < 5 {
				t.Errorf("%d findings, want the 5 planted secrets", n)
			}
			if beforeBanner == 0 || afterBanner == 0 {
				t.Errorf("%d findings before the changed string and %d after; the test needs some on both sides", beforeBanner, afterBanner)
			}
			encoded := false
			for _, f := range wantRep.Findings {
				if e, ok := f.Properties["encodings"].([]string); ok && slices.Contains(e, "base64") {
					encoded = true
				}
			}
			if !encoded {
				t.Error("the base64-encoded key was not found")
			}
			if tc.banner == bannerSecret() {
				fp := vet.Fingerprint("secrets/github-pat", "plugin.wasm", fakeToken)
				i := slices.IndexFunc(wantRep.Findings, func(f vet.Finding) bool { return f.Fingerprint == fp })
				wantOff := int64(bytes.Index(mod, []byte(fakeToken)))
				if i < 0 || wantRep.Findings[i].Location.Offset != wantOff {
					t.Errorf("the token in the changed string: finding %d, want one at offset %d", i, wantOff)
				}
			}
		})
	}
}

// TestModuleRunMovedKeepsItsFindings: a run that an update moved is
// taken from the cache, and its findings move with it.
func TestModuleRunMovedKeepsItsFindings(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	a := cachedAnalyzer(t, c)
	in, _ := testInput(t)
	analyze(t, a, in)
	data := []byte("a longer preamble of the update\x00\x01aws_access_key_id=" + fakeKey + "\x00more")
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, data)
	upd := withFile(t, in, "plugin.wasm", mod)
	upd.Module = mod
	before := c.RunStats()
	rep, got := analyze(t, a, upd)
	after := c.RunStats()
	// The preamble is a run without a keyword: it is not scanned at all.
	if after.Hits-before.Hits != 1 || after.Misses != before.Misses {
		t.Errorf("runs: %d from the cache, %d scanned; want the key's run from the cache", after.Hits-before.Hits, after.Misses-before.Misses)
	}
	plain, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, want := analyze(t, plain, upd); got != want {
		t.Errorf("the moved run's findings differ from a scan without the cache:\n got %s\nwant %s", got, want)
	}
	wantOff := int64(bytes.Index(mod, []byte(fakeKey)))
	i := slices.IndexFunc(rep.Findings, func(f vet.Finding) bool { return f.RuleID == "secrets/aws-access-token" })
	if i < 0 || rep.Findings[i].Location.Offset != wantOff {
		t.Errorf("AWS key finding %d in %+v; want it at offset %d", i, rep.Findings, wantOff)
	}
}

// TestModuleRunNotReusedAfterRulesOrVersionChange guards the runs'
// cache like the files': an analyzer with another rule set or another
// version of its logic, sharing the cache, scans every run again.
func TestModuleRunNotReusedAfterRulesOrVersionChange(t *testing.T) {
	t.Parallel()
	in, _ := testInput(t)
	data := []byte("deploy key: " + acmeKey + "\x00\x02aws_access_key_id=" + fakeKey + "\x00")
	mod := plugintest.Module(nil, []string{"run"}, 1, 1, data)
	in = withFile(t, in, "plugin.wasm", mod)
	in.Module = mod
	newRules := func(t *testing.T) *Analyzer {
		a, err := newWithRules(config.DefaultConfig + acmeRule)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	newVersion := func(t *testing.T) *Analyzer {
		a, err := New()
		if err != nil {
			t.Fatal(err)
		}
		a.logicVersion = Version + "-next"
		return a
	}
	for name, next := range map[string]func(*testing.T) *Analyzer{"rules": newRules, "version": newVersion} {
		t.Run(name, func(t *testing.T) {
			c := NewCache(resultcache.Limits{})
			analyze(t, cachedAnalyzer(t, c), in)
			if c.RunStats().Entries == 0 {
				t.Fatal("the first scan cached no run")
			}
			a := next(t).WithCache(c)
			before := c.RunStats()
			rep, _ := analyze(t, a, in)
			after := c.RunStats()
			if after.Hits != before.Hits || after.Misses == before.Misses {
				t.Errorf("runs: %d from the cache, %d scanned; want none from the cache", after.Hits-before.Hits, after.Misses-before.Misses)
			}
			if name == "rules" && !slices.Contains(ruleIDs(rep), "secrets/acme-deploy-key") {
				t.Errorf("the new rule's secret was not found in the module: rules %v", ruleIDs(rep))
			}
		})
	}
}

// TestModuleRunFindingsIgnoreNeighbours: a run's findings are its own.
// Joined into one fragment, as 1.1.0 joined runs, "client_secret" in one
// run and "= '…'" in the next made one generic match across the
// non-printable byte between them; scanned alone, neither run holds a
// secret, and a run that holds one is found the same beside any other.
func TestModuleRunFindingsIgnoreNeighbours(t *testing.T) {
	t.Parallel()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	value := "= 'q8Zr4Lm2Xv7Tn1Kp9Wd3Hs6'"
	// moduleFindings returns the findings in a module holding data, and
	// where the key is in the module.
	moduleFindings := func(data string) ([]vet.Finding, int64) {
		mod := plugintest.Module(nil, []string{"run"}, 1, 1, []byte(data))
		rep, _ := analyze(t, a, moduleInput(t, mod))
		return rep.Findings, int64(bytes.Index(mod, []byte(fakeKey)))
	}
	joined := &fileScan{a: a}
	joined.binary(context.Background(), "plugin.wasm", []piece{{[]byte("client_secret"), 0}, {[]byte(value), 20}}, false)
	if len(joined.hits) == 0 {
		t.Fatal("the runs joined into one fragment make no match: the test no longer shows what joining did")
	}
	if f, _ := moduleFindings("client_secret\x00" + value); len(f) != 0 {
		t.Errorf("two runs without a secret of their own: %+v", f)
	}
	key := "aws_access_key_id=" + fakeKey
	alone, _ := moduleFindings(key)
	if len(alone) != 1 {
		t.Fatalf("the key alone: %+v, want one finding", alone)
	}
	for _, other := range []string{"client_secret", value, "password", strings.Repeat("x", 5000)} {
		beside, at := moduleFindings(other + "\x00" + key + "\x01" + other)
		if len(beside) != 1 || beside[0].Fingerprint != alone[0].Fingerprint || beside[0].Location.Offset != at {
			t.Errorf("the key beside %.20q: %+v; want %s at %d", other, beside, alone[0].RuleID, at)
		}
	}
}

// FuzzLiveMissesNothing guards the runs that moduleData passes over: for
// any run that live says gitleaks needs not see, gitleaks, with and
// without decoding, finds nothing; and live's keyword test finds a
// keyword exactly where a plain search of every keyword does.
func FuzzLiveMissesNothing(f *testing.F) {
	a, err := New()
	if err != nil {
		f.Fatal(err)
	}
	var keywords []string
	for _, r := range a.cfg.Rules {
		for _, k := range r.Keywords {
			keywords = append(keywords, strings.ToLower(k))
		}
	}
	for _, s := range []string{
		"plain words only", "aws_access_key_id=" + fakeKey, "AKIA", "xoxb-", "GHP_", "Token",
		b64("aws_access_key_id=" + fakeKey), hexOf(fakeToken), percent("api_key=" + fakeToken),
		"a\rb\x00c\xffAPI", "-----BEGIN RSA PRIVATE KEY-----", "\\u0041\\u004b", "U+0041",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := appendFragment(nil, data)
		if a.live(raw) {
			return
		}
		low := strings.ToLower(string(raw))
		for _, k := range keywords {
			if strings.Contains(low, k) {
				t.Fatalf("live passed over %q, which holds the keyword %q", raw, k)
			}
		}
		for _, d := range []*detect.Detector{a.plain, a.decoding} {
			if got := d.DetectContext(context.Background(), detect.Fragment{Raw: string(raw)}); len(got) != 0 {
				t.Fatalf("live passed over %q, where gitleaks finds %s", raw, fmt.Sprint(got[0].RuleID))
			}
		}
	})
}

// BenchmarkModuleUpdate scans the module of an update that changed one
// string constant (bannerLonger for bannerBase, so every later offset
// moves): "full" without a cache, as a first vetting does; "incremental"
// after the previous version was scanned into a fresh cache (that scan is
// not timed); "all-runs-cached" the new module with every run in the
// cache but not the module whole; "unchanged" the same module again, a
// whole-module hit. The
// package is the manifest and the module. "joined-runs" is the 1.1.0 way
// of scanning the module's data (runs joined into fragments of about
// batchBytes), without parsing the module, for comparison.
func BenchmarkModuleUpdate(b *testing.B) {
	oldMod, newMod := updateModule(b, bannerBase), updateModule(b, bannerLonger)
	oldIn, newIn := moduleInput(b, oldMod), moduleInput(b, newMod)
	a, err := New()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, in *vet.Input) {
		if _, err := a.Analyze(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("full", func(b *testing.B) {
		a.cache = nil
		b.SetBytes(int64(len(newMod)))
		for b.Loop() {
			run(b, newIn)
		}
	})
	b.Run("incremental", func(b *testing.B) {
		b.SetBytes(int64(len(newMod)))
		var scanned int64
		for b.Loop() {
			b.StopTimer()
			a.cache = NewCache(resultcache.Limits{})
			run(b, oldIn)
			before := a.cache.RunStats()
			b.StartTimer()
			run(b, newIn)
			scanned += a.cache.RunStats().Misses - before.Misses
		}
		b.ReportMetric(float64(scanned)/float64(b.N), "runs-scanned/op")
	})
	b.Run("all-runs-cached", func(b *testing.B) {
		// The new module under another path: not found whole, every run
		// found; what an incremental scan costs besides the changed runs.
		a.cache = NewCache(resultcache.Limits{})
		run(b, newIn)
		moved := moduleInputAt(b, "renamed.wasm", newMod)
		b.SetBytes(int64(len(newMod)))
		for b.Loop() {
			b.StopTimer()
			a.cache.files = resultcache.New[scanned](resultcache.Limits{})
			b.StartTimer()
			run(b, moved)
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		a.cache = NewCache(resultcache.Limits{})
		run(b, newIn)
		b.SetBytes(int64(len(newMod)))
		for b.Loop() {
			run(b, newIn)
		}
	})
	b.Run("joined-runs", func(b *testing.B) {
		m, err := wasmfile.Parse(newMod)
		if err != nil {
			b.Fatal(err)
		}
		var runs []piece
		for _, seg := range m.Data {
			runs = appendRuns(runs, piece{seg.Data, seg.Offset})
		}
		b.SetBytes(int64(len(newMod)))
		for b.Loop() {
			(&fileScan{a: a}).binary(ctx, "plugin.wasm", runs, false)
		}
	})
}
