package revalidate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/sbom"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vulndb"
	"gatehouse.dev/gatehouse/manifest"
)

// namesPerQuery is how many packages one index lookup asks about.
const namesPerQuery = 500

// Affected is a version that ships a component with advisories.
type Affected struct {
	VersionID  string   `json:"version"`
	Components []string `json:"components"` // "Go/golang.org/x/text@v0.3.7"
	Advisories []string `json:"advisories"`
}

// ComponentIndex finds the versions that ship packages.
type ComponentIndex interface {
	ComponentUsers(ctx context.Context, ecosystem string, names []string, states []lifecycle.State, limit int) ([]domain.ComponentUse, error)
}

// AffectedVersions finds the certified versions shipping a component that
// db's advisories affect and old's did not (every advisory when old is
// nil), through the component index: only the rows of the packages db
// names are read, never every version.
func AffectedVersions(ctx context.Context, st ComponentIndex, db, old *vulndb.DB) ([]Affected, error) {
	if db == nil {
		return nil, nil
	}
	byEco := map[string][]string{}
	for _, key := range db.AffectedPackages() {
		eco, name, ok := strings.Cut(key, "/")
		if ok && eco != "" && name != "" {
			byEco[eco] = append(byEco[eco], name)
		}
	}
	found := map[string]*Affected{}
	for eco, names := range byEco {
		for len(names) > 0 {
			n := min(len(names), namesPerQuery)
			uses, err := st.ComponentUsers(ctx, eco, names[:n], []lifecycle.State{lifecycle.Certified}, 0)
			if err != nil {
				return nil, fmt.Errorf("looking up versions that ship %s packages: %w", eco, err)
			}
			names = names[n:]
			for _, u := range uses {
				c := sbom.Component{Ecosystem: u.Ecosystem, Name: u.Name, Version: u.Version}
				ids := newAdvisories(db.Match(c), old, c)
				if len(ids) == 0 {
					continue
				}
				a := found[u.VersionID]
				if a == nil {
					a = &Affected{VersionID: u.VersionID}
					found[u.VersionID] = a
				}
				a.Components = append(a.Components, u.Ecosystem+"/"+u.Name+"@"+u.Version)
				for _, id := range ids {
					if !slices.Contains(a.Advisories, id) {
						a.Advisories = append(a.Advisories, id)
					}
				}
			}
		}
	}
	out := make([]Affected, 0, len(found))
	for _, a := range found {
		sort.Strings(a.Advisories)
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VersionID < out[j].VersionID })
	return out, nil
}

func newAdvisories(ms []vulndb.Match, old *vulndb.DB, c sbom.Component) []string {
	if len(ms) == 0 {
		return nil
	}
	var known []vulndb.Match
	if old != nil {
		known = old.Match(c)
	}
	var ids []string
	for _, m := range ms {
		if !slices.ContainsFunc(known, func(k vulndb.Match) bool { return k.ID == m.ID }) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// VulnDBImported queues revalidation of the certified versions that the
// newly imported database affects and the previous one (old) did not. With
// no previous database the index may be empty (the dependencies analyzer
// lists components only when it has a database), so every certified
// version is revalidated.
func (s *Scheduler) VulnDBImported(ctx context.Context, actor string, db, old *vulndb.DB) ([]Affected, error) {
	if db == nil {
		return nil, nil
	}
	why := "vulnerability database " + db.Version().String() + " imported"
	if old == nil {
		_, err := s.EnqueueAll(ctx, actor, why+" (the first: every certified version is checked)")
		return nil, err
	}
	affected, err := AffectedVersions(ctx, s.cfg.Store, db, old)
	if err != nil {
		return nil, err
	}
	for _, a := range affected {
		if _, err := s.Enqueue(ctx, a.VersionID, actor, why+": new advisories "+strings.Join(a.Advisories, ", ")); err != nil {
			return affected, err
		}
	}
	if len(affected) > 0 {
		s.Wake()
	}
	return affected, nil
}

// Impact is a certified version a proposed policy would suspend.
type Impact struct {
	VersionID string   `json:"version"`
	Plugin    string   `json:"plugin"`
	Version   string   `json:"pluginVersion"`
	Tier      string   `json:"tier"`
	Problems  []string `json:"problems"`
}

// PolicyImpact re-decides every certified version from its latest stored
// vetting results (the analyzers do not run again) under a proposed
// policy, and lists those it would suspend.
func (s *Scheduler) PolicyImpact(ctx context.Context, proposed *policy.Engine) ([]Impact, error) {
	var out []Impact
	err := s.each(ctx, []lifecycle.State{lifecycle.Certified}, func(r domain.Revalidation) error {
		v, err := s.cfg.Store.GetVersion(ctx, r.VersionID)
		if err != nil {
			return err
		}
		results, err := s.latestResults(ctx, v.ID)
		if errors.Is(err, domain.ErrNotFound) {
			return nil // never vetted here: nothing to re-decide from
		}
		if err != nil {
			return err
		}
		m, _ := manifest.Parse(v.Manifest, s.cfg.Manifest)
		prev := s.previousManifest(ctx, v)
		verdict, problems, err := s.judge(ctx, v, m, prev, results, proposed)
		if err != nil {
			out = append(out, Impact{VersionID: v.ID, Plugin: v.PluginID, Version: v.Version, Problems: []string{"the proposed policy cannot decide it: " + err.Error()}})
			return nil
		}
		if len(problems) == 0 {
			return nil
		}
		im := Impact{VersionID: v.ID, Plugin: v.PluginID, Version: v.Version}
		if verdict != nil {
			im.Tier = string(verdict.Tier)
		}
		for _, p := range problems {
			im.Problems = append(im.Problems, p.String())
		}
		out = append(out, im)
		return nil
	})
	return out, err
}

// PolicyApplied queues revalidation of the versions a newly applied policy
// suspends (as PolicyImpact found them).
func (s *Scheduler) PolicyApplied(ctx context.Context, actor, digest string, impact []Impact) error {
	for _, im := range impact {
		if _, err := s.Enqueue(ctx, im.VersionID, actor, "policy "+digest+" applied"); err != nil {
			return err
		}
	}
	if len(impact) > 0 {
		s.Wake()
	}
	return nil
}

func (s *Scheduler) latestResults(ctx context.Context, id string) ([]vet.Result, error) {
	run, err := s.cfg.Store.LatestVetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	var results []vet.Result
	if err := json.Unmarshal(run.Results, &results); err != nil {
		return nil, fmt.Errorf("reading the vetting results of %s: %w", id, err)
	}
	return results, nil
}

// previousManifest is the manifest of the version v was compared with
// when it was triaged (so its tier stays what it was, whatever happened to
// that version since), or else of the highest certified version below v;
// nil for a first version.
func (s *Scheduler) previousManifest(ctx context.Context, v domain.Version) *manifest.Manifest {
	var prev *domain.Version
	if vd, err := s.cfg.Store.LatestVerdict(ctx, v.ID); err == nil {
		var tv triage.Verdict
		if json.Unmarshal(vd.Body, &tv) == nil && tv.Input.Plugin.PreviousVersion != "" {
			if pv, err := s.cfg.Store.GetVersionByName(ctx, v.PluginID, tv.Input.Plugin.PreviousVersion); err == nil {
				prev = &pv
			}
		}
	}
	if prev == nil {
		prev = s.highestCertifiedBelow(ctx, v)
	}
	if prev == nil {
		return nil
	}
	m, err := manifest.Parse(prev.Manifest, s.cfg.Manifest)
	if err != nil {
		return nil
	}
	return m
}

func (s *Scheduler) highestCertifiedBelow(ctx context.Context, v domain.Version) *domain.Version {
	cur, err := semver.NewVersion(v.Version)
	if err != nil {
		return nil
	}
	vs, err := s.cfg.Store.ListVersions(ctx, v.PluginID)
	if err != nil {
		return nil
	}
	var best *domain.Version
	var bestV *semver.Version
	for i := range vs {
		if vs[i].State != lifecycle.Certified {
			continue
		}
		sv, err := semver.NewVersion(vs[i].Version)
		if err != nil || !sv.LessThan(cur) || (bestV != nil && !sv.GreaterThan(bestV)) {
			continue
		}
		best, bestV = &vs[i], sv
	}
	return best
}

// Incompatible is a certified version whose host API range excludes an
// offered host API version.
type Incompatible struct {
	VersionID string `json:"version"`
	Plugin    string `json:"plugin"`
	Version   string `json:"pluginVersion"`
	HostAPI   string `json:"hostApi"` // the manifest's range
}

// MaxHostAPIVersion bounds an offered version string.
const MaxHostAPIVersion = 64

// OfferHostAPI records a host API version the platform offers and flags
// every certified version whose host API range excludes it: an audit event
// per version (so its publisher and subscribers hear of it), and the list.
func (s *Scheduler) OfferHostAPI(ctx context.Context, version, actor string) ([]Incompatible, error) {
	if len(version) > MaxHostAPIVersion {
		return nil, fmt.Errorf("the host API version is over %d bytes", MaxHostAPIVersion)
	}
	offered, err := semver.StrictNewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("the host API version %q is not a semantic version (such as 1.2.0): %w", version, err)
	}
	now := s.cfg.Now()
	if err := s.cfg.Store.OfferHostAPI(ctx, domain.HostAPIOffer{Version: offered.String(), By: actor, OfferedAt: now},
		audit.Event{Time: now, Actor: actor, Action: audit.HostAPIOffered, Subject: "hostapi:" + offered.String(), Reason: "the platform offers host API " + offered.String()}); err != nil {
		return nil, err
	}
	flagged, err := s.Incompatible(ctx, offered.String())
	if err != nil {
		return nil, err
	}
	for _, f := range flagged {
		ev := audit.Event{Time: now, Actor: actor, Action: audit.HostAPIIncompatible, Subject: "submission:" + f.VersionID,
			Reason: fmt.Sprintf("%s@%s declares host API %q, which excludes %s offered by the platform; publish a version that supports it", f.Plugin, f.Version, f.HostAPI, offered)}
		if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
			return flagged, err
		}
	}
	return flagged, nil
}

// Incompatible lists the certified versions whose host API range excludes
// version.
func (s *Scheduler) Incompatible(ctx context.Context, version string) ([]Incompatible, error) {
	offered, err := semver.NewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("host API version %q: %w", version, err)
	}
	var out []Incompatible
	err = s.each(ctx, []lifecycle.State{lifecycle.Certified}, func(r domain.Revalidation) error {
		v, err := s.cfg.Store.GetVersion(ctx, r.VersionID)
		if err != nil {
			return err
		}
		var m struct {
			Runtime struct {
				HostAPI string `json:"hostApi"`
			} `json:"runtime"`
		}
		_ = json.Unmarshal(v.Manifest, &m)
		c, err := semver.NewConstraint(m.Runtime.HostAPI)
		if err == nil && c.Check(offered) {
			return nil
		}
		out = append(out, Incompatible{VersionID: v.ID, Plugin: v.PluginID, Version: v.Version, HostAPI: m.Runtime.HostAPI})
		return nil
	})
	return out, err
}
