package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"gatehouse.dev/gatehouse/api"
)

// MaxTrustDocument bounds what the trust endpoints may answer: a bundle, a
// trust root, a revocation list or a log tile.
const MaxTrustDocument = 16 << 20

// SubmitSigned uploads a package with its publisher signature (the DSSE
// envelope JSON that `gatehouse plugin sign` writes). created is false when
// the same bytes were submitted before.
func (c *Client) SubmitSigned(ctx context.Context, pkg io.Reader, signature []byte) (sub api.Submission, created bool, err error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+api.BasePath+"/submissions", pkg)
	if err != nil {
		return sub, false, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if len(signature) > 0 {
		req.Header.Set(api.SignatureHeader, base64.StdEncoding.EncodeToString(signature))
	}
	status, err := c.send(req, &sub, http.StatusAccepted, http.StatusOK)
	return sub, status == http.StatusAccepted, err
}

// send is do for a request built by the caller.
func (c *Client) send(req *http.Request, out any, okStatus ...int) (int, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	for _, s := range okStatus {
		if resp.StatusCode != s {
			continue
		}
		if out == nil {
			return s, nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, MaxTrustDocument)).Decode(out); err != nil {
			return s, fmt.Errorf("%s %s: decoding answer: %w", req.Method, req.URL.Path, err)
		}
		return s, nil
	}
	var ae api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &ae) != nil || ae.Error.Code == "" {
		ae.Error.Code, ae.Error.Message = "unexpected", strings.TrimSpace(string(b))
	}
	return resp.StatusCode, &Error{Status: resp.StatusCode, Code: ae.Error.Code, Message: ae.Error.Message}
}

// get fetches a path of the server (not only under the API) as bytes.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	return c.getLimit(ctx, path, MaxTrustDocument)
}

// MaxSBOM bounds an SBOM read from the server.
const MaxSBOM = 32 << 20

// SBOM fetches the marketplace's SBOM of a certified version, format
// "cyclonedx" (CycloneDX 1.6 JSON) or "spdx" (SPDX 2.3 JSON). Check it
// against the version's certificate: its SHA-256 is the digest the
// certificate lists for that format (trust.Certificate.SBOM).
func (c *Client) SBOM(ctx context.Context, pluginID, version, format string) ([]byte, error) {
	ns, name, ok := strings.Cut(pluginID, "/")
	if !ok {
		return nil, fmt.Errorf("plugin id %q must have the form namespace/name", pluginID)
	}
	return c.getLimit(ctx, fmt.Sprintf("%s/plugins/%s/%s/versions/%s/sbom/%s", api.BasePath, url.PathEscape(ns), url.PathEscape(name), url.PathEscape(version), url.PathEscape(format)), MaxSBOM)
}

func (c *Client) getLimit(ctx context.Context, path string, max int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("GET %s: the answer is over %d bytes", path, max)
	}
	if resp.StatusCode != http.StatusOK {
		var ae api.Error
		if json.Unmarshal(b, &ae) != nil || ae.Error.Code == "" {
			ae.Error.Code, ae.Error.Message = "unexpected", strings.TrimSpace(string(b))
		}
		return nil, &Error{Status: resp.StatusCode, Code: ae.Error.Code, Message: ae.Error.Message}
	}
	return b, nil
}

// TrustRoot returns the server's trust root document, as served (parse it
// with certify.ParseTrustRoot).
func (c *Client) TrustRoot(ctx context.Context) ([]byte, error) {
	return c.get(ctx, api.TrustRootPath)
}

// Revocations returns the current signed revocation list (DSSE envelope
// JSON).
func (c *Client) Revocations(ctx context.Context) ([]byte, error) {
	return c.get(ctx, api.BasePath+"/revocations")
}

// Bundle returns a version's certificate bundle (parse it with
// verify.ParseBundle).
func (c *Client) Bundle(ctx context.Context, pluginID, version string) ([]byte, error) {
	ns, name, ok := strings.Cut(pluginID, "/")
	if !ok {
		return nil, fmt.Errorf("plugin id %q must have the form namespace/name", pluginID)
	}
	return c.get(ctx, fmt.Sprintf("%s/plugins/%s/%s/versions/%s/bundle", api.BasePath, url.PathEscape(ns), url.PathEscape(name), url.PathEscape(version)))
}

// LogFetch reads a file of the transparency log ("checkpoint",
// "tile/0/000"): a tlog.Fetcher over HTTP.
func (c *Client) LogFetch(ctx context.Context, path string) ([]byte, error) {
	return c.get(ctx, "/log/"+path)
}

// Plugin returns a plugin with its versions (certified ones only for an
// anonymous client).
func (c *Client) Plugin(ctx context.Context, pluginID string) (api.PluginDetail, error) {
	var out api.PluginDetail
	ns, name, ok := strings.Cut(pluginID, "/")
	if !ok {
		return out, fmt.Errorf("plugin id %q must have the form namespace/name", pluginID)
	}
	_, err := c.do(ctx, "GET", fmt.Sprintf("%s/plugins/%s/%s", api.BasePath, url.PathEscape(ns), url.PathEscape(name)), nil, "", &out, http.StatusOK)
	return out, err
}

// AddNamespaceKey registers a PEM public key for a namespace.
func (c *Client) AddNamespaceKey(ctx context.Context, namespace string, pem []byte) (api.PublisherKey, error) {
	var out api.PublisherKey
	_, err := c.do(ctx, "POST", api.BasePath+"/namespaces/"+url.PathEscape(namespace)+"/keys", bytes.NewReader(pem), "application/x-pem-file", &out, http.StatusCreated)
	return out, err
}

// AddNamespaceIdentity binds a keyless Sigstore signer to a namespace.
func (c *Client) AddNamespaceIdentity(ctx context.Context, namespace string, id api.PublisherIdentity) (api.PublisherKey, error) {
	var out api.PublisherKey
	body, err := json.Marshal(id)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, "POST", api.BasePath+"/namespaces/"+url.PathEscape(namespace)+"/identities", bytes.NewReader(body), "application/json", &out, http.StatusCreated)
	return out, err
}

// NamespaceKeys lists a namespace's keys.
func (c *Client) NamespaceKeys(ctx context.Context, namespace string) (api.NamespaceKeys, error) {
	var out api.NamespaceKeys
	_, err := c.do(ctx, "GET", api.BasePath+"/namespaces/"+url.PathEscape(namespace)+"/keys", nil, "", &out, http.StatusOK)
	return out, err
}

// RemoveNamespaceKey retires a namespace key.
func (c *Client) RemoveNamespaceKey(ctx context.Context, namespace, id string) error {
	_, err := c.do(ctx, "DELETE", api.BasePath+"/namespaces/"+url.PathEscape(namespace)+"/keys/"+url.PathEscape(id), nil, "", nil, http.StatusNoContent)
	return err
}

// CompromiseNamespaceKey reports a namespace's publisher key stolen
// (its owners, stewards, admins).
func (c *Client) CompromiseNamespaceKey(ctx context.Context, namespace, id string, req api.KeyCompromise) (api.Recheck, error) {
	var out api.Recheck
	err := c.JSON(ctx, "POST", "/namespaces/"+url.PathEscape(namespace)+"/keys/"+url.PathEscape(id)+"/compromised", req, &out)
	return out, err
}

// TransferNamespace gives a namespace to a new owner (admin).
func (c *Client) TransferNamespace(ctx context.Context, namespace string, req api.NamespaceTransfer) (api.Recheck, error) {
	var out api.Recheck
	err := c.JSON(ctx, "POST", "/namespaces/"+url.PathEscape(namespace)+"/transfer", req, &out)
	return out, err
}

// SetSignatureRequirement requires signatures in a namespace or not (admin).
func (c *Client) SetSignatureRequirement(ctx context.Context, namespace string, req api.SignatureRequirement) error {
	return c.JSON(ctx, "POST", "/namespaces/"+url.PathEscape(namespace)+"/signature-requirement", req, nil)
}

// Suspend suspends a certified version (steward).
func (c *Client) Suspend(ctx context.Context, id string, a api.TrustAction) (api.Submission, error) {
	var out api.Submission
	err := c.JSON(ctx, "POST", "/submissions/"+url.PathEscape(id)+"/suspend", a, &out)
	return out, err
}

// ConfirmHealth confirms hosts' failing health reports of a certified
// version (steward); with the policy's confirmations in, it is suspended.
func (c *Client) ConfirmHealth(ctx context.Context, id string, a api.HealthConfirmation) (api.HealthQuorum, error) {
	var out api.HealthQuorum
	err := c.JSON(ctx, "POST", "/health/"+url.PathEscape(id)+"/confirm", a, &out)
	return out, err
}

// Revoke revokes a certified or suspended version (steward).
func (c *Client) Revoke(ctx context.Context, id string, a api.TrustAction) (api.Submission, error) {
	var out api.Submission
	err := c.JSON(ctx, "POST", "/submissions/"+url.PathEscape(id)+"/revoke", a, &out)
	return out, err
}

// StatusFeed returns an environment's current signed status feed (DSSE
// envelope JSON; open it with trust.VerifyStatusFeed).
func (c *Client) StatusFeed(ctx context.Context, env string) ([]byte, error) {
	return c.get(ctx, api.BasePath+"/environments/"+url.PathEscape(env)+"/status")
}

// Promote moves a version into an environment when the policy allows it.
func (c *Client) Promote(ctx context.Context, req api.PromoteRequest) (api.Release, error) {
	var out api.Release
	err := c.JSON(ctx, "POST", "/releases/promote", req, &out)
	return out, err
}

// ApproveRelease records a steward's approval of a version for an
// environment.
func (c *Client) ApproveRelease(ctx context.Context, req api.ApproveRequest) error {
	return c.JSON(ctx, "POST", "/releases/approve", req, nil, http.StatusNoContent)
}

func pluginPath(pluginID string) (string, error) {
	ns, name, ok := strings.Cut(pluginID, "/")
	if !ok {
		return "", fmt.Errorf("plugin id %q must have the form namespace/name", pluginID)
	}
	return "/plugins/" + url.PathEscape(ns) + "/" + url.PathEscape(name), nil
}

// Rollout grows, pauses, resumes or aborts a staged rollout.
func (c *Client) Rollout(ctx context.Context, pluginID string, req api.RolloutRequest) (api.Release, error) {
	var out api.Release
	p, err := pluginPath(pluginID)
	if err != nil {
		return out, err
	}
	err = c.JSON(ctx, "POST", p+"/rollout", req, &out)
	return out, err
}

// ReleaseRollback points an environment back at its previous release.
func (c *Client) ReleaseRollback(ctx context.Context, pluginID string, req api.ReleaseRollbackRequest) (api.Release, error) {
	var out api.Release
	p, err := pluginPath(pluginID)
	if err != nil {
		return out, err
	}
	err = c.JSON(ctx, "POST", p+"/release-rollback", req, &out)
	return out, err
}

// Kill is the kill switch (stewards).
func (c *Client) Kill(ctx context.Context, pluginID, reason string) error {
	p, err := pluginPath(pluginID)
	if err != nil {
		return err
	}
	return c.JSON(ctx, "POST", p+"/kill", api.KillRequest{Reason: reason}, nil, http.StatusNoContent)
}

// Releases returns a plugin's releases and history.
func (c *Client) Releases(ctx context.Context, pluginID string) (api.PluginReleases, error) {
	var out api.PluginReleases
	p, err := pluginPath(pluginID)
	if err != nil {
		return out, err
	}
	err = c.JSON(ctx, "GET", p+"/releases", nil, &out)
	return out, err
}
