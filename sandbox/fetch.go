package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/idna"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/manifest"
)

// fetcher performs http_fetch for one plugin: only to granted origins, on
// every redirect hop, and (with the built-in transport) never to a
// non-public address unless an origin names that host.
type fetcher struct {
	origins map[string]bool // canonical origins from manifest.ParseOrigin
	client  *http.Client
	timeout time.Duration
	maxBody int
	// transport is closed with the plugin when it is the built-in one.
	transport *http.Transport
}

// maxFetchRequestBytes bounds the JSON FetchRequest a plugin hands over.
const maxFetchRequestBytes = 1 << 20

// errRedirectDenied marks a redirect to an origin that was not granted.
type redirectDeniedError struct{ origin string }

func (e *redirectDeniedError) Error() string {
	return fmt.Sprintf("redirect to %s refused: the origin is not granted", e.origin)
}

// addrDeniedError marks a connection the built-in transport refused to
// make: to a host and port no grant names, or to a non-public address that
// no grant names literally.
type addrDeniedError struct {
	addr   string // the host and port asked for, or the resolved IP and port
	reason string
}

func (e *addrDeniedError) Error() string {
	return fmt.Sprintf("connection to %s refused: %s", e.addr, e.reason)
}

// newFetcher returns the fetcher for the granted net: origins. A nil
// transport means the built-in guarded one; a scenario run passes its
// fakes instead (origin and redirect checks still apply).
func newFetcher(origins []string, transport http.RoundTripper, cfg *Config) *fetcher {
	f := &fetcher{
		origins: make(map[string]bool, len(origins)),
		timeout: cfg.FetchTimeout,
		maxBody: cfg.MaxFetchResponseBytes,
	}
	for _, o := range origins {
		f.origins[o] = true
	}
	if transport == nil {
		f.transport = guardedTransport(origins)
		transport = f.transport
	}
	maxRedirects := cfg.MaxRedirects
	f.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			origin, err := originOf(req.URL)
			if err != nil || !f.origins[origin] {
				return &redirectDeniedError{origin: req.URL.Scheme + "://" + req.URL.Host}
			}
			return nil
		},
	}
	return f
}

// hostPort is a granted host (lower case, an IP literal without brackets)
// and port, as the transport hands them to its dialer.
type hostPort struct {
	host string
	port uint16
}

// grantedHostPorts returns the host and port of each origin, the port
// defaulting to the scheme's.
func grantedHostPorts(origins []string) map[hostPort]bool {
	granted := make(map[hostPort]bool, len(origins))
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if hp, ok := parseHostPort(u.Hostname(), port); ok {
			granted[hp] = true
		}
	}
	return granted
}

// parseHostPort canonicalises a host (lower case; an IP literal in its
// netip form) and a decimal port.
func parseHostPort(host, port string) (hostPort, bool) {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return hostPort{}, false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return hostPort{host: a.Unmap().String(), port: uint16(n)}, true
	}
	// The transport dials a host name in its ASCII (punycode) form.
	host, err = idna.Lookup.ToASCII(host)
	if err != nil {
		return hostPort{}, false
	}
	return hostPort{host: strings.ToLower(host), port: uint16(n)}, true
}

// guardedTransport connects only where a grant points: a grant is scheme,
// host and port, so the dialer refuses any host and port no origin names
// (the port defaulting to the scheme's), and checks the address it
// actually connects to, after resolution (the dialer's Control hook):
// that address must have the granted port and be public, unless the grant
// names that very address literally (net:http://127.0.0.1:8080 reaches
// 127.0.0.1:8080 and nothing else on 127.0.0.1). A host name never unlocks
// a private address: its resolution can change after review, so only a
// literal pins it. Because the check runs at connect time, a name that
// resolves to a public address when checked and to a private one when used
// (DNS rebinding) is still refused, and so is every redirect hop.
func guardedTransport(origins []string) *http.Transport {
	granted := grantedHostPorts(origins)
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, &addrDeniedError{addr: address, reason: "the address is not a host and port"}
		}
		want, ok := parseHostPort(host, port)
		if !ok || !granted[want] {
			return nil, &addrDeniedError{addr: address, reason: "no granted origin names this host and port"}
		}
		literal, _ := netip.ParseAddr(want.host) // invalid for a host name
		d := &net.Dialer{
			Timeout: 10 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return &addrDeniedError{addr: address, reason: "the address is not an IP address and port"}
				}
				a := ap.Addr().Unmap()
				switch {
				case ap.Port() != want.port:
					return &addrDeniedError{addr: address, reason: fmt.Sprintf("the granted port is %d", want.port)}
				case !isPublic(a) && a != literal:
					return &addrDeniedError{addr: address, reason: "private, loopback, link-local and unspecified addresses are reachable only when an origin names that address and port literally"}
				}
				return nil
			},
		}
		return d.DialContext(ctx, network, address)
	}
	return &http.Transport{
		// Never a proxy from the environment: it would be the one dialled,
		// and the address check would check the proxy.
		Proxy:                 nil,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
	}
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")
var thisNet = netip.MustParsePrefix("0.0.0.0/8")
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// isPublic reports whether a is a globally routable unicast address.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if nat64.Contains(a) {
		// 64:ff9b::a.b.c.d reaches a.b.c.d through a NAT64 gateway.
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsLoopback(), a.IsPrivate(),
		a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast(),
		a.IsMulticast(), cgnat.Contains(a), thisNet.Contains(a):
		return false
	}
	if a.Is4() && a.As4() == [4]byte{255, 255, 255, 255} {
		return false
	}
	return true
}

// originOf returns the canonical origin of u.
func originOf(u *url.URL) (string, error) {
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("URL %q has no scheme or host", u.String())
	}
	return manifest.ParseOrigin(u.Scheme + "://" + u.Host)
}

var allowedMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

// fetchOutcome is the result of one http_fetch.
type fetchOutcome struct {
	status hostapi.Status
	body   []byte // JSON FetchResponse, or the failure's message
	target string
}

func (f *fetcher) do(ctx context.Context, raw []byte) fetchOutcome {
	var req hostapi.FetchRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return fetchOutcome{status: hostapi.StatusInvalid, body: []byte("the fetch request is not valid JSON")}
	}
	target := req.URL
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	if !allowedMethods[method] {
		return fetchOutcome{status: hostapi.StatusInvalid, target: target, body: []byte("method " + method + " is not supported")}
	}
	u, err := url.Parse(req.URL)
	if err != nil || u.User != nil {
		return fetchOutcome{status: hostapi.StatusInvalid, target: target, body: []byte("the URL is not valid")}
	}
	origin, err := originOf(u)
	if err != nil || !f.origins[origin] {
		return fetchOutcome{status: hostapi.StatusDenied, target: target}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return fetchOutcome{status: hostapi.StatusInvalid, target: target, body: []byte(err.Error())}
	}
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	resp, err := f.client.Do(hreq)
	if err != nil {
		var rd *redirectDeniedError
		var ad *addrDeniedError
		if errors.As(err, &rd) || errors.As(err, &ad) {
			return fetchOutcome{status: hostapi.StatusDenied, target: target, body: []byte(err.Error())}
		}
		return fetchOutcome{status: hostapi.StatusFailed, target: target, body: []byte(fetchErrorText(err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(f.maxBody)+1))
	if err != nil {
		return fetchOutcome{status: hostapi.StatusFailed, target: target, body: []byte(fetchErrorText(err))}
	}
	if len(body) > f.maxBody {
		return fetchOutcome{status: hostapi.StatusTooLarge, target: target}
	}
	out := hostapi.FetchResponse{Status: resp.StatusCode, Body: body}
	if len(resp.Header) > 0 {
		out.Headers = make(map[string]string, len(resp.Header))
		for k, v := range resp.Header {
			out.Headers[k] = strings.Join(v, ", ")
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fetchOutcome{status: hostapi.StatusFailed, target: target, body: []byte("encoding the response failed")}
	}
	return fetchOutcome{status: hostapi.StatusOK, target: target, body: b}
}

// fetchErrorText is the failure message a plugin sees: the cause without
// the request echo (url.Error repeats the URL and method).
func fetchErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the request timed out"
	}
	return err.Error()
}

func (f *fetcher) close() {
	if f != nil && f.transport != nil {
		f.transport.CloseIdleConnections()
	}
}
