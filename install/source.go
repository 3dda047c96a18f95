package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
	"gatehouse.dev/gatehouse/verify"
)

// Release is a version of a plugin the marketplace lists as certified.
type Release struct {
	Version string
	Digest  string
}

// Source is where install gets what it verifies. Nothing it returns is
// trusted: packages and bundles pass verify.Verify before they are used,
// and the trust root is pinned in the install folder after first use.
type Source interface {
	// TrustRoot returns the marketplace's trust root file.
	TrustRoot(ctx context.Context) ([]byte, error)
	// Revocations returns the current signed revocation list.
	Revocations(ctx context.Context) ([]byte, error)
	// Releases lists the certified versions of a plugin.
	Releases(ctx context.Context, pluginID string) ([]Release, error)
	// Package returns the package with the given digest, at most max bytes.
	Package(ctx context.Context, digest string, max int64) ([]byte, error)
	// Bundle returns a version's certificate bundle.
	Bundle(ctx context.Context, pluginID, version string) ([]byte, error)
	// Log returns a file of the transparency log ("checkpoint",
	// "tile/0/000", ...), for consistency proofs.
	Log(ctx context.Context, path string) ([]byte, error)
}

// ErrNotFound is wrapped when the marketplace has no such plugin, version or
// file.
var ErrNotFound = errors.New("not found")

// HTTP is a Source talking to a marketplace over HTTP(S), without a token:
// everything install needs is public.
type HTTP struct {
	base   string
	client *http.Client
}

// NewHTTP returns a Source for the marketplace at base
// (https://plugins.example.com). A nil client means one with a 5-minute
// timeout.
func NewHTTP(base string, client *http.Client) (*HTTP, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("marketplace address %q is not an http(s) URL such as https://plugins.example.com", base)
	}
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	return &HTTP{base: strings.TrimRight(base, "/"), client: client}, nil
}

// URL returns the marketplace's base URL.
func (h *HTTP) URL() string { return h.base }

// Limits on answers other than packages.
const (
	maxCatalogBytes = 16 << 20
	maxLogFileBytes = 256 * (2 + tlog.MaxEntryBytes) // a full entry bundle; a hash tile is 8 KiB
)

// get fetches path, refusing an answer over max bytes.
func (h *HTTP) get(ctx context.Context, path string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		var ae struct {
			Error struct{ Message string } `json:"error"`
		}
		reason := strings.TrimSpace(string(msg))
		if json.Unmarshal(msg, &ae) == nil && ae.Error.Message != "" {
			reason = ae.Error.Message
		}
		err := fmt.Errorf("GET %s: the marketplace answered %s: %s", path, resp.Status, reason)
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("GET %s: the answer is %d bytes, more than the limit of %d", path, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("GET %s: the answer is more than the limit of %d bytes", path, max)
	}
	return data, nil
}

// TrustRoot implements Source.
func (h *HTTP) TrustRoot(ctx context.Context) ([]byte, error) {
	return h.get(ctx, "/.well-known/gatehouse/trust-root.json", verify.MaxTrustRootBytes)
}

// Revocations implements Source.
func (h *HTTP) Revocations(ctx context.Context) ([]byte, error) {
	return h.get(ctx, "/api/v1/revocations", trust.MaxEnvelopeBytes)
}

// Releases implements Source from the public catalog.
func (h *HTTP) Releases(ctx context.Context, pluginID string) ([]Release, error) {
	if err := validID(pluginID); err != nil {
		return nil, err
	}
	data, err := h.get(ctx, "/api/v1/plugins/"+pluginID, maxCatalogBytes)
	if err != nil {
		return nil, err
	}
	var detail struct {
		Versions []struct {
			Version string `json:"version"`
			Digest  string `json:"digest"`
			State   string `json:"state"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(data, &detail); err != nil {
		return nil, fmt.Errorf("the catalog entry of %s is not valid JSON: %w", pluginID, err)
	}
	var out []Release
	for _, v := range detail.Versions {
		// Suspended versions keep their certificate but are under
		// investigation: install never picks one.
		if v.State == "certified" {
			out = append(out, Release{Version: v.Version, Digest: v.Digest})
		}
	}
	return out, nil
}

// VersionState implements StateSource from the public catalog: the
// version's state ("certified", "suspended", ...) and the reason the
// marketplace gives; "" when the catalog lists no such version.
func (h *HTTP) VersionState(ctx context.Context, pluginID, version string) (state, reason string, err error) {
	if err := validID(pluginID); err != nil {
		return "", "", err
	}
	data, err := h.get(ctx, "/api/v1/plugins/"+pluginID, maxCatalogBytes)
	if err != nil {
		return "", "", err
	}
	var detail struct {
		Versions []struct {
			Version string `json:"version"`
			State   string `json:"state"`
			Reason  string `json:"reason"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(data, &detail); err != nil {
		return "", "", fmt.Errorf("the catalog entry of %s is not valid JSON: %w", pluginID, err)
	}
	for _, v := range detail.Versions {
		if v.Version == version {
			return v.State, v.Reason, nil
		}
	}
	return "", "", nil
}

// Package implements Source.
func (h *HTTP) Package(ctx context.Context, digest string, max int64) ([]byte, error) {
	if !trust.ValidDigest(digest) {
		return nil, fmt.Errorf("%q is not a sha256 digest", digest)
	}
	return h.get(ctx, "/api/v1/packages/"+digest, max)
}

// Bundle implements Source.
func (h *HTTP) Bundle(ctx context.Context, pluginID, version string) ([]byte, error) {
	if err := validID(pluginID); err != nil {
		return nil, err
	}
	return h.get(ctx, "/api/v1/plugins/"+pluginID+"/versions/"+url.PathEscape(version)+"/bundle", verify.MaxBundleBytes)
}

// Log implements Source: the log is served under /log/.
func (h *HTTP) Log(ctx context.Context, path string) ([]byte, error) {
	return h.logFile(ctx, "/log/", path)
}

func (h *HTTP) logFile(ctx context.Context, prefix, path string) ([]byte, error) {
	if path != tlog.CheckpointPath && !strings.HasPrefix(path, "tile/") || strings.Contains(path, "..") {
		return nil, fmt.Errorf("%q is not a log file", path)
	}
	max := int64(maxLogFileBytes)
	if path == tlog.CheckpointPath {
		max = tlog.MaxCheckpointBytes
	}
	return h.get(ctx, prefix+path, max)
}

// NewLogFetcher returns a tlog.Fetcher reading the log published at logURL
// (https://plugins.example.com/log), bounding every answer. A nil client
// means one with a 5-minute timeout.
func NewLogFetcher(logURL string, client *http.Client) (tlog.Fetcher, error) {
	h, err := NewHTTP(logURL, client)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, path string) ([]byte, error) { return h.logFile(ctx, "/", path) }, nil
}
