// Package client is a Go client of Gatehouse's HTTP API, used by the CLI
// and usable by hosts and scripts.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/api"
)

// Client talks to one server with one token.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client for the server at base (e.g. http://127.0.0.1:8080).
func New(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server address %q is not an http(s) URL such as http://127.0.0.1:8080", base)
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// Error is an error answer from the server.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any, okStatus ...int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	for _, s := range okStatus {
		if resp.StatusCode == s {
			if out == nil {
				return s, nil
			}
			if w, ok := out.(io.Writer); ok {
				_, err := io.Copy(w, resp.Body)
				return s, err
			}
			if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
				return s, fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
			}
			return s, nil
		}
	}
	var ae api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &ae) != nil || ae.Error.Code == "" {
		ae.Error.Code, ae.Error.Message = "unexpected", strings.TrimSpace(string(b))
	}
	return resp.StatusCode, &Error{Status: resp.StatusCode, Code: ae.Error.Code, Message: ae.Error.Message}
}

// Submit uploads a package. created is false when the same bytes were
// submitted before and the existing submission is returned.
func (c *Client) Submit(ctx context.Context, pkg io.Reader) (sub api.Submission, created bool, err error) {
	status, err := c.do(ctx, "POST", api.BasePath+"/submissions", pkg, "application/octet-stream", &sub, http.StatusAccepted, http.StatusOK)
	return sub, status == http.StatusAccepted, err
}

// Submission returns a submission with its history.
func (c *Client) Submission(ctx context.Context, id string) (api.Submission, error) {
	var sub api.Submission
	_, err := c.do(ctx, "GET", api.BasePath+"/submissions/"+url.PathEscape(id), nil, "", &sub, http.StatusOK)
	return sub, err
}

// Submissions lists submissions in state (empty: all).
func (c *Client) Submissions(ctx context.Context, state string) ([]api.Submission, error) {
	var out api.SubmissionList
	_, err := c.do(ctx, "GET", api.BasePath+"/submissions?state="+url.QueryEscape(state), nil, "", &out, http.StatusOK)
	return out.Submissions, err
}

// Plugins searches the catalog.
func (c *Client) Plugins(ctx context.Context, q string, limit, offset int) (api.PluginList, error) {
	var out api.PluginList
	v := url.Values{"q": {q}}
	if limit > 0 {
		v.Set("limit", fmt.Sprint(limit))
	}
	if offset > 0 {
		v.Set("offset", fmt.Sprint(offset))
	}
	_, err := c.do(ctx, "GET", api.BasePath+"/plugins?"+v.Encode(), nil, "", &out, http.StatusOK)
	return out, err
}

// CreateToken makes a token; the answer holds its secret, shown once.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (api.Token, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return api.Token{}, err
	}
	var t api.Token
	_, err = c.do(ctx, "POST", api.BasePath+"/tokens", bytes.NewReader(b), "application/json", &t, http.StatusCreated)
	return t, err
}

// Tokens lists tokens.
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	var out []api.Token
	_, err := c.do(ctx, "GET", api.BasePath+"/tokens", nil, "", &out, http.StatusOK)
	return out, err
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, "DELETE", api.BasePath+"/tokens/"+url.PathEscape(id), nil, "", nil, http.StatusNoContent)
	return err
}

// VerifyAudit asks the server to recompute its audit chain.
func (c *Client) VerifyAudit(ctx context.Context) (api.AuditVerification, error) {
	var out api.AuditVerification
	_, err := c.do(ctx, "GET", api.BasePath+"/audit/verify", nil, "", &out, http.StatusOK)
	return out, err
}

// ExportAudit streams the audit trail as JSON lines to w.
func (c *Client) ExportAudit(ctx context.Context, w io.Writer, afterSeq int64) error {
	_, err := c.do(ctx, "GET", fmt.Sprintf("%s/audit/events?after=%d", api.BasePath, afterSeq), nil, "", w, http.StatusOK)
	return err
}

// Download fetches a package by digest.
func (c *Client) Download(ctx context.Context, digest string, w io.Writer) error {
	_, err := c.do(ctx, "GET", api.BasePath+"/packages/"+url.PathEscape(digest), nil, "", w, http.StatusOK)
	return err
}

// ImportVulnDB uploads an OSV all.zip as the server's vulnerability
// database and returns its version.
func (c *Client) ImportVulnDB(ctx context.Context, zip io.Reader) (string, error) {
	var out struct {
		Version string `json:"version"`
	}
	_, err := c.do(ctx, "POST", api.BasePath+"/vulndb", zip, "application/zip", &out, http.StatusOK)
	return out.Version, err
}

// SARIF writes the newest vetting run of a submission as SARIF to w.
func (c *Client) SARIF(ctx context.Context, id string, w io.Writer) error {
	_, err := c.do(ctx, "GET", api.BasePath+"/submissions/"+url.PathEscape(id)+"/sarif", nil, "", w, http.StatusOK)
	return err
}

// JSON sends in (nil for no body) as JSON to an API path and decodes the
// answer into out (nil to discard it), for endpoints without a helper.
func (c *Client) JSON(ctx context.Context, method, path string, in, out any, okStatus ...int) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	if len(okStatus) == 0 {
		okStatus = []int{http.StatusOK}
	}
	_, err := c.do(ctx, method, api.BasePath+path, body, ct, out, okStatus...)
	return err
}
