package trust

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PayloadTypeStatusFeed is the DSSE payload type of an environment's status
// feed.
const PayloadTypeStatusFeed = "application/vnd.gatehouse.status.v1+json"

// Limits on a status feed read from outside. A feed lists every plugin an
// environment runs and every suspended or revoked version; the limits are
// far above a real marketplace and bound what a hostile feed can make a
// host hold.
const (
	MaxFeedBytes    = 4 << 20
	MaxFeedPlugins  = 20000
	MaxFeedEntries  = 100000 // suspended + revoked
	MaxFeedKills    = 10000
	MaxFeedReason   = 1 << 10
	MaxFeedIDLength = 200
)

// Errors of the status feed, matched with errors.Is.
var (
	// ErrStaleFeed: the feed is past its next update or older than the
	// maximum age the host accepts; fetch a fresh one (`gatehouse sync`).
	ErrStaleFeed = errors.New("status feed is stale")
	// ErrFeedRollback: the feed's sequence is lower than one the host
	// already accepted: a replayed feed, which could hide a suspension.
	ErrFeedRollback = errors.New("status feed is older than one already accepted")
	// ErrWrongEnvironment: the feed is for another environment than the
	// host's.
	ErrWrongEnvironment = errors.New("status feed is for another environment")
)

// StatusFeed is what one environment runs and what it must not: signed by
// the marketplace key, numbered (Sequence grows with every feed of the
// environment, so a host refuses an older one replayed at it) and dated
// (a host refuses one past NextUpdate).
type StatusFeed struct {
	Environment string    `json:"environment"`
	Sequence    uint64    `json:"sequence"`
	IssuedAt    time.Time `json:"issuedAt"`
	NextUpdate  time.Time `json:"nextUpdate"`
	// Plugins are the releases of this environment, sorted by id.
	Plugins []FeedRelease `json:"plugins"`
	// Suspended and Revoked are versions no host may load, sorted by
	// digest.
	Suspended []FeedVersion `json:"suspended"`
	Revoked   []FeedVersion `json:"revoked"`
	// Killed are plugins no host may run at all, sorted by id.
	Killed []FeedKill `json:"killed"`
}

// FeedRelease is the version of one plugin the environment runs.
type FeedRelease struct {
	Plugin  string `json:"plugin"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Rollout is the percentage of hosts (by InRollout) that run Version;
	// the others run Previous. 100 when the release is complete.
	Rollout int `json:"rollout"`
	// Status is "active", "paused" or "halted".
	Status         string `json:"status"`
	Previous       string `json:"previous,omitempty"`
	PreviousDigest string `json:"previousDigest,omitempty"`
}

// FeedVersion names a version hosts must not load, and why.
type FeedVersion struct {
	Plugin  string `json:"plugin"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Reason  string `json:"reason"`
}

// FeedKill is a plugin stopped everywhere.
type FeedKill struct {
	Plugin string    `json:"plugin"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

var (
	feedEnv     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	feedPlugin  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9._-]*$`)
	feedVersion = regexp.MustCompile(`^[0-9A-Za-z.+-]{1,64}$`)
)

// NewStatusFeed builds a feed, sorting its lists, and refuses one that
// Validate would.
func NewStatusFeed(f StatusFeed) (*StatusFeed, error) {
	f.IssuedAt = f.IssuedAt.UTC().Truncate(time.Second)
	f.NextUpdate = f.NextUpdate.UTC().Truncate(time.Second)
	f.Plugins = slices.Clone(f.Plugins)
	f.Suspended = slices.Clone(f.Suspended)
	f.Revoked = slices.Clone(f.Revoked)
	f.Killed = slices.Clone(f.Killed)
	if f.Plugins == nil {
		f.Plugins = []FeedRelease{}
	}
	if f.Suspended == nil {
		f.Suspended = []FeedVersion{}
	}
	if f.Revoked == nil {
		f.Revoked = []FeedVersion{}
	}
	if f.Killed == nil {
		f.Killed = []FeedKill{}
	}
	for i := range f.Killed {
		f.Killed[i].Time = f.Killed[i].Time.UTC().Truncate(time.Second)
	}
	slices.SortFunc(f.Plugins, func(a, b FeedRelease) int { return strings.Compare(a.Plugin, b.Plugin) })
	byDigest := func(a, b FeedVersion) int { return strings.Compare(a.Digest, b.Digest) }
	slices.SortFunc(f.Suspended, byDigest)
	slices.SortFunc(f.Revoked, byDigest)
	slices.SortFunc(f.Killed, func(a, b FeedKill) int { return strings.Compare(a.Plugin, b.Plugin) })
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks a feed's shape: names, digests, limits, sorted lists
// without duplicates, a rollout of 1 to 100 and a previous version for a
// partial one, reasons without control characters.
func (f *StatusFeed) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("status feed %s/%d: %w: %s", f.Environment, f.Sequence, ErrMalformed, fmt.Sprintf(format, args...))
	}
	if !feedEnv.MatchString(f.Environment) {
		return bad("environment %q is not a-z, 0-9 and - (1 to 32, starting with a letter)", f.Environment)
	}
	if f.Sequence == 0 {
		return bad("sequence must start at 1")
	}
	if !f.NextUpdate.After(f.IssuedAt) {
		return bad("next update %s is not after its issue time %s", f.NextUpdate.Format(time.RFC3339), f.IssuedAt.Format(time.RFC3339))
	}
	if len(f.Plugins) > MaxFeedPlugins || len(f.Suspended)+len(f.Revoked) > MaxFeedEntries || len(f.Killed) > MaxFeedKills {
		return bad("too many entries: at most %d plugins, %d suspended and revoked versions and %d killed plugins", MaxFeedPlugins, MaxFeedEntries, MaxFeedKills)
	}
	for i, p := range f.Plugins {
		if err := checkFeedName(p.Plugin, p.Version); err != nil {
			return bad("plugin %d: %v", i, err)
		}
		if !ValidDigest(p.Digest) {
			return bad("plugin %s: digest %q is malformed", p.Plugin, p.Digest)
		}
		if p.Rollout < 1 || p.Rollout > 100 {
			return bad("plugin %s: rollout %d is not 1 to 100", p.Plugin, p.Rollout)
		}
		if p.Status != "active" && p.Status != "paused" && p.Status != "halted" {
			return bad("plugin %s: status %q is not active, paused or halted", p.Plugin, p.Status)
		}
		if p.Previous != "" || p.PreviousDigest != "" {
			if !feedVersion.MatchString(p.Previous) || !ValidDigest(p.PreviousDigest) {
				return bad("plugin %s: previous version %q (%q) is malformed", p.Plugin, p.Previous, p.PreviousDigest)
			}
		} else if p.Rollout < 100 {
			return bad("plugin %s: a rollout of %d%% needs the previous version the other hosts keep", p.Plugin, p.Rollout)
		}
		if i > 0 && f.Plugins[i-1].Plugin >= p.Plugin {
			return bad("plugins are not sorted by id without duplicates (at %s)", p.Plugin)
		}
	}
	for _, list := range []struct {
		name string
		vs   []FeedVersion
	}{{"suspended", f.Suspended}, {"revoked", f.Revoked}} {
		for i, v := range list.vs {
			if err := checkFeedName(v.Plugin, v.Version); err != nil {
				return bad("%s %d: %v", list.name, i, err)
			}
			if !ValidDigest(v.Digest) {
				return bad("%s %s@%s: digest %q is malformed", list.name, v.Plugin, v.Version, v.Digest)
			}
			if err := checkFeedReason(v.Reason); err != nil {
				return bad("%s %s@%s: %v", list.name, v.Plugin, v.Version, err)
			}
			if i > 0 && list.vs[i-1].Digest >= v.Digest {
				return bad("%s versions are not sorted by digest without duplicates (at %s)", list.name, v.Digest)
			}
		}
	}
	for i, k := range f.Killed {
		if len(k.Plugin) > MaxFeedIDLength || !feedPlugin.MatchString(k.Plugin) {
			return bad("killed %d: plugin id %q is malformed", i, k.Plugin)
		}
		if err := checkFeedReason(k.Reason); err != nil {
			return bad("killed %s: %v", k.Plugin, err)
		}
		if i > 0 && f.Killed[i-1].Plugin >= k.Plugin {
			return bad("killed plugins are not sorted by id without duplicates (at %s)", k.Plugin)
		}
	}
	return nil
}

func checkFeedName(plugin, version string) error {
	if len(plugin) > MaxFeedIDLength || !feedPlugin.MatchString(plugin) {
		return fmt.Errorf("plugin id %q is malformed", plugin)
	}
	if !feedVersion.MatchString(version) {
		return fmt.Errorf("version %q of %s is malformed", version, plugin)
	}
	return nil
}

// checkFeedReason refuses an empty or long reason and control or
// bidirectional characters, which a host prints to its operator.
func checkFeedReason(s string) error {
	if s == "" || len(s) > MaxFeedReason {
		return fmt.Errorf("a reason of 1 to %d bytes is required", MaxFeedReason)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Errorf("the reason holds the control character %U", r)
		}
	}
	return nil
}

// Release returns the environment's release of a plugin.
func (f *StatusFeed) Release(pluginID string) (FeedRelease, bool) {
	i, ok := slices.BinarySearchFunc(f.Plugins, pluginID, func(p FeedRelease, id string) int { return strings.Compare(p.Plugin, id) })
	if !ok {
		return FeedRelease{}, false
	}
	return f.Plugins[i], true
}

// VersionFor returns the version and digest of pluginID that host hostID
// runs in this environment: the release's version when the host is in its
// rollout, else the previous one.
func (f *StatusFeed) VersionFor(pluginID, hostID string) (version, digest string, ok bool) {
	r, ok := f.Release(pluginID)
	if !ok {
		return "", "", false
	}
	if r.Rollout >= 100 || r.Previous == "" || InRollout(hostID, pluginID, r.Rollout) {
		return r.Version, r.Digest, true
	}
	return r.Previous, r.PreviousDigest, true
}

// Suspension returns the entry of a suspended digest.
func (f *StatusFeed) Suspension(digest string) (FeedVersion, bool) {
	return findVersion(f.Suspended, digest)
}

// Revocation returns the entry of a revoked digest.
func (f *StatusFeed) Revocation(digest string) (FeedVersion, bool) {
	return findVersion(f.Revoked, digest)
}

// Kill returns the kill of a plugin.
func (f *StatusFeed) Kill(pluginID string) (FeedKill, bool) {
	i, ok := slices.BinarySearchFunc(f.Killed, pluginID, func(k FeedKill, id string) int { return strings.Compare(k.Plugin, id) })
	if !ok {
		return FeedKill{}, false
	}
	return f.Killed[i], true
}

func findVersion(vs []FeedVersion, digest string) (FeedVersion, bool) {
	i, ok := slices.BinarySearchFunc(vs, digest, func(v FeedVersion, d string) int { return strings.Compare(v.Digest, d) })
	if !ok {
		return FeedVersion{}, false
	}
	return vs[i], true
}

// RolloutBucket is a host's place (0 to 9999) in the rollouts of a plugin:
// the first 8 bytes of SHA-256("gatehouse-rollout-v1\0" plugin "\0" host)
// modulo 10000. It depends on nothing but the two ids, so a host's place
// never moves: as a rollout grows, hosts that were in stay in. The plugin
// is part of the hash so that the same hosts are not always first.
func RolloutBucket(hostID, pluginID string) int {
	h := sha256.New()
	h.Write([]byte("gatehouse-rollout-v1\x00"))
	h.Write([]byte(pluginID))
	h.Write([]byte{0})
	h.Write([]byte(hostID))
	return int(binary.BigEndian.Uint64(h.Sum(nil)[:8]) % 10000)
}

// InRollout reports whether host hostID is in a rollout of pluginID at
// percent (0 to 100): its bucket is below percent hundredths.
func InRollout(hostID, pluginID string, percent int) bool {
	return RolloutBucket(hostID, pluginID) < percent*100
}

// SignStatusFeed signs a feed with the marketplace key.
func SignStatusFeed(ctx context.Context, s Signer, f *StatusFeed) (*dsse.Envelope, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding status feed: %w", err)
	}
	if len(payload) > MaxFeedBytes {
		return nil, fmt.Errorf("trust: status feed of %s is %d bytes; the limit is %d", f.Environment, len(payload), MaxFeedBytes)
	}
	return SignEnvelope(ctx, s, PayloadTypeStatusFeed, payload)
}

// ParseStatusFeed reads a feed's payload strictly (unknown fields,
// trailing data, oversize input and every shape Validate refuses are
// errors). It checks no signature: OpenStatusFeed does.
func ParseStatusFeed(payload []byte) (*StatusFeed, error) {
	if len(payload) > MaxFeedBytes {
		return nil, fmt.Errorf("status feed: %w: %d bytes; the limit is %d", ErrMalformed, len(payload), MaxFeedBytes)
	}
	var f StatusFeed
	if err := decodeStrict(payload, &f); err != nil {
		return nil, fmt.Errorf("status feed: %w: %v", ErrMalformed, err)
	}
	if f.Plugins == nil || f.Suspended == nil || f.Revoked == nil || f.Killed == nil {
		return nil, fmt.Errorf("status feed: %w: plugins, suspended, revoked and killed must all be present (as [] when empty)", ErrMalformed)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// OpenStatusFeed checks a feed's signature (by a key in keyring active at
// its issue time) and shape, and returns it, fresh or not.
func OpenStatusFeed(env *dsse.Envelope, keyring *Keyring) (*StatusFeed, error) {
	payload, key, err := OpenEnvelope(env, PayloadTypeStatusFeed, keyring)
	if err != nil {
		return nil, fmt.Errorf("status feed: %w", err)
	}
	f, err := ParseStatusFeed(payload)
	if err != nil {
		return nil, err
	}
	if !key.ActiveAt(f.IssuedAt) {
		return nil, fmt.Errorf("status feed %s/%d: %w: key %s signed it at %s, outside its window", f.Environment, f.Sequence, ErrKeyNotActive, key.ID, f.IssuedAt.Format(time.RFC3339))
	}
	return f, nil
}

// FeedCheck is what a host knows when it accepts a feed.
type FeedCheck struct {
	Now time.Time
	// MaxAge is the oldest feed accepted, from its issue time; it must be
	// positive (fail closed).
	MaxAge time.Duration
	// Environment is the host's environment; empty accepts any.
	Environment string
	// LastSequence is the highest sequence accepted before (0 if none).
	LastSequence uint64
}

// VerifyStatusFeed opens a feed and refuses one of another environment
// (ErrWrongEnvironment), older than the last accepted (ErrFeedRollback) or
// stale (ErrStaleFeed).
func VerifyStatusFeed(env *dsse.Envelope, keyring *Keyring, c FeedCheck) (*StatusFeed, error) {
	if c.MaxAge <= 0 {
		return nil, errors.New("status feed: a positive maximum age is required (fail closed)")
	}
	f, err := OpenStatusFeed(env, keyring)
	if err != nil {
		return nil, err
	}
	if c.Environment != "" && f.Environment != c.Environment {
		return nil, fmt.Errorf("status feed of %s: %w: this host is enrolled in %s", f.Environment, ErrWrongEnvironment, c.Environment)
	}
	if f.Sequence < c.LastSequence {
		return nil, fmt.Errorf("status feed %s/%d: %w (%d); an older feed may hide a suspension or a kill", f.Environment, f.Sequence, ErrFeedRollback, c.LastSequence)
	}
	if err := f.CheckFresh(c.Now, c.MaxAge); err != nil {
		return nil, err
	}
	return f, nil
}

// CheckFresh refuses a feed past its next update or older than maxAge
// (ErrStaleFeed), or issued in the future (ErrMalformed).
func (f *StatusFeed) CheckFresh(now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		return errors.New("status feed: a positive maximum age is required (fail closed)")
	}
	if now.After(f.NextUpdate) {
		return fmt.Errorf("status feed %s/%d: %w: its next update was due at %s; run `gatehouse sync`", f.Environment, f.Sequence, ErrStaleFeed, f.NextUpdate.Format(time.RFC3339))
	}
	if age := now.Sub(f.IssuedAt); age > maxAge {
		return fmt.Errorf("status feed %s/%d: %w: issued %s ago, older than the %s accepted; run `gatehouse sync`", f.Environment, f.Sequence, ErrStaleFeed, age.Round(time.Second), maxAge)
	}
	if now.Before(f.IssuedAt.Add(-maxClockSkew)) {
		return fmt.Errorf("status feed %s/%d: %w: issued at %s, in the future (check the clock)", f.Environment, f.Sequence, ErrMalformed, f.IssuedAt.Format(time.RFC3339))
	}
	return nil
}

// StatusFeedEvent returns the log entry that publishes a signed feed.
func StatusFeedEvent(env *dsse.Envelope) (Event, error) {
	if env == nil || env.PayloadType != PayloadTypeStatusFeed {
		return Event{}, fmt.Errorf("%w: not a status feed envelope", ErrMalformed)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return Event{}, fmt.Errorf("%w: payload is not base64", ErrMalformed)
	}
	f, err := ParseStatusFeed(payload)
	if err != nil {
		return Event{}, err
	}
	doc, _ := PayloadDigest(env)
	return Event{Kind: EventStatusFeed, Time: f.IssuedAt, Subject: fmt.Sprintf("status/%s/%d", f.Environment, f.Sequence), Document: doc,
		Detail: fmt.Sprintf("%d plugins, %d suspended, %d revoked, %d killed", len(f.Plugins), len(f.Suspended), len(f.Revoked), len(f.Killed))}, nil
}
