// Package vulndb is an offline OSV vulnerability database: it imports an
// OSV all.zip (as osv.dev publishes one per ecosystem), keeps an index
// from ecosystem and package name to the advisories that affect the
// package, and matches components against it. Matching consults only the
// index entries of the component's package, never the whole database.
//
// Versions are compared as semantic versions (golang.org/x/mod/semver) in
// SEMVER ranges, and in ECOSYSTEM ranges of the Go ecosystem, whose
// versions are module versions. Other ecosystems' ECOSYSTEM ranges (PyPI,
// Maven, ...) have their own ordering rules; for those only the record's
// explicit list of affected versions is used, which is exact.
package vulndb

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/sbom"
	"golang.org/x/mod/semver"
)

// Severity ranks an advisory; the values are the names vet uses.
type Severity string

const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// DefaultSeverity is the severity of an advisory that carries none. The Go
// vulnerability database assigns no severity to any advisory (every entry
// is reviewed and affects Go code), so most matches have this value:
// Medium fails a vetting result, so a known vulnerability blocks unless
// suppressed, without ranking it above advisories scored High.
const DefaultSeverity = Medium

// Version identifies an imported database.
type Version struct {
	SHA256  string // hex SHA-256 of the imported all.zip
	Records int    // advisories imported, withdrawn ones included
	// Newest is the newest modified time of a record. A record whose
	// modified time is zero (the Go database writes zero in every record)
	// counts with its zip entry's time, which the publisher sets when it
	// exports the record.
	Newest time.Time
}

// String is the form results record: "sha256:HEX records=N newest=RFC3339".
func (v Version) String() string {
	return fmt.Sprintf("sha256:%s records=%d newest=%s", v.SHA256, v.Records, v.Newest.UTC().Format(time.RFC3339))
}

// Stats describes what an import kept and skipped.
type Stats struct {
	Records        int // advisories read
	Withdrawn      int // withdrawn advisories, kept out of the index
	OtherFiles     int // zip entries that are not .json records (directories, READMEs)
	Packages       int // index keys
	UnusableRanges int // ranges whose versions cannot be ordered, not used for matching
}

// Match is one advisory that affects one component.
type Match struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"` // CVE and GHSA identifiers
	Summary   string   `json:"summary,omitempty"`
	URL       string   `json:"url"` // the advisory's details page
	Installed string   `json:"installed"`
	// Fixed is the lowest fixed version above the installed one, in the
	// range that affects it; empty when no fix is known.
	Fixed    string   `json:"fixed,omitempty"`
	Severity Severity `json:"severity"`
}

// DB is an imported database. It is immutable and safe for concurrent use.
type DB struct {
	d data
}

// data is the persisted form (see WriteFile).
type data struct {
	Format     int
	Version    Version
	Stats      Stats
	Advisories []advisory
	Index      map[string][]affected // key: ecosystem + "/" + name
}

type advisory struct {
	ID       string
	Aliases  []string
	Summary  string
	URL      string
	Severity Severity
}

// affected is one advisory's ranges for one package.
type affected struct {
	Adv      int32 // index into Advisories
	Ranges   [][]event
	Versions []string // exact affected versions, canonical
}

type eventKind uint8

const (
	introduced eventKind = iota
	fixed
	lastAffected
	limit
)

// event is a range event; Version is canonical ("v1.2.3" for semver), and
// empty for introduced "0" (the beginning of time).
type event struct {
	Kind    eventKind
	Version string
}

// Version returns the database's identity; vetting results record it.
func (db *DB) Version() Version { return db.d.Version }

// Stats reports what the import kept and skipped.
func (db *DB) Stats() Stats { return db.d.Stats }

// AffectedPackages lists the index keys ("Go/golang.org/x/text"), sorted.
func (db *DB) AffectedPackages() []string {
	keys := make([]string, 0, len(db.d.Index))
	for k := range db.d.Index {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func indexKey(ecosystem, name string) string {
	if ecosystem == "PyPI" {
		// PyPI names compare after PEP 503 normalisation; records and
		// SBOMs do not always write them normalised.
		name = pypiSeparators.ReplaceAllString(strings.ToLower(name), "-")
	}
	return ecosystem + "/" + name
}

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// semverEcosystems are those whose versions are semantic versions even in
// ECOSYSTEM ranges.
func semverEcosystem(ecosystem string) bool { return ecosystem == "Go" }

// canonical returns the version in the form semver compares, or "" when
// it is not a semantic version. Go versions are written without the "v"
// in OSV ("0.3.8", stdlib "1.21.3") and with it in go.mod ("v0.3.8").
func canonical(v string) string {
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return ""
	}
	return v
}

// Match returns the advisories that affect the component, one per
// advisory, sorted by id. A component without an ecosystem, or whose
// version is not one the database can compare, matches nothing.
func (db *DB) Match(c sbom.Component) []Match {
	if db == nil || c.Ecosystem == "" || c.Version == "" {
		return nil
	}
	entries := db.d.Index[indexKey(c.Ecosystem, c.Name)]
	if len(entries) == 0 {
		return nil
	}
	v := canonical(c.Version)
	var out []Match
	for _, a := range entries {
		hit, fix := false, ""
		if slices.Contains(a.Versions, c.Version) || (v != "" && slices.Contains(a.Versions, v)) {
			hit = true
		}
		if v != "" {
			for _, rg := range a.Ranges {
				if ok, f := inRange(v, rg); ok {
					hit = true
					if f != "" && (fix == "" || semver.Compare(f, fix) < 0) {
						fix = f
					}
				}
			}
		}
		if !hit {
			continue
		}
		adv := &db.d.Advisories[a.Adv]
		// One advisory may list the same package more than once (the Go
		// database does, per set of affected import paths): merge them.
		if i := slices.IndexFunc(out, func(m Match) bool { return m.ID == adv.ID }); i >= 0 {
			if fix != "" && (out[i].Fixed == "" || compareDisplay(fix, out[i].Fixed) < 0) {
				out[i].Fixed = display(c.Version, fix)
			}
			continue
		}
		out = append(out, Match{
			ID:        adv.ID,
			Aliases:   slices.Clone(adv.Aliases),
			Summary:   adv.Summary,
			URL:       adv.URL,
			Installed: c.Version,
			Fixed:     display(c.Version, fix),
			Severity:  adv.Severity,
		})
	}
	slices.SortFunc(out, func(a, b Match) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// display writes a canonical version the way the installed one is written
// (with or without the "v"), so a message reads "from v0.3.5 to v0.3.8"
// for modules and "from 1.21.3 to 1.21.4" for the standard library.
func display(installed, v string) string {
	if v == "" || strings.HasPrefix(installed, "v") {
		return v
	}
	return strings.TrimPrefix(v, "v")
}

func compareDisplay(a, b string) int { return semver.Compare(canonical(a), canonical(b)) }

// inRange evaluates one range of sorted events for canonical version v
// (the OSV schema's algorithm: the last event at or below v decides) and
// returns the fixed version that closes the affected interval, if any.
func inRange(v string, events []event) (bool, string) {
	affected := false
	next := len(events)
	for i, e := range events {
		c := 1 // introduced "0" is below every version
		if e.Version != "" {
			c = semver.Compare(v, e.Version)
		}
		if c < 0 || (c == 0 && e.Kind == lastAffected) {
			next = i
			break
		}
		switch e.Kind {
		case introduced:
			affected = true
		case fixed, limit:
			affected = false
		case lastAffected:
			affected = false // c > 0: above the last affected version
		}
	}
	if !affected {
		return false, ""
	}
	for _, e := range events[next:] {
		switch e.Kind {
		case fixed:
			return true, e.Version
		case lastAffected, limit:
			return true, ""
		}
	}
	return true, ""
}

// sortEvents orders a range's events by version, introduced "0" first;
// at equal versions an introduced event comes first.
func sortEvents(events []event) {
	slices.SortStableFunc(events, func(a, b event) int {
		switch {
		case a.Version == "" && b.Version == "":
			return 0
		case a.Version == "":
			return -1
		case b.Version == "":
			return 1
		}
		if c := semver.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
}
