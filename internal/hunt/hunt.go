// Package hunt runs hunting rules: patterns a steward adds during an
// incident so that what was found once is found everywhere. A rule is
// searched for backward, in every version the marketplace stores, and
// forward, in every new submission (the internal/vet/hunt analyzer).
//
// Rule kinds:
//
//   - content: an RE2 regular expression over the bytes of every file of
//     the package (the module included). RE2 runs in time linear in the
//     input, so a rule cannot be made to run away. A match may be a
//     secret, so it is reported redacted, with a digest.
//   - module: a banned Go module, package or SBOM component, by name
//     ("github.com/evil/lib"; it also bans every path under it), optionally
//     at one version ("github.com/evil/lib@v1.2.3"). Components come from
//     the Go build information embedded in the module and from SBOM files.
//   - import: a banned WebAssembly import, "module" (every function of the
//     import module) or "module/name".
//   - origin: a banned network origin: a host ("evil.example.com", which
//     also bans its subdomains, on any scheme and port) or an exact origin
//     ("https://evil.example.com:8443"). It is looked for in the manifest's
//     net: permissions and among the origins embedded in the module.
package hunt

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/dependencies"
	"gatehouse.dev/gatehouse/internal/vet/origins"
	"gatehouse.dev/gatehouse/internal/vet/secrets"
	"gatehouse.dev/gatehouse/internal/wasmfile"
	"gatehouse.dev/gatehouse/internal/wasmfile/gobuildinfo"
	"gatehouse.dev/gatehouse/manifest"
)

// Limits of a rule and of what it reports.
const (
	// MaxPattern bounds a rule's pattern.
	MaxPattern = 1024
	// maxProgram bounds a compiled regular expression's size, so a rule
	// such as (a{1000}){1000} is refused instead of eating memory.
	maxProgram = 20000
	// MaxMatchesPerRule bounds what one rule reports in one version.
	MaxMatchesPerRule = 10
	// maxSnippet bounds the part of a content match that is redacted.
	maxSnippet = 80
)

// Rule is a compiled hunting rule.
type Rule struct {
	ID          string
	Kind        string
	Pattern     string
	Description string

	re          *regexp.Regexp
	name, ver   string // module
	imod, iname string // import
	host        string // origin by host
	origin      string // origin exact
}

// Compile checks and compiles a stored rule.
func Compile(r domain.HuntRule) (*Rule, error) {
	c := &Rule{ID: r.ID, Kind: r.Kind, Pattern: r.Pattern, Description: r.Description}
	p := strings.TrimSpace(r.Pattern)
	if p == "" || len(r.Pattern) > MaxPattern {
		return nil, fmt.Errorf("hunting rule %s: the pattern must be 1 to %d bytes", r.ID, MaxPattern)
	}
	switch r.Kind {
	case domain.HuntContent:
		re, err := compileRegexp(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("hunting rule %s: %w", r.ID, err)
		}
		c.re = re
	case domain.HuntModule:
		name, ver, _ := strings.Cut(p, "@")
		if name == "" || strings.ContainsAny(name, " \t\n") || strings.HasSuffix(name, "/") {
			return nil, fmt.Errorf("hunting rule %s: %q is not a module or package name (write github.com/owner/repo or github.com/owner/repo@v1.2.3)", r.ID, p)
		}
		c.name, c.ver = name, ver
	case domain.HuntImport:
		mod, name, _ := strings.Cut(p, "/")
		if mod == "" || strings.ContainsAny(p, " \t\n") {
			return nil, fmt.Errorf("hunting rule %s: %q is not an import (write MODULE or MODULE/NAME, e.g. %s/http_fetch)", r.ID, p, hostapi.Module)
		}
		c.imod, c.iname = mod, name
	case domain.HuntOrigin:
		if strings.Contains(p, "://") {
			o, err := manifest.ParseOrigin(p)
			if err != nil {
				return nil, fmt.Errorf("hunting rule %s: %w", r.ID, err)
			}
			c.origin = o
		} else {
			h := strings.ToLower(strings.TrimSuffix(p, "."))
			if h == "" || strings.ContainsAny(h, "/:@ *") || (net.ParseIP(h) == nil && !strings.Contains(h, ".")) {
				return nil, fmt.Errorf("hunting rule %s: %q is not a host name or an origin (write evil.example.com or https://evil.example.com)", r.ID, p)
			}
			c.host = h
		}
	default:
		return nil, fmt.Errorf("hunting rule %s: unknown kind %q (content, module, import or origin)", r.ID, r.Kind)
	}
	return c, nil
}

func compileRegexp(p string) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("the pattern is not an RE2 regular expression: %w", err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, fmt.Errorf("the pattern does not compile: %w", err)
	}
	if len(prog.Inst) > maxProgram {
		return nil, fmt.Errorf("the pattern compiles to %d instructions, over the limit of %d: simplify its repetitions", len(prog.Inst), maxProgram)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("the pattern is not an RE2 regular expression: %w", err)
	}
	if re.MatchString("") {
		return nil, errors.New("the pattern matches the empty string, so it would match every file")
	}
	return re, nil
}

// CompileAll compiles rules, skipping disabled ones. One bad rule is an
// error: a rule that silently stopped applying would be worse.
func CompileAll(rs []domain.HuntRule) ([]*Rule, error) {
	var out []*Rule
	for _, r := range rs {
		if !r.DisabledAt.IsZero() {
			continue
		}
		c, err := Compile(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Match is one place a rule matched.
type Match struct {
	RuleID string `json:"rule"`
	Kind   string `json:"kind"`
	// File is the package file (the module for imports and embedded
	// origins, the manifest for declared origins, an SBOM or the module
	// for components).
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	// Subject is what matched: a component, an import, an origin, or for
	// a content rule the match redacted (secrets.Redact), never in the
	// clear.
	Subject string `json:"subject"`
	// Digest, for a content match, is secrets.Digest of the matched
	// bytes: it tells redacted matches apart.
	Digest string `json:"digest,omitempty"`
}

// Find returns every match of every rule in a package, at most
// MaxMatchesPerRule per rule.
func Find(rules []*Rule, in *vet.Input) []Match {
	if len(rules) == 0 || in == nil {
		return nil
	}
	var (
		facts   *facts
		matches []Match
	)
	for _, r := range rules {
		if r.Kind != domain.HuntContent && facts == nil {
			facts = gather(in)
		}
		matches = append(matches, r.find(in, facts)...)
	}
	return matches
}

func (r *Rule) find(in *vet.Input, f *facts) []Match {
	var out []Match
	add := func(m Match) bool {
		m.RuleID, m.Kind = r.ID, r.Kind
		out = append(out, m)
		return len(out) < MaxMatchesPerRule
	}
	switch r.Kind {
	case domain.HuntContent:
		if in.Package == nil {
			return nil
		}
		for _, e := range in.Package.Files {
			data, _ := in.Package.File(e.Path)
			for _, loc := range r.re.FindAllIndex(data, MaxMatchesPerRule-len(out)) {
				m := Match{File: e.Path}
				m.Subject, m.Digest = redacted(data[loc[0]:loc[1]])
				if vet.IsText(data) {
					m.Line, _ = vet.LineCol(data, loc[0])
				} else {
					m.Offset = int64(loc[0])
				}
				if !add(m) {
					return out
				}
			}
		}
	case domain.HuntModule:
		for _, c := range f.components {
			if c.Name != r.name && !strings.HasPrefix(c.Name, r.name+"/") {
				continue
			}
			if r.ver != "" && c.Version != r.ver {
				continue
			}
			subj := c.Name
			if c.Version != "" {
				subj += "@" + c.Version
			}
			if !add(Match{File: c.file, Subject: subj}) {
				return out
			}
		}
	case domain.HuntImport:
		for _, im := range f.imports {
			if im.Module != r.imod || (r.iname != "" && im.Name != r.iname) {
				continue
			}
			if !add(Match{File: f.modulePath, Offset: im.Offset, Subject: im.Module + "/" + im.Name}) {
				return out
			}
		}
	case domain.HuntOrigin:
		for _, o := range f.origins {
			if !r.originMatches(o) {
				continue
			}
			if !add(Match{File: o.file, Offset: o.offset, Subject: o.origin}) {
				return out
			}
		}
	}
	return out
}

func (r *Rule) originMatches(o originFact) bool {
	if r.origin != "" {
		return o.origin == r.origin
	}
	return o.host == r.host || strings.HasSuffix(o.host, "."+r.host)
}

// redacted shows a content match the way the secrets analyzer shows a
// secret: a rule is often written because a secret leaked, and a pattern
// cannot say whether what it matched is one. The subject is the match's
// first characters, quoted so they are printable; the digest tells
// matches apart. The clear match goes no further than this function.
func redacted(b []byte) (subject, digest string) {
	digest = secrets.Digest(string(b))
	if len(b) > maxSnippet {
		b = b[:maxSnippet]
	}
	s := strconv.Quote(string(b))
	return secrets.Redact(s[1 : len(s)-1]), digest
}

// facts are what the non-content rules look at, read once per package.
type facts struct {
	modulePath string
	components []componentFact
	imports    []wasmfile.Import
	origins    []originFact
}

type componentFact struct {
	sbom.Component
	file string
}

type originFact struct {
	origin, host string
	file         string
	offset       int64
}

// gather reads the facts. A module or SBOM that does not parse yields
// fewer facts, not an error: other analyzers report malformed inputs, and
// a hunt must still run over what can be read.
func gather(in *vet.Input) *facts {
	f := &facts{modulePath: "module.wasm"}
	if in.Manifest != nil && in.Manifest.Runtime.Module != "" {
		f.modulePath = in.Manifest.Runtime.Module
	}
	if len(in.Module) > 0 {
		if m, err := wasmfile.Parse(in.Module); err == nil {
			f.imports = m.Imports
			if infos, err := gobuildinfo.ReadAll(m); err == nil {
				for _, info := range infos {
					if info.Path != "" {
						f.components = append(f.components, componentFact{sbom.Component{Name: info.Path, Ecosystem: "Go"}, f.modulePath})
					}
					for _, c := range sbom.FromGoBuildInfo(info.BuildInfo) {
						f.components = append(f.components, componentFact{c, f.modulePath})
					}
				}
			}
		}
		for _, h := range origins.Scan(in.Module) {
			f.origins = append(f.origins, originFact{origin: h.Origin, host: strings.ToLower(h.Host), file: f.modulePath, offset: int64(h.Offset)})
		}
	}
	if in.Manifest != nil {
		perms, _ := manifest.ParsePermissions(in.Manifest.Permissions)
		for _, p := range perms {
			if p.Kind != hostapi.PermNet {
				continue
			}
			host := p.Scope
			if i := strings.Index(host, "://"); i >= 0 {
				host = host[i+3:]
			}
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			f.origins = append(f.origins, originFact{origin: p.Scope, host: strings.ToLower(strings.Trim(host, "[]")), file: manifest.FileName})
		}
	}
	if in.Package != nil {
		for _, e := range in.Package.Files {
			if !dependencies.IsSBOMFile(e.Path) {
				continue
			}
			doc, _ := in.Package.File(e.Path)
			cs, _, err := sbom.Parse(doc)
			if err != nil {
				continue
			}
			for _, c := range cs {
				f.components = append(f.components, componentFact{c, e.Path})
			}
		}
	}
	return f
}
