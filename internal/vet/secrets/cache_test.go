package secrets

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/config"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
)

// acmeRule is a rule the default set does not have, for a rule-set
// change a test can observe: it finds acmeKey.
const acmeRule = `
[[rules]]
id = "acme-deploy-key"
description = "Acme deploy key"
regex = '''acmedk_[a-z0-9]{24}'''
keywords = ["acmedk_"]
`

var acmeKey = "acmedk_" + strings.Repeat("q7x2", 6)

// withFile is in with the file at path replaced by data.
func withFile(t *testing.T, in *vet.Input, path string, data []byte) *vet.Input {
	t.Helper()
	files := map[string][]byte{}
	for _, e := range in.Package.Files {
		b, _ := in.Package.File(e.Path)
		files[e.Path] = b
	}
	files[path] = data
	out := *in
	out.Package = plugintest.Package(t, files)
	return &out
}

func analyze(t *testing.T, a *Analyzer, in *vet.Input) (*vet.Report, string) {
	t.Helper()
	rep, err := a.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(struct {
		F []vet.Finding
		D any
	}{rep.Findings, rep.Detail})
	if err != nil {
		t.Fatal(err)
	}
	return rep, string(js)
}

func ruleIDs(rep *vet.Report) []string {
	ids := map[string]bool{}
	for _, f := range rep.Findings {
		ids[f.RuleID] = true
	}
	return slices.Sorted(maps.Keys(ids))
}

func cachedAnalyzer(t *testing.T, c *Cache) *Analyzer {
	t.Helper()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return a.WithCache(c)
}

// TestCacheHitOnUnchangedFile: vetting the same package again scans no
// file and reports the same findings, locations and counts.
func TestCacheHitOnUnchangedFile(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	a := cachedAnalyzer(t, c)
	in, _ := testInput(t)
	_, first := analyze(t, a, in)
	if s := c.Stats(); s.Hits != 0 || s.Misses != int64(len(in.Package.Files)) {
		t.Fatalf("first run: %+v, want every file a miss", s)
	}
	_, second := analyze(t, a, in)
	if s := c.Stats(); s.Hits != int64(len(in.Package.Files)) {
		t.Errorf("second run: %+v, want every file a hit", s)
	}
	if first != second {
		t.Errorf("the cached run differs:\n first %s\nsecond %s", first, second)
	}
}

// TestCacheMissAfterFileChanges: an update that changes one file re-scans
// that file only, and reports what the file now holds.
func TestCacheMissAfterFileChanges(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	a := cachedAnalyzer(t, c)
	in, _ := testInput(t)
	analyze(t, a, in)
	before := c.Stats()
	// The update removes the GitHub token from config/app.env.
	upd := withFile(t, in, "config/app.env", []byte("# settings\nREGION=eu-west-1\n"))
	rep, got := analyze(t, a, upd)
	after := c.Stats()
	if after.Misses-before.Misses != 1 || after.Hits-before.Hits != int64(len(in.Package.Files)-1) {
		t.Errorf("update: %d misses and %d hits, want 1 and %d", after.Misses-before.Misses, after.Hits-before.Hits, len(in.Package.Files)-1)
	}
	if ids := ruleIDs(rep); slices.Contains(ids, "secrets/github-pat") || !slices.Contains(ids, "secrets/aws-access-token") {
		t.Errorf("after removing the token: rules %v, want the module's AWS key only", ids)
	}
	// The same update without a cache reports the same.
	plain, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, want := analyze(t, plain, upd); got != want {
		t.Errorf("cached update differs from an uncached scan:\n got %s\nwant %s", got, want)
	}
}

// TestCachedResultNotReusedAfterRulesChange guards the cache against a
// rule-set change: an analyzer with a new rule, sharing the cache of one
// without it, scans again and finds what the new rule finds.
func TestCachedResultNotReusedAfterRulesChange(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	in, _ := testInput(t)
	in = withFile(t, in, "deploy.txt", []byte("key: "+acmeKey+"\n"))
	old := cachedAnalyzer(t, c)
	rep, _ := analyze(t, old, in)
	if slices.Contains(ruleIDs(rep), "secrets/acme-deploy-key") {
		t.Fatal("the default rule set knows the Acme rule; the test needs a rule it lacks")
	}
	newer, err := newWithRules(config.DefaultConfig + acmeRule)
	if err != nil {
		t.Fatal(err)
	}
	newer.WithCache(c)
	before := c.Stats()
	rep, _ = analyze(t, newer, in)
	if d := c.Stats().Hits - before.Hits; d != 0 {
		t.Errorf("%d results cached under the old rules were reused under the new", d)
	}
	if !slices.Contains(ruleIDs(rep), "secrets/acme-deploy-key") {
		t.Errorf("the new rule's secret was not found: rules %v", ruleIDs(rep))
	}
}

// TestCachedResultNotReusedAfterAnalyzerVersionChange: a new version of
// the analyzer's own logic scans every file again.
func TestCachedResultNotReusedAfterAnalyzerVersionChange(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	in, _ := testInput(t)
	analyze(t, cachedAnalyzer(t, c), in)
	next := cachedAnalyzer(t, c)
	next.logicVersion = Version + "-next"
	before := c.Stats()
	analyze(t, next, in)
	if d := c.Stats().Hits - before.Hits; d != 0 {
		t.Errorf("%d results cached by analyzer version %s were reused by %s", d, Version, next.logicVersion)
	}
}

// TestCacheKeysTheModuleAsAModule: the same bytes as the runtime module
// (data segments scanned) and as an ordinary file (scanned whole) are
// different parts.
func TestCacheKeysTheModuleAsAModule(t *testing.T) {
	t.Parallel()
	c := NewCache(resultcache.Limits{})
	a := cachedAnalyzer(t, c)
	in, _ := testInput(t)
	analyze(t, a, in)
	noMod := *in
	noMod.Module = nil
	before := c.Stats()
	analyze(t, a, &noMod)
	if d := c.Stats().Misses - before.Misses; d != 1 {
		t.Errorf("%d misses, want 1: plugin.wasm read as a file is not the module's scan", d)
	}
}
