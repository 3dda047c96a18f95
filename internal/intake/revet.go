package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/dependencies"
)

// Revetted is a new vetting run over a stored version.
type Revetted struct {
	Version domain.Version
	Input   *vet.Input
	Results []vet.Result
	Run     domain.VetRun
}

// Revet runs today's analyzers (rules, vulnerability database, catalog)
// over a stored version whatever its state, records the run, and moves no
// state: revalidation decides what the results mean.
func (s *Service) Revet(ctx context.Context, id, actor, why string) (Revetted, error) {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return Revetted{}, fmt.Errorf("reading version %s: %w", id, err)
	}
	release, err := s.acquireVet(ctx)
	if err != nil {
		return Revetted{}, err
	}
	defer release()
	// Revalidation reads the package from the blob store itself, never
	// a copy kept in memory: it is also what checks, on its cadence, that
	// the stored bytes still have their digest.
	pkg, err := s.readPackage(ctx, v.Digest)
	if err != nil {
		return Revetted{}, err
	}
	in, results, err := s.Vet(ctx, v.PluginID, v.Version, pkg)
	if err != nil {
		return Revetted{}, err
	}
	blocked, reasons := vet.Summary(results)
	summary := "every enforced check passed"
	if blocked {
		summary = "blocked: " + strings.Join(reasons, "; ")
	}
	body, err := json.Marshal(results)
	if err != nil {
		return Revetted{}, fmt.Errorf("encoding results: %w", err)
	}
	data, _ := json.Marshal(map[string]any{"blocked": blocked, "analyzers": statusCounts(results), "why": why})
	ev := audit.Event{Time: s.Now(), Actor: actor, Action: audit.SubmissionVet, Subject: "submission:" + id, Reason: summary, Data: data}
	run, err := s.saveVetRun(ctx, domain.VetRun{VersionID: id, Results: body, Blocked: blocked, Summary: summary, CreatedAt: s.Now()}, ev, results)
	if err != nil {
		return Revetted{}, fmt.Errorf("saving results: %w", err)
	}
	return Revetted{Version: v, Input: in, Results: results, Run: run}, nil
}

// saveVetRun records a run and indexes the components it found, so a new
// advisory finds the versions that ship its package without reading every
// package again. The index follows the newest run.
func (s *Service) saveVetRun(ctx context.Context, r domain.VetRun, ev audit.Event, results []vet.Result) (domain.VetRun, error) {
	run, err := s.Store.SaveVetRun(ctx, r, ev)
	if err != nil {
		return run, err
	}
	cs, ok := Components(results)
	if !ok {
		return run, nil // the dependencies analyzer did not run: keep what the index knew
	}
	if err := s.Store.IndexComponents(ctx, r.VersionID, cs); err != nil {
		return run, fmt.Errorf("indexing the components of %s: %w", r.VersionID, err)
	}
	return run, nil
}

// Components lists the components the dependencies analyzer found in a
// run's results; ok is false when it did not list them (skipped without a
// vulnerability database, or failed).
func Components(results []vet.Result) (cs []domain.Component, ok bool) {
	for _, r := range results {
		if r.Analyzer != dependencies.Name || len(r.Detail) == 0 {
			continue
		}
		var d dependencies.Detail
		if err := json.Unmarshal(r.Detail, &d); err != nil {
			return nil, false
		}
		cs = make([]domain.Component, 0, len(d.Components))
		for _, c := range d.Components {
			if c.Ecosystem == "" || c.Name == "" {
				continue // nothing can match it, so nothing looks it up
			}
			cs = append(cs, domain.Component{Ecosystem: c.Ecosystem, Name: c.Name, Version: c.Version})
		}
		return cs, true
	}
	return nil, false
}
