package app

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/Masterminds/semver/v3"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/internal/vet"
)

// PluginSearch selects plugins of the catalog.
type PluginSearch struct {
	Text      string // in the id, name or description, any case
	Namespace string
	Limit     int // 1..500; 0 means 50
	Offset    int
}

// Plugins searches the catalog for the plugins caller may read: those
// with a released version, or any version of a namespace it publishes
// in; the overseers read all. The store leaves out the others before it
// cuts the page (domain.PluginReader), so a page is full while more
// plugins caller may read exist, and q.Offset counts only those.
func (a *App) Plugins(ctx context.Context, caller domain.Principal, q PluginSearch) ([]domain.Plugin, error) {
	pq := domain.PluginQuery{Search: q.Text, Namespace: q.Namespace, Limit: q.Limit, Offset: q.Offset}
	if !caller.Oversees() {
		nss, err := a.ownNamespaces(ctx, caller)
		if err != nil {
			return nil, err
		}
		pq.Reader = &domain.PluginReader{Namespaces: nss}
	}
	ps, err := a.cfg.Store.ListPlugins(ctx, pq)
	if err != nil || caller.Oversees() {
		return ps, err
	}
	// Each plugin is held to the read rule again (which also picks the
	// latest version caller reads); only one whose versions changed state
	// since the query is left out here. The page's versions are read at
	// once, not with a query per plugin.
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	versions, err := a.cfg.Store.ListVersionsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := ps[:0]
	for _, p := range ps {
		p, _, err := a.visibleWith(ctx, caller, p, versions[p.ID])
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Plugin returns plugin id ("ns/name") with the versions caller may read
// (ReadReleased), in the store's order. A plugin caller may read no
// version of is refused as one that does not exist.
func (a *App) Plugin(ctx context.Context, caller domain.Principal, id string) (domain.Plugin, []domain.Version, error) {
	p, err := a.cfg.Store.GetPlugin(ctx, id)
	var vs []domain.Version
	if err == nil {
		p, vs, err = a.visiblePlugin(ctx, caller, p)
	}
	if errors.Is(err, domain.ErrNotFound) {
		return p, nil, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "no plugin " + id, Err: err}
	}
	return p, vs, err
}

// visiblePlugin is p as caller sees it: with the versions caller may read
// (domain.Principal.CanSeeVersion) and, unless caller reads them all, the
// highest released one as its latest. domain.ErrNotFound when caller may
// read none.
func (a *App) visiblePlugin(ctx context.Context, caller domain.Principal, p domain.Plugin) (domain.Plugin, []domain.Version, error) {
	vs, err := a.cfg.Store.ListVersions(ctx, p.ID)
	if err != nil {
		return p, nil, err
	}
	return a.visibleWith(ctx, caller, p, vs)
}

// visibleWith is visiblePlugin with p's versions read already.
func (a *App) visibleWith(ctx context.Context, caller domain.Principal, p domain.Plugin, vs []domain.Version) (domain.Plugin, []domain.Version, error) {
	all, err := caller.CanSee(ctx, a.cfg.Store, p.ID)
	if err != nil {
		return p, nil, err
	}
	if all {
		return p, vs, nil
	}
	var shown []domain.Version
	latest := ""
	for _, v := range vs {
		if !domain.Released(v.State) {
			continue
		}
		shown = append(shown, v)
		if latest == "" || semverLess(latest, v.Version) {
			latest = v.Version
		}
	}
	if len(shown) == 0 {
		return p, nil, domain.ErrNotFound
	}
	p.LatestVersion = latest
	return p, shown, nil
}

// semverLess reports whether version a sorts before b; a version that does
// not parse sorts first.
func semverLess(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	switch {
	case errB != nil:
		return false
	case errA != nil:
		return true
	}
	return va.LessThan(vb)
}

// CatalogStates are the version states caller may find in the catalog:
// every state for the overseers, the released ones for anyone else (a
// publisher finds its own unreleased versions among its submissions).
func CatalogStates(caller domain.Principal) []lifecycle.State {
	if caller.Oversees() {
		return lifecycle.States
	}
	return domain.ReleasedStates()
}

// CatalogSearch selects catalog entries.
type CatalogSearch struct {
	Text string // in the id, name or description, any case
	// States: the entry's version is the newest in one of these; none
	// means every state the caller may see (CatalogStates).
	States []lifecycle.State
	Tier   string // the version's risk tier; "" for any
	Limit  int    // at most MaxCatalog
}

// MaxCatalog bounds the entries one catalog search returns.
const MaxCatalog = store.MaxInsightRows

// Catalog returns the catalog's entries matching q, each a plugin with the
// newest version in one of q.States; states caller may not see are
// refused (KindInvalid) as unknown.
func (a *App) Catalog(ctx context.Context, caller domain.Principal, q CatalogSearch) ([]domain.CatalogEntry, error) {
	allowed := CatalogStates(caller)
	for _, st := range q.States {
		if !slices.Contains(allowed, st) {
			return nil, Errorf(KindInvalid, "unknown certification state %s", st)
		}
	}
	if len(q.States) == 0 {
		q.States = allowed
	}
	return a.cfg.Store.CatalogEntries(ctx, domain.CatalogQuery{Search: q.Text, States: q.States, Tier: q.Tier, Limit: q.Limit})
}

// Checks are the checks v passed before it holds a certificate: the
// analyzers whose newest result passed, and "reviewed" when people
// approved it. (A certified version's checks are its certificate's.)
func (a *App) Checks(ctx context.Context, caller domain.Principal, v domain.Version) ([]string, error) {
	if err := a.mustRead(ctx, caller, v); err != nil {
		return nil, err
	}
	var out []string
	run, err := a.cfg.Store.LatestVetRun(ctx, v.ID)
	switch {
	case err == nil:
		var results []vet.Result
		if json.Unmarshal(run.Results, &results) == nil {
			for _, res := range results {
				if res.Status == vet.Passed {
					out = append(out, res.Analyzer)
				}
			}
		}
	case !errors.Is(err, domain.ErrNotFound):
		return nil, err
	}
	as, err := a.cfg.Store.ListApprovals(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	if len(as) > 0 {
		out = append(out, "reviewed")
	}
	return out, nil
}

// Verdict is a version's newest triage verdict: the stored record (tier,
// weight) and, when it decodes, the verdict itself (reasons, factors, the
// policy's input).
type Verdict struct {
	Record domain.Verdict
	// Verdict is nil when the stored body does not decode.
	Verdict *triage.Verdict
}

// Verdict returns v's newest verdict, or nil before its triage.
func (a *App) Verdict(ctx context.Context, caller domain.Principal, v domain.Version) (*Verdict, error) {
	if err := a.mustRead(ctx, caller, v); err != nil {
		return nil, err
	}
	return a.verdict(ctx, v.ID)
}

func (a *App) verdict(ctx context.Context, versionID string) (*Verdict, error) {
	vd, err := a.cfg.Store.LatestVerdict(ctx, versionID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &Verdict{Record: vd}
	var tv triage.Verdict
	if json.Unmarshal(vd.Body, &tv) == nil {
		out.Verdict = &tv
	}
	return out, nil
}

// Revalidation returns v's revalidation schedule, or nil before it has one.
func (a *App) Revalidation(ctx context.Context, caller domain.Principal, v domain.Version) (*domain.Revalidation, error) {
	if err := a.mustRead(ctx, caller, v); err != nil {
		return nil, err
	}
	rv, err := a.cfg.Store.GetRevalidation(ctx, v.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rv, nil
}

// mustRead refuses a version caller may not read (ReadReleased), as one
// that does not exist.
func (a *App) mustRead(ctx context.Context, caller domain.Principal, v domain.Version) error {
	ok, err := a.mayRead(ctx, caller, v, ReadReleased)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(KindNotFound, "no version %s@%s", v.PluginID, v.Version)
	}
	return nil
}
