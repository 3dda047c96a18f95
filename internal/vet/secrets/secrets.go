// Package secrets finds credentials shipped inside a package: in every
// file, and in the WebAssembly module's data segments, where a string
// constant such as an API key ends up. It runs the gitleaks rule set (the
// default configuration of github.com/zricethezav/gitleaks/v8, used as a
// library) so its rules track a maintained, widely reviewed list, and it
// decodes as the gitleaks CLI does (base64, hex, percent-encoding and
// unicode escapes, nested to the CLI's default depth), so a key hidden by
// encoding it is found where it is written.
//
// A secret's value never leaves this package: messages, snippets and
// properties carry only its first characters ("AKIA…"), and the
// fingerprint is a hash that also covers the rule and file, so the same
// key in the same file keeps its reviewer decision across versions.
package secrets

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/resultcache"
	"gatehouse.dev/gatehouse/internal/wasmfile"
)

// Name is the analyzer's name.
const Name = "secrets"

// Version changes whenever the analyzer's own logic changes; the rule
// set's version is in each result's Databases.
//
// 1.2.0: a module's data is scanned one printable run at a time (each
// run's findings its own, whatever lies beside it), and runs are cached
// one by one.
const Version = "1.2.0"

// maxDecodeDepth is how many rounds of decoding gitleaks applies to what
// it scans, each round decoding what the last one produced (base64 of hex
// takes two): the default of the gitleaks CLI's --max-decode-depth, so a
// secret the CLI finds encoded in a file is found here too.
const maxDecodeDepth = 5

// gitleaksModule is the module path whose version names the rule set.
const gitleaksModule = "github.com/zricethezav/gitleaks/v8"

// remediation is the same for every secret: a shipped secret is a leaked
// secret.
const remediation = "Treat the secret as leaked: revoke or rotate it at its provider now. Remove it from the package and the source, " +
	"and have the plugin read it at run time with a secret:NAME permission and pdk.Secret(\"NAME\"), so the operator supplies it."

// Analyzer is the secrets analyzer. It is safe for concurrent use.
type Analyzer struct {
	cfg     config.Config
	rules   []vet.Rule
	version string
	// plain and decoding are detectors of cfg, built once, as building
	// one indexes every rule's keywords. decoding decodes as the gitleaks
	// CLI does; plain does not, and scans what mayDecode shows holds
	// nothing to decode. Both are safe for concurrent use: DetectContext
	// only reads a detector, and gitleaks shares one among its own
	// scanning goroutines.
	plain, decoding *detect.Detector
	// rulesDigest identifies the rule set as compiled and the decoding
	// depth: what, with Version, decides a file's findings.
	rulesDigest string
	// logicVersion is Version, held here so a test can show that a
	// result cached by another version is not reused.
	logicVersion string
	// cache holds each file's scan across runs; nil scans every file.
	cache *Cache
	// keywords finds the rules' keywords (lowercased, as gitleaks
	// matches them) in a module's printable run; with everyRun, it
	// decides which runs gitleaks must see (see live).
	keywords *keywordIndex
	// everyRun is set when some rule runs on every fragment, whatever
	// its keywords: then every run is live.
	everyRun bool
}

// Cache holds the scan of each file, so a file an update did not change
// is not scanned again, and the scan of each printable run of a module's
// data, so a module an update changed is scanned again only where its
// data changed. Make one with NewCache and share it among the Analyzers
// of one process (WithCache). A nil *Cache caches nothing.
type Cache struct {
	files *resultcache.Cache[scanned]
	// runs holds the findings of a module's printable runs, each keyed
	// by the run's bytes alone: a run's findings do not depend on where
	// it is, in which module or beside what (see moduleData), so they
	// are shared by every version and every plugin holding the run, such
	// as the Go runtime's strings.
	runs *resultcache.Cache[scanned]
}

// NewCache returns an empty cache. Its files and its runs are each bounded
// by lim, so it holds at most twice lim.
func NewCache(lim resultcache.Limits) *Cache {
	return &Cache{files: resultcache.New[scanned](lim), runs: resultcache.New[scanned](lim)}
}

// Stats counts the lookups of whole files (a module counts as one file)
// and what the cache holds of them.
func (c *Cache) Stats() resultcache.Stats { return c.fileCache().Stats() }

// RunStats counts the lookups of a module's printable runs, made when a
// module is not found whole, and what the cache holds of them.
func (c *Cache) RunStats() resultcache.Stats { return c.runCache().Stats() }

func (c *Cache) fileCache() *resultcache.Cache[scanned] {
	if c == nil {
		return nil
	}
	return c.files
}

func (c *Cache) runCache() *resultcache.Cache[scanned] {
	if c == nil {
		return nil
	}
	return c.runs
}

// scanned is what scanning one file, or one printable run of a module,
// found. A cached one is shared by every run that reuses it: nothing may
// modify it.
type scanned struct {
	hits     []hit
	segments int
	decoded  int64
}

// size is about what s holds in memory.
func (s scanned) size() int64 {
	n := int64(64)
	for _, h := range s.hits {
		n += 128 + int64(len(h.rule)+len(h.desc)+len(h.secret)+len(h.loc.File)+len(h.loc.Snippet))
	}
	return n
}

// WithCache has a use c to skip files it scanned before: those whose
// bytes, path and role are unchanged under the same analyzer version and
// rule set. It returns a.
func (a *Analyzer) WithCache(c *Cache) *Analyzer {
	a.cache = c
	return a
}

// New loads the gitleaks default rule set. Compiling its few hundred
// regular expressions takes tens of milliseconds, so build one Analyzer
// and reuse it.
func New() (*Analyzer, error) { return newWithRules(config.DefaultConfig) }

// newWithRules loads the gitleaks rule set in rules, TOML as in gitleaks'
// own configuration file.
func newWithRules(rules string) (*Analyzer, error) {
	// A viper instance of our own: gitleaks' NewDetectorDefaultConfig uses
	// viper's global, which is not safe for concurrent use.
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(rules)); err != nil {
		return nil, fmt.Errorf("secrets: reading the gitleaks default rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("secrets: decoding the gitleaks default rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("secrets: compiling the gitleaks default rules: %w", err)
	}
	a := &Analyzer{cfg: cfg, version: rulesetVersion(), plain: detect.NewDetector(cfg)}
	a.decoding = decodingCopy(a.plain, maxDecodeDepth)
	a.rulesDigest = rulesDigest(a.version, rules, maxDecodeDepth)
	a.logicVersion = Version
	var keywords []string
	for _, id := range cfg.OrderedRules {
		r := cfg.Rules[id]
		// gitleaks runs a rule without keywords on every fragment: its
		// regular expression, or, for a rule of paths alone, its path
		// test, which module data (scanned without a path) passes if the
		// path expression matches the empty path.
		if len(r.Keywords) == 0 && (r.Regex != nil || r.Path != nil && r.Path.MatchString("")) {
			a.everyRun = true
		}
		for _, k := range r.Keywords {
			keywords = append(keywords, strings.ToLower(k))
		}
		a.rules = append(a.rules, vet.Rule{
			ID:          RuleID(r.RuleID),
			Name:        r.RuleID,
			Description: r.Description,
			Severity:    severity(r.RuleID),
			Remediation: remediation,
		})
	}
	a.keywords = newKeywordIndex(keywords)
	return a, nil
}

// decodingCopy returns a detector that is d but decodes to depth. It is a
// shallow copy, so the two share d's index of the rules' keywords: a trie
// of 2 KiB per state, 2.2 MiB for the default rules, which NewDetector
// would build again. Sharing is safe because DetectContext only reads the
// index (gitleaks shares one detector among its scanning goroutines). The
// copy is made by reflection because Detector holds an atomic counter,
// which go vet forbids copying by assignment; d is new, so the counter is
// zero and nothing else touches it, and the Analyzer never reads it.
func decodingCopy(d *detect.Detector, depth int) *detect.Detector {
	c := new(detect.Detector)
	reflect.ValueOf(c).Elem().Set(reflect.ValueOf(d).Elem())
	c.MaxDecodeDepth = depth
	return c
}

// RuleID is the vet rule id of a gitleaks rule.
func RuleID(gitleaksID string) string { return Name + "/" + gitleaksID }

// severity: a provider-specific rule matches a key's exact format, so a
// hit is almost certainly a real credential; the generic rule keys on
// names like "api_key = ..." and is wrong often enough to be a warning.
func severity(id string) vet.Severity {
	if strings.HasPrefix(id, "generic") {
		return vet.Medium
	}
	return vet.High
}

func rulesetVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == gitleaksModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "v8.30.1"
}

// rulesDigest names a rule set: the gitleaks version, the SHA-256 of the
// rules as loaded and the decoding depth.
func rulesDigest(version, rules string, depth int) string {
	sum := sha256.Sum256([]byte(rules))
	return fmt.Sprintf("gitleaks %s rules sha256:%x decode-depth %d", version, sum, depth)
}

func (*Analyzer) Name() string           { return Name }
func (*Analyzer) Version() string        { return Version }
func (*Analyzer) Requires() []string     { return nil }
func (*Analyzer) Timeout() time.Duration { return time.Minute }

// ExpectedDuration implements vet.Estimator: 0.1–1.6 s without the
// cache on the benchmarks' plugins, tens of ms with it.
func (*Analyzer) ExpectedDuration() time.Duration { return 200 * time.Millisecond }

// Rules returns one rule per gitleaks rule.
func (a *Analyzer) Rules() []vet.Rule { return append([]vet.Rule(nil), a.rules...) }

// Detail is the analyzer's Detail.
type Detail struct {
	FilesScanned    int   `json:"filesScanned"`
	BytesScanned    int64 `json:"bytesScanned"`
	SegmentsScanned int   `json:"moduleSegmentsScanned"`
	// BytesDecoded counts the bytes of the fragments given to gitleaks'
	// decoder, those where mayDecode found something it could decode; the
	// rest were scanned without it, to the same findings.
	BytesDecoded int64 `json:"bytesDecoded"`
}

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if in.Package == nil {
		return nil, fmt.Errorf("no package to scan")
	}
	modPath := ""
	if in.Manifest != nil {
		modPath = in.Manifest.Runtime.Module
	}
	files := in.Package.Files
	hits := make([][]hit, len(files))
	segments := make([]int, len(files))
	decoded := make([]int64, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || ctx.Err() != nil {
					return
				}
				sc, ok := a.scan(ctx, in, files[i].Path, modPath)
				if !ok {
					return
				}
				hits[i], segments[i], decoded[i] = sc.hits, sc.segments, sc.decoded
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Merge in file order, so findings and their first locations do not
	// depend on which worker finished first.
	d := &Detail{}
	m := &merge{seen: map[string]int{}}
	for i, e := range files {
		d.FilesScanned++
		d.BytesScanned += e.Size
		d.SegmentsScanned += segments[i]
		d.BytesDecoded += decoded[i]
		for _, h := range hits[i] {
			m.add(h)
		}
	}
	return &vet.Report{
		Findings:  m.findings,
		Detail:    d,
		Databases: map[string]string{"gitleaks": a.version},
	}, nil
}

// hit is one gitleaks match, before deduplication.
type hit struct {
	rule, desc, secret string
	loc                vet.Location
	// encodings lists how a secret found by decoding was encoded
	// ("base64", "hex", "percent", "unicode"); it is empty for a secret
	// written as it is.
	encodings []string
	// located says loc.Offset was found, for a run's hit held relative
	// to the run: one not found stays at offset 0 when moved to the file.
	located bool
}

// fileScan scans one file.
type fileScan struct {
	a       *Analyzer
	hits    []hit
	decoded int64 // bytes given to the decoder
}

// detect runs the rules on raw, a fragment of file ("" for text that is
// not a file's, or whose path must not count), decoding it only where
// mayDecode says there may be something to decode; decoded says whether
// it did.
func (a *Analyzer) detect(ctx context.Context, raw, file string) (findings []report.Finding, decoded bool) {
	det := a.plain
	if mayDecode(raw) {
		det = a.decoding
	}
	return det.DetectContext(ctx, detect.Fragment{Raw: raw, FilePath: file}), det == a.decoding
}

// detect is Analyzer.detect, counting the bytes decoded.
func (s *fileScan) detect(ctx context.Context, raw, file string) []report.Finding {
	findings, decoded := s.a.detect(ctx, raw, file)
	if decoded {
		s.decoded += int64(len(raw))
	}
	return findings
}

// add keeps f. Its secret is a substring of the fragment, which asString
// made of the package's bytes: it is copied, so a hit kept (in the cache)
// does not keep the package's memory, nor a batch's, alive.
func (s *fileScan) add(f report.Finding, loc vet.Location) {
	s.hits = append(s.hits, hit{rule: f.RuleID, desc: f.Description, secret: strings.Clone(f.Secret), loc: loc, encodings: encodings(f)})
}

// asString returns b as a string without copying it. gitleaks takes a
// fragment as a string, and copying every byte of a package into one
// costs as many bytes of garbage as the package has. It is safe because
// b is not modified while the string is in use: a package's files are
// immutable (pkgfile.Package.File), and a batch's buffer is not written
// once it is scanned. Only the secrets of findings outlive the scan, and
// add copies them.
func asString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// scan scans the file at path, or returns its scan from the cache. A scan
// cut short by ctx is neither returned (ok is false) nor cached.
func (a *Analyzer) scan(ctx context.Context, in *vet.Input, path, modPath string) (sc scanned, ok bool) {
	var key resultcache.Key
	if a.cache != nil {
		data, _ := in.Package.File(path)
		role := "file:"
		if path == modPath && in.Module != nil {
			// The module's data segments are scanned, parsed from
			// in.Module; it is what the key must name.
			role, data = "module:", in.Module
		}
		key = resultcache.Key{
			Analyzer: Name, AnalyzerVersion: a.logicVersion, RulesDigest: a.rulesDigest,
			Part: role + path, Content: sha256.Sum256(data),
		}
		if sc, ok := a.cache.fileCache().Get(key); ok {
			return sc, true
		}
	}
	fs := &fileScan{a: a}
	segs := fs.scanFile(ctx, in, path, modPath)
	if ctx.Err() != nil {
		return scanned{}, false
	}
	sc = scanned{hits: fs.hits, segments: segs, decoded: fs.decoded}
	a.cache.fileCache().Put(key, sc, sc.size())
	return sc, true
}

// scanFile scans the file at path and returns how many module data
// segments it scanned.
func (s *fileScan) scanFile(ctx context.Context, in *vet.Input, path, modPath string) int {
	data, _ := in.Package.File(path)
	switch {
	case path == modPath && in.Module != nil:
		// String constants live in the data segments; scanning only
		// those skips the code, and offsets point into the file.
		mod, err := wasmfile.Parse(in.Module)
		if err != nil {
			// The capabilities analyzer reports the malformed module;
			// here the whole file is still scanned.
			s.binary(ctx, path, appendRuns(nil, piece{data, 0}), false)
			return 0
		}
		var runs []piece
		for _, seg := range mod.Data {
			runs = appendRuns(runs, piece{seg.Data, seg.Offset})
		}
		s.moduleData(ctx, path, runs)
		return len(mod.Data)
	case vet.IsText(data):
		s.text(ctx, path, data)
	default:
		s.binary(ctx, path, appendRuns(nil, piece{data, 0}), true)
	}
	return 0
}

// text scans a text file; locations are lines and columns. A large file
// goes to gitleaks in chunks of about batchBytes cut at blank lines, for
// the reason batchBytes gives; a secret never spans a blank line (a PEM
// block has none), so none is cut. No chunk is longer than windowBytes
// (textCut), so one 20 MB line costs what any 20 MB of text does.
func (s *fileScan) text(ctx context.Context, file string, data []byte) {
	for start := 0; start < len(data) && ctx.Err() == nil; {
		end := start + textCut(data[start:])
		chunk := data[start:end]
		first := len(s.hits)
		var starts []int
		for _, f := range s.detect(ctx, asString(chunk), file) {
			if starts == nil {
				starts = lineStarts(chunk)
			}
			loc := vet.Location{File: file}
			if off, _, ok := locate(chunk, starts, f); ok {
				loc.Line, loc.Column = vet.LineCol(data, start+off)
			} else {
				loc.Line, _ = vet.LineCol(data, start)
				loc.Line += f.StartLine
			}
			s.add(f, loc)
		}
		sortHits(s.hits[first:])
		start = end
	}
}

// piece is bytes of a file at a file offset: a whole binary file, or one
// data segment of the module.
type piece struct {
	data []byte
	base int64
}

// batchBytes is how many bytes of small pieces are joined into one
// gitleaks fragment. Rules run on a fragment only when one of their
// keywords occurs in it, so small fragments keep the expensive rules on
// the few places that mention "key" or "token"; joining tiny pieces keeps
// the fixed cost per fragment (a pass over every rule) from dominating in
// a binary file's thousands of short runs. (A module's runs are scanned
// one by one instead, skipping those gitleaks would not look at: see
// moduleData.)
const batchBytes = 4 << 10

// binary scans bytes that are not text (an image, a module that does not
// parse) as text:
// every byte that is not printable ASCII becomes a line break, so each run
// of printable bytes is a line and rules anchored on word or line
// boundaries still work. Pieces are never split, so a multi-line secret
// (a PEM private key) stays whole. The mapping is byte for byte, so a
// match's position gives its file offset.
//
// A module that does not parse is scanned without a file path, as
// moduleData scans module data: gitleaks' path allowlists and path-only
// rules are about files (lock files, key files).
func (s *fileScan) binary(ctx context.Context, file string, pieces []piece, withPath bool) {
	for len(pieces) > 0 && ctx.Err() == nil {
		n, size := 0, 0
		for n < len(pieces) && (n == 0 || size+len(pieces[n].data) < batchBytes) {
			size += len(pieces[n].data) + 1
			n++
		}
		s.batch(ctx, file, pieces[:n], withPath)
		pieces = pieces[n:]
	}
}

// moduleData scans the printable runs of a module's data segments. Each
// run is its own gitleaks fragment, as if it were alone in the module, so
// its findings depend on its bytes alone: never on the runs beside it,
// nor on how runs are grouped. (Runs joined into one fragment, as binary
// does, let a rule's match or its keyword prefilter reach from one run
// into the next, so which runs share a fragment could change findings.)
// That makes each run's scan cacheable by its bytes: an update that
// changes one string re-scans the runs that changed and takes the rest,
// moved to their new offsets, from the cache.
//
// Most runs hold no rule keyword and nothing the decoder could decode;
// gitleaks would run no rule on such a run (live), so it is passed over
// without a call to gitleaks, whose fixed cost per fragment (a pass over
// every rule) is that of scanning a short run, and without a cache entry.
func (s *fileScan) moduleData(ctx context.Context, file string, runs []piece) {
	// raw holds one run's fragment at a time. Nothing gitleaks returns
	// refers to it once add has copied the secrets, so it is reused.
	var raw []byte
	for _, p := range runs {
		if ctx.Err() != nil {
			return
		}
		raw = appendFragment(raw[:0], p.data)
		if !s.a.live(raw) {
			continue
		}
		var key resultcache.Key
		sc, ok := scanned{}, false
		if rc := s.a.cache.runCache(); rc != nil {
			// No path: a run's findings do not depend on the module's.
			key = resultcache.Key{
				Analyzer: Name, AnalyzerVersion: s.a.logicVersion, RulesDigest: s.a.rulesDigest,
				Part: "module-run", Content: sha256.Sum256(raw),
			}
			sc, ok = rc.Get(key)
		}
		if !ok {
			sc = s.a.scanRun(ctx, raw)
			if ctx.Err() != nil {
				return
			}
			s.a.cache.runCache().Put(key, sc, sc.size())
		}
		s.decoded += sc.decoded
		for _, h := range sc.hits {
			h.loc.File = file
			if h.located {
				h.loc.Offset += p.base
			}
			s.hits = append(s.hits, h)
		}
	}
}

// appendFragment appends to dst what gitleaks is given for a piece of
// binary data: the piece with every control byte other than a tab as a
// line break, then a line break.
func appendFragment(dst, data []byte) []byte {
	for _, c := range data {
		if c < 0x20 && c != '\t' || c > 0x7e {
			c = '\n'
		}
		dst = append(dst, c)
	}
	return append(dst, '\n')
}

// live reports whether gitleaks could find anything in the fragment raw.
// gitleaks runs a rule on a fragment only if one of the rule's keywords
// occurs in the fragment lowercased (the index folds case as it reads;
// a fragment is printable ASCII), or if it has none (everyRun); it
// decodes only when there is something to decode, which mayDecode never
// misses. With neither, it runs no rule and finds nothing, so skipping it
// changes no finding.
func (a *Analyzer) live(raw []byte) bool {
	return a.everyRun || mayDecode(asString(raw)) || a.keywords.in(raw)
}

// scanRun scans one run's fragment raw; the hits' offsets are relative to
// the run and their file is empty, for moduleData to fill in.
func (a *Analyzer) scanRun(ctx context.Context, raw []byte) scanned {
	s := &fileScan{a: a}
	var lines []int
	for _, f := range s.detect(ctx, asString(raw), "") {
		if lines == nil {
			lines = lineStarts(raw)
		}
		var loc vet.Location
		off, n, ok := locate(raw, lines, f)
		if ok {
			loc.Offset, loc.Length = int64(off), int64(n)
		}
		s.add(f, loc)
		s.hits[len(s.hits)-1].located = ok
	}
	sortHits(s.hits)
	return scanned{hits: s.hits, decoded: s.decoded}
}

// sortHits puts the hits of one fragment in the order of their places in
// it. gitleaks gives a fragment's findings in the order it tries its rules,
// which is a map's, so without this two scans of the same bytes could
// list their findings in another order, and a run's cached hits in
// another order than a scan without the cache.
func sortHits(hits []hit) {
	slices.SortStableFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(a.loc.Line, b.loc.Line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.loc.Column, b.loc.Column); c != 0 {
			return c
		}
		if c := cmp.Compare(a.loc.Offset, b.loc.Offset); c != 0 {
			return c
		}
		if c := cmp.Compare(a.loc.Length, b.loc.Length); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rule, b.rule); c != 0 {
			return c
		}
		if c := cmp.Compare(a.secret, b.secret); c != 0 {
			return c
		}
		return slices.Compare(a.encodings, b.encodings)
	})
}

// Bounds of what gitleaks is given at once. Its cost grows with the lines
// of a fragment and their length (a 1 MB file of zero bytes, given as one
// fragment of a million empty lines, took gigabytes), so binary data is
// reduced to its runs of printable bytes and every fragment is at most
// windowBytes.
const (
	// windowBytes bounds one fragment: a text chunk or a printable run.
	// A longer run is cut at a line break or a space near the bound, or
	// at the bound; a secret is far shorter than the window, so only one
	// that straddles a forced cut of a 16 KiB run without a space is missed.
	windowBytes = 16 << 10
	// minRun is the shortest printable run of binary data scanned: no
	// rule matches a shorter secret.
	minRun = 8
)

// textCut returns where the next text chunk of data ends: at the first
// blank line after batchBytes, else at the last line break (else space)
// before windowBytes, else at windowBytes.
func textCut(data []byte) int {
	if len(data) <= batchBytes {
		return len(data)
	}
	win := data[:min(len(data), windowBytes)]
	if i := bytes.Index(win[batchBytes:], []byte("\n\n")); i >= 0 {
		return batchBytes + i + 1
	}
	if len(data) <= windowBytes {
		return len(data)
	}
	return windowCut(win)
}

// windowCut returns where to cut a window that must be cut: after its last
// line break, else its last space, else at its end.
func windowCut(win []byte) int {
	if i := bytes.LastIndexByte(win, '\n'); i > 0 {
		return i + 1
	}
	if i := bytes.LastIndexByte(win, ' '); i > 0 {
		return i + 1
	}
	return len(win)
}

// printable reports whether c is kept in a run of binary data: printable
// ASCII and the white space a multi-line secret (a PEM block) holds.
func printable(c byte) bool { return c >= 0x20 && c <= 0x7e || c == '\t' || c == '\n' || c == '\r' }

// appendRuns appends the runs of printable bytes of p that are at least
// minRun long to list, each cut into windows of at most windowBytes. The
// bytes between runs cannot be part of a secret, so dropping them loses
// nothing, and zeros, code or compressed data cost a pass, not a scan.
func appendRuns(list []piece, p piece) []piece {
	data := p.data
	for i := 0; i < len(data); {
		if !printable(data[i]) {
			i++
			continue
		}
		j := i
		for j < len(data) && printable(data[j]) {
			j++
		}
		for run := data[i:j]; len(run) >= minRun; {
			n := len(run)
			if n > windowBytes {
				n = windowCut(run[:windowBytes])
			}
			list = append(list, piece{run[:n], p.base + int64(i+len(data[i:j])-len(run))})
			run = run[n:]
		}
		i = j
	}
	return list
}

func (s *fileScan) batch(ctx context.Context, file string, pieces []piece, withPath bool) {
	n := 0
	for _, p := range pieces {
		n += len(p.data) + 1
	}
	buf := make([]byte, 0, n)
	starts := make([]int, len(pieces)) // where each piece starts in buf
	for i, p := range pieces {
		starts[i] = len(buf)
		buf = appendFragment(buf, p.data)
	}
	path := ""
	if withPath {
		path = file
	}
	first := len(s.hits)
	defer func() { sortHits(s.hits[first:]) }()
	var lines []int
	for _, f := range s.detect(ctx, asString(buf), path) {
		if lines == nil {
			lines = lineStarts(buf)
		}
		loc := vet.Location{File: file}
		if off, n, ok := locate(buf, lines, f); ok {
			i, found := slices.BinarySearch(starts, off)
			if !found {
				i--
			}
			loc.Offset = pieces[i].base + int64(off-starts[i])
			loc.Length = int64(n)
		}
		s.add(f, loc)
	}
}

// merge deduplicates hits into findings: one per rule, file and secret.
type merge struct {
	findings []vet.Finding
	seen     map[string]int // fingerprint → index in findings
}

func (m *merge) add(h hit) {
	ruleID, desc, secret, loc := h.rule, h.desc, h.secret, h.loc
	id := RuleID(ruleID)
	fp := vet.Fingerprint(id, loc.File, secret)
	if i, ok := m.seen[fp]; ok {
		m.findings[i].Properties["occurrences"] = m.findings[i].Properties["occurrences"].(int) + 1
		return
	}
	red := Redact(secret)
	where := loc.File
	if loc.Line > 0 {
		where = fmt.Sprintf("%s line %d", loc.File, loc.Line)
	} else if loc.Offset > 0 {
		where = fmt.Sprintf("%s at byte %d", loc.File, loc.Offset)
	}
	what := strings.TrimSuffix(desc, ".")
	if what == "" {
		what = ruleID
	}
	if len(h.encodings) > 0 {
		// The location is the encoded text; say so, or a reviewer looks
		// there for a value that reads like the redacted one.
		what += ", encoded as " + strings.Join(h.encodings, " and ")
	}
	loc.Snippet = red
	props := map[string]any{"gitleaksRule": ruleID, "redacted": red, "length": len(secret), "occurrences": 1}
	if len(h.encodings) > 0 {
		props["encodings"] = h.encodings
	}
	m.seen[fp] = len(m.findings)
	m.findings = append(m.findings, vet.Finding{
		RuleID:      id,
		Severity:    severity(ruleID),
		Message:     fmt.Sprintf("%s holds what looks like a secret (%s): %s", where, what, red),
		Location:    loc,
		Fingerprint: fp,
		Remediation: remediation,
		Properties:  props,
	})
}

// lineStarts returns the offset at which each line starts.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return starts
		}
		i += j + 1
		starts = append(starts, i)
	}
}

// locate returns where the finding f is in data, the fragment gitleaks
// was given (starts are its line starts), and how long it is there: the
// secret, or for a secret found by decoding, the encoded text that holds
// it, since the decoded value is nowhere in data.
func locate(data []byte, starts []int, f report.Finding) (off, n int, ok bool) {
	if len(encodings(f)) == 0 {
		off, ok = secretOffset(data, starts, f.StartLine, f.Match, f.Secret)
		return off, len(f.Secret), ok
	}
	from, okFrom := columnOffset(starts, f.StartLine, f.StartColumn-1)
	to, okTo := columnOffset(starts, f.EndLine, f.EndColumn)
	if !okFrom || !okTo || from < 0 || from >= to || to > len(data) {
		return 0, 0, false
	}
	return from, to - from, true
}

// columnOffset returns the offset in a fragment of column col of a line
// (both as gitleaks gives them: the line 0-based, the column counted from
// the line break before the line, or from the fragment's start on its
// first line, so the first byte of the first line is column 1 and of any
// later line column 2).
func columnOffset(starts []int, line, col int) (int, bool) {
	if line < 0 || line >= len(starts) {
		return 0, false
	}
	if line == 0 {
		return col, true
	}
	return starts[line] - 1 + col, true
}

// encodings returns how the secret of f was encoded, from the tags
// gitleaks gives a finding made by decoding ("decoded:base64"); nil when
// the secret was found as written.
func encodings(f report.Finding) []string {
	var kinds []string
	for _, t := range f.Tags {
		if k, ok := strings.CutPrefix(t, "decoded:"); ok {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// secretOffset returns the byte offset of the secret that gitleaks
// matched on a line (0-based, as gitleaks counts them). The match is
// looked up in the line itself rather than trusting gitleaks' column,
// which counts differently on the first line and on later ones.
func secretOffset(data []byte, starts []int, line int, match, secret string) (int, bool) {
	if line < 0 || line >= len(starts) {
		return 0, false
	}
	lineStart := starts[line]
	lineEnd := len(data)
	if line+1 < len(starts) {
		lineEnd = starts[line+1]
	}
	i := bytes.Index(data[lineStart:lineEnd], []byte(match))
	if i < 0 {
		return 0, false
	}
	off := lineStart + i
	if j := strings.Index(match, secret); j >= 0 {
		off += j
	}
	return off, true
}
