package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"time"

	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// Following an environment (issue 18). `gatehouse sync` fetches the
// environment's signed status feed, checks it against the pinned trust
// root and the state folder (older and stale feeds are refused), keeps it
// in the install folder as gatehouse.status, where every later
// verification reads it offline, and moves each pinned plugin to the
// version the feed gives this host: back through the lock history when
// the folder kept that version, else by installing it.

// StatusFile is the environment's status feed kept in an install folder.
const StatusFile = "gatehouse.status"

// DefaultStatusMaxAge is the oldest status feed accepted when the host
// sets no maximum; the marketplace re-signs feeds at half of its own.
const DefaultStatusMaxAge = time.Hour

// StatusSource serves environments' status feeds; HTTP is one.
type StatusSource interface {
	StatusFeed(ctx context.Context, env string) ([]byte, error)
}

// StatusFeed implements StatusSource.
func (h *HTTP) StatusFeed(ctx context.Context, env string) ([]byte, error) {
	return h.get(ctx, "/api/v1/environments/"+url.PathEscape(env)+"/status", trust.MaxEnvelopeBytes)
}

// SyncOptions say what to follow and how.
type SyncOptions struct {
	// Source is the marketplace; it must also be a StatusSource.
	Source Source
	// Dir is the install folder, holding the pinned trust root.
	Dir string
	// Environment is the host's environment; Host its stable id, which
	// places it in or out of staged rollouts (trust.InRollout).
	Environment, Host string
	// Check says how versions are verified before they are pinned;
	// Check.StatusMaxAge bounds the feed's age (DefaultStatusMaxAge when
	// zero).
	Check Check
	// Policy is the host's permission policy for installs.
	Policy      verify.Policy
	By          string
	Keep        int
	Marketplace string
}

// SyncChange is what sync did to one plugin.
type SyncChange struct {
	ID, From, To string
	// How is "rolled back" (a version kept in the folder) or "installed".
	How string
	// Err is why the plugin could not be moved; the others still were.
	Err error
}

// Synced is what a sync did.
type Synced struct {
	Feed    *trust.StatusFeed
	Changes []SyncChange
}

// Sync fetches, checks and keeps the environment's status feed, then
// moves pinned plugins to the versions it gives this host.
func Sync(ctx context.Context, o SyncOptions) (*Synced, error) {
	src, ok := o.Source.(StatusSource)
	if !ok {
		return nil, errors.New("sync: the source serves no status feeds")
	}
	if o.Environment == "" || o.Host == "" {
		return nil, errors.New("sync: the host's environment (--env) and its stable id (--host) are required")
	}
	if o.Check.StatusMaxAge <= 0 {
		o.Check.StatusMaxAge = DefaultStatusMaxAge
	}
	ctx, unlock, err := lockFolder(ctx, o.Dir)
	if err == nil {
		defer unlock()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sync: %w", err)
	}
	data, err := readLimited(filepath.Join(o.Dir, TrustRootFile), verify.MaxTrustRootBytes)
	if err != nil {
		return nil, fmt.Errorf("sync: reading the pinned trust root: %w (install a plugin first, or put the marketplace's trust root in %s)", err, filepath.Join(o.Dir, TrustRootFile))
	}
	root, err := verify.ParseTrustRoot(data)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	raw, err := src.StatusFeed(ctx, o.Environment)
	if err != nil {
		return nil, fmt.Errorf("sync: fetching the status feed of %s: %w", o.Environment, err)
	}
	env, err := trust.ParseEnvelope(raw)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	feed, err := verify.ObserveStatusFeed(env, verify.Options{MarketplaceKeys: root.MarketplaceKeys, StateDir: filepath.Join(o.Dir, StateDir),
		StatusMaxAge: o.Check.StatusMaxAge, Environment: o.Environment, Now: o.Check.Now})
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(o.Dir, StatusFile), raw, 0o644); err != nil {
		return nil, fmt.Errorf("sync: keeping the status feed: %w", err)
	}
	out := &Synced{Feed: feed}
	lock, err := ReadLock(filepath.Join(o.Dir, LockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	reason := fmt.Sprintf("status feed %s/%d", feed.Environment, feed.Sequence)
	for _, e := range lock.Plugins {
		want, _, ok := feed.VersionFor(e.ID, o.Host)
		if !ok || want == e.Version {
			continue
		}
		ch := SyncChange{ID: e.ID, From: e.Version, To: want}
		h, err := readHistoryIn(o.Dir)
		kept := false
		if err == nil {
			for _, r := range h.Records {
				if r.ID == e.ID && r.Version == want {
					kept = true
				}
			}
		}
		if kept {
			ch.How = "rolled back"
			_, ch.Err = Rollback(ctx, e.ID, RollbackOptions{Dir: o.Dir, To: want, Reason: reason, By: o.By, Check: o.Check, Keep: o.Keep})
		} else {
			ch.How = "installed"
			_, ch.Err = Install(ctx, Request{ID: e.ID, Range: "=" + want}, Options{Source: o.Source, Marketplace: o.Marketplace, Dir: o.Dir, Policy: o.Policy,
				Update: true, Keep: o.Keep, Reason: reason, By: o.By, Now: o.Check.Now})
		}
		out.Changes = append(out.Changes, ch)
	}
	return out, nil
}
