package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// scoper decides whether a scoped subscription hears an event. An event
// belongs to the plugins it is about: the version of a "submission:ID"
// subject, a "namespace:NS" or "plugin:NS/NAME" subject, and the plugins
// its data lists ("plugin", "plugins"; incidents list theirs). A scoped
// subscription hears it only when all of them are within its scope. An
// event whose data says "broadcast" goes to every subscription (a
// steward's notice to all subscribers). Anything else only reaches
// unscoped subscriptions, which only stewards may make.
type scoper struct {
	st       versionReader
	versions map[string]string // version id → plugin id, for one pass
}

// versionReader finds the version a "submission:ID" subject names.
type versionReader interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
}

func newScoper(st versionReader) *scoper { return &scoper{st: st, versions: map[string]string{}} }

type scopeData struct {
	Plugin    string   `json:"plugin"`
	Plugins   []string `json:"plugins"`
	Broadcast bool     `json:"broadcast"`
}

func (sc *scoper) inScope(ctx context.Context, w domain.Webhook, e audit.Event) (bool, error) {
	if w.Namespace == "" && w.PluginID == "" {
		return true, nil
	}
	var data scopeData
	if len(e.Data) > 0 {
		_ = json.Unmarshal(e.Data, &data) // data of another shape names no plugin
	}
	if data.Broadcast {
		return true, nil
	}
	plugins := data.Plugins
	if data.Plugin != "" {
		plugins = append(plugins, data.Plugin)
	}
	kind, id, _ := strings.Cut(e.Subject, ":")
	switch kind {
	case "submission":
		p, ok := sc.versions[id]
		if !ok {
			v, err := sc.st.GetVersion(ctx, id)
			switch {
			case errors.Is(err, domain.ErrNotFound):
			case err != nil:
				return false, err
			default:
				p = v.PluginID
			}
			sc.versions[id] = p
		}
		if p != "" {
			plugins = append(plugins, p)
		}
	case "plugin":
		plugins = append(plugins, id)
	case "namespace":
		if w.PluginID != "" || id != w.Namespace {
			return false, nil
		}
		if len(plugins) == 0 {
			return true, nil
		}
	}
	// Everything the event names must be within scope: an event about
	// several namespaces' plugins (an incident's hunt across the catalog)
	// would tell one publisher about another's, so only stewards hear it.
	if len(plugins) == 0 {
		return false, nil
	}
	for _, p := range plugins {
		if w.PluginID != "" {
			if p != w.PluginID {
				return false, nil
			}
			continue
		}
		if ns, _, _ := strings.Cut(p, "/"); ns != w.Namespace {
			return false, nil
		}
	}
	return true, nil
}
