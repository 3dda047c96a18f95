package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// osvRecord is the part of an OSV record (ossf.github.io/osv-schema) that
// matching and reporting use. Unknown fields are ignored: the schema
// grows, and the fields below have been stable since 1.0.
type osvRecord struct {
	ID        string     `json:"id"`
	Modified  *time.Time `json:"modified"`
	Withdrawn *time.Time `json:"withdrawn"`
	Aliases   []string   `json:"aliases"`
	Summary   string     `json:"summary"`
	Details   string     `json:"details"`
	Severity  []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package *struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		Versions         []string `json:"versions"`
		DatabaseSpecific struct {
			Severity json.RawMessage `json:"severity"`
		} `json:"database_specific"`
	} `json:"affected"`
	References []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"references"`
	DatabaseSpecific struct {
		URL      string          `json:"url"`
		Severity json.RawMessage `json:"severity"`
	} `json:"database_specific"`
}

// Per-record caps. The largest Go advisory has 22 affected packages; the
// caps leave room for other ecosystems' records (PyPI lists every
// affected version) while bounding what one record can cost.
const (
	maxIDLen      = 256
	maxAliases    = 1_000
	maxAffected   = 10_000
	maxEvents     = 10_000
	maxVersions   = 100_000
	maxSummaryLen = 1_000 // longer summaries are cut, not rejected
	maxNameLen    = 1_000
)

var errMalformed = errors.New("malformed OSV record")

// validate checks the record's structure and returns why it is unusable.
func (r *osvRecord) validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
	}
	switch {
	case r.ID == "":
		return fail("no id")
	case len(r.ID) > maxIDLen || strings.ContainsAny(r.ID, " \t\r\n/\\"):
		return fail("id %.40q is not an advisory identifier", r.ID)
	case r.Modified == nil:
		return fail("%s has no modified time", r.ID)
	case len(r.Aliases) > maxAliases:
		return fail("%s has %d aliases, the limit is %d", r.ID, len(r.Aliases), maxAliases)
	case len(r.Affected) > maxAffected:
		return fail("%s has %d affected entries, the limit is %d", r.ID, len(r.Affected), maxAffected)
	}
	for i, a := range r.Affected {
		gitOnly := len(a.Ranges) > 0
		for _, rg := range a.Ranges {
			gitOnly = gitOnly && rg.Type == "GIT"
		}
		if a.Package == nil || a.Package.Ecosystem == "" || a.Package.Name == "" {
			if gitOnly {
				continue // a commit range of a repository: nothing to match by name
			}
			return fail("%s: affected[%d] has no package ecosystem and name", r.ID, i)
		}
		if len(a.Package.Name) > maxNameLen || len(a.Package.Ecosystem) > maxNameLen {
			return fail("%s: affected[%d] package name or ecosystem is longer than %d bytes", r.ID, i, maxNameLen)
		}
		if len(a.Ranges) == 0 && len(a.Versions) == 0 {
			return fail("%s: affected[%d] (%s) has neither ranges nor versions", r.ID, i, a.Package.Name)
		}
		if len(a.Versions) > maxVersions {
			return fail("%s: affected[%d] lists %d versions, the limit is %d", r.ID, i, len(a.Versions), maxVersions)
		}
		for j, rg := range a.Ranges {
			switch rg.Type {
			case "SEMVER", "ECOSYSTEM", "GIT":
			default:
				return fail("%s: affected[%d].ranges[%d] has type %q, want SEMVER, ECOSYSTEM or GIT", r.ID, i, j, rg.Type)
			}
			if len(rg.Events) == 0 || len(rg.Events) > maxEvents {
				return fail("%s: affected[%d].ranges[%d] has %d events", r.ID, i, j, len(rg.Events))
			}
			introduced := false
			for k, ev := range rg.Events {
				if len(ev) != 1 {
					return fail("%s: affected[%d].ranges[%d].events[%d] must have exactly one of introduced, fixed, last_affected, limit", r.ID, i, j, k)
				}
				for kind, v := range ev {
					switch kind {
					case "introduced":
						introduced = true
					case "fixed", "last_affected", "limit":
					default:
						return fail("%s: affected[%d].ranges[%d].events[%d] has unknown kind %q", r.ID, i, j, k, kind)
					}
					if v == "" {
						return fail("%s: affected[%d].ranges[%d].events[%d] (%s) has an empty version", r.ID, i, j, k, kind)
					}
				}
			}
			if !introduced {
				return fail("%s: affected[%d].ranges[%d] has no introduced event", r.ID, i, j)
			}
		}
	}
	return nil
}
